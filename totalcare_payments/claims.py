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
from functools import cached_property

import numpy as np
import pandas as pd

from . import schema
from .attribution import (
    NO_PRACTICE,
    MemberIndex,
    MemberMonths,
    first_of_repeats,
    has_repeats,
    month_index,
)
from .config import StopLoss
from .inputs import Table, id_chunks


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


def link_claims(claims: Table, members: MemberIndex) -> None:
    """Check claim ids and code members: the linked frame keeps ``member_code`` (-1 for a
    member never attributed), ``period`` (the service month) and ``paid_amount``.

    A claim_id may appear once as a payment and once as its reversal; a further row
    with the same claim_id and amount sign is rejected (DUPLICATE_CLAIM_ID).
    """
    frame = claims.frame
    negative = frame["paid_amount"].to_numpy() < 0
    ids = frame["claim_id"]
    chunks = id_chunks(ids)
    if chunks:
        dup = _repeated_claim_ids(chunks, negative)
    else:
        codes, _ = pd.factorize(ids, sort=False)
        dup = first_of_repeats(codes.astype(np.int64) * 2 + negative)
    claims.reject_rows(
        dup,
        schema.DUPLICATE_CLAIM_ID,
        "claim_id",
        "claim_id repeated with the same amount sign (only one payment and one reversal allowed)",
    )
    frame = claims.frame
    # checked and coded: from here on the claims are (member_code, period, paid_amount)
    claims.frame = pd.DataFrame(
        {
            "member_code": members.codes(frame["member_id"]),
            "period": frame["period"].to_numpy(),
            "paid_amount": frame["paid_amount"].to_numpy(),
        },
        index=frame.index,
        copy=False,
    )


def _repeated_claim_ids(chunks: list[np.ndarray], negative: np.ndarray) -> np.ndarray:
    """Rows repeating an earlier row's integer claim_id and amount sign.

    The key of a row is ``2 x (claim_id - lowest) + (1 if a reversal)``. Over a compact id
    range the keys seen are marked row group by row group; only when a key is marked
    twice are the repeated rows found.
    """
    lo = min(int(chunk.min()) for chunk in chunks)
    hi = max(int(chunk.max()) for chunk in chunks)
    n_keys = 2 * (hi - lo + 1)

    def keys(chunk: np.ndarray, start: int) -> np.ndarray:
        key = chunk - lo
        key *= 2
        key += negative[start : start + len(chunk)]
        return key

    starts = np.cumsum([0] + [len(chunk) for chunk in chunks])[:-1]
    parts = zip(chunks, starts, strict=True)
    if n_keys <= 4 * len(negative) + 1024 and not has_repeats(
        (keys(chunk, int(start)) for chunk, start in parts), n_keys
    ):  # marked row group by row group
        return np.zeros(len(negative), dtype=bool)
    key = np.concatenate(
        [keys(chunk, int(start)) for chunk, start in zip(chunks, starts, strict=True)]
    )
    return _first_of_repeats(key, n_keys)


def _first_of_repeats(key: np.ndarray, n_keys: int) -> np.ndarray:
    """Rows repeating an earlier key, by counting when the key range is compact (the
    caller has already found, by marking, that some key repeats)."""
    if n_keys > 4 * len(key) + 1024:
        return first_of_repeats(key)
    counts = np.bincount(key, minlength=n_keys)
    repeated = counts[key] > 1
    if not repeated.any():
        return repeated
    out = np.zeros(len(key), dtype=bool)
    rows = np.flatnonzero(repeated)
    out[rows] = first_of_repeats(key[rows])
    return out


def member_costs(claims: Table, mm: MemberMonths) -> MemberCosts:
    """Sum claims per attributed member-month; exclude (and count) the rest."""
    frame = claims.frame
    member = frame["member_code"].to_numpy()
    n_cells = mm.n_members * mm.n_months
    # Every claim of the run's months goes to its month-major cell (month, member), the
    # rest to one extra cell; whether a cell is attributed is asked once per cell, not
    # per claim. Month-major: claims in date order add into one month's slice at a time.
    cell = month_index(mm.periods, frame["period"].to_numpy(), dtype=np.intp)
    outside = cell < 0
    cell *= mm.n_members
    cell += member
    cell[outside | (member < 0)] = n_cells
    paid = frame["paid_amount"].to_numpy(dtype=np.float64)
    sums = np.bincount(cell, weights=paid, minlength=n_cells + 1)
    grid = mm.practice_grid()
    # unattributed cells, month-major as the cells, and the extra cell
    unattributed = np.append(grid.ravel(order="F") == NO_PRACTICE, True)
    n_outside = int(np.count_nonzero(outside))
    not_attributed = int(np.count_nonzero(unattributed[cell])) - n_outside
    claims.record_use(
        len(cell) - n_outside - not_attributed,
        {schema.OUTSIDE_PERIOD: n_outside, schema.NOT_ATTRIBUTED: not_attributed},
    )
    in_run = ~outside & (member < 0)  # claims of members attributed nowhere, ever
    dollars_not_attributed = float(np.sum(sums[:n_cells], where=unattributed[:n_cells])) + float(
        np.sum(paid, where=in_run)
    )
    cost = sums[:n_cells]
    cost[unattributed[:n_cells]] = 0.0
    return MemberCosts(
        cost=cost.reshape(mm.n_months, mm.n_members).T,
        grid=grid,
        n_practices=mm.n_practices,
        attributed=mm.attributed(),
        claims_outside_year=n_outside,
        claims_not_attributed=not_attributed,
        dollars_not_attributed=dollars_not_attributed,
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


def practice_costs(costs: MemberCosts, threshold: float) -> PracticeCosts:
    """Claims and truncation per practice, truncation shared in proportion to each practice's part."""
    annual = costs.annual_cost()
    over = np.flatnonzero(annual > threshold)  # only these members' cells are truncated
    fraction = (annual[over] - threshold) / annual[over]
    cells = costs.grid[over]
    truncated_cells = costs.cost[over] * fraction[:, None]
    on = cells != NO_PRACTICE
    return PracticeCosts(
        claims_paid=costs.claims_by_practice,
        truncated=np.bincount(cells[on], weights=truncated_cells[on], minlength=costs.n_practices),
        threshold=threshold,
        members_truncated=len(over),
    )
