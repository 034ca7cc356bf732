"""Which rejected rows fail a run: the rejection policy.

Rows that fail a check are rejected and written to ``rejects.csv``. A run fails
(exit 2) when a rejection would make a payment wrong -- a practice or baseline row, an
unknown practice, tier or segment, a member attributed to two practices in one month, a
repeated key -- or, with ``strict``, on any rejection.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ..reasons import Reason
from .checks import REJECT_COLUMNS, Table, row_labels

# Rejections that always fail a run: each would make some payment wrong.
FATAL_REASONS = frozenset(
    {
        Reason.UNKNOWN_PRACTICE,
        Reason.CONFLICTING_ATTRIBUTION,
        Reason.UNKNOWN_TIER,
        Reason.UNKNOWN_SEGMENT,  # a misspelled segment would be budgeted as nothing
        Reason.DUPLICATE_KEY,  # two scores for a member, two quality rows: which is right?
    }
)


#: Tables whose every rejected row fails a run: each row is some practice's terms.
EVERY_ROW_COUNTS = ("practices", "baselines")


#: The order problems are reported in: a table before the tables that refer to it, so a
#: whole-file failure (every practice's tier unknown) comes before the cascade it causes
#: (every attribution row naming a practice that is no longer there).
TABLE_ORDER = (
    "practices",
    "baselines",
    "attribution",
    "risk_scores",
    "claims",
    "quality",
    "practice_summary",
)


def rejection_problems(rejects: pd.DataFrame, paths: dict[str, Path]) -> list[Problem]:
    """One problem per table, reason and column: the rows and the first failing records,
    tables in ``TABLE_ORDER``."""
    problems = []
    groups = sorted(
        rejects.groupby(["table", "reason", "column", "message"], sort=True),
        key=lambda group: _table_rank(str(group[0][0])),
    )
    for (table, reason, column, message), part in groups:
        problems.append(
            Problem(
                table=f"{table} ({paths.get(str(table), table)})",
                reason=str(reason),
                column=str(column) or None,
                message=str(message),
                rows=row_labels(part, sort=False),
                row_count=len(part),
                examples=tuple(str(r) for r in part["record"].head(3) if str(r)),
            )
        )
    return problems


def _table_rank(table: str) -> int:
    return TABLE_ORDER.index(table) if table in TABLE_ORDER else len(TABLE_ORDER)


def enforce_policy(tables: list[Table], *, strict: bool) -> pd.DataFrame:
    """Every rejected row of the tables; raises ``InputError`` when a rejection would make a
    payment wrong (or any, when ``strict``)."""
    rejects = all_rejects_of(tables)
    if rejects.empty:
        return rejects
    fatal = rejects["reason"].isin(FATAL_REASONS) | rejects["table"].isin(EVERY_ROW_COUNTS)
    if strict:
        fatal[:] = True
    if fatal.any():
        paths = {t.name: t.path for t in tables}
        raise InputError(rejection_problems(rejects[fatal.to_numpy()], paths))
    return rejects


#: The rejects' columns when a table was read from a folder of files: each row's file (its
#: path within the folder; empty for a table read from one file) and row within it.
_WITH_FILE = [REJECT_COLUMNS[0], "file", *REJECT_COLUMNS[1:]]


def all_rejects_of(tables: list[Table]) -> pd.DataFrame:
    """Every rejected row of the tables, in table and row order."""
    frames = [t.rejects for t in tables if len(t.rejects)]
    folders = any(t.dataset is not None for t in tables)
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
        return empty if not folders else empty.assign(file="")[_WITH_FILE]
    merged = pd.concat(frames, ignore_index=True)
    if not folders:  # every table one file: the columns as ever
        return merged.sort_values(["table", "row", "reason"], kind="stable").reset_index(drop=True)
    # a table read from a folder of files: each row named by its file and row within it
    merged["file"] = merged["file"].fillna("") if "file" in merged.columns else ""
    return (
        merged[_WITH_FILE]
        .sort_values(["table", "file", "row", "reason"], kind="stable")
        .reset_index(drop=True)
    )
