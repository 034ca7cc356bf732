"""Care Coordination Fee (CCF): the monthly per-member-per-month payment to each practice.

For each practice p and month m (DOMAIN.md, "Monthly CCF"):

* ``attributed_members`` = members attributed to p in m;
* ``avg_risk_score`` = mean of their scores (normalized per month if configured),
  rounded half-up to ``risk.score_decimals`` places; the rounded value is the one used;
* ``pmpm_rate`` from the rate model -- ``bands`` (step table on avg_risk_score),
  ``linear`` (base x avg_risk_score, clamped) -- times the practice tier's multiplier,
  rounded to cents; ``ccf_amount`` = attributed_members x pmpm_rate, exactly;
* or ``member_tiers`` (CPC+ style): each member's fee is set by the quantile of their
  own score among the month's attributed members (a score equal to a cut point goes to
  the higher tier), times the tier multiplier, in cents; ``ccf_amount`` is the sum of the
  member fees and ``pmpm_rate`` their average, rounded to cents.

Money columns are integer cents (``*_cents``) in the API; output files carry exact decimals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from .attribution import MemberMonths
from .config import CcfTerms, ProgramConfig, RiskTerms
from .errors import InputError, Problem
from .inputs.checks import Table, TableUse
from .money import to_cents
from .periods import format_period
from .program import Program
from .reasons import Reason
from .risk import MemberScores, RiskTotals, practice_month_cell, risk_totals

LINE_COLUMNS = [
    "practice_id",
    "practice_name",
    "tier",
    "year_month",
    "attributed_members",
    "avg_risk_score",
    "pmpm_rate_cents",
    "ccf_amount_cents",
]


@dataclass(frozen=True)
class CcfBatch:
    """A computed CCF batch: payment lines, control totals and what the run noticed."""

    lines: pd.DataFrame
    control_totals: pd.DataFrame
    periods: list[int]
    members_defaulted: int
    uses: tuple[TableUse, ...] = ()  # what the batch used of attribution and risk scores

    @property
    def total_cents(self) -> int:
        return int(self.lines["ccf_amount_cents"].sum())


def tier_multipliers(terms: CcfTerms, tiers: pd.Series) -> np.ndarray:
    """Each practice's multiplier by its tier (1.0 for a tier the config does not list)."""
    return tiers.map(terms.tier_multipliers).fillna(1.0).to_numpy(dtype=np.float64)


def band_rate(terms: CcfTerms, avg_risk: np.ndarray) -> np.ndarray:
    """PMPM of the band whose ``min_avg_risk`` is the highest not above avg_risk."""
    assert terms.bands is not None
    lows = np.array([b.min_avg_risk for b in terms.bands])
    pmpm = np.array([b.pmpm for b in terms.bands])
    idx = np.searchsorted(lows, avg_risk, side="right") - 1
    return pmpm[np.clip(idx, 0, len(pmpm) - 1)]


def linear_rate(terms: CcfTerms, avg_risk: np.ndarray) -> np.ndarray:
    """base_pmpm x avg_risk, clamped to [floor_pmpm, ceiling_pmpm]."""
    assert terms.linear is not None
    lin = terms.linear
    upper = np.inf if lin.ceiling_pmpm is None else lin.ceiling_pmpm
    return np.clip(lin.base_pmpm * avg_risk, lin.floor_pmpm, upper)


def member_tier_index(
    terms: CcfTerms,
    score: np.ndarray,
    month: np.ndarray,
    n_months: int,
    cuts: np.ndarray | None = None,
) -> np.ndarray:
    """Each member-month's risk tier (0 = lowest) from the quantiles of that month's scores
    (``cuts``: the months' cut points, one row per month, when worked out elsewhere)."""
    assert terms.member_tiers is not None
    q = np.asarray(terms.member_tiers.quantiles)
    tier = np.zeros(len(score), dtype=np.int8)
    order = np.argsort(month, kind="stable")
    bounds = np.searchsorted(month[order], np.arange(n_months + 1))
    for m in range(n_months):  # one quantile computation per month, not per member
        sel = order[bounds[m] : bounds[m + 1]]
        if len(sel):
            values = score[sel]
            month_cuts = (
                linear_quantiles(len(values), q, partial(_order_stats, values))
                if cuts is None
                else cuts[m]
            )
            tier[sel] = np.searchsorted(month_cuts, values, side="right")
    return tier


