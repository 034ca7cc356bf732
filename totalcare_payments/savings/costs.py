"""Actual cost of each practice's attributed population, from claim lines.

A claim counts in the performance year when its service month (the month of
``claim_start_date``) is in the year, and is charged to the practice the member was
attributed to in that month. Claims in months the member was attributed nowhere are
excluded and counted. Reversals (negative ``paid_amount``) net against their claims
because costs are summed per member-month. Truncation at the stop-loss is
``stop_loss``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..attribution import NO_PRACTICE, MemberMonths
from ..inputs.checks import Table, TableUse
from ..inputs.columns import ROWS_PER_SLICE, number_chunks
from ..periods import month_index
from ..reasons import Reason


@dataclass(frozen=True)
class MemberCosts:
    """Paid claims per attributed member-month cell: ``cost[member, month]`` in dollars."""

    cost: np.ndarray  # (members, months) float64
    grid: np.ndarray  # (members, months) practice codes, NO_PRACTICE where unattributed
    n_practices: int
    attributed: np.ndarray  # (members,) whether the member has a member-month in the run
    claims_outside_year: int
    claims_not_attributed: int
    dollars_not_attributed: float
    use: TableUse | None = None  # what was used of the claims table

    @cached_property
    def _annual(self) -> np.ndarray:
        return self.cost.sum(axis=1)

    def annual_cost(self) -> np.ndarray:
        """Each member's paid claims in the year, over every practice."""
        return self._annual

    @cached_property
    def claims_by_practice(self) -> np.ndarray:
        """Paid claims per practice (before any stop-loss), in dollars."""
        total = np.zeros(self.n_practices + 1)
        for month in range(self.grid.shape[1]):  # month by month: small temporaries
            practice = self.grid[:, month] + 1  # unattributed cells (cost 0) count in bin 0
            total += np.bincount(practice, weights=self.cost[:, month], minlength=len(total))
        return total[1:]



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



def member_costs(claims: Table, mm: MemberMonths) -> MemberCosts:
    """Sum claims per attributed member-month; exclude (and count) the rest."""
    n_cells = mm.n_members * mm.n_months
    grid = mm.practice_grid()
    # unattributed cells, month-major as the cells, and one extra cell for the claims
    # outside the run's months or of members attributed nowhere
    unattributed = np.append(grid.ravel(order="F") == NO_PRACTICE, True)
    sums = np.zeros(n_cells + 1)
    n_claims = n_outside = n_unattributed = 0
    dollars_never_attributed = 0.0
    for member, period, paid in _claim_blocks(claims.frame):  # blocks of claims, not claims
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
            sums[low : high + 1] += np.bincount(cell - low, weights=paid, minlength=high - low + 1)
        else:
            np.add.at(sums, cell, paid)
        n_claims += len(cell)
        n_outside += int(np.count_nonzero(outside)) if any_outside else 0
        n_unattributed += int(np.count_nonzero(unattributed[cell]))
        if any_never:
            dollars_never_attributed += float(np.sum(paid, where=never & ~outside))
    not_attributed = n_unattributed - n_outside
    use = TableUse.of(
        claims.name,
        n_claims - n_outside - not_attributed,
        {Reason.OUTSIDE_PERIOD: n_outside, Reason.NOT_ATTRIBUTED: not_attributed},
    )
    cost = sums[:n_cells]
    dollars_not_attributed = (
        float(np.sum(cost, where=unattributed[:n_cells])) + dollars_never_attributed
    )
    cost[unattributed[:n_cells]] = 0.0
    return MemberCosts(
        cost=cost.reshape(mm.n_months, mm.n_members).T,
        grid=grid,
        n_practices=mm.n_practices,
        attributed=mm.attributed(),
        claims_outside_year=n_outside,
        claims_not_attributed=not_attributed,
        dollars_not_attributed=dollars_not_attributed,
        use=use,
    )
