"""Attribution: which practice each member belongs to in each month.

Members, practices and months are turned into integer codes once, when the inputs
are loaded (``link_attribution``), so every later step is an array operation: a
member's practice in a month is one lookup in a dense ``members x months`` array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .inputs.checks import Table, TableUse
from .inputs.columns import ROWS_PER_SLICE, first_of_repeats, id_chunks, repeated_keys
from .periods import month_index
from .reasons import Reason

NO_PRACTICE = -1
#: The one segment of a program whose attribution carries none: the practice as a whole.
ONE_SEGMENT = "all"
# Integer ids spanning at most this many times the number of rows get a direct lookup
# table instead of hashing.
_DENSE_SPAN = 8


class MemberIndex:
    """The members of a program and their codes (0..n-1), from the attribution table.

    Integer member ids over a compact range are coded through a lookup array (no
    hashing), read row group by row group; other ids through a hash index.
    """

    def __init__(self, ids: pd.Series):
        self._offset: int | None = None
        self._lut: np.ndarray | None = None
        if isinstance(ids.dtype, pd.CategoricalDtype):
            self.ids = pd.Index(ids.cat.categories)
            self._hash = self.ids
            return
        chunks = id_chunks(ids)
        if chunks:
            lo, hi = chunks.low, chunks.high
            if hi - lo < _DENSE_SPAN * len(ids) + 1024:
                present = np.zeros(hi - lo + 1, dtype=bool)
                for chunk in chunks:  # a loop over row groups, not rows
                    present[chunk - lo] = True
                members = np.flatnonzero(present)
                lut = np.full(hi - lo + 1, -1, dtype=np.int32)
                lut[members] = np.arange(len(members), dtype=np.int32)
                self._offset, self._lut = lo, lut
                self.ids = pd.Index(members + lo)
                self._hash = None
                return
        self.ids = pd.Index(pd.unique(ids.to_numpy() if chunks else ids))
        self._hash = self.ids

    def __len__(self) -> int:
        return len(self.ids)

    def codes(self, values: pd.Series) -> np.ndarray:
        """Code of each value (-1 for ids that are not members)."""
        chunks = id_chunks(values) if self._lut is not None else None
        if chunks is not None:
            assert self._lut is not None and self._offset is not None
            out = np.empty(len(values), dtype=np.int32)
            start = 0
            for chunk in chunks:  # a loop over row groups, not rows
                end = start + len(chunk)
                pos = chunk - self._offset
                if pos.min() >= 0 and pos.max() < len(self._lut):
                    np.take(self._lut, pos, out=out[start:end], mode="clip")  # in range: one gather
                else:
                    inside = (pos >= 0) & (pos < len(self._lut))
                    out[start:end] = np.where(inside, self._lut[np.where(inside, pos, 0)], -1)
                start = end
            return out
        if isinstance(values.dtype, pd.CategoricalDtype) and self._hash is not None:
            lookup = _lookup(pd.Index(values.cat.categories), self.ids)
            codes = values.array.codes
            return np.where(codes >= 0, lookup[codes], -1).astype(np.int32)
        return codes_in(values, self.ids)


def _lookup(uniques: pd.Index, index: pd.Index) -> np.ndarray:
    """Position in ``index`` of each of ``uniques`` (-1 when absent), compared as values."""
    if isinstance(index.dtype, pd.CategoricalDtype):  # ids read from a dictionary column
        index = pd.Index(index.astype(index.dtype.categories.dtype))
    if len(uniques) and index.dtype != uniques.dtype:
        try:
            uniques = uniques.astype(index.dtype)
        except (TypeError, ValueError):
            uniques = uniques.astype(str)
            index = index.astype(str)
    if len(uniques) == 0:
        return np.zeros(0, dtype=np.int64)
    return index.get_indexer(uniques)


def codes_in(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Codes of ``values`` in ``index`` (-1 when absent): factorize first, so the hash work is
    done once per distinct value rather than once per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # codes already there
        codes, uniques = values.array.codes, values.cat.categories
    else:
        codes, uniques = pd.factorize(values, sort=False)
    lookup = _lookup(pd.Index(uniques), index).astype(np.int32)
    # code -1 (a missing value) indexes the trailing -1
    return np.append(lookup, np.int32(-1))[codes]


def link_attribution(attribution: Table, practices: Table) -> tuple[Table, MemberIndex]:
    """Check attribution against practices and code it; returns the program's members.

    Rejected: a practice that is not in practices (UNKNOWN_PRACTICE); every row of a
    member attributed to two practices in one month (CONFLICTING_ATTRIBUTION); a
    member-month repeated at the same practice, after its first row
    (DUPLICATE_MEMBER_MONTH). The linked frame keeps ``member_code``, ``practice_code``
    and ``period``, and ``segment`` when the file has one (a Categorical whose categories
    are the segments' names as text, sorted: its codes are the segment codes);
    ``MemberIndex.ids`` turns codes back into member ids. Returns the linked table and the
    program's members.
    """
    frame = attribution.frame
    practice = codes_in(frame["practice_id"], pd.Index(practices.frame["practice_id"]))
    attribution = attribution.reject_rows(
        practice < 0,
        Reason.UNKNOWN_PRACTICE,
        "practice_id",
        "practice_id is not in practices, or its row there was rejected",
    )
    if len(attribution.frame) < len(frame):
        practice = practice[practice >= 0]
    frame = attribution.frame
    members = MemberIndex(frame["member_id"])
    member = members.codes(frame["member_id"])
    period = frame["period"].to_numpy()
    first = int(period.min()) if len(period) else 0
    span = int(period.max()) - first + 1 if len(period) else 1
    wide: type[np.signedinteger[Any]] = (
        np.int64 if len(members) * span >= np.iinfo(np.int32).max else np.int32
    )
    key = member.astype(wide)
    key *= span
    key += period
    key -= first
    repeated = repeated_keys(key, len(members) * span)
    conflict = np.zeros(len(key), dtype=bool)
    duplicate = np.zeros(len(key), dtype=bool)
    if repeated.any():
        rows = np.flatnonzero(repeated)
        sub = pd.DataFrame({"key": key[rows], "practice": practice[rows]})
        practices_per_key = sub.groupby("key")["practice"].transform("nunique").to_numpy()
        conflict[rows[practices_per_key > 1]] = True
        duplicate = first_of_repeats(key) & ~conflict
        attribution = attribution.reject_all(
            [
                (
                    conflict,
                    Reason.CONFLICTING_ATTRIBUTION,
                    "practice_id",
                    "member is attributed to two or more practices in this month",
                ),
                (
                    duplicate,
                    Reason.DUPLICATE_MEMBER_MONTH,
                    "member_id",
                    "member-month repeated at the same practice",
                ),
            ]
        )
    keep = slice(None) if not repeated.any() else ~(conflict | duplicate)
    # from here on attribution is (member_code, practice_code, period), with its row numbers
    columns: dict[str, Any] = {
        "member_code": member[keep],
        "practice_code": practice[keep],
        "period": period[keep],
    }
    if "segment" in frame.columns:
        columns["segment"] = segment_labels(frame["segment"])[keep]
    linked = attribution.with_frame(pd.DataFrame(columns, index=frame.index[keep], copy=False))
    return linked, members


def segment_labels(values: pd.Series) -> pd.Categorical:
    """Segment values as a Categorical of their text, categories sorted: the same segment
    written ``1`` in one file and ``"1"`` in another is one segment. Works once per
    distinct value."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.array.codes, pd.Index(values.cat.categories)
    else:
        codes, uniques = pd.factorize(values, sort=False)
        uniques = pd.Index(uniques)
    text = uniques.astype(str)
    names = pd.Index(sorted(set(text)))
    lookup = np.append(names.get_indexer(text), -1)  # code -1 (empty) stays -1
    return pd.Categorical.from_codes(lookup[codes], categories=names, validate=False)


@dataclass(frozen=True)
class MemberMonths:
    """One entry per attributed member-month of a run, as codes.

    ``member_ids[member[i]]`` is the member, ``practice_ids[practice[i]]`` the practice
    (in the practices table's order) and ``periods[month[i]]`` the month of entry ``i``.
    """

    member_ids: pd.Index
    practice_ids: pd.Index
    periods: np.ndarray
    member: np.ndarray
    practice: np.ndarray
    month: np.ndarray
    use: TableUse | None = None  # what was used of the attribution table
    # the member's segment in each entry's month (codes into ``segments``); None: one
    # segment, ``ONE_SEGMENT``
    segment: np.ndarray | None = None
    segments: tuple[str, ...] = (ONE_SEGMENT,)

    @property
    def n_members(self) -> int:
        return len(self.member_ids)

    @property
    def n_practices(self) -> int:
        return len(self.practice_ids)

    @property
    def n_months(self) -> int:
        return len(self.periods)

    @property
    def n_segments(self) -> int:
        return len(self.segments)

    def segment_codes(self, part: slice = slice(None)) -> np.ndarray:
        """Each entry's segment code (all 0 with one segment)."""
        if self.segment is None:
            return np.zeros(len(self.member[part]), dtype=np.int8)
        return self.segment[part]

    def practice_grid(self) -> np.ndarray:
        """Dense ``(members, months)`` array of practice codes, ``NO_PRACTICE`` where unattributed.

        Stored month by month (a Fortran-ordered view): each month's column is contiguous,
        so work that walks claims in date order stays within one month's memory.
        """
        return self._grid(lambda block: self.practice[block])

    def practice_segment_grid(self) -> np.ndarray:
        """``practice_grid`` with each cell's practice and segment as one code,
        practice x n_segments + segment (``NO_PRACTICE`` where unattributed)."""

        def code(block: slice) -> np.ndarray:
            cell = self.practice[block].astype(np.int32) * self.n_segments
            return cell + self.segment_codes(block)

        return self._grid(code)

    def _grid(self, values: Callable[[slice], np.ndarray]) -> np.ndarray:
        by_month = np.full((self.n_months, self.n_members), NO_PRACTICE, dtype=np.int32)
        cells = by_month.reshape(-1)
        for start in range(0, len(self.member), ROWS_PER_SLICE):  # slices, not entries
            block = slice(start, start + ROWS_PER_SLICE)
            cell = self.month[block].astype(np.intp)
            cell *= self.n_members
            cell += self.member[block]
            cells[cell] = values(block)
        return by_month.T

    def attributed(self) -> np.ndarray:
        """Mask of the members with at least one member-month in the run."""
        return self._attributed

    @cached_property
    def _attributed(self) -> np.ndarray:
        present = np.zeros(self.n_members, dtype=bool)
        present[self.member] = True
        present.flags.writeable = False  # shared by every computation of the run
        return present


def attributed_member_months(
    attribution: Table, practices: Table, members: MemberIndex, periods: Iterable[int]
) -> MemberMonths:
    """The run's attributed member-months; rows of other months are excluded (OUTSIDE_PERIOD)."""
    months = np.asarray(sorted({int(p) for p in periods}), dtype=np.int32)
    frame = attribution.frame
    month = month_index(months, frame["period"].to_numpy())
    inside = month >= 0
    n_inside = int(inside.sum())
    use = TableUse.of(attribution.name, n_inside, {Reason.OUTSIDE_PERIOD: len(month) - n_inside})
    take = slice(None) if n_inside == len(month) else inside
    segment: np.ndarray | None = None
    segments: tuple[str, ...] = (ONE_SEGMENT,)
    if "segment" in frame.columns:
        labels = frame["segment"].array
        segment = np.asarray(labels.codes)[take]
        segments = tuple(str(name) for name in labels.categories)
    return MemberMonths(
        member_ids=members.ids,
        practice_ids=pd.Index(practices.frame["practice_id"]),
        periods=months,
        member=frame["member_code"].to_numpy()[take],
        practice=frame["practice_code"].to_numpy()[take],
        month=month[take],
        use=use,
        segment=segment,
        segments=segments,
    )
