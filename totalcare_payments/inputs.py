"""Reading the input tables (Parquet or CSV, by extension) and checking them against ``schema``.

Checks are lazy, in the style of pandera: every problem in a file is collected
with a reason code, the rows and the first failing values before anything is
reported. Rows that fail a check are *rejected*: they leave the clean frame and
are kept, with reason and message, for the rejects file. Whether rejections fail
the run is the caller's policy (``policy.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import schema
from .audit import file_sha256
from .config import ProgramConfig
from .errors import InputError, Problem
from .periods import format_period, periods_from_dates, periods_from_year_month
from .readahead import open_parquet, take
from .schema import Column, TableSpec, find_table

if TYPE_CHECKING:
    from .attribution import MemberIndex

SUPPORTED = (".parquet", ".pq", ".csv")
REJECT_COLUMNS = ["table", "row", "reason", "column", "message", "record"]
# Service dates outside these months are data errors, not claims to pay.
FIRST_PERIOD = (1990 - 1970) * 12
LAST_PERIOD = (2100 - 1970) * 12 + 11
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass
class Table:
    """One input file after checks: the clean rows, the rejected rows and the accounting."""

    spec: TableSpec
    path: Path
    frame: pd.DataFrame  # clean rows; index = 1-based data row number in the file
    rejects: pd.DataFrame  # REJECT_COLUMNS
    rows_read: int
    excluded: dict[str, int] = field(default_factory=dict)
    used: int | None = None  # rows the last computation used; None: every clean row

    @cached_property
    def sha256(self) -> str:
        """The file's fingerprint for the manifest (computed when first asked for)."""
        return file_sha256(self.path) if self.path.exists() else ""

    @property
    def name(self) -> str:
        return self.spec.name

    def record_use(self, used: int, excluded: dict[str, int] | None = None) -> None:
        """What the last computation on this table used and excluded (valid rows outside it).

        Each computation replaces the previous record, so the accounting always describes
        one run: read = used + excluded + rejected.
        """
        self.used = int(used)
        self.excluded = {k: int(v) for k, v in (excluded or {}).items() if v}

    def reject_rows(self, mask: np.ndarray, reason: str, column: str | None, message: str) -> None:
        """Move the rows under ``mask`` from the clean frame to the rejects."""
        if not mask.any():
            return
        self.rejects = pd.concat(
            [
                self.rejects,
                _reject_frame(self.spec.name, self.frame, mask, reason, column, message),
            ],
            ignore_index=True,
        )
        self.frame = self.frame.loc[~mask]

    def reject_all(self, checks: list[tuple[np.ndarray, str, str | None, str]]) -> None:
        """Reject rows under several masks of the current frame at once (one filtering pass);
        a row failing more than one check is rejected for the first."""
        taken = np.zeros(len(self.frame), dtype=bool)
        parts = [self.rejects]
        for mask, reason, column, message in checks:
            mask = mask & ~taken
            if mask.any():
                parts.append(
                    _reject_frame(self.spec.name, self.frame, mask, reason, column, message)
                )
                taken |= mask
        if taken.any():
            self.rejects = pd.concat(parts, ignore_index=True)
            self.frame = self.frame.loc[~taken]

    def accounting(self) -> dict[str, object]:
        rejected = self.rejects["reason"].value_counts().sort_index().to_dict()
        return {
            "read": self.rows_read,
            "used": len(self.frame) if self.used is None else self.used,
            "excluded": dict(sorted(self.excluded.items())),
            "rejected": {str(k): int(v) for k, v in rejected.items()},
        }


def _reject_frame(
    table: str, frame: pd.DataFrame, mask: np.ndarray, reason: str, column: str | None, message: str
) -> pd.DataFrame:
    bad = frame.loc[mask]
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


def _unreadable(spec: TableSpec, path: Path, exc: Exception) -> InputError:
    suffix = path.suffix.lower()
    return InputError(
        Problem(spec.name, "UNREADABLE", f"{path}: cannot be read as {suffix[1:]}: {exc}")
    )


