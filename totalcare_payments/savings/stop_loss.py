"""Stop-loss: each member's annual cost above a threshold is taken out of the practices' costs.

In whole numbers throughout (``docs/methodology.md``, "Stop-loss"):

* the threshold is in cents: a fixed ``amount`` rounded half-up to the cent, or a
  percentile of every attributed member's annual cost (members without claims count,
  at 0), linearly interpolated and rounded half-up to the cent (a percentile below 0
  is taken as 0);
* a member is truncated when their annual cost is *above* the threshold, compared
  exactly in units (a member exactly at the threshold is not truncated);
* the member's excess is split over the practices whose part of the member's year is
  positive, in proportion to those parts, each share rounded half-up to a unit (a
  hundredth of a cent); a practice whose part is zero or negative takes none, so
  truncation never raises a practice's cost;
* each practice's truncation is the sum of its shares, rounded half-up to cents once
  (by the caller, with its claims).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..attribution import NO_PRACTICE
from ..config import StopLoss
from ..money import UNITS_PER_CENT, mul_div_half_up, round_half_up, to_cents
from .costs import MemberCosts

# A percentile is used to this many decimal places, so that its interpolation is exact.
PERCENTILE_DECIMALS = 6


def stop_loss_threshold(
    stop_loss: StopLoss, annual_cost: np.ndarray, attributed: np.ndarray
) -> int | None:
    """The per-member annual threshold in cents (None when there is no stop-loss).

    ``annual_cost``: each member's cost in units (int64); ``attributed``: the members
    the percentile is taken over.
    """
    if stop_loss.kind == "fixed":
        assert stop_loss.amount is not None
        return int(to_cents(stop_loss.amount))
    if stop_loss.kind == "percentile":
        assert stop_loss.percentile is not None
        return percentile_cents(annual_cost[attributed], stop_loss.percentile)
    return None


def percentile_cents(units: np.ndarray, percentile: float) -> int:
    """The ``percentile`` of annual costs (units) with linear interpolation (numpy's
    default), worked out exactly and rounded half-up to cents; at least 0.

    With p = the percentile to 6 places and n values sorted ascending x[0..n-1]:
    h = (n - 1) x p, k = floor(h), value = x[k] + (h - k) x (x[k+1] - x[k]).
    """
    values = np.asarray(units, dtype=np.int64)
    return percentile_of(
        len(values), percentile, lambda picks: np.partition(values, picks)[picks]
    )


def percentile_of(
    n: int, percentile: float, order_stats: Callable[[list[int]], np.ndarray]
) -> int:
    """``percentile_cents`` of n annual costs whose values of given ranks (0 = smallest)
    ``order_stats`` returns: only two order statistics are needed, so the costs may be
    spread over parts of a program (``engine``)."""
    if n == 0:
        return 0
    scale = 10**PERCENTILE_DECIMALS
    p = int(np.rint(round_half_up(percentile, PERCENTILE_DECIMALS) * scale))  # p x 10**6
    k, frac = divmod((n - 1) * p, scale)  # h = k + frac / 10**6
    picks = [k, min(k + 1, n - 1)]
    low, high = (int(v) for v in order_stats(picks))
    # value x 10**6, in units: exact integers
    scaled = low * scale + (high - low) * frac
    denominator = scale * UNITS_PER_CENT
    cents = (2 * abs(scaled) + denominator) // (2 * denominator)
    return max(cents if scaled >= 0 else -cents, 0)


@dataclass(frozen=True)
class PracticeCosts:
    claims_paid: np.ndarray  # per practice (grid code), units
    truncated: np.ndarray  # per practice (grid code), units removed by stop-loss
    threshold: int | None  # cents
    members_truncated: int


def practice_costs(costs: MemberCosts, threshold: int | None) -> PracticeCosts:
    """Claims and truncation per practice (grid code), in units; the truncation of each
    member split over the practices with a positive part of their year."""
    truncated = np.zeros(costs.n_practices, dtype=np.int64)
    if threshold is None:
        return PracticeCosts(costs.claims_by_practice, truncated, None, 0)
    limit = threshold * UNITS_PER_CENT
    annual = costs.annual_cost()
    over = np.flatnonzero(annual > limit)  # only these members are truncated
    cells = costs.grid[over]
    on = cells != NO_PRACTICE
    member_row = np.broadcast_to(np.arange(len(over))[:, None], cells.shape)[on]
    # each truncated member's part at each of their practices: (member, practice) pairs
    pair, pair_of_cell = np.unique(
        member_row.astype(np.int64) * costs.n_practices + cells[on], return_inverse=True
    )
    part = np.zeros(len(pair), dtype=np.int64)
    np.add.at(part, pair_of_cell.ravel(), costs.cost[over][on].astype(np.int64))
    pair_member = pair // costs.n_practices
    positive = np.maximum(part, 0)
    positive_total = np.zeros(len(over), dtype=np.int64)
    np.add.at(positive_total, pair_member, positive)
    excess = annual[over] - limit  # at most the positive total: the threshold is >= 0
    share = mul_div_half_up(excess[pair_member], positive, positive_total[pair_member])
    np.add.at(truncated, pair % costs.n_practices, share)
    return PracticeCosts(
        claims_paid=costs.claims_by_practice,
        truncated=truncated,
        threshold=threshold,
        members_truncated=len(over),
    )
