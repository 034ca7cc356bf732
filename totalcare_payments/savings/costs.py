"""What the claims cost: each attributed member-month's paid claims, summed exactly.

A claim counts in the month of its ``claim_start_date`` and is charged to the practice
the member is attributed to in that month (a reversal by its own date, like any claim);
claims outside the run's months, or in a month when the member is attributed nowhere,
are excluded and counted.

Amounts are summed in whole units of a hundredth of a cent (``money.UNITS_PER_DOLLAR``):
each claim's amount x 10,000, a whole number (the reader rejects finer amounts,
TOO_MANY_DECIMALS). The sums are kept in float64 arrays, which hold whole numbers below
2**53 exactly; the claims' amounts, taken as positive, must add up to less than
``MAGNITUDE_LIMIT_UNITS`` ($400 billion), so that every partial sum of every cell,
member and practice is below that and exact, in any order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..attribution import NO_PRACTICE, MemberMonths
from ..errors import InputError, Problem
from ..inputs.checks import Table, TableUse
from ..inputs.columns import ROWS_PER_SLICE, number_chunks
from ..money import UNITS_PER_DOLLAR
from ..periods import month_index
from ..reasons import Reason

# The most the claims' absolute amounts may add up to, in units ($400 billion): below
# 2**52, so that the float64 sums of whole units are exact with room to spare.
MAGNITUDE_LIMIT_UNITS = 4 * 10**15


@dataclass(frozen=True)
class MemberCosts:
    """Paid claims per attributed member-month cell: ``cost[member, month]`` in whole units
    of a hundredth of a cent, held exactly in float64 (every sum is below 2**53)."""

    cost: np.ndarray  # (members, months) float64 of whole units
    grid: np.ndarray  # (members, months) practice codes, NO_PRACTICE where unattributed
    n_practices: int
    attributed: np.ndarray  # (members,) whether the member has a member-month in the run
    claims_outside_year: int
    claims_not_attributed: int
    units_not_attributed: int  # the excluded claims' amount, in units
    use: TableUse | None = None  # what was used of the claims table

    @cached_property
    def _annual(self) -> np.ndarray:
        return self.cost.sum(axis=1).astype(np.int64)  # whole units below 2**53: exact

    def annual_cost(self) -> np.ndarray:
        """Each member's paid claims in the year, over every practice, in units (int64)."""
        return self._annual

    @cached_property
    def claims_by_practice(self) -> np.ndarray:
        """Paid claims per practice (before any stop-loss), in units (int64)."""
        total = np.zeros(self.n_practices + 1)
        for month in range(self.grid.shape[1]):  # month by month: small temporaries
            practice = self.grid[:, month] + 1  # unattributed cells (cost 0) count in bin 0
            total += np.bincount(practice, weights=self.cost[:, month], minlength=len(total))
        return total[1:].astype(np.int64)


def _claim_blocks(frame: pd.DataFrame) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Linked claims (member code, period, paid amount) in blocks of at most
    ``ROWS_PER_SLICE`` rows, read in place from the row groups' arrays."""
    member = frame["member_code"].to_numpy()
    periods = number_chunks(frame["period"])
    paid = number_chunks(frame["paid_amount"])
    assert periods is not None and paid is not None, "claims are checked: no empty values"
    start = 0
    for period_chunk, paid_chunk in zip(periods, paid, strict=True):
        for offset in range(0, len(period_chunk), ROWS_PER_SLICE):
            end = offset + ROWS_PER_SLICE
            rows = slice(start + offset, start + min(end, len(period_chunk)))
            yield member[rows], period_chunk[offset:end], paid_chunk[offset:end]
        start += len(period_chunk)



def require_summable(claims: Table, magnitude_units: float) -> None:
    """OUT_OF_RANGE when the claims' amounts, taken as positive, reach
    ``MAGNITUDE_LIMIT_UNITS``: beyond it their sums could not be exact."""
    if magnitude_units < MAGNITUDE_LIMIT_UNITS:
        return
    raise InputError(
        Problem(
            table="claims",
            reason=Reason.OUT_OF_RANGE,
            column="paid_amount",
            message=(
                f"{claims.path}: the claims' amounts, taken as positive, add up to "
                f"${magnitude_units / UNITS_PER_DOLLAR:,.0f}: more than "
                f"${MAGNITUDE_LIMIT_UNITS // UNITS_PER_DOLLAR:,} cannot be summed to "
                "the cent"
            ),
        )
    )


def member_costs(claims: Table, mm: MemberMonths) -> MemberCosts:
    """Sum claims per attributed member-month, in units; exclude (and count) the rest."""
    n_cells = mm.n_members * mm.n_months
    grid = mm.practice_grid()
    # unattributed cells, month-major as the cells, and one extra cell for the claims
    # outside the run's months or of members attributed nowhere
    unattributed = np.append(grid.ravel(order="F") == NO_PRACTICE, True)
    sums = np.zeros(n_cells + 1)
    units = np.empty(ROWS_PER_SLICE)  # a block's amounts in units, and their magnitudes
    magnitude = np.empty(ROWS_PER_SLICE)
    n_claims = n_outside = n_unattributed = 0
    units_never_attributed = 0.0
    total_magnitude = 0.0
    for member, period, paid in _claim_blocks(claims.frame):  # blocks of claims, not claims
        amount = np.multiply(paid, UNITS_PER_DOLLAR, out=units[: len(paid)])
        np.rint(amount, out=amount)  # whole units: the reader rejects finer amounts
        total_magnitude += float(np.abs(amount, out=magnitude[: len(amount)]).sum())
        # Every claim goes to its month-major cell (month, member): claims in date order
        # add into one month's slice at a time.
        cell = month_index(mm.periods, period, dtype=np.intp)
        outside = cell < 0
        never = member < 0
        cell *= mm.n_members
        cell += member
        any_outside, any_never = bool(outside.any()), bool(never.any())
        if any_outside or any_never:
            cell[outside | never] = n_cells
        low, high = int(cell.min()), int(cell.max())
        if high - low < 4 * len(cell):  # a few months of cells: count them densely
            sums[low : high + 1] += np.bincount(
                cell - low, weights=amount, minlength=high - low + 1
            )
        else:
            np.add.at(sums, cell, amount)
        n_claims += len(cell)
        n_outside += int(np.count_nonzero(outside)) if any_outside else 0
        n_unattributed += int(np.count_nonzero(unattributed[cell]))
        if any_never:
            units_never_attributed += float(np.sum(amount, where=never & ~outside))
    require_summable(claims, total_magnitude)
    not_attributed = n_unattributed - n_outside
    use = TableUse.of(
        claims.name,
        n_claims - n_outside - not_attributed,
        {Reason.OUTSIDE_PERIOD: n_outside, Reason.NOT_ATTRIBUTED: not_attributed},
    )
    cost = sums[:n_cells]
    units_not_attributed = (
        float(np.sum(cost, where=unattributed[:n_cells])) + units_never_attributed
    )
    cost[unattributed[:n_cells]] = 0.0
    return MemberCosts(
        cost=cost.reshape(mm.n_months, mm.n_members).T,
        grid=grid,
        n_practices=mm.n_practices,
        attributed=mm.attributed(),
        claims_outside_year=n_outside,
        claims_not_attributed=not_attributed,
        units_not_attributed=int(units_not_attributed),
        use=use,
    )
