"""The "Building the budget" examples of docs/methodology.md, recomputed by the engine."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from helpers import DEFAULT_CONFIG, SAMPLE, cents_text, doc_example

from totalcare_payments.budget.history import build_budget
from totalcare_payments.config import BudgetTerms, load_config
from totalcare_payments.jobs import run_budget


def _text(value: float, places: int) -> str:
    return f"{value:.{places}f}"


def test_three_baseline_years_example() -> None:
    doc = doc_example("budget-three-years")
    history = {}
    for year, risk, cents in [
        (2023, 0.95, 42_000_000),
        (2024, 1.0, 44_400_000),
        (2025, 1.05, 48_000_000),
    ]:
        history[year] = pd.DataFrame(
            {
                "practice_id": ["A"],
                "member_months": [1200],
                "avg_risk_score": [risk],
                "claims_paid_cents": [cents],
                "truncated_cents": [0],
                "actual_cost_cents": [cents],
            }
        )
    practices = pd.DataFrame({"practice_id": ["A"], "practice_name": ["a"], "tier": ["x"]})
    terms = BudgetTerms(year_weights={"2023": 10, "2024": 30, "2025": 60}, annual_trend=0.04)
    build = build_budget(history, practices, terms).build.set_index("year")
    for year in (2023, 2024, 2025):
        assert doc[f"pmpm {year}"] == _text(build.loc[year, "pmpm"], 2)
    assert doc["trended_pmpm 2023"] == f"{build.loc[2023, 'trended_pmpm']:.10g}"
    assert doc["trended_pmpm 2024"] == f"{build.loc[2024, 'trended_pmpm']:.10g}"
    assert doc["historical_pmpm"] == f"{build.loc[2025, 'historical_pmpm']:.10g}"
    assert doc["baseline_pmpm"] == cents_text(build.loc[2025, "baseline_pmpm_cents"])
    assert doc["baseline_risk"] == f"{build.loc[2025, 'baseline_risk']:g}"
    blended_terms = terms.model_copy(
        update={
            "reference_pmpm": 360.0,
            "blend_weight_below": 0.35,
            "blend_weight_above": 0.15,
            "blend_cap_pmpm": 10.0,
        }
    )
    blended = build_budget(history, practices, blended_terms).build.set_index("year").loc[2025]
    assert doc["reference_pmpm"] == _text(blended["reference_pmpm"], 2)
    assert doc["blend_adjustment"] == f"{blended['blend_adjustment']:.10g}"
    assert blended["blend_weight"] == 0.15
    assert doc["baseline_pmpm, blended"] == cents_text(blended["baseline_pmpm_cents"])


def test_sample_program_example(tmp_path: Path) -> None:
    doc = doc_example("budget-sample-P0005")
    budget, _ = run_budget(
        load_config(DEFAULT_CONFIG), {2026: SAMPLE}, SAMPLE / "practices.csv", tmp_path / "b"
    )
    row = budget.build.set_index("practice_id").loc["P0005"]
    assert doc["member_months"] == str(row["member_months"])
    for key in ("claims_paid", "truncated", "actual_cost", "baseline_pmpm"):
        assert doc[key] == cents_text(row[f"{key}_cents"])
    assert doc["baseline_risk"] == f"{row['baseline_risk']:g}"
    written = pd.read_csv(tmp_path / "b" / "practices.csv", dtype=str).set_index("practice_id")
    assert written.loc["P0005", "baseline_pmpm"] == doc["baseline_pmpm"]
