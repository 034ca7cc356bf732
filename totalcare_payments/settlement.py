"""Year-end shared savings settlement: the waterfall from budget to final payment.

Each step (DOMAIN.md, "Year-end shared savings") is a column of the result:

1. ``member_months``, ``avg_risk_score`` (member-month weighted), ``baseline_risk``
2. ``risk_ratio`` = avg_risk_score / baseline_risk, within [risk_ratio_min, risk_ratio_max]
3. ``budget_pmpm`` = baseline_pmpm x risk_ratio x ``trend_factor``, in cents, where
   trend_factor = (1 + annual_trend) ^ (year - baseline_year)
4. ``budget`` = budget_pmpm x member_months
5. ``actual_cost`` = (``claims_paid`` - ``truncated``) x ``completion_factor`` + ``ccf_cost``
6. ``savings`` = budget - actual_cost; ``savings_rate`` = savings / budget
7. ``msr``: savings count when savings_rate >= msr (``meets_msr``); ``qualifying_savings``
   are all savings (first dollar) or those above msr x budget (net)
8. quality: no share when the gate is missed or quality_score < min_score
9. ``share_rate`` = savings_share_rate + quality_share_rate x quality_score, at most max_share_rate
10. ``earned`` = qualifying_savings x share_rate x (1 - payment_reduction), at most
    ``payment_limit_amount`` = payment_limit x budget
11. two-sided: when -savings_rate >= ``mlr``, ``shared_loss`` = loss x ``loss_rate``
    (fixed, or 1 - share_rate clipped to [floor, ceiling]) up to loss_limit x budget,
    less any ``loss_adjustment`` (relief)
12. ``final_payment`` = earned - shared_loss, and a ``reason`` code.

The practice-level part (``settle_rows``, steps 6-12) takes its terms as one value per
row, so the same code settles one config or many scenarios at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema
from .ccf import ccf_lines
from .claims import (
    MemberCosts,
    member_costs,
    practice_costs,
    stop_loss_threshold,
)
from .config import ProgramConfig, SettlementTerms, StopLoss
from .errors import InputError, Problem
from .inputs import ProgramData, Table
from .money import round_half_up, to_cents
from .msr import minimum_savings_rate
from .periods import year_periods
from .risk import member_months_and_scores, shared_risk_totals

# Reason codes, one per practice: why the final payment is what it is.
PAID = "PAID"
CAPPED = "CAPPED"
BELOW_MSR = "BELOW_MSR"
NO_SAVINGS = "NO_SAVINGS"
QUALITY_GATE = "QUALITY_GATE"
LOSS = "LOSS"
LOSS_CAPPED = "LOSS_CAPPED"
REASONS = {
    PAID: "savings met the MSR and the share was paid",
    CAPPED: "paid, limited by the performance payment limit",
    BELOW_MSR: "savings, but the savings rate is below the MSR",
    NO_SAVINGS: "no savings (and no loss past the minimum loss rate)",
    QUALITY_GATE: "savings met the MSR, but the quality standard was missed",
    LOSS: "loss past the minimum loss rate, billed at the loss rate",
    LOSS_CAPPED: "loss billed, limited by the loss limit",
}

SETTLEMENT_COLUMNS = [
    "practice_id",
    "practice_name",
    "tier",
    "member_months",
    "population",
    "avg_risk_score",
    "baseline_risk",
    "risk_ratio",
    "baseline_pmpm_cents",
    "trend_factor",
    "budget_pmpm_cents",
    "budget_cents",
    "claims_paid_cents",
    "truncated_cents",
    "completion_factor",
    "ccf_cost_cents",
    "actual_cost_cents",
    "savings_cents",
    "savings_rate",
    "msr",
    "meets_msr",
    "qualifying_savings_cents",
    "quality_score",
    "met_quality_gate",
    "share_rate",
    "payment_reduction",
    "earned_before_limit_cents",
    "payment_limit_amount_cents",
    "earned_cents",
    "mlr",
    "loss_rate",
    "loss_adjustment_cents",
    "shared_loss_cents",
    "final_payment_cents",
    "reason",
]


def row_terms(config: ProgramConfig, tiers: pd.Series, year: int) -> dict[str, np.ndarray]:
    """The config's settlement terms as one value per practice row (by its tier).

    Every step of the waterfall reads its terms from here, so rows settled under
    different configs (scenarios) can be stacked and settled in one vectorized pass.
    """
    terms = config.require_settlement()
    n = len(tiers)
    sharing = terms.sharing
    full = np.full
    trend = round_half_up((1.0 + terms.annual_trend) ** (year - terms.baseline_year), 6)
    tier_code, tier_names = pd.factorize(tiers)

    def by_tier(rates: dict[str, float]) -> np.ndarray:
        per_tier = np.array([rates.get(str(t), 0.0) for t in tier_names] + [0.0])
        return per_tier[tier_code]  # code -1 (no tier) takes the trailing 0.0

    return {
        "trend_factor": full(n, float(trend)),
        "risk_ratio_min": full(n, terms.risk_ratio_min or 0.0),
        "risk_ratio_max": full(n, terms.risk_ratio_max or np.inf),
        "completion_factor": full(n, terms.completion_factor),
        "ccf_counts_as_cost": full(n, terms.ccf_counts_as_cost),
        "savings_share_rate": by_tier(sharing.savings_share_rate),
        "quality_share_rate": by_tier(sharing.quality_share_rate),
        "max_share_rate": full(n, config.program.max_share_rate),
        "quality_gate": full(n, terms.quality.gate),
        "min_quality_score": full(n, terms.quality.min_score),
        "net_sharing": full(n, terms.msr.sharing == "net"),
        "payment_reduction": full(n, terms.payment_reduction_for(year)),
        "payment_limit": full(n, terms.payment_limit),
        "losses_enabled": full(n, terms.losses.enabled),
        "loss_rate_fixed": full(
            n,
            np.nan if terms.losses.loss_rate == "one_minus_share_rate" else terms.losses.loss_rate,
        ),
        "loss_rate_floor": full(n, terms.losses.loss_rate_floor),
        "loss_rate_ceiling": full(n, terms.losses.loss_rate_ceiling),
        "loss_limit": full(n, terms.losses.loss_limit),
    }


def stack_terms(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-row terms of several configs, one after another."""
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def msr_and_mlr(
    terms: SettlementTerms, population: np.ndarray, assigned: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    msr = minimum_savings_rate(terms.msr, population, assigned)
    if terms.losses.min_loss_rate == "msr":
        mlr = msr.copy()
    else:
        mlr = np.full(len(msr), float(terms.losses.min_loss_rate))
    return msr, mlr


def settle_rows(rows: pd.DataFrame, t: dict[str, np.ndarray]) -> pd.DataFrame:
    """Steps 6-12 of the waterfall, vectorized over rows (practices, or scenarios x practices).

    ``rows`` needs budget_cents, actual_cost_cents, msr, mlr, quality_score,
    met_quality_gate and loss_adjustment_cents; ``t`` holds one term value per row.
    """
    budget = rows["budget_cents"].to_numpy(dtype=np.int64)
    actual = rows["actual_cost_cents"].to_numpy(dtype=np.int64)
    msr = rows["msr"].to_numpy(dtype=np.float64)
    mlr = rows["mlr"].to_numpy(dtype=np.float64)
    quality = rows["quality_score"].to_numpy(dtype=np.float64)
    met_gate = rows["met_quality_gate"].to_numpy(dtype=bool)
    adjustment = rows["loss_adjustment_cents"].to_numpy(dtype=np.int64)

    savings = budget - actual
    with np.errstate(invalid="ignore", divide="ignore"):
        savings_rate = np.where(budget != 0, savings / np.where(budget != 0, budget, 1), 0.0)
    meets = (savings > 0) & (savings_rate >= msr)
    qualifying = np.where(
        meets, np.where(t["net_sharing"], savings - to_cents(msr * budget / 100.0), savings), 0
    )
    gate_failed = (t["quality_gate"] & ~met_gate) | (quality < t["min_quality_score"])
    share_rate = np.minimum(
        t["savings_share_rate"] + t["quality_share_rate"] * quality, t["max_share_rate"]
    )
    share_rate = np.where(gate_failed, 0.0, share_rate)
    before_limit = to_cents(qualifying / 100.0 * share_rate * (1.0 - t["payment_reduction"]))
    limit = to_cents(t["payment_limit"] * budget / 100.0)
    earned = np.minimum(before_limit, limit)

    in_loss = t["losses_enabled"] & (savings < 0) & (-savings_rate >= mlr)
    loss_rate = np.where(
        np.isnan(t["loss_rate_fixed"]),
        np.clip(1.0 - share_rate, t["loss_rate_floor"], t["loss_rate_ceiling"]),
        t["loss_rate_fixed"],
    )
    loss_rate = np.where(in_loss, loss_rate, 0.0)
    loss_limit = to_cents(t["loss_limit"] * budget / 100.0)
    loss_before_limit = to_cents(-savings / 100.0 * loss_rate)
    loss_capped = in_loss & (loss_before_limit > loss_limit)
    shared_loss = np.where(
        in_loss, np.maximum(np.minimum(loss_before_limit, loss_limit) + adjustment, 0), 0
    )
    final = earned - shared_loss

    reason = np.select(
        [
            in_loss & loss_capped,
            in_loss,
            savings <= 0,
            ~meets,
            gate_failed,
            before_limit > limit,
        ],
        [LOSS_CAPPED, LOSS, NO_SAVINGS, BELOW_MSR, QUALITY_GATE, CAPPED],
        default=PAID,
    )
    return rows.assign(
        savings_cents=savings,
        savings_rate=savings_rate,
        meets_msr=meets,
        qualifying_savings_cents=qualifying.astype(np.int64),
        share_rate=share_rate,
        payment_reduction=t["payment_reduction"],
        earned_before_limit_cents=np.where(meets, before_limit, 0).astype(np.int64),
        payment_limit_amount_cents=limit,
        earned_cents=np.where(meets, earned, 0).astype(np.int64),
        loss_rate=loss_rate,
        shared_loss_cents=shared_loss.astype(np.int64),
        final_payment_cents=final.astype(np.int64),
        reason=reason,
    )


@dataclass(frozen=True)
class Settlement:
    """A performance year's settlement: one row per practice, and what the run noticed."""

    year: int
    practices: pd.DataFrame
    control_totals: pd.DataFrame
    notes: dict[str, object]

    @property
    def total_paid_cents(self) -> int:
        return int(self.practices["final_payment_cents"].clip(lower=0).sum())


def control_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Waterfall totals for the program and by tier; sums of the rows' cents, so they tie."""
    money = [c for c in SETTLEMENT_COLUMNS if c.endswith("_cents") and c in frame.columns]
    money = [c for c in money if c not in ("baseline_pmpm_cents", "budget_pmpm_cents")]

    def totals(part: pd.DataFrame, scope: str, key: str) -> dict[str, object]:
        row: dict[str, object] = {
            "scope": scope,
            "key": key,
            "practices": len(part),
            "practices_paid": int((part["final_payment_cents"] > 0).sum()),
            "practices_billed": int((part["final_payment_cents"] < 0).sum()),
            "member_months": int(part["member_months"].sum()),
        }
        row.update({c: int(part[c].sum()) for c in money})
        return row

    rows = [totals(frame, "program", "all")]
    for tier, part in frame.groupby("tier", sort=True):
        rows.append(totals(part, "tier", str(tier)))
    for reason, part in frame.groupby("reason", sort=True):
        rows.append(totals(part, "reason", str(reason)))
    return pd.DataFrame(rows)


def _quality_for(
    quality: Table | None, practice_ids: pd.Series, year: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """quality_score and met_quality_gate per practice; practices without a row get 0 and False."""
    n = len(practice_ids)
    if quality is None:
        return np.zeros(n), np.zeros(n, dtype=bool), n
    frame = quality.frame
    in_year = frame["year"].to_numpy() == year
    frame = frame.loc[in_year]
    settled = frame["practice_id"].isin(practice_ids).to_numpy()
    quality.record_use(
        int(settled.sum()),
        {
            schema.OUTSIDE_PERIOD: int((~in_year).sum()),
            schema.NOT_ATTRIBUTED: int((~settled).sum()),
        },
    )
    idx = pd.Index(frame["practice_id"]).get_indexer(practice_ids)
    has = idx >= 0
    score = np.where(has, frame["quality_score"].to_numpy(float)[np.maximum(idx, 0)], 0.0)
    met = np.where(has, frame["met_quality_gate"].to_numpy(bool)[np.maximum(idx, 0)], False)
    return score, met, int((~has).sum())


@dataclass(frozen=True)
class PerformanceYear:
    """The member-level work of a performance year, done once and shared by every
    settlement of it (the config's, or each scenario's): attributed member months and
    average risk per practice, each member-month's paid claims, quality, and the CCF
    paid during the year."""

    year: int
    practices: pd.DataFrame  # one row per practice with members: the waterfall's inputs
    costs: MemberCosts
    active: np.ndarray  # practices (in the practices table's order) with member months
    ccf_paid_cents: np.ndarray  # per active practice: the year's CCF (0 without [ccf])
    notes: dict[str, object]

    def stop_loss_costs(self, stop_loss: StopLoss) -> tuple[np.ndarray, np.ndarray, dict]:
        """claims_paid and truncated cents per practice under a stop-loss, with its notes."""
        threshold = stop_loss_threshold(stop_loss, self.costs.annual_cost(), self.costs.attributed)
        by_practice = practice_costs(self.costs, threshold)
        notes = {
            "stop_loss_threshold": None if np.isinf(threshold) else round(threshold, 2),
            "members_truncated": by_practice.members_truncated,
        }
        return (
            to_cents(by_practice.claims_paid[self.active]),
            to_cents(by_practice.truncated[self.active]),
            notes,
        )


def performance_year(
    data: ProgramData, config: ProgramConfig, year: int, *, with_ccf: bool | None = None
) -> PerformanceYear:
    """Member-level aggregates of a year from attribution, scores, claims and quality.

    ``with_ccf`` computes the year's CCF per practice (default: when the config counts
    it as cost); scenarios ask for it to report the payer's net savings.
    """
    terms = config.require_settlement()
    risk_terms = config.risk
    if risk_terms is None:
        raise InputError("the config has no [risk] section: member-level settlement needs scores")
    if data.claims is None:
        raise InputError("member-level settlement needs the claims table")
    periods = year_periods(year)
    assert data.members is not None, "load inputs with load_inputs or program_from_frames"
    mm, scores = member_months_and_scores(data, periods, risk_terms)
    if len(mm.member) == 0:
        raise InputError(
            Problem("attribution", "NO_MEMBER_MONTHS", f"no attributed member-months in {year}")
        )

    totals = shared_risk_totals(data, mm, scores, risk_terms)
    year_totals = totals.by_practice()
    if risk_terms.normalize:
        year_totals = year_totals.normalized(per_month=False)
    avg_risk = year_totals.average(risk_terms.score_decimals).ravel()
    member_months = year_totals.member_months.ravel()
    costs = member_costs(data.claims, mm)

    practices = data.practices.frame.reset_index(drop=True)
    active = member_months > 0
    _require_baselines(data.practices, practices, active)
    ccf_paid = np.zeros(int(active.sum()), dtype=np.int64)
    if (terms.ccf_counts_as_cost if with_ccf is None else with_ccf) and config.ccf is not None:
        lines = ccf_lines(mm, scores, practices, risk_terms, config.ccf, totals)
        ccf_paid = (
            lines.groupby("practice_id")["ccf_amount_cents"]
            .sum()
            .reindex(practices["practice_id"][active], fill_value=0)
            .to_numpy(dtype=np.int64)
        )
    quality_score, met_gate, without_quality = _quality_for(
        data.quality, practices["practice_id"][active], year
    )
    rows = pd.DataFrame(
        {
            "practice_id": practices["practice_id"].to_numpy()[active],
            "practice_name": practices["practice_name"].to_numpy()[active],
            "tier": practices["tier"].to_numpy()[active],
            "member_months": member_months[active].astype(np.int64),
            "population": member_months[active] / 12.0,
            "avg_risk_score": avg_risk[active],
            "baseline_risk": practices["baseline_risk"].to_numpy(float)[active],
            "baseline_pmpm_cents": to_cents(practices["baseline_pmpm"].to_numpy(float)[active]),
            "quality_score": quality_score,
            "met_quality_gate": met_gate,
            "loss_adjustment_cents": np.zeros(int(active.sum()), dtype=np.int64),
        }
    )
    notes = {
        "members_defaulted_score": scores.members_defaulted,
        "claims_outside_year": costs.claims_outside_year,
        "claims_not_attributed": costs.claims_not_attributed,
        "claims_not_attributed_amount": f"{costs.dollars_not_attributed:.2f}",
        "practices_without_quality": without_quality,
        "practices_without_members": int((~active).sum()),
    }
    return PerformanceYear(
        year=year, practices=rows, costs=costs, active=active, ccf_paid_cents=ccf_paid, notes=notes
    )


def settle_year(year: PerformanceYear, configs: list[ProgramConfig]) -> tuple[pd.DataFrame, dict]:
    """Settle a performance year under each config: the rows of config i come i-th.

    The member-level work is shared; each distinct stop-loss is applied once. Returns
    the stacked settlement rows (with a ``scenario`` column, the config's position)
    and the stop-loss notes of the first config.
    """
    base = year.practices
    n = len(base)
    population = base["population"].to_numpy()
    by_stop_loss: dict[str, tuple[np.ndarray, np.ndarray, dict]] = {}
    claims, truncated, terms, msrs, mlrs = [], [], [], [], []
    for config in configs:  # per config: arrays of one value per practice, no frames
        settlement_terms = config.require_settlement()
        key = settlement_terms.stop_loss.model_dump_json()
        if key not in by_stop_loss:
            by_stop_loss[key] = year.stop_loss_costs(settlement_terms.stop_loss)
        claims.append(by_stop_loss[key][0])
        truncated.append(by_stop_loss[key][1])
        terms.append(row_terms(config, base["tier"], year.year))
        msr, mlr = msr_and_mlr(settlement_terms, population, None)
        msrs.append(msr)
        mlrs.append(mlr)
    k = len(configs)
    rows = base if k == 1 else base.iloc[np.tile(np.arange(n), k)].reset_index(drop=True)
    t = stack_terms(terms)
    rows = rows.assign(
        scenario=np.repeat(np.arange(k), n),
        claims_paid_cents=np.concatenate(claims),
        truncated_cents=np.concatenate(truncated),
        ccf_cost_cents=np.where(t["ccf_counts_as_cost"], np.tile(year.ccf_paid_cents, k), 0),
        msr=np.concatenate(msrs),
        mlr=np.concatenate(mlrs),
    )
    settled = settle_rows(actual_cost(risk_adjusted_budget(rows, t), t), t)
    first_notes = by_stop_loss[configs[0].require_settlement().stop_loss.model_dump_json()][2]
    return settled, first_notes


def compute_settlement(data: ProgramData, config: ProgramConfig, year: int) -> Settlement:
    """Settle a performance year from member-level data: attribution, scores, claims, quality."""
    performance = performance_year(data, config, year)
    rows, stop_loss_notes = settle_year(performance, [config])
    settled = rows[SETTLEMENT_COLUMNS].sort_values("practice_id", kind="stable")
    settled = settled.reset_index(drop=True)
    notes = {**performance.notes, **stop_loss_notes}
    return Settlement(
        year=year, practices=settled, control_totals=control_totals(settled), notes=notes
    )


def _require_baselines(table: Table, practices: pd.DataFrame, active: np.ndarray) -> None:
    problems = []
    for column in ("baseline_pmpm", "baseline_risk"):
        if column not in practices.columns:
            problems.append(
                Problem("practices", "MISSING_COLUMN", f"{table.path}: settlement needs {column}")
            )
            continue
        values = practices[column].to_numpy(dtype=float)
        bad = active & ~(np.isfinite(values) & (values > 0))
        if bad.any():
            problems.append(
                Problem(
                    table="practices",
                    reason=schema.NULL_VALUE,
                    column=column,
                    message=f"{table.path}: {column} must be a positive number for practices with members",
                    rows=tuple(int(i) for i in practices.index[bad][:5] + 1),
                    row_count=int(bad.sum()),
                    examples=tuple(practices["practice_id"].astype(str).to_numpy()[bad][:5]),
                )
            )
    if problems:
        raise InputError(problems)


def risk_adjusted_budget(rows: pd.DataFrame, t: dict[str, np.ndarray]) -> pd.DataFrame:
    """Steps 2-4: risk_ratio, trend_factor, budget_pmpm (cents) and budget (cents)."""
    ratio = rows["avg_risk_score"].to_numpy(float) / rows["baseline_risk"].to_numpy(float)
    ratio = round_half_up(np.clip(ratio, t["risk_ratio_min"], t["risk_ratio_max"]), 6)
    trend = t["trend_factor"]
    budget_pmpm = to_cents(rows["baseline_pmpm_cents"].to_numpy() / 100.0 * ratio * trend)
    return rows.assign(
        risk_ratio=ratio,
        trend_factor=trend,
        budget_pmpm_cents=budget_pmpm,
        budget_cents=budget_pmpm * rows["member_months"].to_numpy(dtype=np.int64),
    )


def actual_cost(rows: pd.DataFrame, t: dict[str, np.ndarray]) -> pd.DataFrame:
    """Step 5: (claims_paid - truncated) x completion_factor, plus any CCF counted as cost."""
    net = (rows["claims_paid_cents"].to_numpy() - rows["truncated_cents"].to_numpy()) / 100.0
    completion = t["completion_factor"]
    return rows.assign(
        completion_factor=completion,
        actual_cost_cents=to_cents(net * completion) + rows["ccf_cost_cents"].to_numpy(),
    )


def settle_summary(summary: pd.DataFrame, config: ProgramConfig, year: int) -> Settlement:
    """Settle from practice-level summaries: the waterfall from step 4 (or 2) on.

    Columns (``schema.PRACTICE_SUMMARY``): practice_id and actual_cost; a ``budget``, or
    ``baseline_pmpm`` and ``member_months`` (with ``avg_risk_score`` and ``baseline_risk``
    to risk-adjust it); ``population`` (person-years for the MSR table; else
    member_months / 12); quality_score (else 1.0) and met_quality_gate (else true);
    ``msr`` for a practice's own assigned rate; ``loss_limit`` for a practice's own loss
    limit (share of budget); ``loss_adjustment`` (relief, negative).
    actual_cost is the final cost: truncation and completion are not applied again.
    """
    terms = config.require_settlement()
    n = len(summary)

    def col(name: str, default: float) -> np.ndarray:
        if name in summary.columns:
            return summary[name].astype("float64").fillna(default).to_numpy()
        return np.full(n, default)

    member_months = col("member_months", 0.0)
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
            "met_quality_gate": summary["met_quality_gate"].fillna(True).to_numpy(dtype=bool)
            if "met_quality_gate" in summary.columns
            else np.ones(n, dtype=bool),
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
                "NULL_VALUE",
                "the config's msr kind is 'assigned', so every "
                "practice needs its own rate in the msr column",
                column="msr",
            )
        )
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