def member_tier_fees(
    mm: MemberMonths,
    member_score: np.ndarray,
    multiplier: np.ndarray,
    terms: CcfTerms,
    cuts: np.ndarray | None = None,
) -> np.ndarray:
    """The member-tier fees of ``mm``'s member-months summed per practice and month, in
    cents (int64, practice-major cells): each member-month's fee is its tier's PMPM x its
    practice's multiplier, in cents. ``member_score``: each member-month's score (normalized
    when the terms normalize); ``multiplier``: per cell (the tier in force there); ``cuts``: as for
    ``member_tier_index``."""
    assert terms.member_tiers is not None
    group = practice_month_cell(mm)
    tier = member_tier_index(terms, member_score, mm.month, mm.n_months, cuts)
    base = np.asarray(terms.member_tiers.pmpm)[tier]
    fee = to_cents(base * multiplier[group])
    size = mm.n_practices * mm.n_months
    return np.bincount(group, weights=fee, minlength=size).astype(np.int64)


def _order_stats(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The values of these ranks (0 = smallest) in ``values``."""
    return np.partition(values, np.unique(ranks))[ranks]


def linear_quantiles(
    n: int, quantiles: np.ndarray, order_stats: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """The ``quantiles`` of n values by numpy's default (linear) rule, to the bit of
    ``np.quantile``: h = (n - 1) x q, the values of ranks floor(h) and floor(h) + 1
    (``order_stats`` gives the values of ranks) interpolated as numpy interpolates. Only
    two order statistics per quantile are needed, so the values may be spread over parts
    of a program (``engine``)."""
    q = np.asarray(quantiles, dtype=np.float64)
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above] = -1
    following[above] = -1
    below = virtual < 0
    previous[below] = 0
    following[below] = 0
    prev_rank = previous.astype(np.intp)
    next_rank = following.astype(np.intp)
    gamma = np.asarray(virtual - prev_rank, dtype=np.float64)
    ranks = np.concatenate([prev_rank, next_rank]) % n  # -1: the largest
    values = np.asarray(order_stats(ranks), dtype=np.float64)
    a, b = values[: len(q)], values[len(q) :]
    diff = b - a
    result = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def compute_ccf(
    program: Program, config: ProgramConfig, periods: list[int] | np.ndarray
) -> CcfBatch:
    """The CCF batch for the given months: one payment line per practice with members, per month."""
    risk_terms, ccf_terms = config.require_ccf()
    months = sorted({int(p) for p in periods})
    mm, scores = program.months_and_scores(months, risk_terms)
    totals = program.risk_totals(mm, scores, risk_terms)
    _check_months_present(program, mm, totals)
    cells = program.practice_cells(mm.periods)
    lines = ccf_lines(mm, scores, program.practices.frame, risk_terms, ccf_terms, totals, cells)
    return CcfBatch(
        lines=lines,
        control_totals=control_totals(lines),
        periods=months,
        members_defaulted=scores.members_defaulted,
        uses=tuple(use for use in (mm.use, scores.use) if use is not None),
    )


@dataclass(frozen=True)
class _Fees:
    """A run's fees, cell by cell (practice-major ``practice x n_months + month``) and, for
    ``member_tiers``, member-month by member-month."""

    cells: pd.DataFrame  # practice_id, practice_name, tier of each cell (the one in force)
    avg: np.ndarray
    members: np.ndarray
    rate: np.ndarray  # cents per member-month of each cell (member_tiers: the cell's average)
    amount: np.ndarray
    member_score: np.ndarray  # each member-month's score as used (normalized if configured)
    member_fee: np.ndarray | None  # member_tiers: each member-month's fee in cents


def practice_cells(practices: pd.DataFrame, n_months: int) -> pd.DataFrame:
    """The practices repeated month by month, practice-major: what is in force in each
    cell when the practices carry no dates."""
    rows = np.repeat(np.arange(len(practices)), n_months)
    return practices.iloc[rows].reset_index(drop=True)


def _fees(
    mm: MemberMonths,
    scores: MemberScores,
    practices: pd.DataFrame,
    risk_terms: RiskTerms,
    ccf_terms: CcfTerms,
    totals: RiskTotals | None,
    cells: pd.DataFrame | None,
    member_fees: np.ndarray | None = None,
) -> _Fees:
    totals = risk_totals(mm, scores) if totals is None else totals
    cells = practice_cells(practices, mm.n_months) if cells is None else cells
    scored = totals.normalized(per_month=True) if risk_terms.normalize else totals
    avg = scored.average(risk_terms.score_decimals).ravel()  # practice-major, as the lines
    members = totals.member_months.ravel()
    multiplier = tier_multipliers(ccf_terms, cells["tier"])
    member_score = scores.score[mm.member]
    if risk_terms.normalize:
        member_score = member_score / totals.mean_score(per_month=True)[mm.month]
    member_fee = None
    if ccf_terms.rate_model == "member_tiers":
        assert ccf_terms.member_tiers is not None
        if member_fees is not None:  # summed per cell elsewhere (a partitioned run)
            amount = member_fees
        else:
            group = practice_month_cell(mm)
            tier = member_tier_index(ccf_terms, member_score, mm.month, mm.n_months)
            base = np.asarray(ccf_terms.member_tiers.pmpm)[tier]
            member_fee = to_cents(base * multiplier[group])
            amount = np.bincount(group, weights=member_fee, minlength=len(members)).astype(
                np.int64
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = to_cents(np.where(members > 0, amount / np.maximum(members, 1), 0) / 100.0)
    else:
        base = (
            band_rate(ccf_terms, avg)
            if ccf_terms.rate_model == "bands"
            else linear_rate(ccf_terms, avg)
        )
        rate = to_cents(np.nan_to_num(base) * multiplier)
        amount = members.astype(np.int64) * rate
    return _Fees(cells, avg, members, rate, amount, member_score, member_fee)


def ccf_lines(
    mm: MemberMonths,
    scores: MemberScores,
    practices: pd.DataFrame,
    risk_terms: RiskTerms,
    ccf_terms: CcfTerms,
    totals: RiskTotals | None = None,
    cells: pd.DataFrame | None = None,
    member_fees: np.ndarray | None = None,
) -> pd.DataFrame:
    """Payment lines from attributed member-months and member scores (the functional core).

    ``totals``: the run's ``risk_totals``, when already worked out; ``cells``: the
    practices row in force in each practice-month (``Program.practice_cells``), when the
    practices carry effective dates; ``member_fees``: under ``member_tiers``, the fees per
    practice and month (``member_tier_fees``), when worked out elsewhere (a partitioned
    run: then ``mm`` needs no member-months)."""
    fees = _fees(mm, scores, practices, risk_terms, ccf_terms, totals, cells, member_fees)
    month_code = np.tile(np.arange(mm.n_months), mm.n_practices)
    keep = fees.members > 0
    lines = pd.DataFrame(
        {
            "practice_id": fees.cells["practice_id"].to_numpy()[keep],
            "practice_name": fees.cells["practice_name"].to_numpy()[keep],
            "tier": fees.cells["tier"].to_numpy()[keep],
            "year_month": _month_labels(mm.periods)[month_code[keep]],
            "attributed_members": fees.members[keep].astype(np.int64),
            "avg_risk_score": fees.avg[keep],
            "pmpm_rate_cents": fees.rate[keep].astype(np.int64),
            "ccf_amount_cents": fees.amount[keep].astype(np.int64),
        }
    )
    return lines.sort_values(["year_month", "practice_id"], kind="stable").reset_index(drop=True)


def ccf_roster(
    program: Program, config: ProgramConfig, periods: list[int] | np.ndarray
) -> pd.DataFrame:
    """The member roster behind a batch's lines: one row per attributed member-month with
    the member's score as used, the rate and the fee (``member_tiers``: the member's own
    fee; otherwise the practice-month's rate). The fees of a practice-month add up to its
    line's ``ccf_amount_cents`` exactly.

    Columns: ``member_id``, ``practice_id``, ``period``, ``tier``, ``risk_score``,
    ``rate_cents``, ``fee_cents``."""
    risk_terms, ccf_terms = config.require_ccf()
    months = sorted({int(p) for p in periods})
    mm, scores = program.months_and_scores(months, risk_terms)
    totals = program.risk_totals(mm, scores, risk_terms)
    cells = program.practice_cells(mm.periods)
    fees = _fees(mm, scores, program.practices.frame, risk_terms, ccf_terms, totals, cells)
    cell = practice_month_cell(mm)
    rate = fees.rate[cell] if fees.member_fee is None else fees.member_fee
    tier_code, tiers = pd.factorize(fees.cells["tier"].to_numpy())  # per cell, not member
    return pd.DataFrame(
        {  # the ids and tiers as categoricals: codes of the run's members, practices, tiers
            "member_id": pd.Categorical.from_codes(mm.member, categories=mm.member_ids),
            "practice_id": pd.Categorical.from_codes(mm.practice, categories=mm.practice_ids),
            "period": mm.periods[mm.month].astype(np.int64),
            "tier": pd.Categorical.from_codes(tier_code[cell], categories=pd.Index(tiers)),
            "risk_score": fees.member_score,
            "rate_cents": rate.astype(np.int64),
            "fee_cents": rate.astype(np.int64),
        }
    )


def _month_labels(periods: np.ndarray) -> np.ndarray:
    return np.array([format_period(p) for p in periods], dtype=object)


def control_totals(lines: pd.DataFrame) -> pd.DataFrame:
    """Practices, member months and total fee: for the batch, by tier and by month.

    Totals are sums of the lines' integer cents, so they tie to the lines exactly.
    """

    def totals(frame: pd.DataFrame, scope: str, key: str) -> dict[str, object]:
        return {
            "scope": scope,
            "key": key,
            "practices": int(frame["practice_id"].nunique()),
            "payment_lines": len(frame),
            "member_months": int(frame["attributed_members"].sum()),
            "ccf_amount_cents": int(frame["ccf_amount_cents"].sum()),
        }

    rows = [totals(lines, "batch", "all")]
    for tier, part in lines.groupby("tier", sort=True):
        rows.append(totals(part, "tier", str(tier)))
    for month, part in lines.groupby("year_month", sort=True):
        rows.append(totals(part, "month", str(month)))
    return pd.DataFrame(rows)


def _check_months_present(program: Program, mm: MemberMonths, totals: RiskTotals) -> None:
    """Fail a batch for a month the attribution file does not cover."""
    if (totals.member_months.sum(axis=0) > 0).all():
        return
    covered = np.unique(program.attribution.frame["period"].to_numpy())
    require_months_present(program.attribution, mm.periods, totals, covered)


def require_months_present(
    attribution: Table, periods: np.ndarray, totals: RiskTotals, covered: np.ndarray
) -> None:
    """MONTH_NOT_IN_DATA for the run's months without member-months (``covered``: the
    months attribution has, sorted)."""
    present = totals.member_months.sum(axis=0) > 0
    if present.all():
        return
    absent = periods[~present]
    span = (
        f"{format_period(covered[0])}..{format_period(covered[-1])}" if len(covered) else "no month"
    )
    raise InputError(
        Problem(
            table="attribution",
            reason=Reason.MONTH_NOT_IN_DATA,
            column="year_month",
            message=(
                f"{attribution.path} has no attribution for "
                f"{', '.join(format_period(p) for p in absent)}; it covers {span}"
            ),
        )
    )