def _readable_columns(path: Path, spec: TableSpec) -> list[str]:
    """The spec's columns the file has; a missing or misspelled one is named with those that exist."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputError(
            Problem(
                spec.name, "UNSUPPORTED_FORMAT", f"{path}: use .parquet or .csv, not '{suffix}'"
            )
        )
    if not path.exists():
        raise InputError(Problem(spec.name, "MISSING_FILE", f"{path}: file not found"))
    try:
        present = _csv_header(path) if suffix == ".csv" else pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(spec, path, exc) from None
    missing = [c.name for c in spec.columns if c.required and c.name not in present]
    if missing:
        raise InputError(
            Problem(
                spec.name,
                "MISSING_COLUMN",
                f"{path}: missing column(s) {', '.join(missing)}; the file has: {', '.join(present)}",
            )
        )
    return spec.columns_in(present)


def _read_raw(path: Path, spec: TableSpec) -> pd.DataFrame:
    """Read the spec's columns only, the whole file at once."""
    return next(read_parts(path, spec, whole=True))[1]


def read_parts(
    path: Path, spec: TableSpec, *, whole: bool = False
) -> Iterator[tuple[int, pd.DataFrame]]:
    """The spec's columns of a file, part by part, as (first row number, raw frame): a Parquet
    file one row group at a time, or the whole file as one part (a CSV file, or ``whole``)."""
    columns = _readable_columns(path, spec)
    try:
        if path.suffix.lower() == ".csv":
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns,
                    column_types={name: pa.string() for name in columns},
                    strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            yield (
                1,
                pd.DataFrame(
                    {name: _to_column(table.column(name)) for name in columns}, copy=False
                ),
            )
            return
        file = open_parquet(path, columns)
        groups = (  # decoded by the read-ahead if it got there first
            take(path, columns, group) or file.read_row_group(group, columns=columns)
            for group in range(file.num_row_groups)
        )
        if whole:  # one chunk per row group
            tables = list(groups)
            yield 1, _frame(pa.concat_tables(tables) if tables else file.read(columns), spec)
            return
        first_row = 1
        for table in groups:
            rows = table.num_rows
            yield first_row, _frame(table, spec)
            first_row += rows
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(spec, path, exc) from None


def _frame(table: pa.Table, spec: TableSpec) -> pd.DataFrame:
    data = {}
    for name in table.column_names:  # hand each column over, then let Arrow free it
        column = table.column(name)
        table = table.drop_columns([name])
        data[name] = _to_column(column, in_place=spec.column(name).kind == "id")
        del column
    return pd.DataFrame(data, copy=False)


def integer_range(path: Path, column: str) -> tuple[int, int] | None:
    """Lowest and highest value of an integer column of a Parquet file, from the statistics
    its row groups carry (no data is read); None for a CSV file, a column that is not
    integer, or a row group without statistics."""
    if path.suffix.lower() == ".csv" or not path.exists():
        return None
    try:
        meta = pq.ParquetFile(path).metadata
        position = meta.schema.names.index(column)
        if not pa.types.is_integer(meta.schema.to_arrow_schema().field(column).type):
            return None
        low, high = None, None
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(position).statistics
            if meta.row_group(group).num_rows == 0:
                continue
            if stats is None or not stats.has_min_max:
                return None
            low = stats.min if low is None else min(low, stats.min)
            high = stats.max if high is None else max(high, stats.max)
    except (pa.ArrowInvalid, OSError, ValueError):
        return None
    return None if low is None or high is None else (int(low), int(high))


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as fh:
        first = fh.readline().decode("utf-8-sig").strip()
    if not first:
        return []
    return pacsv.read_csv(pa.py_buffer((first + "\n").encode())).schema.names


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
            empty_category = (stripped == "").to_numpy(dtype=bool)
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


def _with_column(frame: pd.DataFrame, name: str, values: object) -> pd.DataFrame:
    """``frame`` with column ``name`` set to ``values``, an array taken as it is (given a
    bare array, pandas would copy it)."""
    if isinstance(values, np.ndarray):
        values = pd.Series(values, index=frame.index, copy=False)
    return frame.assign(**{name: values})


