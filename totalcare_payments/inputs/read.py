"""Reading an input file (Parquet or CSV, by extension): the columns its spec declares.

A Parquet file is read one row group at a time, mapped, with string columns as
dictionaries; a CSV file as text columns in one piece. A ``ReadAhead`` handle, when
given, may already hold decoded row groups of the file; reading takes them from it
and reads the rest itself. Checking the values is ``checks``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..config import ColumnFormat
from ..errors import InputError, Problem
from ..reasons import Reason
from .checks import Table, check_table
from .columns import _to_column
from .readahead import ReadAhead, open_parquet
from .schema import TableSpec

SUPPORTED = (".parquet", ".pq", ".csv")


def _unreadable(spec: TableSpec, path: Path, exc: Exception) -> InputError:
    suffix = path.suffix.lower()
    return InputError(
        Problem(spec.name, Reason.UNREADABLE, f"{path}: cannot be read as {suffix[1:]}: {exc}")
    )


def _readable_columns(path: Path, spec: TableSpec) -> list[str]:
    """The spec's columns the file has; a missing or misspelled one is named with those that exist."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputError(
            Problem(
                spec.name, Reason.UNSUPPORTED_FORMAT, f"{path}: use .parquet or .csv, not '{suffix}'"
            )
        )
    if not path.exists():
        raise InputError(Problem(spec.name, Reason.MISSING_FILE, f"{path}: file not found"))
    try:
        present = _csv_header(path) if suffix == ".csv" else pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(spec, path, exc) from None
    missing = [c.name for c in spec.columns if c.required and c.name not in present]
    if missing:
        raise InputError(
            Problem(
                spec.name,
                Reason.MISSING_COLUMN,
                f"{path}: missing column(s) {', '.join(missing)}; the file has: {', '.join(present)}",
            )
        )
    return spec.columns_in(present)


def _read_raw(path: Path, spec: TableSpec, ahead: ReadAhead | None) -> pd.DataFrame:
    """Read the spec's columns only, the whole file at once."""
    return next(read_parts(path, spec, whole=True, ahead=ahead))[1]


def read_parts(
    path: Path, spec: TableSpec, *, whole: bool = False, ahead: ReadAhead | None = None
) -> Iterator[tuple[int, pd.DataFrame]]:
    """The spec's columns of a file, part by part, as (first row number, raw frame): a Parquet
    file one row group at a time, or the whole file as one part (a CSV file, or ``whole``).
    Row groups that ``ahead`` decoded already are taken from it."""
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
        groups = row_groups(path, columns, ahead)
        if whole:  # one chunk per row group
            tables = list(groups)
            yield (
                1,
                _frame(
                    pa.concat_tables(tables) if tables else open_parquet(path, columns).read(columns),
                    spec,
                ),
            )
            return
        first_row = 1
        for table in groups:
            rows = table.num_rows
            yield first_row, _frame(table, spec)
            first_row += rows
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(spec, path, exc) from None


def row_groups(path: Path, columns: list[str], ahead: ReadAhead | None = None) -> Iterator[pa.Table]:
    """A Parquet file's columns, row group by row group; those ``ahead`` decoded already
    are taken from it."""
    file = open_parquet(path, columns)
    for group in range(file.num_row_groups):  # decoded by the read-ahead if it got there first
        yield (ahead.take(path, columns, group) if ahead is not None else None) or (
            file.read_row_group(group, columns=columns)
        )


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


def read_table(
    path: str | Path,
    spec: TableSpec,
    ahead: ReadAhead | None = None,
    formats: Mapping[str, ColumnFormat] | None = None,
) -> Table:
    """Read one input table and run its column and key checks (lazily, all at once), with
    the columns' declared formats."""
    path = Path(path)
    frame = _read_raw(path, spec, ahead)
    return check_table(frame, spec, path=path, formats=formats)
