"""Reading the input tables (Parquet or CSV, by extension) and checking them against ``schema``.

Checks are lazy, in the style of pandera: every problem in a file is collected
with a reason code, the rows and the first failing values before anything is
reported. Rows that fail a check are *rejected*: they leave the clean frame and
are kept, with reason and message, for the rejects file. Whether rejections fail
the run is the caller's policy (``policy.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray

from ..audit import file_sha256
from ..config import ColumnFormat
from ..errors import ConfigError, InputError, Problem
from ..periods import format_period, periods_from_dates, periods_from_year_month
from ..reasons import Reason
from .columns import _with_column, has_repeats, id_chunks
from .formats import normalized_ids, number_text, periods_by_formats, periods_of_timestamps
from .schema import Column, TableSpec

if TYPE_CHECKING:
    from .dataset import Dataset

REJECT_COLUMNS = ["table", "row", "reason", "column", "message", "record"]
# Service dates outside these months are data errors, not claims to pay.
FIRST_PERIOD = (1990 - 1970) * 12
LAST_PERIOD = (2100 - 1970) * 12 + 11
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True)
class TableUse:
    """What one computation used of an input table: the rows it used and the valid rows it
    left out, by reason (``OUTSIDE_PERIOD``, ``NOT_ATTRIBUTED``). A result carries the uses
    of the tables it read, so a table's accounting is always that of one computation."""

    table: str
    used: int
    excluded: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, table: str, used: int, excluded: dict[str, int]) -> TableUse:
        """A use, keeping only the reasons that excluded rows."""
        return cls(table, int(used), tuple(sorted((str(k), int(v)) for k, v in excluded.items() if v)))


@dataclass(frozen=True)
class Table:
    """One input file after checks: the clean rows, the rejected rows and how many were read.

    Checking and linking make new tables (``reject_rows``, ``with_frame``); a table is
    never changed once made.
    """

    spec: TableSpec
    path: Path
    frame: pd.DataFrame  # clean rows; index = 1-based data row number in the file
    rejects: pd.DataFrame  # REJECT_COLUMNS
    rows_read: int
    # linked, a few of the member ids that matched no member of the program, as written
    # (the frame keeps only their codes): the examples a data-quality gate shows
    unlinked_ids: tuple[str, ...] = ()
    # a table read from a folder of files (``inputs.dataset``): its files; ``path`` is the
    # folder, and the rejects name each row's file (``file``) and row within it
    dataset: Dataset | None = None

    @cached_property
    def sha256(self) -> str:
        """The file's fingerprint for the manifest (computed when first asked for); a
        folder's is that of its files' list (``Dataset.sha256``)."""
        if self.dataset is not None:
            return self.dataset.sha256
        return file_sha256(self.path) if self.path.is_file() else ""

    @property
    def name(self) -> str:
        return self.spec.name

    def with_frame(self, frame: pd.DataFrame) -> Table:
        """The same table with its clean rows in another form (the same rows)."""
        return replace(self, frame=frame)

    def reject_rows(self, mask: np.ndarray, reason: str, column: str | None, message: str) -> Table:
        """The table with the rows under ``mask`` moved from the clean frame to the rejects."""
        if not mask.any():
            return self
        rejects = pd.concat(
            [
                self.rejects,
                _reject_frame(
                    self.spec.name, self.frame, mask, reason, column, message, _names(self.spec)
                ),
            ],
            ignore_index=True,
        )
        return replace(self, frame=self.frame.loc[~mask], rejects=rejects)

    def reject_all(self, checks: list[tuple[np.ndarray, str, str | None, str]]) -> Table:
        """Reject rows under several masks of the current frame at once (one filtering pass);
        a row failing more than one check is rejected for the first."""
        taken = np.zeros(len(self.frame), dtype=bool)
        parts = [self.rejects]
        for mask, reason, column, message in checks:
            mask = mask & ~taken
            if mask.any():
                parts.append(
                    _reject_frame(
                    self.spec.name, self.frame, mask, reason, column, message, _names(self.spec)
                )
                )
                taken |= mask
        if not taken.any():
            return self
        return replace(
            self, frame=self.frame.loc[~taken], rejects=pd.concat(parts, ignore_index=True)
        )

    def accounting(self, use: TableUse | None = None) -> dict[str, object]:
        """read = used + excluded + rejected: by ``use``, or every clean row used."""
        rejected = self.rejects["reason"].value_counts().sort_index().to_dict()
        return {
            "read": self.rows_read,
            "used": len(self.frame) if use is None else use.used,
            "excluded": {} if use is None else dict(use.excluded),
            "rejected": {str(k): int(v) for k, v in rejected.items()},
        }