def _check_column(table: Table, col: Column) -> None:
    frame = table.frame
    name = col.name
    if name not in frame.columns:
        return
    raw = frame[name]
    if col.kind == "id":
        ids, null = _clean_ids(raw)
        if ids is not raw:
            table.frame = _with_column(frame, name, ids)
        table.reject_rows(null, schema.NULL_KEY, name, f"{name} is empty")
        return
    null = raw.isna().to_numpy(dtype=bool)
    if null.any() and col.required:
        table.reject_rows(null, schema.NULL_VALUE, name, f"{name} is empty")
        frame, raw = table.frame, table.frame[name]
    if col.kind == "text":
        if not isinstance(raw.dtype, pd.CategoricalDtype):
            table.frame = _with_column(frame, name, raw.astype("string").str.strip())
        return
    if col.kind in ("number", "year"):
        values, wrong = _as_number(raw)
        arr = values.to_numpy(dtype="float64")
        if col.kind == "number" and _all_within(arr, wrong, col):  # nothing to reject
            if values.dtype != raw.dtype:
                table.frame = _with_column(frame, name, values)
            return
        present = ~np.isnan(arr) if not col.required else np.ones(len(arr), dtype=bool)
        nonfinite = ~wrong & ~np.isfinite(arr) & present
        valid = present & ~wrong & ~nonfinite
        checks = [
            (wrong, schema.WRONG_DATATYPE, f"{name} is not a number"),
            (nonfinite, schema.NON_FINITE, f"{name} is NaN or infinite"),
        ]
        if col.kind == "year":
            not_year = valid & ((arr != np.floor(arr)) | (arr < 1900) | (arr > 2200))
            checks.append((not_year, schema.OUT_OF_RANGE, f"{name} is not a year"))
            valid &= ~not_year
        out = np.zeros(len(arr), dtype=bool)
        if col.min_value is not None:
            out |= valid & (arr < col.min_value)
        if col.max_value is not None:
            out |= valid & (arr > col.max_value)
        lo = "-inf" if col.min_value is None else f"{col.min_value:g}"
        hi = "inf" if col.max_value is None else f"{col.max_value:g}"
        checks.append((out, schema.OUT_OF_RANGE, f"{name} is outside [{lo}, {hi}]"))
        if values.dtype != raw.dtype or col.kind == "year":
            fixed = (
                np.where(np.isfinite(arr), arr, 0).astype("int32") if col.kind == "year" else values
            )
            table.frame = _with_column(frame, name, fixed)
        table.reject_all([(mask, reason, name, message) for mask, reason, message in checks])
        return
    if col.kind == "year_month":
        periods, bad = periods_from_year_month(raw)
        table.frame = _with_column(frame, "period", periods)
        table.reject_rows(bad, schema.WRONG_DATATYPE, name, f"{name} is not a month YYYY-MM")
        return
    if col.kind == "date":
        periods, bad = periods_from_dates(raw)
        table.frame = _with_column(frame, "period", periods)
        table.reject_rows(bad, schema.WRONG_DATATYPE, name, f"{name} is not a date YYYY-MM-DD")
        period = table.frame["period"].to_numpy()
        table.reject_rows(
            (period < FIRST_PERIOD) | (period > LAST_PERIOD),
            schema.OUT_OF_RANGE,
            name,
            f"{name} is before {format_period(FIRST_PERIOD)} or after {format_period(LAST_PERIOD)}",
        )
        return
    if col.kind == "flag":
        if pd.api.types.is_bool_dtype(raw.dtype):
            table.frame = _with_column(frame, name, raw.astype(bool))
            return
        text = raw.astype("string").str.strip().str.lower()
        is_true = text.isin(_TRUE).to_numpy(dtype=bool)
        is_false = text.isin(_FALSE).to_numpy(dtype=bool)
        table.frame = _with_column(frame, name, is_true)
        table.reject_rows(
            ~(is_true | is_false), schema.WRONG_DATATYPE, name, f"{name} is not true/false"
        )
        return


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


def read_table(path: str | Path, spec: TableSpec) -> Table:
    """Read one input table and run its column and key checks (lazily, all at once)."""
    path = Path(path)
    frame = _read_raw(path, spec)
    return check_table(frame, spec, path=path)


