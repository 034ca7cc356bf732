"""Splitting a program's member-level inputs once into bucketed Parquet.

Attribution and risk scores are split as read (their checks run in each bucket, where
every member's rows are together); claims are checked as they are split, part by part,
because a claim id may be repeated across members (DUPLICATE_CLAIM_ID spans the file),
and only their clean lines are written. Every written row keeps its row number in its
file (``_row``), so a bucket's rejected rows and messages name the file's rows, and every
row read goes to exactly one bucket: the buckets' accounting adds up to the file's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..config import ColumnFormat
from ..inputs import schema
from ..inputs.checks import REJECT_COLUMNS
from ..inputs.claims import _compact, checked_claim_parts, dataset_id_range
from ..inputs.dataset import Dataset, open_dataset
from ..inputs.read import _readable_columns, _unreadable, integer_range, read_parts
from ..inputs.readahead import open_parquet
from ..inputs.schema import TableSpec
from .buckets import id_buckets
from .options import file_rows

ROW = "_row"  # each written row's number in its file (data rows from 1)
_CSV_BLOCK = 1 << 26


@dataclass(frozen=True)
class SplitTable:
    """One member-level input written as buckets: ``files[b]`` holds bucket b's rows.
    For claims, split after their checks: ``rows_read``, the clean lines ``kept`` and the
    ``rejects`` of the whole file."""

    name: str
    source: Path
    files: tuple[Path, ...]
    rows_read: int
    kept: int = 0
    rejects: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    )
    dataset: Dataset | None = None  # claims given as a folder of Parquet files


def id_steps(formats: Mapping[str, ColumnFormat], column: str) -> tuple[str, ...]:
    """The declared normalizations of an id column (``[inputs.<table>]``)."""
    fmt = formats.get(column)
    return tuple(fmt.ids) if fmt is not None and fmt.ids else ()


class _Writers:
    """One Parquet writer per bucket, opened at the first rows; buckets that get none are
    written empty, with the same columns."""

    def __init__(self, folder: Path, n_buckets: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.files = tuple(folder / f"b{b:05d}.parquet" for b in range(n_buckets))
        self.writers: list[pq.ParquetWriter | None] = [None] * n_buckets
        self.schema: pa.Schema | None = None

    def write(self, table: pa.Table, bucket: np.ndarray) -> None:
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(len(self.files) + 1))
        for b in np.flatnonzero(np.diff(bounds)):  # a loop over buckets, not rows
            part = table.take(pa.array(order[bounds[b] : bounds[b + 1]]))
            writer = self.writers[b]
            if writer is None:
                writer = self.writers[b] = pq.ParquetWriter(self.files[b], self.schema)
            writer.write_table(part)

    def close(self, empty: pa.Schema) -> tuple[Path, ...]:
        schema_ = self.schema or empty
        for b, writer in enumerate(self.writers):
            if writer is None:
                pq.write_table(schema_.empty_table(), self.files[b])
            else:
                writer.close()
        return self.files


def _raw_parts(path: Path, spec: TableSpec) -> Iterator[pa.Table]:
    """A file's spec columns as read (a Parquet file row group by row group, string columns
    as dictionaries; a CSV file block by block, every column as text), as the reader
    reads them."""
    columns = _readable_columns(path, spec)
    try:
        if path.suffix.lower() == ".csv":
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK),
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns,
                    column_types={name: pa.string() for name in columns},
                    strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            for batch in reader:
                yield pa.Table.from_batches([batch])
            return
        file = open_parquet(path, columns)
        for group in range(file.num_row_groups):
            yield file.read_row_group(group, columns=columns)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(spec, path, exc) from None


def split_raw(
    path: Path,
    spec: TableSpec,
    id_column: str,
    steps: Sequence[str],
    folder: Path,
    n_buckets: int,
) -> SplitTable:
    """Write a table's rows, as read, by their member's bucket."""
    writers = _Writers(folder, n_buckets)
    first = 1
    for part in _raw_parts(path, spec):
        rows = np.arange(first, first + part.num_rows, dtype=np.int64)
        bucket = id_buckets(part.column(id_column), n_buckets, steps)
        writers.write(part.append_column(ROW, pa.array(rows)), bucket)
        first += part.num_rows
    empty = pa.schema([pa.field(c.name, pa.string()) for c in spec.columns] + [(ROW, pa.int64())])
    files = writers.close(empty)
    return SplitTable(spec.name, path, files, rows_read=first - 1)


def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A checked column in Arrow; dictionary codes as int32 (the same type in every part)."""
    column = (
        pa.array(values.array)
        if isinstance(values.dtype, pd.ArrowDtype)
        else (pa.Array.from_pandas(values))
    )
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.dictionary(pa.int32(), column.type.value_type))
    return column


def split_claims(
    path: Path,
    formats: Mapping[str, ColumnFormat],
    folder: Path,
    n_buckets: int,
) -> SplitTable:
    """Check the claims part by part (as ``inputs.claims.read_claims``: a file with integer
    claim ids over a compact range row group by row group, any other whole) and write each
    clean line -- member id, service month, amount, paid month -- by its member's bucket."""
    data = open_dataset(path, schema.CLAIMS) if path.is_dir() else None
    parts: Iterable[tuple[int, pd.DataFrame]]
    if data is not None:  # each file's row groups in turn, numbered across the files
        id_range = dataset_id_range(data)
        parts = data.read_parts(schema.CLAIMS, whole=id_range is None)
    else:
        id_range = integer_range(path, "claim_id")
        if id_range is not None and not _compact(id_range, pq.ParquetFile(path).metadata.num_rows):
            id_range = None
        parts = read_parts(path, schema.CLAIMS, whole=id_range is None)
    writers = _Writers(folder, n_buckets)
    rows_read = kept = 0
    rejects: list[pd.DataFrame] = []
    steps = id_steps(formats, "member_id")
    for part in checked_claim_parts(parts, path=path, id_range=id_range, formats=formats):
        frame = part.frame
        rows_read += part.rows_read
        kept += len(frame)
        if len(part.rejects):
            rejects.append(part.rejects)
        columns = {
            "member_id": _arrow(frame["member_id"]),
            "period": pa.array(np.asarray(frame["period"].to_numpy(), dtype=np.int32)),
            "paid_amount": pa.array(np.asarray(frame["paid_amount"].to_numpy(), dtype=np.float64)),
        }
        if "paid_period" in frame.columns:
            columns["paid_period"] = pa.array(
                np.asarray(frame["paid_period"].to_numpy(), dtype=np.int32)
            )
        columns[ROW] = pa.array(frame.index.to_numpy(dtype=np.int64))
        table = pa.table(columns)
        writers.write(table, id_buckets(table.column("member_id"), n_buckets, steps))
    empty = pa.schema(
        [
            ("member_id", pa.string()),
            ("period", pa.int32()),
            ("paid_amount", pa.float64()),
            (ROW, pa.int64()),
        ]
    )
    files = writers.close(empty)
    frame_rejects = (
        pd.concat(rejects, ignore_index=True) if rejects else SplitTable("", path, (), 0).rejects
    )
    if data is not None:
        frame_rejects = data.locate(frame_rejects)
    return SplitTable(schema.CLAIMS.name, path, files, rows_read, kept, frame_rejects, data)


def input_rows(paths: Mapping[str, Path]) -> int:
    """About how many rows the member-level inputs have (``options.file_rows``)."""
    return file_rows(list(paths.values()))
