"""A settlement that budgets each member segment apart (baselines per practice and segment):
hand-computed golden figures, and a program with one segment paying exactly as today."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import DEFAULT_CONFIG, MONTHS_2026, SAMPLE, attribution_rows, make_config

from totalcare_payments.config import load_config
from totalcare_payments.errors import InputError
from totalcare_payments.jobs import run_budget, run_ccf, run_settlement
from totalcare_payments.program import program_from_frames
from totalcare_payments.savings.waterfall import SEGMENT_COLUMNS
from totalcare_payments.savings.year import compute_settlement, performance_year, settle_year
from totalcare_payments.scenarios.bootstrap import bootstrap_chance

# The default config's trend 4% a year from 2025 (x 1.04 in 2026) and risk ratio cap 1.03;
# no stop-loss, completion 1.0, a fixed 2% MSR.
TERMS = {
    "settlement": {
        "completion_factor": 1.0,
        "stop_loss": {"kind": "none"},
        "msr": {"kind": "fixed", "rate": 0.02, "table": None},
    }
}
PRACTICES = pd.DataFrame(
    {
        "practice_id": ["A", "B"],
        "practice_name": ["Alpha Clinic", "Beta Family Medicine"],
        "tier": ["Advanced", "Established"],
        # not used when there are baselines per segment: any figure, even a wrong one
        "baseline_pmpm": [999.0, 999.0],
        "baseline_risk": [9.0, 9.0],
    }
)


def _rows(member: str, practice: str, segment: str, months: list[str]) -> list[dict]:
    return [{**r, "segment": segment} for r in attribution_rows(member, practice, months)]


# m1 at A, aged_nondual all year; m2 at A, aged_nondual January-June and esrd from July
# (a member who changes segment); m3 at A, esrd all year; m4 at B, aged_nondual all year.
ATTRIBUTION = pd.DataFrame(
    _rows("m1", "A", "aged_nondual", MONTHS_2026)
    + _rows("m2", "A", "aged_nondual", MONTHS_2026[:6])
    + _rows("m2", "A", "esrd", MONTHS_2026[6:])
    + _rows("m3", "A", "esrd", MONTHS_2026)
    + _rows("m4", "B", "aged_nondual", MONTHS_2026)
)
SCORES = pd.DataFrame(
    {"member_id": ["m1", "m2", "m3", "m4"], "mara_px_total": [1.05, 2.0, 2.6, 0.9]}
)
CLAIMS = pd.DataFrame(
    [
        ("c1", "m1", "2026-02-10", 3000.00),
        ("c2", "m2", "2026-03-10", 5000.00),
        ("c3", "m2", "2026-09-10", 40000.00),
        ("c4", "m3", "2026-05-10", 60000.00),
        ("c5", "m4", "2026-06-10", 4000.00),
    ],
    columns=["claim_id", "member_id", "claim_start_date", "paid_amount"],
)
QUALITY = pd.DataFrame(
    {
        "practice_id": ["A", "B"],
        "year": 2026,
        "quality_score": [0.8, 0.8],
        "met_quality_gate": True,
    }
)
BASELINES = pd.DataFrame(
    {
        "practice_id": ["A", "A", "B", "B"],
        "segment": ["aged_nondual", "esrd", "aged_nondual", "esrd"],
        "baseline_pmpm": [400.0, 6000.0, 350.0, 5000.0],
        "baseline_risk": [1.25, 2.5, 0.9, 2.0],
        "baseline_member_months": [20, 16, 12, 3],
    }
)


def _program(changes: dict | None = None, baselines: pd.DataFrame | None = BASELINES, **kw):
    config = make_config({**TERMS, **(changes or {})} if changes else TERMS)
    tables = {
        "practices": PRACTICES,
        "attribution": ATTRIBUTION,
        "risk_scores": SCORES,
        "claims": CLAIMS,
        "quality": QUALITY,
        "baselines": baselines,
        **kw,
    }
    return program_from_frames(config, **tables), config


def test_a_two_segment_practice_budget_by_hand() -> None:
    """Practice A: aged_nondual 18 member-months (m1 12, m2 6), esrd 18 (m2 6, m3 12).

    aged_nondual: risk (12 x 1.05 + 6 x 2.0) / 18 = 24.6 / 18 = 1.366666.. -> 1.3667;
      ratio 1.3667 / 1.25 = 1.09336, held to the cap 1.03;
      budget_pmpm 400.00 x 1.03 x 1.04 = 428.48; budget 428.48 x 18 = 7,712.64.
    esrd: risk (6 x 2.0 + 12 x 2.6) / 18 = 43.2 / 18 = 2.4; ratio 2.4 / 2.5 = 0.96;
      budget_pmpm 6,000.00 x 0.96 x 1.04 = 5,990.40; budget 5,990.40 x 18 = 107,827.20.
    A's budget: 7,712.64 + 107,827.20 = 115,539.84; / 36 = 3,209.44 a member-month.
    At the 2026 mix (18 / 18): baseline_pmpm (400 + 6,000) / 2 = 3,200.00, baseline_risk
    (1.25 + 2.5) / 2 = 1.875; risk_ratio weighted by baseline cost (400 x 18 and
    6,000 x 18): (7,200 x 1.03 + 108,000 x 0.96) / 115,200 = 111,096 / 115,200 = 0.964375,
    and 3,200.00 x 0.964375 x 1.04 = 3,209.44.
    B: one segment, aged_nondual 12 member-months at 0.9: ratio 0.9 / 0.9 = 1;
      350.00 x 1 x 1.04 = 364.00; budget 4,368.00 (its esrd baseline row is not used).
    """
    program, config = _program()
    settlement = compute_settlement(program, config, 2026)
    segments = settlement.segments
    assert segments is not None and list(segments.columns) == SEGMENT_COLUMNS
    seg = segments.set_index(["practice_id", "segment"])
    assert seg.index.tolist() == [("A", "aged_nondual"), ("A", "esrd"), ("B", "aged_nondual")]
    a_aged, a_esrd = seg.loc[("A", "aged_nondual")], seg.loc[("A", "esrd")]
    assert (a_aged["member_months"], a_esrd["member_months"]) == (18, 18)
    assert a_aged["avg_risk_score"] == 1.3667 and a_esrd["avg_risk_score"] == 2.4
    assert a_aged["risk_ratio_uncapped"] == pytest.approx(1.3667 / 1.25)
    assert a_aged["risk_ratio"] == 1.03 and a_aged["risk_ratio_capped"]
    assert a_esrd["risk_ratio"] == 0.96 and not a_esrd["risk_ratio_capped"]
    assert a_aged["budget_pmpm_cents"] == 42_848 and a_aged["budget_cents"] == 771_264
    assert a_esrd["budget_pmpm_cents"] == 599_040 and a_esrd["budget_cents"] == 10_782_720
    assert a_aged["segment_share"] == 0.5
    assert a_esrd["baseline_member_months"] == 16
    rows = settlement.practices.set_index("practice_id")
    a, b = rows.loc["A"], rows.loc["B"]
    assert a["budget_cents"] == 771_264 + 10_782_720 == 11_553_984
    assert a["budget_pmpm_cents"] == 320_944
    assert a["baseline_pmpm_cents"] == 320_000
    assert a["baseline_risk"] == 1.875
    assert a["risk_ratio"] == 0.964375
    assert a["trend_factor"] == 1.04
    assert a["member_months"] == 36 and a["avg_risk_score"] == round((24.6 + 43.2) / 36, 4)
    assert b["budget_cents"] == 436_800 and b["budget_pmpm_cents"] == 36_400
    assert (b["baseline_pmpm_cents"], b["baseline_risk"], b["risk_ratio"]) == (35_000, 0.9, 1.0)
    # the rest of the waterfall is the practice's: A's claims 108,000.00, savings 7,539.84
    assert a["actual_cost_cents"] == 10_800_000
    assert a["savings_cents"] == 11_553_984 - 10_800_000
    # the segments' budgets add up to the practices', and to the program's control total
    by_practice = segments.groupby("practice_id")["budget_cents"].sum()
    assert by_practice.to_dict() == rows["budget_cents"].to_dict()
    program_total = settlement.control_totals.set_index("scope").loc["program", "budget_cents"]
    assert program_total == segments["budget_cents"].sum()
    assert settlement.notes["segments"] == ["aged_nondual", "esrd"]


def test_each_scenario_budgets_the_segments_under_its_own_terms() -> None:
    """A second config without the cap and with 6% for esrd: aged_nondual 400.00 x 1.09336 x
    1.04 = 454.83776 -> 454.84, x 18 = 8,187.12; esrd 6,000.00 x 0.96 x 1.06 = 6,105.60,
    x 18 = 109,900.80; A's budget 118,087.92. B is as before (1.04): 4,368.00."""
    program, config = _program()
    other = make_config(
        {
            **TERMS,
            "settlement": {
                **TERMS["settlement"],
                "risk_ratio_max": 1.2,
                "annual_trend_by_segment": {"esrd": 0.06},
            },
        }
    )
    year = performance_year(program, config, 2026)
    rows, _ = settle_year(year, [config, other])
    budget = rows.set_index(["scenario", "practice_id"])["budget_cents"]
    assert budget.loc[(0, "A")] == 11_553_984
    assert budget.loc[(1, "A")] == 818_712 + 10_990_080
    assert budget.loc[(1, "B")] == budget.loc[(0, "B")] == 436_800
    # a scenario's settlement is the one-config settlement under its terms
    alone = compute_settlement(program, other, 2026).practices.set_index("practice_id")
    assert alone.loc["A", "budget_cents"] == budget.loc[(1, "A")]
    assert alone.loc["A", "trend_factor"] == pytest.approx(
        (7_200 * 1.09336 * 1.04 + 108_000 * 0.96 * 1.06) / (7_200 * 1.09336 + 108_000 * 0.96),
        abs=5e-7,
    )