def _to_column(col: pa.ChunkedArray, *, in_place: bool = False) -> object:
    """Arrow to pandas without per-value work: numbers as numpy arrays, dictionary-encoded
    strings as Categoricals built from their codes. Dates, and integer ids when
    ``in_place``, stay in Arrow's memory (one chunk per row group, not copied into one
    array): they are only read once, to code members and claims (``id_chunks``) and
    to find service months."""
    kind = col.type
    if pa.types.is_date32(kind) or (in_place and pa.types.is_integer(kind)):
        return pd.arrays.ArrowExtensionArray(col)
    if (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and col.null_count == 0:
        return col.to_numpy()
    if pa.types.is_dictionary(kind) and col.num_chunks:
        return _categorical(col)
    return col.to_pandas(date_as_object=False)


def _categorical(col: pa.ChunkedArray) -> object:
    """A dictionary-encoded column as a Categorical. Each row group has its own dictionary
    (most often the same values as the previous one); the categories are their union, and
    each row group's codes are translated through a lookup of its dictionary (a few
    thousand values), written straight into place."""
    distinct: list[pa.Array] = []
    dictionary_of_chunk = []  # position in distinct
    for chunk in col.chunks:
        if not distinct or not chunk.dictionary.equals(distinct[-1]):
            distinct.append(chunk.dictionary)
        dictionary_of_chunk.append(len(distinct) - 1)
    dictionaries = [dictionary.to_pandas() for dictionary in distinct]
    categories = pd.Index(pd.concat(dictionaries, ignore_index=True).dropna().drop_duplicates())
    # codes of the width pandas keeps for this many categories (int8 for a dozen months),
    # so that the Categorical takes them as they are
    width = next(
        t for t in (np.int8, np.int16, np.int32, np.int64) if len(categories) < np.iinfo(t).max
    )
    lookups = [np.append(categories.get_indexer(d), -1).astype(width) for d in dictionaries]
    identity = [np.array_equal(lookup[:-1], np.arange(len(lookup) - 1)) for lookup in lookups]
    codes = np.empty(len(col), dtype=width)
    start = 0
    for chunk, which in zip(col.chunks, dictionary_of_chunk, strict=True):  # per row group
        end = start + len(chunk)
        indices = chunk.indices
        if indices.null_count:
            indices = indices.fill_null(len(distinct[which]))  # the trailing -1
        if identity[which] and not chunk.null_count:  # the dictionary is the categories
            codes[start:end] = indices.to_numpy(zero_copy_only=False)
        else:
            np.take(
                lookups[which],
                indices.to_numpy(zero_copy_only=False),
                out=codes[start:end],
                mode="clip",
            )
        start = end
    return pd.Categorical.from_codes(codes, categories=categories, validate=False)


def id_chunks(values: pd.Series) -> list[np.ndarray] | None:
    """An integer id column without gaps as numpy arrays, without copying: one per Arrow
    chunk (row group) for a column read in place, else the one array. None for ids
    that are not integers or have empty values."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return number_chunks(values) if pa.types.is_integer(dtype.pyarrow_dtype) else None
    if pd.api.types.is_integer_dtype(dtype) and not values.hasnans:
        array = values.to_numpy()
        return [array] if array.dtype.kind in "iu" else None
    return None


def number_chunks(values: pd.Series) -> list[np.ndarray] | None:
    """A numeric column without gaps as numpy arrays, without copying: one per Arrow chunk
    (row group) for an Arrow-backed column, else the one array. None when a value is empty."""
    if isinstance(values.dtype, pd.ArrowDtype):
        column = pa.array(values.array)
        if column.null_count:
            return None
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        return [chunk.to_numpy() for chunk in chunks if len(chunk)]
    array = values.to_numpy()
    return [array] if array.dtype.kind in "iuf" and len(array) else []


def in_arrow(values: pd.Series) -> pd.Series:
    """A numpy-backed column wrapped in Arrow without copying, so that concatenating
    parts keeps their arrays as chunks (``number_chunks``) instead of copying them."""
    if isinstance(values.dtype, pd.ArrowDtype):
        return values
    return pd.Series(
        pd.arrays.ArrowExtensionArray(pa.array(values.to_numpy())), index=values.index, copy=False
    )


def check_table(
    frame: pd.DataFrame, spec: TableSpec, *, path: Path | None = None, first_row: int = 1
) -> Table:
    """Run a table's checks on a DataFrame (from a file, or built in a notebook). A part of a
    file starting at row ``first_row`` keeps the file's row numbers."""
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing:
        raise InputError(
            Problem(
                spec.name,
                "MISSING_COLUMN",
                f"missing column(s) {', '.join(missing)}; the table has: {', '.join(frame.columns)}",
            )
        )
    columns = spec.columns_in(frame.columns)
    if list(frame.columns) != columns:
        frame = frame[columns]
    frame = frame.set_axis(pd.RangeIndex(first_row, first_row + len(frame)), axis=0)
    table = Table(
        spec=spec,
        path=path or Path(f"<{spec.name}>"),
        frame=frame,
        rejects=pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS}),
        rows_read=len(frame),
    )
    for col in spec.columns:
        _check_column(table, col)
    if spec.unique and _may_repeat(table.frame, spec.unique):
        dup = table.frame.duplicated(list(spec.unique), keep="first").to_numpy()
        table.reject_rows(
            dup,
            schema.DUPLICATE_KEY,
            ",".join(spec.unique),
            f"a second row for the same {', '.join(spec.unique)}",
        )
    return table


