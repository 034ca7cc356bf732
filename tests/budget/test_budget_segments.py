"""Budgets per member segment: each practice and segment built from its own member-months,
risk and claims, written as baselines.csv; then generated data with segments through
``generate --segments``, ``budget`` and ``settle``, one practice checked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import MONTHS_2026, attribution_rows, make_config, segment_year, write_config
from typer.testing import CliRunner

from totalcare_payments.budget.history import baseline_year, build_budget
from totalcare_payments.cli.app import app
from totalcare_payments.config import BudgetTerms
from totalcare_payments.errors import ConfigError
from totalcare_payments.money import round_half_up
from totalcare_payments.program import program_from_frames


def _rows(member: str, segment: str, months: list[str]) -> list[dict]:
    return [{**r, "segment": segment} for r in attribution_rows(member, "A", months)]


def test_a_baseline_year_per_segment_by_hand() -> None:
    """m1 is in segment group January-June and individual July-December (score 1.5); m2 in
    group all year (0.8). Claims: m1 $8,000 in March (group) and $6,000 in August
    (individual), m2 $1,200 in May. Stop-loss $10,000: m1's year is $14,000, its $4,000
    excess split over its positive parts 8,000 : 6,000 -> group 2,285.71, individual
    1,714.29. Completion 1.015.

    group: 6 + 12 = 18 member-months, risk (6 x 1.5 + 12 x 0.8) / 18 = 1.03333 -> 1.0333;
      (9,200.00 - 2,285.71) x 1.015 = 7,018.0044 -> 7,018.00; 7,018.00 / 18 = 389.89.
    individual: 6 member-months at 1.5; (6,000.00 - 1,714.29) x 1.015 = 4,349.9957 ->
      4,350.00; / 6 = 725.00.
    The practice: the 18 : 6 mix, 0.75 x 389.8889 + 0.25 x 725 = 473.6667 -> 473.67 at
    risk 0.75 x 1.0333 + 0.25 x 1.5 = 1.149975.
    """
    config = make_config({"settlement": {"stop_loss": {"kind": "fixed", "amount": 10000.0}}})
    attribution = pd.DataFrame(
        _rows("m1", "group", MONTHS_2026[:6])
        + _rows("m1", "individual", MONTHS_2026[6:])
        + _rows("m2", "group", MONTHS_2026)
    )
    claims = pd.DataFrame(
        [
            ("c1", "m1", "2026-03-10", 8000.00),
            ("c2", "m1", "2026-08-10", 6000.00),
            ("c3", "m2", "2026-05-10", 1200.00),
        ],
        columns=["claim_id", "member_id", "claim_start_date", "paid_amount"],
    )
    practices = pd.DataFrame({"practice_id": ["A"], "practice_name": ["a"], "tier": ["Advanced"]})
    program = program_from_frames(
        config,
        practices,
        attribution,
        pd.DataFrame({"member_id": ["m1", "m2"], "mara_px_total": [1.5, 0.8]}),
        claims,
    )
    year = baseline_year(program, config, 2026).set_index("segment")
    assert year["member_months"].to_dict() == {"group": 18, "individual": 6}
    assert year["avg_risk_score"].to_dict() == {"group": 1.0333, "individual": 1.5}
    assert year["claims_paid_cents"].to_dict() == {"group": 920_000, "individual": 600_000}
    assert year["truncated_cents"].to_dict() == {"group": 228_571, "individual": 171_429}
    assert year["actual_cost_cents"].to_dict() == {"group": 701_800, "individual": 435_000}
    budget = build_budget({2026: year.reset_index()}, practices, BudgetTerms())
    assert budget.practices.iloc[0]["baseline_pmpm_cents"] == 47_367
    assert budget.practices.iloc[0]["baseline_risk"] == pytest.approx(1.149975, abs=1e-12)
    assert budget.baselines is not None
    baselines = budget.baselines.set_index("segment")
    assert baselines["baseline_pmpm_cents"].to_dict() == {"group": 38_989, "individual": 72_500}
    assert baselines["baseline_risk"].to_dict() == {"group": 1.0333, "individual": 1.5}
    assert baselines["baseline_member_months"].to_dict() == {"group": 18, "individual": 6}
    # without the column the same claims are one segment: $15,200 - $4,000 = $11,200,
    # x 1.015 = $11,368.00 over 24 member-months = $473.67, no baselines table
    plain = program_from_frames(
        config,
        practices,
        attribution.drop(columns="segment"),
        pd.DataFrame({"member_id": ["m1", "m2"], "mara_px_total": [1.5, 0.8]}),
        claims,
    )
    whole = build_budget({2026: baseline_year(plain, config, 2026)}, practices, BudgetTerms())
    assert whole.practices.iloc[0]["baseline_pmpm_cents"] == 47_367
    assert whole.baselines is None


def test_trend_factors_by_segment() -> None:
    """group is trended by its own factor 1.10 for 2024, individual by 5%: group 2024 $300
    x 1.1/1.0 (risk) x 1.10 = $363, 2025 $330: $346.50; individual $500 x 1.2/1.5 x 1.05
    = $420, 2025 $600: $510; mixed 0.75 / 0.25: $387.375 -> $387.38."""

    history = {
        2024: segment_year([("group", 100, 1.0, 3_000_000), ("individual", 50, 1.5, 2_500_000)]),
        2025: segment_year([("group", 300, 1.1, 9_900_000), ("individual", 100, 1.2, 6_000_000)]),
    }
    practices = pd.DataFrame({"practice_id": ["A"], "practice_name": ["a"], "tier": ["x"]})
    terms = BudgetTerms(annual_trend=0.05, trend_factors_by_segment={"group": {"2024": 1.10}})
    budget = build_budget(history, practices, terms)
    build = budget.build.set_index(["segment", "year"])
    assert build.loc[("group", 2024), "trend_factor"] == 1.10
    assert build.loc[("individual", 2024), "trend_factor"] == 1.05
    assert build.loc[("group", 2025), "historical_pmpm"] == pytest.approx(346.5)
    assert budget.practices.iloc[0]["baseline_pmpm_cents"] == 38_738
    with pytest.raises(ConfigError, match=r"trend_factors_by_segment.group has no factor"):
        build_budget(history, practices, BudgetTerms(trend_factors_by_segment={"group": {}}))


# ---- end to end: generate --segments, budget, settle ---------------------------------------

SEGMENT_SHARES = "aged_nondual=0.6,aged_dual=0.2,disabled=0.15,esrd=0.05"


def _invoke(*args: str | Path) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("segments")
    for year, seed in ((2025, 31), (2026, 32)):
        _invoke(
            "generate", "--members", "2000", "--members-per-practice", "500", "--seed", seed,
            "--year", year, "--format", "csv", "--segments", SEGMENT_SHARES,
            "--out", root / str(year),
        )  # fmt: skip
    # no stop-loss, so that the hand check below is sums and ratios only
    config = make_config({"settlement": {"stop_loss": {"kind": "none"}}})
    (root / "config").mkdir()
    write_config(root / "config", config)
    return root


def _by_segment(folder: Path, practice: str) -> pd.DataFrame:
    """A practice's member-months, risk and paid claims (cents) by segment, from the raw
    files: claims in the months attributed to it, in the segment of their month; scores
    member-month weighted, 1.0 for a member without one (the config's default_score)."""
    attribution = pd.read_csv(folder / "attribution.csv", dtype=str)
    own = attribution[attribution["practice_id"] == practice]
    scores = pd.read_csv(folder / "risk_scores.csv", dtype={"member_id": str})
    score = own["member_id"].map(scores.set_index("member_id")["mara_px_total"]).fillna(1.0)
    claims = pd.read_csv(folder / "claims.csv", dtype={"member_id": str})
    claims["year_month"] = claims["claim_start_date"].str[:7]
    joined = claims.merge(own, on=["member_id", "year_month"])
    joined["cents"] = np.round(joined["paid_amount"].to_numpy() * 100).astype(np.int64)
    return pd.DataFrame(
        {
            "member_months": own.groupby("segment").size(),
            "risk": score.groupby(own["segment"]).mean(),
            "claims_cents": joined.groupby("segment")["cents"].sum(),
        }
    )


def test_generate_budget_settle_by_segment_reproduces_a_practice(
    generated: Path, tmp_path: Path
) -> None:
    config = generated / "config" / "program.toml"
    budget_out = tmp_path / "budget"
    _invoke(
        "budget", "--config", config, "--history", f"2025={generated / '2025'}",
        "--practices", generated / "2026" / "practices.csv", "--out", budget_out,
    )  # fmt: skip
    baselines = pd.read_csv(budget_out / "baselines.csv", dtype={"baseline_pmpm": str})
    assert list(baselines.columns) == [
        "practice_id",
        "segment",
        "baseline_pmpm",
        "baseline_risk",
        "baseline_member_months",
    ]
    assert set(baselines["segment"]) == {"aged_nondual", "aged_dual", "disabled", "esrd"}
    settle_out = tmp_path / "settle"
    output = _invoke(
        "settle", "--config", config, "--year", "2026", "--data", generated / "2026",
        "--practices", budget_out / "practices.csv", "--baselines", budget_out / "baselines.csv",
        "--out", settle_out,
    )  # fmt: skip
    assert "Budget by segment" in output
    # P0001 by hand. 2025: each segment's cost x 1.015 (to the cent) / its member-months
    # is its baseline_pmpm; its risk is its baseline_risk (one baseline year: no trend)
    by_2025 = _by_segment(generated / "2025", "P0001")
    cost = round_half_up(by_2025["claims_cents"].to_numpy() * 1.015, 0) / 100
    base_pmpm = round_half_up(cost / by_2025["member_months"].to_numpy(), 2)
    base_risk = round_half_up(by_2025["risk"].to_numpy(), 4)
    own = baselines[baselines["practice_id"] == "P0001"].set_index("segment").loc[by_2025.index]
    assert own["baseline_pmpm"].astype(float).to_numpy() == pytest.approx(base_pmpm, abs=1e-9)
    assert own["baseline_risk"].to_numpy() == pytest.approx(base_risk, abs=1e-12)
    assert (own["baseline_member_months"] == by_2025["member_months"]).all()
    # 2026: each segment's ratio to its own baseline risk, capped at 1.03, x 1.04 trend;
    # the practice's budget is the sum of the segments' budget PMPM x member-months
    by_2026 = _by_segment(generated / "2026", "P0001").loc[by_2025.index]
    uncapped = round_half_up(by_2026["risk"].to_numpy(), 4) / base_risk
    ratio = round_half_up(np.minimum(uncapped, 1.03), 6)
    pmpm_cents = round_half_up(base_pmpm * ratio * 1.04 * 100, 0)
    budget_cents = int((pmpm_cents * by_2026["member_months"].to_numpy()).sum())
    settled = pd.read_csv(settle_out / "settlement.csv", dtype={"budget": str})
    p1 = settled.set_index("practice_id").loc["P0001"]
    assert p1["budget"] == f"{budget_cents // 100}.{budget_cents % 100:02d}"
    assert p1["member_months"] == by_2026["member_months"].sum()
    segments = pd.read_csv(settle_out / "settlement_segments.csv")
    mine = segments[segments["practice_id"] == "P0001"].set_index("segment").loc[by_2025.index]
    assert mine["risk_ratio"].to_numpy() == pytest.approx(ratio, abs=1e-12)
    assert (mine["risk_ratio_capped"].to_numpy() == (uncapped > 1.03)).all()
    # the practices' budgets are their segments', to the cent
    sums = (segments.groupby("practice_id")["budget"].sum() * 100).round().astype(np.int64)
    written = (settled.set_index("practice_id")["budget"].astype(float) * 100).round()
    assert (sums == written.astype(np.int64)).all()