def test_the_bootstrap_holds_each_practices_budget_pmpm() -> None:
    program, config = _program()
    year = performance_year(program, config, 2026, with_ccf=True)
    chance = bootstrap_chance(year, config, draws=20, seed=3)
    assert len(chance.practices) == 2
    # B has one member: every draw is the year itself, savings rate and all
    b = chance.practices.set_index("practice_id").loc["B"]
    settled = compute_settlement(program, config, 2026).practices.set_index("practice_id")
    assert b["payment_mean_cents"] == settled.loc["B", "final_payment_cents"]


def test_a_practice_and_segment_without_a_baseline_stops_the_run() -> None:
    program, config = _program(baselines=BASELINES.iloc[[0, 2, 3]])  # A's esrd row is gone
    with pytest.raises(InputError) as caught:
        compute_settlement(program, config, 2026)
    problem = caught.value.problems[0]
    assert problem.reason == "NO_BASELINE"
    assert problem.examples == ("A esrd (18 member-months)",)
    zero = BASELINES.assign(baseline_risk=[1.25, 0.0, 0.9, 2.0])
    program, config = _program(baselines=zero)
    with pytest.raises(InputError, match="baseline_risk is 0"):
        compute_settlement(program, config, 2026)
    # a baseline of 0 for a segment without members in the year is not used
    program, config = _program(
        baselines=BASELINES.assign(baseline_pmpm=[400.0, 6000.0, 350.0, 0.0])
    )
    assert compute_settlement(program, config, 2026).practices["budget_cents"].sum() > 0