def _may_repeat(frame: pd.DataFrame, key: tuple[str, ...]) -> bool:
    """False when the key is one integer id column over a compact range whose values are
    all distinct (one pass marking the values seen, no hashing); True otherwise."""
    chunks = id_chunks(frame[key[0]]) if len(key) == 1 and len(frame) else None
    if not chunks:
        return True
    low = min(int(chunk.min()) for chunk in chunks)
    span = max(int(chunk.max()) for chunk in chunks) - low + 1
    if span > 4 * len(frame) + 1024:
        return True
    return has_repeats((chunk - low for chunk in chunks), span)


def has_repeats(key: np.ndarray | Iterable[np.ndarray], n_keys: int) -> bool:
    """Whether any key in ``0..n_keys-1`` appears twice: one pass marking the keys seen.
    ``key`` may come in parts (one per row group), marked one after the other."""
    seen = np.zeros(n_keys, dtype=bool)
    rows = 0
    for part in [key] if isinstance(key, np.ndarray) else key:
        seen[part] = True
        rows += len(part)
    return int(np.count_nonzero(seen)) < rows


def program_from_frames(
    config: ProgramConfig,
    practices: pd.DataFrame,
    attribution: pd.DataFrame,
    risk_scores: pd.DataFrame,
    claims: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
) -> ProgramData:
    """Notebook entry: a program from in-memory DataFrames, with the same checks as files."""
    from .claims import check_claims

    if config.risk is None:
        raise InputError("the config has no [risk] section, so risk scores cannot be read")
    risk = config.risk
    data = ProgramData(
        practices=check_table(practices, schema.PRACTICES),
        attribution=check_table(attribution, schema.ATTRIBUTION),
        risk_scores=check_table(
            risk_scores,
            schema.risk_scores_spec(risk.member_id_column, risk.score_column, risk.max_score),
        ),
        claims=None if claims is None else check_claims([(1, claims)]),
        quality=None if quality is None else check_table(quality, schema.QUALITY),
    )
    return link_program(data, config)


@dataclass
class ProgramData:
    """The program's input tables, checked. ``claims`` and ``quality`` are only read when needed.

    Computations on a program share their member-level work (``shared``), so a loaded
    program is read-only: to change a table, load or build the program again.
    """

    practices: Table
    attribution: Table
    risk_scores: Table
    claims: Table | None = None
    quality: Table | None = None
    members: MemberIndex | None = None  # set by link_program
    # member-level work shared by the computations on this program (the month's CCF
    # batches and the year's settlement): key -> (value, the accounting it recorded)
    _shared: dict[tuple, tuple[object, list[tuple[Table, int | None, dict[str, int]]]]] = field(
        default_factory=dict, repr=False
    )

    def shared(self, key: tuple, compute: Callable[[], object], tables: list[Table]) -> object:
        """``compute()`` once per key; a repeat returns the same value and records the same
        use of ``tables`` (so their accounting still describes the latest computation)."""
        hit = self._shared.get(key)
        if hit is None:
            value = compute()
            self._shared[key] = (value, [(t, t.used, dict(t.excluded)) for t in tables])
            return value
        value, uses = hit
        for table, used, excluded in uses:
            table.used, table.excluded = used, dict(excluded)
        return value

    def tables(self) -> list[Table]:
        return [
            t
            for t in (self.practices, self.attribution, self.risk_scores, self.claims, self.quality)
            if t is not None
        ]


