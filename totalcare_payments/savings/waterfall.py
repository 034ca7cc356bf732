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
   are all savings (first dollar) or those above msr x budget (net); a practice flagged
   reduced_share_eligible with savings below its msr shares all of them at
   ``below_msr_share`` x its share_rate
8. quality: the standard is missed when the gate is missed or quality_score < min_score;
   a practice that misses it may meet the alternative standard (``met_alternative_quality``)
9. ``share_rate``: the sliding scale, savings_share_rate + quality_share_rate x
   quality_score, or the tier's full rate (``standard_sharing = "full_rate"``), at most
   max_share_rate; the sliding scale for the alternative standard; 0 for neither
10. ``earned`` = qualifying_savings x share_rate x (1 - payment_reduction), at most
    ``payment_limit_amount`` = payment_limit x budget; nothing after a termination during
    the year (``terminated_month``) unless the terms say so
11. two-sided: when -savings_rate >= ``mlr``, loss x ``loss_rate`` (fixed, 1 - share_rate
    or 1 - the sliding-scale rate, within [floor, ceiling]) up to ``loss_limit_amount`` =
    the lower of loss_limit x budget and revenue_loss_limit x revenue; pro-rated by
    terminated_month / 12 (none when it ended by losses_waived_through_month); less
    ``relief`` = relief_share x that; plus ``loss_adjustment`` (dollars, negative): the
    ``shared_loss``, never below 0
12. ``final_payment`` = earned - shared_loss, and a ``reason`` code.

With a baseline per segment (``segment_budgets``), steps 2-4 are taken per practice and
segment -- the segment's risk ratio to its own baseline risk, within the same bounds, its
budget_pmpm and its budget -- and the practice's ``budget`` is the sum of its segments'
(``budget_from_segments``): the performance year's segment mix weights the budget, as
CMS's updated benchmark does.

The practice-level part (``settle_rows``, steps 6-12) takes its terms as one value per
row, so the same code settles one config or many scenarios at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import ProgramConfig, SettlementTerms
from ..inputs.checks import TableUse
from ..money import round_half_up, to_cents
from ..reasons import Reason, reasons_of
from .completion import CompletionEstimate
from .msr import minimum_savings_rate

# Why each practice's final payment is what it is: the outcome codes and their meanings.
REASONS = {reason.value: reason.meaning for reason in reasons_of("outcome")}

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
    "met_alternative_quality",
    "share_rate",
    "payment_reduction",
    "earned_before_limit_cents",
    "payment_limit_amount_cents",
    "earned_cents",
    "terminated_month",
    "mlr",
    "loss_rate",
    "loss_limit_amount_cents",
    "relief_share",
    "relief_cents",
    "loss_adjustment_cents",
    "shared_loss_cents",
    "final_payment_cents",
    "reason",
]


#: The settlement's audit of a budget built per segment: one row per practice and segment.
SEGMENT_COLUMNS = [
    "practice_id",
    "segment",
    "member_months",
    "segment_share",
    "avg_risk_score",
    "baseline_member_months",
    "baseline_pmpm_cents",
    "baseline_risk",
    "risk_ratio_uncapped",
    "risk_ratio",
    "risk_ratio_capped",
    "trend_factor",
    "budget_pmpm_cents",
    "budget_cents",
]


def trend_factor(
    terms: SettlementTerms, year: int, segments: np.ndarray | None = None
) -> np.ndarray:
    """(1 + annual_trend) ^ (year - baseline_year), to 6 places; per segment with
    ``annual_trend_by_segment`` overriding the rate for the segments it lists."""
    years = year - terms.baseline_year
    if segments is None:
        return np.asarray(round_half_up((1.0 + terms.annual_trend) ** years, 6))
    names, code = np.unique(np.asarray(segments, dtype=object), return_inverse=True)
    rates = np.array([terms.annual_trend_by_segment.get(str(n), terms.annual_trend) for n in names])
    return np.asarray(round_half_up((1.0 + rates) ** years, 6))[code.ravel()]


