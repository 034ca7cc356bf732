"""Budgets from history, end to end (issue 18): generated baseline years 2023-2025 through
``totalcare budget``, then ``settle`` 2026 on the practices file it wrote, with one
practice checked by hand from the raw files and the build table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import make_config, segment_year
from typer.testing import CliRunner

from totalcare_payments.budget import benchmark as bm
from totalcare_payments.budget.history import Budget, build_budget
from totalcare_payments.cli.app import app
from totalcare_payments.config import BudgetTerms
from totalcare_payments.errors import ConfigError, InputError
from totalcare_payments.generate import generate_program, write_program
from totalcare_payments.jobs import RunResult, run_budget, run_settlement
from totalcare_payments.money import round_half_up

YEARS = {2023: 11, 2024: 12, 2025: 13, 2026: 14}  # year: seed
TERMS = {"budget": {"year_weights": {"2023": 10, "2024": 30, "2025": 60}, "annual_trend": 0.04}}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history")
    for year, seed in YEARS.items():
        tables = generate_program(1500, seed=seed, year=year, members_per_practice=500)
        write_program(tables, root / str(year), fmt="csv")
    return root


def _budget(history: Path, out: Path, changes: dict | None = None) -> tuple[Budget, RunResult]:
    config = make_config({**TERMS, **(changes or {})})
    folders = {y: history / str(y) for y in (2023, 2024, 2025)}
    return run_budget(config, folders, history / "2026" / "practices.csv", out)


def _hand_claims(folder: Path, practice: str) -> tuple[int, int]:
    """Member-months and paid claims (cents) of a practice, from the raw files."""
    attribution = pd.read_csv(folder / "attribution.csv", dtype=str)
    claims = pd.read_csv(folder / "claims.csv", dtype={"member_id": str})
    claims["year_month"] = claims["claim_start_date"].str[:7]
    own = attribution[attribution["practice_id"] == practice]
    joined = claims.merge(own, on=["member_id", "year_month"])
    cents = np.round(joined["paid_amount"].to_numpy() * 100).astype(np.int64)
    return len(own), int(cents.sum())


def test_budget_then_settle_reproduces_a_hand_checked_practice(
    history: Path, tmp_path: Path
) -> None:
    budget, run = _budget(history, tmp_path / "budget")
    assert {p.name for p in run.files} >= {"practices.csv", "budget_build.csv", "manifest.json"}
    build = budget.build[budget.build["practice_id"] == "P0001"].set_index("year")
    settlement = make_config(TERMS).require_settlement()
    completion = settlement.completion_factor  # 1.015, [settlement]'s
    # each year from the raw files: member-months and paid claims as attributed by month
    for year in (2023, 2024, 2025):
        months, cents = _hand_claims(history / str(year), "P0001")
        assert build.loc[year, "member_months"] == months
        assert build.loc[year, "claims_paid_cents"] == cents
        net = (cents - build.loc[year, "truncated_cents"]) / 100 * completion
        assert build.loc[year, "actual_cost_cents"] == round_half_up(net * 100, 0)
    # the benchmark by hand: restate at 2025's risk, trend 4% a year to 2025, 10/30/60
    pmpm = build["actual_cost_cents"] / build["member_months"] / 100
    risk = build["avg_risk_score"]
    trended = pmpm * (risk[2025] / risk) * 1.04 ** (2025 - build.index.to_numpy())
    baseline = float((trended * np.array([0.1, 0.3, 0.6])).sum())
    assert build["trended_pmpm"].to_numpy() == pytest.approx(trended.to_numpy(), rel=1e-12)
    written = pd.read_csv(tmp_path / "budget" / "practices.csv", dtype={"baseline_pmpm": str})
    row = written.set_index("practice_id").loc["P0001"]
    assert row["baseline_pmpm"] == f"{round_half_up(baseline, 2):.2f}"
    assert row["baseline_risk"] == pytest.approx(risk[2025])
    assert list(written.columns) == [
        "practice_id",
        "practice_name",
        "tier",
        "baseline_pmpm",
        "baseline_risk",
    ]
    # names and tiers from the performance year's practices file
    py_practices = pd.read_csv(history / "2026" / "practices.csv")
    assert written[["practice_id", "practice_name", "tier"]].equals(
        py_practices[["practice_id", "practice_name", "tier"]]
    )
    # settle 2026 on it: budget_pmpm = baseline x capped risk ratio x 1.04 (2025 -> 2026)
    settled, _ = run_settlement(
        make_config(TERMS),
        2026,
        tmp_path / "settle",
        data=history / "2026",
        paths={"practices": tmp_path / "budget" / "practices.csv"},
    )
    p1 = settled.practices.set_index("practice_id").loc["P0001"]
    assert p1["baseline_pmpm_cents"] == int(row["baseline_pmpm"].replace(".", ""))
    ratio = min(p1["avg_risk_score"] / row["baseline_risk"], 1.03)
    expected = float(row["baseline_pmpm"]) * float(round_half_up(ratio, 6)) * 1.04
    assert p1["budget_pmpm_cents"] == round_half_up(expected * 100, 0)
    assert p1["budget_cents"] == p1["budget_pmpm_cents"] * p1["member_months"]


def test_reruns_are_byte_identical(history: Path, tmp_path: Path) -> None:
    _budget(history, tmp_path / "a")
    _budget(history, tmp_path / "b")
    for name in ("practices.csv", "budget_build.csv", "budget_build.parquet", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_equal_weights_and_a_reference_blend(history: Path, tmp_path: Path) -> None:
    """No weights: 1/3 each; a reference PMPM pulls a practice toward it, within the cap."""
    blend = {
        "budget": {
            "reference_pmpm": 300.0,
            "blend_weight_below": 0.35,
            "blend_weight_above": 0.15,
            "blend_cap_pmpm": 10.0,
        }
    }
    budget, _ = _budget(history, tmp_path / "blend", blend)
    build = budget.build
    last = build[build["year"] == 2025].set_index("practice_id")
    assert build["year_weight"].to_numpy() == pytest.approx(np.full(len(build), 1 / 3))
    # every generated practice spends above 300 x its risk: weight 0.15, pulled down
    difference = last["reference_pmpm"] - last["historical_pmpm"]
    assert (difference < 0).all()
    assert (last["blend_weight"] == 0.15).all()
    expected = np.maximum(0.15 * difference, -10.0)
    assert last["blend_adjustment"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-12)
    assert last["reference_pmpm"].to_numpy() == pytest.approx(
        300.0 * last["avg_risk_score"].to_numpy(), rel=1e-12
    )
    dollars = (last["historical_pmpm"] + last["blend_adjustment"]).to_numpy()
    assert last["baseline_pmpm_cents"].to_numpy() == pytest.approx(round_half_up(dollars * 100, 0))


def test_a_year_without_members_drops_out_of_the_weights() -> None:
    history = {
        2024: pd.DataFrame(
            {
                "practice_id": ["A"],
                "member_months": [120],
                "avg_risk_score": [1.0],
                "claims_paid_cents": [3_600_000],
                "truncated_cents": [0],
                "actual_cost_cents": [3_600_000],
            }
        ),
        2025: pd.DataFrame(
            {
                "practice_id": ["A", "B"],
                "member_months": [120, 240],
                "avg_risk_score": [1.2, 0.8],
                "claims_paid_cents": [4_800_000, 7_200_000],
                "truncated_cents": [0, 0],
                "actual_cost_cents": [4_800_000, 7_200_000],
            }
        ),
    }
    practices = pd.DataFrame({"practice_id": ["A", "B"], "practice_name": ["a", "b"], "tier": "x"})
    budget = build_budget(history, practices, BudgetTerms(year_weights={"2024": 1, "2025": 3}))
    out = budget.practices.set_index("practice_id")
    # A: 2024 $300 restated at 1.2/1.0 = $360, 2025 $400: 0.25 x 360 + 0.75 x 400 = $390
    assert out.loc["A", "baseline_pmpm_cents"] == 39_000
    assert out.loc["A", "baseline_risk"] == 1.2
    # B: 2025 alone, $300
    assert out.loc["B", "baseline_pmpm_cents"] == 30_000
    with pytest.raises(InputError, match="no members in the last baseline year 2025"):
        build_budget({2025: history[2024]}, practices, BudgetTerms())
    with pytest.raises(ConfigError, match="year_weights"):
        build_budget(history, practices, BudgetTerms(year_weights={"2025": 1}))
    with pytest.raises(ConfigError, match="trend_factors"):
        build_budget(history, practices, BudgetTerms(trend_factors={"2023": 1.1}))


def test_the_cli_builds_the_budget(history: Path, tmp_path: Path) -> None:
    args = ["budget", "--practices", str(history / "2026" / "practices.csv")]
    for year in (2024, 2025):
        args += ["--history", f"{year}={history / str(year)}"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "Budgets from history (2024, 2025)" in result.output
    assert (tmp_path / "b" / "practices.csv").is_file()
    bad = CliRunner().invoke(app, [*args, "--history", "2025", "--out", str(tmp_path / "c")])
    assert bad.exit_code == 2
    assert "YEAR=FOLDER" in bad.output


def test_one_segment_mix_is_the_figure_itself() -> None:
    values = np.array([[412.5], [300.25]])
    assert bm.segment_mix(values, np.ones((2, 1))).tolist() == [412.5, 300.25]
    assert bm.year_weights(np.array([10, 30, 60])).tolist() == pytest.approx([0.1, 0.3, 0.6])


def test_segments_are_built_apart_and_mixed_by_the_last_years_shares() -> None:
    """Two segments: each restated, trended and weighted on its own, then mixed by its
    share of the last baseline year's member-months; risk is mixed the same way."""

    history = {
        2024: segment_year([("group", 100, 1.0, 3_000_000), ("individual", 50, 1.5, 2_500_000)]),
        2025: segment_year([("group", 300, 1.1, 9_900_000), ("individual", 100, 1.2, 6_000_000)]),
    }
    practices = pd.DataFrame({"practice_id": ["A"], "practice_name": ["a"], "tier": ["x"]})
    budget = build_budget(history, practices, BudgetTerms(annual_trend=0.05))
    # group: 2024 $300 x 1.1/1.0 x 1.05 = $346.50; 2025 $330; equal weights: $338.25
    # individual: 2024 $500 x 1.2/1.5 x 1.05 = $420; 2025 $600: $510
    # 2025 shares 300/400 and 100/400: 0.75 x 338.25 + 0.25 x 510 = $381.1875 -> $381.19
    out = budget.practices.iloc[0]
    assert out["baseline_pmpm_cents"] == 38_119
    assert out["baseline_risk"] == pytest.approx(0.75 * 1.1 + 0.25 * 1.2)
    build = budget.build.set_index(["segment", "year"])
    assert build.loc[("group", 2024), "trended_pmpm"] == pytest.approx(346.5)
    assert build.loc[("individual", 2025), "historical_pmpm"] == pytest.approx(510.0)
    assert build.loc[("individual", 2025), "segment_share"] == 0.25
    assert budget.notes["segments"] == ["group", "individual"]
    # one segment is the practice as a whole: the mix of one is the figure itself
    single = build_budget(
        {y: f.drop(columns="segment").iloc[:1] for y, f in history.items()},
        practices,
        BudgetTerms(annual_trend=0.05),
    )
    assert single.practices.iloc[0]["baseline_pmpm_cents"] == 33_825
    assert set(single.build["segment"]) == {"all"}
