"""Settling from practice-level summaries: one row per practice with its budget and costs.

The same waterfall as the member-level settlement (``waterfall.settle_rows``), entered at
step 4 (a budget) or 2 (a baseline to risk-adjust): how actuaries model a program and how
published settlements such as Medicare's are reproduced (``totalcare_payments.mssp``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import ProgramConfig
from ..errors import InputError, Problem
from ..money import to_cents
from ..reasons import Reason
from .waterfall import (
    SETTLEMENT_COLUMNS,
    Settlement,
    actual_cost,
    control_totals,
    msr_and_mlr,
    risk_adjusted_budget,
    row_terms,
    settle_rows,
)


def settle_summary(summary: pd.DataFrame, config: ProgramConfig, year: int) -> Settlement:
    """Settle from practice-level summaries: the waterfall from step 4 (or 2) on.

    Columns (``schema.PRACTICE_SUMMARY``): practice_id and actual_cost; a ``budget``, or
    ``baseline_pmpm`` and ``member_months`` (with ``avg_risk_score`` and ``baseline_risk``
    to risk-adjust it); ``population`` (person-years for the MSR table; else
    member_months / 12); quality_score (else 1.0) and met_quality_gate (else true);
    ``msr`` for a practice's own assigned rate (kind 'assigned') or its chosen fixed rate,
    blank for the table (kind 'choice'); ``loss_limit`` for a practice's own loss limit
    (share of budget); ``revenue`` for a revenue-based loss limit; ``met_alternative_quality``
    and ``reduced_share_eligible`` (else false); ``terminated_month`` (the month, 1-12, its
    participation ended during the year; blank or 0: in the program all year);
    ``relief_share`` (its own share of losses forgiven; blank: the terms') and
    ``loss_adjustment`` (relief in dollars, negative).
    actual_cost is the final cost: truncation and completion are not applied again.
    """
    terms = config.require_settlement()
    n = len(summary)

    def col(name: str, default: float) -> np.ndarray:
        if name in summary.columns:
            return summary[name].astype("float64").fillna(default).to_numpy()
        return np.full(n, default)

    def flag(name: str, default: bool) -> np.ndarray:
        if name in summary.columns:
            return summary[name].fillna(default).to_numpy(dtype=bool)
        return np.full(n, default, dtype=bool)

    member_months = col("member_months", 0.0)
    revenue = col("revenue", np.nan)
    population = col("population", np.nan)
    population = np.where(np.isnan(population), member_months / 12.0, population)
    default_tier = config.program.tiers[0]
    tier = summary["tier"] if "tier" in summary.columns else pd.Series([default_tier] * n)
    t = row_terms(config, tier.fillna(default_tier).reset_index(drop=True), year)
    rows = pd.DataFrame(
        {
            "practice_id": summary["practice_id"].to_numpy(),
            "practice_name": summary["practice_name"].to_numpy()
            if "practice_name" in summary.columns
            else summary["practice_id"].astype(str).to_numpy(),
            "tier": tier.fillna(default_tier).to_numpy(),
            "member_months": np.round(member_months).astype(np.int64),
            "population": population,
            "avg_risk_score": col("avg_risk_score", np.nan),
            "baseline_risk": col("baseline_risk", np.nan),
            "baseline_pmpm_cents": to_cents(np.nan_to_num(col("baseline_pmpm", 0.0))),
            "claims_paid_cents": to_cents(col("actual_cost", 0.0)),
            "truncated_cents": np.zeros(n, dtype=np.int64),
            "ccf_cost_cents": np.zeros(n, dtype=np.int64),
            "quality_score": col("quality_score", 1.0),
            "met_quality_gate": flag("met_quality_gate", True),
            "met_alternative_quality": flag("met_alternative_quality", False),
            "reduced_share_eligible": flag("reduced_share_eligible", False),
            "revenue_cents": np.where(np.isnan(revenue), np.nan, to_cents(np.nan_to_num(revenue))),
            "terminated_month": np.round(col("terminated_month", 0.0)).astype(np.int64),
            "relief_share": col("relief_share", np.nan),
            "loss_adjustment_cents": to_cents(col("loss_adjustment", 0.0)),
        }
    )
    if "budget" in summary.columns and summary["budget"].notna().all():
        budget = to_cents(summary["budget"].to_numpy(dtype=float))
        with np.errstate(invalid="ignore", divide="ignore"):
            pmpm = np.where(member_months > 0, budget / np.maximum(member_months, 1), 0)
        rows = rows.assign(
            risk_ratio=np.nan,
            trend_factor=np.nan,
            budget_pmpm_cents=np.round(pmpm).astype(np.int64),
            budget_cents=budget,
        )
    else:
        risk = rows["avg_risk_score"].isna() | rows["baseline_risk"].isna()
        rows.loc[risk, ["avg_risk_score", "baseline_risk"]] = 1.0
        rows = risk_adjusted_budget(rows, t)
    # actual_cost is final in a summary: no completion factor is applied again
    rows = actual_cost(rows, {**t, "completion_factor": np.ones(n)})
    assigned = col("msr", np.nan) if "msr" in summary.columns else None
    if terms.msr.kind == "assigned" and (assigned is None or np.isnan(assigned).any()):
        raise InputError(
            Problem(
                "practice_summary",
                Reason.NULL_VALUE,
                "the config's msr kind is 'assigned', so every "
                "practice needs its own rate in the msr column",
                column="msr",
            )
        )
    if terms.msr.kind == "choice" and assigned is not None:
        _check_choices(summary, assigned, terms.msr.choices)
    msr, mlr = msr_and_mlr(terms, population, assigned)
    rows = rows.assign(msr=msr, mlr=mlr)
    if "loss_limit" in summary.columns:  # a practice's own loss limit, where it has one
        own = summary["loss_limit"].astype("float64").to_numpy()
        t["loss_limit"] = np.where(np.isnan(own), t["loss_limit"], own)
    settled = settle_rows(rows, t)[SETTLEMENT_COLUMNS]
    settled = settled.sort_values("practice_id", kind="stable").reset_index(drop=True)
    return Settlement(
        year=year, practices=settled, control_totals=control_totals(settled), notes={}
    )


def _check_choices(summary: pd.DataFrame, chosen: np.ndarray, choices: list[float]) -> None:
    """Under msr kind 'choice', a practice's msr is one of the choices or blank (the table)."""
    allowed = np.asarray(choices, dtype=np.float64)
    ok = np.isnan(chosen) | np.isclose(chosen[:, None], allowed[None, :], rtol=0, atol=1e-9).any(1)
    if not ok.all():
        raise InputError(
            Problem(
                "practice_summary",
                Reason.OUT_OF_RANGE,
                "the config's msr kind is 'choice': a practice's msr is one of "
                f"{', '.join(f'{c:g}' for c in choices)}, or blank for the table",
                column="msr",
                row_count=int((~ok).sum()),
                examples=tuple(summary["practice_id"].astype(str).to_numpy()[~ok][:5]),
            )
        )
