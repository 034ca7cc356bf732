"""Actual cost of each practice's attributed population, from claim lines.

A claim counts in the performance year when its service month (the month of
``claim_start_date``) is in the year, and is charged to the practice the member was
attributed to in that month. Claims in months the member was attributed nowhere are
excluded and counted. Reversals (negative ``paid_amount``) net against their claims
because costs are summed per member-month.

Stop-loss truncation: each member's annual cost counts only up to a threshold (a
fixed amount, or a percentile of all attributed members' annual costs, zeros
included). When a member moved between practices, the truncated amount is taken from
each practice in proportion to its part of that member's cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema
from .attribution import NO_PRACTICE, MemberMonths, _codes
from .config import StopLoss
from .inputs import Table


@dataclass(frozen=True)
class MemberCosts:
    """Paid claims per attributed member-month cell: ``cost[member, month]`` in dollars."""

    cost: np.ndarray  # (members, months) float64
    grid: np.ndarray  # (members, months) practice codes, NO_PRACTICE where unattributed
    claims_outside_year: int
    claims_not_attributed: int
    dollars_not_attributed: float

    def annual_cost(self) -> np.ndarray:
        return self.cost.sum(axis=1)


def check_claims(claims: Table) -> None:
    """A claim_id may appear once as a payment and once as its reversal; more is a duplicate."""
    frame = claims.frame
    negative = frame["paid_amount"].to_numpy() < 0
    codes, _ = pd.factorize(frame["claim_id"], sort=False)
    key = codes.astype(np.int64) * 2 + negative
    dup = pd.Series(key).duplicated(keep="first").to_numpy()
    claims.reject_rows(
        dup,
        schema.DUPLICATE_CLAIM_ID,
        "claim_id",
        "claim_id repeated with the same amount sign (only one payment and one reversal allowed)",
    )


def member_costs(claims: Table, mm: MemberMonths) -> MemberCosts:
    """Sum claims per attributed member-month; exclude (and count) the rest."""
    frame = claims.frame
    period = frame["period"].to_numpy()
    month = np.searchsorted(mm.periods, period)
    in_year = np.isin(period, mm.periods)
    member = _codes(frame["member_id"], mm.member_ids)
    grid = mm.practice_grid()
    known = in_year & (member >= 0)
    attributed = np.zeros(len(frame), dtype=bool)
    attributed[known] = grid[member[known], month[known]] != NO_PRACTICE
    paid = frame["paid_amount"].to_numpy(dtype=np.float64)
    outside = int((~in_year).sum())
    not_attributed = in_year & ~attributed
    claims.exclude(schema.OUTSIDE_PERIOD, outside)
    claims.exclude(schema.NOT_ATTRIBUTED, int(not_attributed.sum()))
    claims.mark_used(int(attributed.sum()))
    cell = member[attributed].astype(np.int64) * mm.n_months + month[attributed]
    cost = np.bincount(cell, weights=paid[attributed], minlength=mm.n_members * mm.n_months)
    return MemberCosts(
        cost=cost.reshape(mm.n_members, mm.n_months),
        grid=grid,
        claims_outside_year=outside,
        claims_not_attributed=int(not_attributed.sum()),
        dollars_not_attributed=float(paid[not_attributed].sum()),
    )


def stop_loss_threshold(
    stop_loss: StopLoss, annual_cost: np.ndarray, attributed: np.ndarray
) -> float:
    """The per-member annual threshold in dollars (inf when there is no stop-loss)."""
    if stop_loss.kind == "fixed":
        assert stop_loss.amount is not None
        return float(stop_loss.amount)
    if stop_loss.kind == "percentile":
        assert stop_loss.percentile is not None
        population = annual_cost[attributed]
        return float(np.quantile(population, stop_loss.percentile)) if len(population) else np.inf
    return float("inf")


@dataclass(frozen=True)
class PracticeCosts:
    claims_paid: np.ndarray  # per practice, dollars
    truncated: np.ndarray  # per practice, dollars removed by stop-loss
    threshold: float
    members_truncated: int


def practice_costs(costs: MemberCosts, n_practices: int, threshold: float) -> PracticeCosts:
    """Claims and truncation per practice, truncation shared in proportion to each practice's part."""
    annual = costs.annual_cost()
    excess = np.where(annual > threshold, annual - threshold, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(annual > 0, excess / np.where(annual > 0, annual, 1.0), 0.0)
    cells = costs.grid.ravel()
    on = cells != NO_PRACTICE
    cell_cost = costs.cost.ravel()[on]
    cell_truncated = (costs.cost * fraction[:, None]).ravel()[on]
    return PracticeCosts(
        claims_paid=np.bincount(cells[on], weights=cell_cost, minlength=n_practices),
        truncated=np.bincount(cells[on], weights=cell_truncated, minlength=n_practices),
        threshold=threshold,
        members_truncated=int((excess > 0).sum()),
    )