def accounting_of(tables: Iterable[Table], uses: Iterable[TableUse] = ()) -> dict[str, dict]:
    """Each table's accounting, by table name, as a computation's ``uses`` describe it."""
    by_table = {use.table: use for use in uses}
    return {t.name: t.accounting(by_table.get(t.name)) for t in tables}


def row_labels(
    rejects: pd.DataFrame, limit: int = 5, *, sort: bool = True
) -> tuple[int | str, ...]:
    """The first rejected rows (in row order, or as given), as messages name them: the row
    number, or, for a table read from a folder of files, ``file:row``."""
    if not len(rejects):
        return ()
    if "file" in rejects.columns and (rejects["file"].fillna("") != "").any():
        first = (rejects.sort_values(["file", "row"], kind="stable") if sort else rejects).head(limit)
        return tuple(
            f"{file}:{int(row)}" for file, row in zip(first["file"], first["row"], strict=True)
        )
    rows = rejects["row"].to_numpy(dtype=np.int64)
    return tuple(int(r) for r in (np.sort(rows) if sort else rows)[:limit])


def _reject_frame(
    table: str,
    frame: pd.DataFrame,
    mask: np.ndarray,
    reason: str,
    column: str | None,
    message: str,
    spec_columns: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    bad = frame.loc[mask]
    # the row as the file has it, not the columns worked out from it (a linked frame of
    # codes alone shows nothing: its row numbers name the rows)
    bad = bad[[c for c in bad.columns if c in spec_columns]] if spec_columns else bad
    if len(bad.columns):
        record = (
            bad.astype("string")
            .fillna("")
            .apply(lambda col: col.name + "=" + col, axis=0)
            .agg("; ".join, axis=1)
        )
    else:
        record = pd.Series("", index=bad.index)
    return pd.DataFrame(
        {
            "table": table,
            "row": bad.index.to_numpy(dtype=np.int64),
            "reason": reason,
            "column": column or "",
            "message": message,
            "record": record.to_numpy(dtype=object),
        }
    )


def _as_number(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers from any column; returns (float values, mask of non-empty values that are not numbers)."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = series.astype("float64")
        return values, np.zeros(len(series), dtype=bool)
    try:  # fast path: every value parses
        parsed = pa.array(series.astype("string"), type=pa.string()).cast(pa.float64())
        values = pd.Series(parsed.to_numpy(zero_copy_only=False), index=series.index)
        return values, np.zeros(len(series), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    text = series.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    # "nan"/"inf" text parses to non-finite floats: caught by NON_FINITE, not WRONG_DATATYPE
    is_nan_text = text.str.lower().isin(["nan", "+nan", "-nan"]).fillna(False)
    wrong = (values.isna() & text.notna() & ~is_nan_text).to_numpy(dtype=bool)
    return values, wrong


def _clean_ids(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Identifiers as read, with surrounding blanks removed; (ids, mask of empty ids)."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        categories = raw.cat.categories.astype("string")
        stripped = categories.str.strip()
        if (stripped == categories).all() and stripped.is_unique:
            # a string Index compares to an ExtensionArray (pandas-stubs: to an ndarray)
            is_empty = cast(ExtensionArray, stripped == "")
            empty_category = is_empty.to_numpy(dtype=bool)
            codes = raw.array.codes
            if not empty_category.any():
                return raw, codes < 0
            null = (codes < 0) | (empty_category[codes] & (codes >= 0))
            return raw, null
        raw = raw.astype("string")
    if pd.api.types.is_float_dtype(raw.dtype):
        null = raw.isna().to_numpy(dtype=bool)
        return raw.astype("Int64"), null
    if pd.api.types.is_integer_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype):
        return raw, raw.isna().to_numpy(dtype=bool)
    text = raw.astype("string").str.strip()
    return text, (text.isna() | (text == "")).to_numpy(dtype=bool)


def _declared(spec: TableSpec, formats: Mapping[str, ColumnFormat] | None) -> dict[str, ColumnFormat]:
    """The declared formats of a table's columns, each checked against the column's kind:
    a declaration that cannot apply is a config error naming its key."""
    declared = dict(formats or {})
    for name, fmt in declared.items():
        key = f"inputs.{spec.name}.{name}"
        if name not in {c.name for c in spec.columns}:
            known = ", ".join(c.name for c in spec.columns)
            raise ConfigError(f"{key}: {spec.name} has no column '{name}' (its columns: {known})")
        kind = spec.column(name).kind
        misfits = [
            what
            for what, given, kinds in (
                ("format", bool(fmt.formats), ("date", "year_month")),
                ("thousands", fmt.thousands is not None, ("number",)),
                ("currency", fmt.currency is not None, ("number",)),
                ("percent", fmt.percent, ("number",)),
                ("ids", bool(fmt.ids), ("id",)),
            )
            if given and kind not in kinds
        ]
        if misfits:
            article = "an" if kind[0] in "aeiou" else "a"
            raise ConfigError(
                f"{key}: {', '.join(misfits)} cannot apply to {article} {kind} column"
            )
    return declared


def _declare_hint(spec: TableSpec, name: str, example: str) -> str:
    return f" (written otherwise? declare it: [inputs.{spec.name}] {name} = {{ {example} }})"


def _check_column(table: Table, col: Column, fmt: ColumnFormat | None = None) -> Table:
    frame = table.frame
    name = col.name
    spec = table.spec
    if name not in frame.columns:
        return table
    raw = frame[name]
    if col.kind == "id":
        ids, null = _clean_ids(raw)
        if fmt is not None:
            ids = normalized_ids(ids, fmt)
        if ids is not raw:
            table = table.with_frame(_with_column(frame, name, ids))
        return table.reject_rows(null, Reason.NULL_KEY, name, f"{name} is empty")
    null = raw.isna().to_numpy(dtype=bool)
    if null.any() and (col.required or col.kind == "date"):  # an optional date: on every row
        table = table.reject_rows(null, Reason.NULL_VALUE, name, f"{name} is empty")
        frame, raw = table.frame, table.frame[name]
    if col.kind == "text":
        if not isinstance(raw.dtype, pd.CategoricalDtype):
            table = table.with_frame(_with_column(frame, name, raw.astype("string").str.strip()))
        return table
    if col.kind in ("number", "year"):
        text = number_text(raw, fmt) if fmt is not None and col.kind == "number" else raw
        values, wrong = _as_number(text)
        if fmt is not None and fmt.percent:
            values = values / 100.0
        arr = values.to_numpy(dtype="float64")
        too_fine = None if col.decimals is None else _too_fine(arr, col.decimals)
        fine = too_fine is None or not too_fine.any()
        if col.kind == "number" and _all_within(arr, wrong, col) and fine:
            if values.dtype != raw.dtype:  # nothing to reject
                table = table.with_frame(_with_column(frame, name, values))
            return table
        present = ~np.isnan(arr) if not col.required else np.ones(len(arr), dtype=bool)
        nonfinite = ~wrong & ~np.isfinite(arr) & present
        valid = present & ~wrong & ~nonfinite
        as_declared = ""
        if fmt is not None and (fmt.thousands or fmt.currency or fmt.percent):
            as_declared = " as declared in [inputs]"
        hint = "" if as_declared else _declare_hint(spec, name, 'thousands = ",", currency = "$"')
        checks = [
            (wrong, Reason.WRONG_DATATYPE, f"{name} is not a number{as_declared}{hint}"),
            (nonfinite, Reason.NON_FINITE, f"{name} is NaN or infinite"),
        ]
        if col.kind == "year":
            not_year = valid & ((arr != np.floor(arr)) | (arr < 1900) | (arr > 2200))
            checks.append((not_year, Reason.OUT_OF_RANGE, f"{name} is not a year"))
            valid &= ~not_year
        out = np.zeros(len(arr), dtype=bool)
        if col.min_value is not None:
            out |= valid & (arr < col.min_value)
        if col.max_value is not None:
            out |= valid & (arr > col.max_value)
        lo = "-inf" if col.min_value is None else f"{col.min_value:g}"
        hi = "inf" if col.max_value is None else f"{col.max_value:g}"
        percent_hint = ""
        if col.max_value == 1.0 and not (fmt is not None and fmt.percent):
            percent_hint = " (a percentage? declare it: " + (
                f"[inputs.{spec.name}] {name} = {{ percent = true }})"
            )
        checks.append(
            (out, Reason.OUT_OF_RANGE, f"{name} is outside [{lo}, {hi}]{percent_hint}")
        )
        if too_fine is not None:
            checks.append(
                (
                    valid & too_fine,
                    Reason.TOO_MANY_DECIMALS,
                    f"{name} has more than {col.decimals} decimal places",
                )
            )
        # the rejects keep the values as written; the kept rows get the numbers read
        table = table.reject_all([(mask, reason, name, message) for mask, reason, message in checks])
        if values.dtype != raw.dtype or col.kind == "year":
            read = pd.Series(
                np.where(np.isfinite(arr), arr, 0).astype("int32") if col.kind == "year" else arr,
                index=frame.index,
            )
            kept = table.frame.index
            table = table.with_frame(
                _with_column(table.frame, name, read if len(kept) == len(read) else read.loc[kept])
            )
        return table
    if col.kind in ("year_month", "date"):
        return _check_period(table, col, raw, fmt)
    if col.kind == "flag":
        if pd.api.types.is_bool_dtype(raw.dtype):
            return table.with_frame(_with_column(frame, name, raw.astype(bool)))
        text = raw.astype("string").str.strip().str.lower()
        is_true = text.isin(_TRUE).to_numpy(dtype=bool)
        is_false = text.isin(_FALSE).to_numpy(dtype=bool)
        table = table.reject_rows(
            ~(is_true | is_false), Reason.WRONG_DATATYPE, name, f"{name} is not true/false"
        )
        return table.with_frame(
            _with_column(table.frame, name, pd.Series(is_true, index=frame.index).loc[table.frame.index])
        )
    return table


def _check_period(table: Table, col: Column, raw: pd.Series, fmt: ColumnFormat | None) -> Table:
    """A month (``year_month``) or a date's month (``date``) as ``period``: by the declared
    formats, from a date or timestamp type as it is, else as YYYY-MM / YYYY-MM-DD."""
    name = col.name
    frame = table.frame
    expected = "a month YYYY-MM" if col.kind == "year_month" else "a date YYYY-MM-DD"
    example = 'format = "%Y%m"' if col.kind == "year_month" else 'format = "%m/%d/%Y"'
    ambiguous = None
    if fmt is not None and fmt.formats and not pd.api.types.is_datetime64_any_dtype(raw.dtype):
        periods, bad, ambiguous = periods_by_formats(raw, fmt.formats)
        what = f"{name} is not written as declared ({' or '.join(fmt.formats)})"
    elif pd.api.types.is_datetime64_any_dtype(raw.dtype) and col.kind == "year_month":
        periods, bad = periods_of_timestamps(raw)
        what = f"{name} is empty"
    elif col.kind == "year_month":
        periods, bad = periods_from_year_month(raw)
        what = f"{name} is not {expected}{_declare_hint(table.spec, name, example)}"
    else:
        periods, bad = periods_from_dates(raw)
        what = f"{name} is not {expected}{_declare_hint(table.spec, name, example)}"
    if not col.required:  # an optional month left empty: open (-1), not wrong
        empty = raw.isna().to_numpy(dtype=bool)
        if empty.any():
            bad = bad & ~empty
            periods = np.where(empty, -1, periods).astype(np.int32)
    table = table.with_frame(_with_column(frame, col.period_as, periods))
    checks: list[tuple[np.ndarray, str, str | None, str]] = [
        (bad, Reason.WRONG_DATATYPE, name, what)
    ]
    if ambiguous is not None:
        formats = " and ".join(fmt.formats) if fmt is not None else ""
        checks.append(
            (ambiguous, Reason.WRONG_DATATYPE, name, f"{name} reads as two dates ({formats})")
        )
    if col.kind == "date":
        checks.append(
            (
                ~bad & ((periods < FIRST_PERIOD) | (periods > LAST_PERIOD)),
                Reason.OUT_OF_RANGE,
                name,
                f"{name} is before {format_period(FIRST_PERIOD)} or after "
                f"{format_period(LAST_PERIOD)}",
            )
        )
    return table.reject_all(checks)


# How far (in units of the last decimal kept) a binary float may sit from the decimal it
# was written as and still be read as that decimal. A 4-place amount up to 1e9 parsed to a
# double lies within 0.0016 units of its decimal; a fifth or sixth decimal place moves it
# by at least 0.01.
DECIMALS_TOLERANCE = 0.005


def _too_fine(arr: np.ndarray, decimals: int) -> np.ndarray:
    """Mask of values that are not a whole number of 10**-decimals: value x 10**decimals
    is DECIMALS_TOLERANCE or more from the nearest integer (NaN and inf are not flagged)."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, not flagged
        scaled = arr * 10.0**decimals
        off = np.rint(scaled)
        np.subtract(scaled, off, out=off)
        np.abs(off, out=off)
        return off >= DECIMALS_TOLERANCE


def _all_within(arr: np.ndarray, wrong: np.ndarray, col: Column) -> bool:
    """Whether every value is a finite number within the column's bounds: two passes
    (min and max, which NaN propagates through) instead of a mask per check."""
    if len(arr) == 0 or wrong.any():
        return len(arr) == 0
    low, high = float(arr.min()), float(arr.max())
    return (
        np.isfinite(low)
        and np.isfinite(high)
        and (col.min_value is None or low >= col.min_value)
        and (col.max_value is None or high <= col.max_value)
    )


def check_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    path: Path | None = None,
    first_row: int | np.ndarray = 1,
    formats: Mapping[str, ColumnFormat] | None = None,
) -> Table:
    """Run a table's checks on a DataFrame (from a file, or built in a notebook). A part of a
    file starting at row ``first_row`` keeps the file's row numbers (an array: each row's
    number in the file, for rows taken from anywhere in it); ``formats`` are the columns'
    declared formats (``[inputs.<table>]``)."""
    declared = _declared(spec, formats)
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing:
        raise InputError(
            Problem(
                spec.name,
                Reason.MISSING_COLUMN,
                f"missing column(s) {', '.join(missing)}; the table has: {', '.join(frame.columns)}",
            )
        )
    columns = spec.columns_in(frame.columns)
    if list(frame.columns) != columns:
        frame = frame[columns]
    rows = (
        pd.Index(first_row)
        if isinstance(first_row, np.ndarray)
        else pd.RangeIndex(first_row, first_row + len(frame))
    )
    frame = frame.set_axis(rows, axis=0)
    table = Table(
        spec=spec,
        path=path or Path(f"<{spec.name}>"),
        frame=frame,
        rejects=pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS}),
        rows_read=len(frame),
    )
    for col in spec.columns:
        table = _check_column(table, col, declared.get(col.name))
    key = tuple(c for c in spec.unique if c in table.frame.columns)  # optional parts
    if key and _may_repeat(table.frame, key):
        dup = table.frame.duplicated(list(key), keep="first").to_numpy()
        table = table.reject_rows(
            dup,
            Reason.DUPLICATE_KEY,
            ",".join(key),
            f"a second row for the same {', '.join(key)}",
        )
    return table


def _may_repeat(frame: pd.DataFrame, key: tuple[str, ...]) -> bool:
    """False when the key is one integer id column over a compact range whose values are
    all distinct (one pass marking the values seen, no hashing); True otherwise."""
    chunks = id_chunks(frame[key[0]]) if len(key) == 1 and len(frame) else None
    if not chunks:
        return True
    low = chunks.low
    span = chunks.high - low + 1
    if span > 4 * len(frame) + 1024:
        return True
    return has_repeats((chunk - low for chunk in chunks), span)




def _names(spec: TableSpec) -> frozenset[str]:
    return frozenset(c.name for c in spec.columns)