def row_terms(config: ProgramConfig, tiers: pd.Series, year: int) -> dict[str, np.ndarray]:
    """The config's settlement terms as one value per practice row (by its tier).

    Every step of the waterfall reads its terms from here, so rows settled under
    different configs (scenarios) can be stacked and settled in one vectorized pass.
    """
    terms = config.require_settlement()
    n = len(tiers)
    sharing = terms.sharing
    full = np.full
    trend = trend_factor(terms, year)
    tier_code, tier_names = pd.factorize(tiers)

    def by_tier(rates: dict[str, float], default: float = 0.0) -> np.ndarray:
        per_tier = np.array([rates.get(str(t), default) for t in tier_names] + [default])
        return per_tier[tier_code]  # code -1 (no tier) takes the trailing default

    losses = terms.losses
    loss_rate = losses.loss_rate
    no_revenue_limit = np.nan if losses.revenue_loss_limit is None else losses.revenue_loss_limit
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
        "standard_full_rate": full(n, terms.quality.standard_sharing_for(year) == "full_rate"),
        "alternative_sliding_scale": full(n, terms.quality.alternative_sharing == "sliding_scale"),
        "below_msr_share": full(n, sharing.below_msr_share),
        "net_sharing": full(n, terms.msr.sharing == "net"),
        "payment_reduction": full(n, terms.payment_reduction_for(year)),
        "payment_limit": full(n, terms.payment_limit),
        "termination_earns_savings": full(n, terms.termination.earns_savings),
        "losses_waived_through_month": full(n, terms.termination.losses_waived_through_month),
        "losses_enabled": full(n, losses.enabled),
        "loss_rate_fixed": full(n, np.nan if isinstance(loss_rate, str) else loss_rate),
        "loss_rate_from_quality": full(n, loss_rate == "one_minus_rate_times_quality"),
        "loss_rate_floor": full(n, losses.loss_rate_floor),
        "loss_rate_ceiling": full(n, losses.loss_rate_ceiling),
        "loss_limit": by_tier(losses.loss_limit_by_tier, losses.loss_limit),
        "revenue_loss_limit": by_tier(losses.revenue_loss_limit_by_tier, no_revenue_limit),
        "relief_share": full(n, losses.relief_share_for(year)),
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
    met_quality_gate and loss_adjustment_cents; it may have met_alternative_quality and
    reduced_share_eligible (else false), revenue_cents (NaN or absent: no revenue figure),
    terminated_month (0 or absent: in the program all year) and relief_share (NaN or
    absent: the terms'). ``t`` holds one term value per row.
    """
    n = len(rows)

    def optional(name: str, default: float, dtype: type) -> np.ndarray:
        if name in rows.columns:
            return rows[name].to_numpy(dtype=dtype)
        return np.full(n, default, dtype=dtype)

    budget = rows["budget_cents"].to_numpy(dtype=np.int64)
    actual = rows["actual_cost_cents"].to_numpy(dtype=np.int64)
    msr = rows["msr"].to_numpy(dtype=np.float64)
    mlr = rows["mlr"].to_numpy(dtype=np.float64)
    quality = rows["quality_score"].to_numpy(dtype=np.float64)
    met_gate = rows["met_quality_gate"].to_numpy(dtype=bool)
    adjustment = rows["loss_adjustment_cents"].to_numpy(dtype=np.int64)
    met_alternative = optional("met_alternative_quality", False, bool)
    eligible = optional("reduced_share_eligible", False, bool)
    revenue = optional("revenue_cents", np.nan, np.float64)
    terminated_month = optional("terminated_month", 0, np.int64)
    own_relief = optional("relief_share", np.nan, np.float64)

    savings = budget - actual
    with np.errstate(invalid="ignore", divide="ignore"):
        savings_rate = np.where(budget != 0, savings / np.where(budget != 0, budget, 1), 0.0)
    meets = (savings > 0) & (savings_rate >= msr)
    below_msr = eligible & (savings > 0) & ~meets & (t["below_msr_share"] > 0)
    shares = meets | below_msr
    qualifying = np.where(
        meets,
        np.where(t["net_sharing"], savings - to_cents(msr * budget / 100.0), savings),
        np.where(below_msr, savings, 0),
    )
    missed_standard = (t["quality_gate"] & ~met_gate) | (quality < t["min_quality_score"])
    alternative = missed_standard & t["alternative_sliding_scale"] & met_alternative
    gate_failed = missed_standard & ~alternative
    sliding_scale = np.minimum(
        t["savings_share_rate"] + t["quality_share_rate"] * quality, t["max_share_rate"]
    )
    full_rate = np.minimum(t["savings_share_rate"] + t["quality_share_rate"], t["max_share_rate"])
    share_rate = np.where(t["standard_full_rate"] & ~missed_standard, full_rate, sliding_scale)
    share_rate = np.where(gate_failed, 0.0, share_rate)
    share_rate = np.where(below_msr, share_rate * t["below_msr_share"], share_rate)
    before_limit = to_cents(qualifying / 100.0 * share_rate * (1.0 - t["payment_reduction"]))
    limit = to_cents(t["payment_limit"] * budget / 100.0)
    terminated = terminated_month > 0
    forfeited = terminated & ~t["termination_earns_savings"]
    earned = np.where(shares & ~forfeited, np.minimum(before_limit, limit), 0)

    in_loss = t["losses_enabled"] & (savings < 0) & (-savings_rate >= mlr)
    quality_rate = np.where(gate_failed, 0.0, sliding_scale)  # 0: neither standard met
    formula = 1.0 - np.where(t["loss_rate_from_quality"], quality_rate, share_rate)
    loss_rate = np.where(
        np.isnan(t["loss_rate_fixed"]),
        np.clip(formula, t["loss_rate_floor"], t["loss_rate_ceiling"]),
        t["loss_rate_fixed"],
    )
    loss_rate = np.where(in_loss, loss_rate, 0.0)
    loss_limit = to_cents(t["loss_limit"] * budget / 100.0)
    by_revenue = ~np.isnan(revenue) & ~np.isnan(t["revenue_loss_limit"])
    revenue_limit = to_cents(
        np.where(by_revenue, np.nan_to_num(t["revenue_loss_limit"] * revenue), 0.0) / 100.0
    )
    loss_limit = np.where(by_revenue, np.minimum(loss_limit, revenue_limit), loss_limit)
    loss_before_limit = to_cents(-savings / 100.0 * loss_rate)
    loss_capped = in_loss & (loss_before_limit > loss_limit)
    limited = np.minimum(loss_before_limit, loss_limit)
    # a termination during the year: losses x months in the program / 12, none by the cutoff
    waived = terminated & (terminated_month <= t["losses_waived_through_month"])
    prorated = np.where(terminated, to_cents(limited / 100.0 * terminated_month / 12.0), limited)
    prorated = np.where(waived, 0, prorated)
    relief_share = np.where(np.isnan(own_relief), t["relief_share"], own_relief)
    relief = np.where(in_loss, to_cents(prorated / 100.0 * relief_share), 0)
    shared_loss = np.where(in_loss, np.maximum(prorated - relief + adjustment, 0), 0)
    final = earned - shared_loss

    reason = np.select(
        [
            in_loss & loss_capped,
            in_loss,
            savings <= 0,
            ~shares,
            gate_failed,
            forfeited,
            share_rate * (1.0 - t["payment_reduction"]) == 0,
            before_limit > limit,
            below_msr,
        ],
        [
            Reason.LOSS_CAPPED.value,
            Reason.LOSS.value,
            Reason.NO_SAVINGS.value,
            Reason.BELOW_MSR.value,
            Reason.QUALITY_GATE.value,
            Reason.TERMINATED.value,
            Reason.NO_SHARE_RATE.value,
            Reason.CAPPED.value,
            Reason.PAID_BELOW_MSR.value,
        ],
        default=Reason.PAID.value,
    )
    return rows.assign(
        savings_cents=savings,
        savings_rate=savings_rate,
        meets_msr=meets,
        qualifying_savings_cents=qualifying.astype(np.int64),
        met_alternative_quality=met_alternative,
        share_rate=share_rate,
        payment_reduction=t["payment_reduction"],
        earned_before_limit_cents=np.where(shares, before_limit, 0).astype(np.int64),
        payment_limit_amount_cents=limit,
        earned_cents=earned.astype(np.int64),
        terminated_month=terminated_month,
        loss_rate=loss_rate,
        loss_limit_amount_cents=loss_limit.astype(np.int64),
        relief_share=relief_share,
        relief_cents=relief.astype(np.int64),
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
    uses: tuple[TableUse, ...] = ()  # what the settlement used of each member-level table
    completion: CompletionEstimate | None = None  # the chain-ladder estimate, when used
    # with a baseline per segment: each practice's budget by segment (SEGMENT_COLUMNS)
    segments: pd.DataFrame | None = None

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


def segment_budgets(
    segments: pd.DataFrame, row: np.ndarray, t: dict[str, np.ndarray], trend: np.ndarray
) -> pd.DataFrame:
    """Steps 2-4 per practice and segment. ``segments`` has the segment's member_months,
    avg_risk_score, baseline_pmpm_cents and baseline_risk; ``row`` is each segment row's
    practice row (the terms ``t`` are per practice row); ``trend`` its trend factor.

    risk_ratio = avg_risk_score / baseline_risk within [risk_ratio_min, risk_ratio_max],
    to 6 places; budget_pmpm = baseline_pmpm x risk_ratio x trend, in cents; budget =
    budget_pmpm x member_months."""
    uncapped = segments["avg_risk_score"].to_numpy(float) / segments["baseline_risk"].to_numpy(
        float
    )
    clipped = np.clip(uncapped, t["risk_ratio_min"][row], t["risk_ratio_max"][row])
    ratio = round_half_up(clipped, 6)
    budget_pmpm = to_cents(segments["baseline_pmpm_cents"].to_numpy() / 100.0 * ratio * trend)
    return segments.assign(
        risk_ratio_uncapped=uncapped,
        risk_ratio=ratio,
        risk_ratio_capped=clipped != uncapped,
        trend_factor=trend,
        budget_pmpm_cents=budget_pmpm,
        budget_cents=budget_pmpm * segments["member_months"].to_numpy(dtype=np.int64),
    )


def budget_from_segments(
    rows: pd.DataFrame, segments: pd.DataFrame, row: np.ndarray
) -> pd.DataFrame:
    """Steps 2-4 of practice rows from their segments' (``segment_budgets``): budget = the
    sum of the segments' budgets, exactly. The practice's other columns say the same at
    the performance year's segment mix: baseline_pmpm and baseline_risk weighted by the
    segments' member months, risk_ratio weighted by the segments' baseline cost
    (baseline_pmpm x member_months) and trend_factor by that cost risk-adjusted (x the
    risk ratio), so that budget_pmpm is baseline_pmpm x risk_ratio x trend_factor up to
    rounding; budget_pmpm = budget / member_months to the cent. A practice with one
    segment takes its segment's figures as they are."""
    n = len(rows)
    segment_mm = segments["member_months"].to_numpy(dtype=np.int64)
    base = segments["baseline_pmpm_cents"].to_numpy(dtype=np.int64)
    ratio = segments["risk_ratio"].to_numpy(float)
    trend = segments["trend_factor"].to_numpy(float)
    risk = segments["baseline_risk"].to_numpy(float)
    budget = np.zeros(n, dtype=np.int64)
    np.add.at(budget, row, segments["budget_cents"].to_numpy(dtype=np.int64))
    single = np.bincount(row, minlength=n) == 1

    def mix(values: np.ndarray, weights: np.ndarray, decimals: int) -> np.ndarray:
        """The weighted mean per practice, to ``decimals`` places; a practice's only
        segment gives its own value as it is, with no arithmetic."""
        total = np.bincount(row, weights=weights, minlength=n)
        mixed = np.bincount(row, weights=values * weights, minlength=n) / np.where(
            total > 0, total, 1.0
        )
        own = np.zeros(n)
        own[row] = values
        return np.where(single, own, round_half_up(mixed, decimals))

    months = segment_mm.astype(float)
    cost = base * months  # the segments' baseline cost at the performance year's mix
    mm = rows["member_months"].to_numpy(dtype=np.int64)
    return rows.assign(
        baseline_pmpm_cents=mix(base.astype(float), months, 0).astype(np.int64),
        baseline_risk=mix(risk, months, 6),
        risk_ratio=mix(ratio, cost, 6),
        trend_factor=mix(trend, cost * ratio, 6),
        budget_pmpm_cents=(2 * budget + mm) // np.maximum(2 * mm, 1),
        budget_cents=budget,
    )


def actual_cost(rows: pd.DataFrame, t: dict[str, np.ndarray]) -> pd.DataFrame:
    """Step 5: (claims_paid - truncated) x completion_factor, plus any CCF counted as cost."""
    net = (rows["claims_paid_cents"].to_numpy() - rows["truncated_cents"].to_numpy()) / 100.0
    completion = t["completion_factor"]
    return rows.assign(
        completion_factor=completion,
        actual_cost_cents=to_cents(net * completion) + rows["ccf_cost_cents"].to_numpy(),
    )