def test_without_baselines_segments_are_not_priced() -> None:
    """Attribution's segments alone do not change the settlement: the practice-level
    baselines of the practices file budget it, as without the column."""
    practices = PRACTICES.assign(baseline_pmpm=[1000.0, 350.0], baseline_risk=[1.0, 0.9])
    with_segments, config = _program(baselines=None, practices=practices)
    without, _ = _program(
        baselines=None, practices=practices, attribution=ATTRIBUTION.drop(columns="segment")
    )
    a = compute_settlement(with_segments, config, 2026)
    b = compute_settlement(without, config, 2026)
    assert a.segments is None and "segments" not in a.notes
    pd.testing.assert_frame_equal(a.practices, b.practices)


# ---- one segment: exactly as today ----------------------------------------------------------


def _copy_sample(folder: Path, segment: str | None) -> Path:
    shutil.copytree(SAMPLE, folder)
    if segment is not None:
        path = folder / "attribution.csv"
        attribution = pd.read_csv(path, dtype=str)
        attribution.assign(segment=segment).to_csv(path, index=False)
    return folder


def _same_files(a: Path, b: Path, names: list[str]) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_one_segment_pays_exactly_as_without_the_column(tmp_path: Path) -> None:
    """The sample program with a segment column of one value, settled without and with a
    baselines table that repeats the practices' baselines as that segment's: the same
    cents and the same bytes as the sample itself ($36,418.58 paid, $2,378.10 of CCF)."""
    config = load_config(DEFAULT_CONFIG)
    plain = tmp_path / "plain"
    run_settlement(config, 2026, plain / "settle", data=SAMPLE)
    run_ccf(config, SAMPLE, [674], plain / "ccf")  # 674 = 2026-03
    run_budget(config, {2026: SAMPLE}, SAMPLE / "practices.csv", plain / "budget")
    data = _copy_sample(tmp_path / "data", "commercial")
    one = tmp_path / "one"
    settled, _ = run_settlement(config, 2026, one / "settle", data=data)
    assert settled.total_paid_cents == 3_641_858
    assert settled.segments is None
    batch, _ = run_ccf(config, data, [674], one / "ccf")
    assert int(batch.lines["ccf_amount_cents"].sum()) == 237_810
    files = ["settlement.csv", "settlement.parquet", "control_totals.csv", "control_totals.parquet"]
    _same_files(plain / "settle", one / "settle", [*files, "rejects.csv"])
    _same_files(
        plain / "ccf",
        one / "ccf",
        ["ccf_payments.csv", "ccf_payments.parquet", "control_totals.csv", "rejects.csv"],
    )
    budget, run = run_budget(config, {2026: data}, data / "practices.csv", one / "budget")
    _same_files(plain / "budget", one / "budget", ["practices.csv"])
    assert not (one / "budget" / "baselines.csv").exists()
    assert set(budget.build["segment"]) == {"commercial"}
    plain_build = pd.read_csv(plain / "budget" / "budget_build.csv")
    pd.testing.assert_frame_equal(
        pd.read_csv(one / "budget" / "budget_build.csv").drop(columns="segment"),
        plain_build.drop(columns="segment"),
    )
    # the practices' own baselines as the one segment's: a budget per segment of one segment
    practices = pd.read_csv(SAMPLE / "practices.csv", dtype=str)
    baselines = practices[["practice_id", "baseline_pmpm", "baseline_risk"]].assign(
        segment="commercial"
    )
    baselines.to_csv(data / "baselines.csv", index=False)
    with_baselines = tmp_path / "baselines"
    settled, run = run_settlement(config, 2026, with_baselines, data=data)
    assert settled.total_paid_cents == 3_641_858
    _same_files(plain / "settle", with_baselines, files)
    assert settled.segments is not None
    assert np.array_equal(
        settled.segments["budget_cents"].to_numpy(), settled.practices["budget_cents"].to_numpy()
    )
    assert "settlement_segments.csv" in {p.name for p in run.files}
