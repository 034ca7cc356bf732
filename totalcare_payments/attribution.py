"""Attribution: which practice each member belongs to in each month.

The attributed member-months of a run are held as integer codes (member, practice,
period) so that every later step is an array operation: a member's practice in a
month is one lookup in a dense ``members x months`` array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema
from .inputs import Table

NO_PRACTICE = -1


@dataclass(frozen=True)
class MemberMonths:
    """One entry per attributed member-month of the run, as codes.

    ``member_ids[member[i]]`` is the member, ``practice_ids[practice[i]]`` the practice
    (in the practices table's order) and ``periods[month[i]]`` the month of entry ``i``.
    """

    member_ids: pd.Index
    practice_ids: pd.Index
    periods: np.ndarray
    member: np.ndarray
    practice: np.ndarray
    month: np.ndarray

    @property
    def n_members(self) -> int:
        return len(self.member_ids)

    @property
    def n_practices(self) -> int:
        return len(self.practice_ids)

    @property
    def n_months(self) -> int:
        return len(self.periods)

    def practice_grid(self) -> np.ndarray:
        """Dense ``(members, months)`` array of practice codes, ``NO_PRACTICE`` where unattributed."""
        grid = np.full((self.n_members, self.n_months), NO_PRACTICE, dtype=np.int32)
        grid[self.member, self.month] = self.practice
        return grid

    def member_month_counts(self) -> np.ndarray:
        """Member months per member."""
        return np.bincount(self.member, minlength=self.n_members)


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Codes of ``values`` in ``index`` (-1 when absent): factorize first, so the hash work is
    done once per distinct value rather than once per row."""
    codes, uniques = pd.factorize(values, sort=False)
    if len(uniques) and index.dtype != uniques.dtype:
        uniques = uniques.astype(index.dtype) if _castable(uniques, index) else uniques
    lookup = index.get_indexer(uniques)
    return np.where(codes >= 0, lookup[codes], -1).astype(np.int32)


def _castable(uniques: pd.Index, index: pd.Index) -> bool:
    try:
        uniques.astype(index.dtype)
    except (TypeError, ValueError):
        return False
    return True


def attributed_member_months(
    attribution: Table, practices: Table, periods: np.ndarray | list[int]
) -> MemberMonths:
    """The run's attributed member-months, after the attribution checks.

    Rows outside the run's months are excluded (OUTSIDE_PERIOD). Rows naming a practice
    that is not in practices are rejected (UNKNOWN_PRACTICE); a repeated member-month at
    the same practice is rejected once (DUPLICATE_MEMBER_MONTH); a member at two
    practices in one month has every such row rejected (CONFLICTING_ATTRIBUTION).
    """
    periods = np.asarray(sorted(set(int(p) for p in periods)), dtype=np.int32)
    frame = attribution.frame
    inside = np.isin(frame["period"].to_numpy(), periods)
    attribution.exclude(schema.OUTSIDE_PERIOD, int((~inside).sum()))
    attribution.frame = frame = frame.loc[inside]

    practice_ids = pd.Index(practices.frame["practice_id"])
    practice = _codes(frame["practice_id"], practice_ids)
    attribution.reject_rows(
        practice < 0,
        schema.UNKNOWN_PRACTICE,
        "practice_id",
        "practice_id is not in practices",
    )
    frame = attribution.frame
    practice = practice[practice >= 0]

    member, member_ids = pd.factorize(frame["member_id"], sort=True)
    month = np.searchsorted(periods, frame["period"].to_numpy()).astype(np.int32)
    key = member.astype(np.int64) * len(periods) + month
    repeated = pd.Series(key).duplicated(keep=False).to_numpy()
    if repeated.any():
        # same member-month twice: identical practice -> one duplicate; different -> conflict
        sub = pd.DataFrame({"key": key[repeated], "practice": practice[repeated]})
        n_practices = sub.groupby("key")["practice"].transform("nunique").to_numpy()
        conflict = np.zeros(len(key), dtype=bool)
        conflict[np.flatnonzero(repeated)[n_practices > 1]] = True
        duplicate = pd.Series(key).duplicated(keep="first").to_numpy() & ~conflict
        attribution.reject_rows(
            conflict,
            schema.CONFLICTING_ATTRIBUTION,
            "practice_id",
            "member is attributed to two or more practices in this month",
        )
        keep = ~conflict
        duplicate = duplicate[keep]
        attribution.reject_rows(
            duplicate,
            schema.DUPLICATE_MEMBER_MONTH,
            "member_id",
            "member-month repeated at the same practice",
        )
        keep_idx = np.flatnonzero(keep)[~duplicate]
        member, month, practice = member[keep_idx], month[keep_idx], practice[keep_idx]
        # members whose only rows were conflicts keep their code (no member-months)
    attribution.mark_used(len(member))
    return MemberMonths(
        member_ids=pd.Index(member_ids),
        practice_ids=practice_ids,
        periods=periods,
        member=member.astype(np.int32),
        practice=practice.astype(np.int32),
        month=month,
    )