def load_inputs(
    data_dir: str | Path | None,
    config: ProgramConfig,
    *,
    practices: str | Path | None = None,
    attribution: str | Path | None = None,
    risk_scores: str | Path | None = None,
    claims: str | Path | None = None,
    quality: str | Path | None = None,
    with_claims: bool = False,
    with_quality: bool = False,
) -> ProgramData:
    """Read a program's tables from a data folder (conventional names), each path overridable.

    Raises ``InputError`` listing every file-level problem (missing files and columns) at once.
    """
    risk = config.risk
    if risk is None:
        raise InputError("the config has no [risk] section, so risk scores cannot be read")
    folder = Path(data_dir) if data_dir is not None else Path(".")
    specs: list[tuple[str, TableSpec, str | Path | None]] = [
        ("practices", schema.PRACTICES, practices),
        ("attribution", schema.ATTRIBUTION, attribution),
        (
            "risk_scores",
            schema.risk_scores_spec(risk.member_id_column, risk.score_column, risk.max_score),
            risk_scores,
        ),
    ]
    if with_claims:
        specs.append(("claims", schema.CLAIMS, claims))
    if with_quality:
        specs.append(("quality", schema.QUALITY, quality))
    tables: dict[str, Table] = {}
    problems: list[Problem] = []
    paths = {}
    for key, spec, override in specs:
        path = Path(override) if override is not None else find_table(folder, spec.stem)
        if override is None and not path.exists():
            problems.append(
                Problem(
                    spec.name,
                    "MISSING_FILE",
                    f"{folder}: no {spec.stem}.parquet or {spec.stem}.csv in the data folder",
                )
            )
        else:
            paths[key] = path
    members = _Handover()
    with ThreadPoolExecutor(max_workers=1) as background:
        # The claims file, the largest, is read and checked in the background (Arrow and
        # most array arithmetic work outside the interpreter lock) while the other tables
        # are read, checked and linked; the claims' members are coded there too, as soon
        # as attribution has given the program's members.
        claims_read = (
            background.submit(_read_and_link_claims, paths["claims"], members)
            if "claims" in paths
            else None
        )
        try:
            for key, spec, _ in specs:
                if key in paths and key != "claims":
                    try:
                        tables[key] = read_table(paths[key], spec)
                    except InputError as exc:
                        problems.extend(exc.problems)
            data = (
                None
                if problems
                else link_program(ProgramData(**tables), config, on_members=members.give)
            )
        finally:
            members.close()  # the claims thread never waits for members that will not come
        if claims_read is not None:
            try:
                claims_table, linked = claims_read.result()
            except InputError as exc:
                problems.extend(exc.problems)
    if problems or data is None:
        order = [spec.name for _, spec, _ in specs]  # report problems in the tables' order
        raise InputError(sorted(problems, key=lambda p: order.index(p.table)))
    if claims_read is not None:
        if linked:
            data.claims = claims_table
        else:
            link_claims_of(data, claims_table)
    return data


class _Handover:
    """The program's members, handed from the thread that links attribution to the thread
    that reads claims: given once, or closed without them."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self.members: MemberIndex | None = None

    def give(self, members: MemberIndex) -> None:
        self.members = members
        self._ready.set()

    def close(self) -> None:
        self._ready.set()

    def wait(self) -> MemberIndex | None:
        self._ready.wait()
        return self.members


def _read_and_link_claims(path: Path, members: _Handover) -> tuple[Table, bool]:
    """Read and check the claims, then code their members when the program's are given."""
    from .claims import link_claims, read_claims

    claims = read_claims(path)
    index = members.wait()
    if index is None:
        return claims, False
    # the main thread codes risk scores with the same index meanwhile: coding only reads it
    # (its hash index, if any, was built when attribution was coded, before the handover)
    link_claims(claims, index)
    return claims, True


def link_program(
    data: ProgramData,
    config: ProgramConfig,
    *,
    on_members: Callable[[MemberIndex], None] | None = None,
) -> ProgramData:
    """The checks across tables, done once at load: practice tiers, attribution against
    practices (unknown practices, conflicting and repeated member-months), and members
    coded in attribution, risk scores and claims. ``on_members`` is given the program's
    members as soon as attribution is linked."""
    from .attribution import link_attribution

    tiers = data.practices.frame["tier"]
    data.practices.reject_rows(
        ~tiers.isin(config.program.tiers).to_numpy(dtype=bool),
        schema.UNKNOWN_TIER,
        "tier",
        f"tier is not one of the config's program.tiers {config.program.tiers}",
    )
    members = link_attribution(data.attribution, data.practices)
    if on_members is not None:
        on_members(members)
    risk = data.risk_scores
    assert config.risk is not None
    risk.frame = _with_column(
        risk.frame, "member_code", members.codes(risk.frame[config.risk.member_id_column])
    )
    data.members = members
    if data.claims is not None:
        link_claims_of(data, data.claims)
    return data


def link_claims_of(data: ProgramData, claims: Table) -> None:
    """Code the checked claims' members against a linked program's members."""
    from .claims import link_claims

    assert data.members is not None, "link the program first"
    link_claims(claims, data.members)
    data.claims = claims
