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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from . import schema
from .attribution import (
    NO_PRACTICE,
    ROWS_PER_SLICE,
    MemberIndex,
    MemberMonths,
    first_of_repeats,
    month_index,
)
from .config import StopLoss
from .inputs import (
    Table,
    check_table,
    id_chunks,
    in_arrow,
    integer_range,
    number_chunks,
    read_parts,
)


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


# a claim_id range compact enough to mark the keys seen (2 per id) in a dense mask
_DENSE_IDS_PER_ROW = 2


def read_claims(path: str | Path) -> Table:
    """Read and check a claims file.

    A Parquet file whose claim ids are integers over a compact range (its row groups'
    statistics say so, no data is read to find out) is read and checked one row group at a
    time, and only the member id, service month and amount of each clean row are kept: the
    rest of a row group's columns are freed before the next is read. Any other file is read
    whole. The checks and their results are the same either way.
    """
    path = Path(path)
    id_range = integer_range(path, "claim_id")
    if id_range is not None:
        rows = pq.ParquetFile(path).metadata.num_rows
        if not _compact(id_range, rows):
            id_range = None
    parts = read_parts(path, schema.CLAIMS, whole=id_range is None)
    return check_claims(parts, path=path, id_range=id_range)


def check_claims(
    parts: Iterable[tuple[int, pd.DataFrame]],
    *,
    path: Path | None = None,
    id_range: tuple[int, int] | None = None,
) -> Table:
    """Check claim lines given in parts (first row number, raw frame): each part's column
    checks (``check_table``), then the repeated claim-id check, which spans the parts.

    A claim_id may appear once as a payment and once as its reversal; a further row with
    the same claim_id and amount sign is rejected (DUPLICATE_CLAIM_ID). More than one part
    needs integer claim ids within ``id_range``, which may be widened as parts arrive.
    The checked frame keeps ``member_id``, ``period`` (the service month) and
    ``paid_amount``, with the file's row numbers.
    """
    seen = _ClaimKeys(id_range)
    frames: list[pd.DataFrame] = []
    rejects: list[pd.DataFrame] = []
    rows_read = 0
    for first_row, raw in parts:
        part = check_table(raw, schema.CLAIMS, path=path, first_row=first_row)
        part.reject_rows(
            seen.repeats(part.frame),
            schema.DUPLICATE_CLAIM_ID,
            "claim_id",
            "claim_id repeated with the same amount sign (only one payment and one reversal allowed)",
        )
        kept = part.frame
        frames.append(  # the part's arrays become chunks of the file's columns (no copy)
            pd.DataFrame(
                {
                    "member_id": kept["member_id"],
                    "period": in_arrow(kept["period"]),
                    "paid_amount": in_arrow(kept["paid_amount"]),
                },
                copy=False,
            )
        )
        rejects.append(part.rejects)
        rows_read += part.rows_read
        del part, raw
    return Table(
        spec=schema.CLAIMS,
        path=path or Path(f"<{schema.CLAIMS.name}>"),
        frame=frames[0] if len(frames) == 1 else pd.concat(frames),
        rejects=rejects[0] if len(rejects) == 1 else _concat_rejects(rejects),
        rows_read=rows_read,
    )


def _concat_rejects(rejects: list[pd.DataFrame]) -> pd.DataFrame:
    found = [frame for frame in rejects if len(frame)]
    return pd.concat(found, ignore_index=True) if found else rejects[0]


def _compact(id_range: tuple[int, int], rows: int) -> bool:
    return id_range[1] - id_range[0] + 1 <= _DENSE_IDS_PER_ROW * rows + 512


class _ClaimKeys:
    """The (claim_id, amount sign) keys seen so far in one claims file, part after part.

    Integer ids over a compact range are marked in a dense mask (2 keys per id: payment
    and reversal), so a part is checked against the earlier parts without keeping them.
    Other ids are hashed, which needs the file in one part.
    """

    def __init__(self, id_range: tuple[int, int] | None) -> None:
        self.low = 0
        self.seen: np.ndarray | None = None
        self.parts = 0
        if id_range is not None:
            self._cover(*id_range)

    def _cover(self, low: int, high: int) -> None:
        """Make room for ids ``low..high``, keeping the marks made so far."""
        if self.seen is not None:
            high = max(high, self.low + len(self.seen) // 2 - 1)
            low = min(low, self.low)
        seen = np.zeros(2 * (high - low + 1), dtype=bool)
        if self.seen is not None:
            offset = 2 * (self.low - low)
            seen[offset : offset + len(self.seen)] = self.seen
        self.low, self.seen = low, seen

    def repeats(self, frame: pd.DataFrame) -> np.ndarray:
        """Mask of the part's rows that repeat the key of an earlier row, in this part or
        an earlier one (the first row of a key stays)."""
        self.parts += 1
        negative = frame["paid_amount"].to_numpy() < 0
        chunks = id_chunks(frame["claim_id"])
        if chunks:
            low = min(int(chunk.min()) for chunk in chunks)
            high = max(int(chunk.max()) for chunk in chunks)
            if self.seen is None and _compact((low, high), len(frame)):
                self._cover(low, high)  # the whole file in one part: its own range
        if len(frame) == 0:
            return np.zeros(0, dtype=bool)
        if not chunks or self.seen is None:
            assert self.parts == 1, "claims in parts need integer claim ids"
            codes, _ = pd.factorize(frame["claim_id"], sort=False)
            return first_of_repeats(codes.astype(np.int64) * 2 + negative)
        if low < self.low or high >= self.low + len(self.seen) // 2:
            self._cover(low, high)  # statistics that missed a value
        if len(chunks) == 1:  # a row group: one chunk, no concatenated copy
            key = np.subtract(chunks[0], self.low)
        else:
            key = np.concatenate([chunk - self.low for chunk in chunks])
        key *= 2
        key += negative
        before = self.seen[key]
        # the keys newly marked, counted over the part's key range only
        touched = self.seen[2 * (low - self.low) : 2 * (high - self.low) + 2]
        marked = int(np.count_nonzero(touched))
        self.seen[key] = True
        new_keys = int(np.count_nonzero(touched)) - marked
        if new_keys < len(key) - int(np.count_nonzero(before)):  # a key repeats in this part
            return before | first_of_repeats(key)
        return before


def link_claims(claims: Table, members: MemberIndex) -> None:
    """Code the checked claims' members: the linked frame keeps ``member_code`` (-1 for a
    member never attributed), ``period`` (the service month) and ``paid_amount``."""
    frame = claims.frame
    claims.frame = pd.DataFrame(
        {
            "member_code": members.codes(frame["member_id"]),
            "period": frame["period"].array,  # row groups' arrays, as checked
            "paid_amount": frame["paid_amount"].array,
        },
        index=frame.index,
        copy=False,
    )


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
    claims.record_use(
        n_claims - n_outside - not_attributed,
        {schema.OUTSIDE_PERIOD: n_outside, schema.NOT_ATTRIBUTED: not_attributed},
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
