"""The segments example of docs/methodology.md ("Segments: a budget per segment"), settled
by the engine from member-level data."""

from __future__ import annotations

import pandas as pd
from helpers import MONTHS_2026, attribution_rows, cents_text, doc_example, make_config

from totalcare_payments.program import program_from_frames
from totalcare_payments.savings.year import compute_settlement

# 75 aged/non-dual members all year at 1.029 (900 member-months), 5 ESRD members all year
# at 2.4 (60): the default config's 4% trend from 2025 and 1.03 cap.
MEMBERS = [(f"a{i}", "aged_nondual", 1.029) for i in range(75)] + [
    (f"e{i}", "esrd", 2.4) for i in range(5)
]


def _settle(baselines: pd.DataFrame | None, baseline_pmpm: float, baseline_risk: float):
    config = make_config()
    attribution = [
        {**row, "segment": segment}
        for member, segment, _ in MEMBERS
        for row in attribution_rows(member, "P", MONTHS_2026)
    ]
    practices = pd.DataFrame(
        {
            "practice_id": ["P"],
            "practice_name": ["Practice P"],
            "tier": ["Established"],
            "baseline_pmpm": [baseline_pmpm],
            "baseline_risk": [baseline_risk],
        }
    )
    program = program_from_frames(
        config,
        practices,
        pd.DataFrame(attribution),
        pd.DataFrame(
            {"member_id": [m for m, _, _ in MEMBERS], "mara_px_total": [s for *_, s in MEMBERS]}
        ),
        pd.DataFrame(
            [("c1", "a0", "2026-01-10", 500_000.00)],
            columns=["claim_id", "member_id", "claim_start_date", "paid_amount"],
        ),
        baselines=baselines,
    )
    return compute_settlement(program, config, 2026)


def test_the_two_segment_example() -> None:
    doc = doc_example("segments-two")
    baselines = pd.DataFrame(
        {
            "practice_id": ["P", "P"],
            "segment": ["aged_nondual", "esrd"],
            "baseline_pmpm": [380.0, 6200.0],
            "baseline_risk": [0.98, 2.5],
        }
    )
    settlement = _settle(baselines, 1.0, 1.0)  # the practice's own baseline is not used
    assert settlement.segments is not None
    segments = settlement.segments.set_index("segment")
    for name in ("aged_nondual", "esrd"):
        row = segments.loc[name]
        mm, risk = doc[f"{name}: member_months, avg_risk_score"].split(", ")
        assert (int(mm), float(risk)) == (row["member_months"], row["avg_risk_score"])
        pmpm, base_risk = doc[f"{name}: baseline_pmpm, baseline_risk"].split(", ")
        assert pmpm == cents_text(row["baseline_pmpm_cents"])
        assert float(base_risk) == row["baseline_risk"]
        assert float(doc[f"{name}: risk_ratio"]) == row["risk_ratio"]
        assert doc[f"{name}: budget_pmpm"] == cents_text(row["budget_pmpm_cents"])
        assert doc[f"{name}: budget"] == cents_text(row["budget_cents"])
    assert bool(segments.loc["aged_nondual", "risk_ratio_capped"])
    practice = settlement.practices.iloc[0]
    assert doc["budget"] == cents_text(practice["budget_cents"])
    assert doc["budget_pmpm"] == cents_text(practice["budget_pmpm_cents"])
    assert doc["baseline_pmpm (at the 2026 mix)"] == cents_text(practice["baseline_pmpm_cents"])
    # the same practice settled on its 2025 mix as a whole: 671.00 at risk 1.056
    whole = _settle(None, 671.0, 1.056).practices.iloc[0]
    assert doc["budget at the practice level"].startswith(cents_text(whole["budget_cents"]))
    assert whole["avg_risk_score"] == 1.1147 and whole["risk_ratio"] == 1.03
    assert whole["budget_pmpm_cents"] == 71_878
