"""A table given as a folder of Parquet files, read as one dataset.

Claims often arrive as one file per paid month (``claims/2026-01.parquet``, ...). A folder
of ``*.parquet`` files, at any depth (hive-style subfolders such as
``paid_month=2026-01/part-0.parquet`` too), is one table: its files in the order of their
paths within the folder, every file checked to have the table's columns with the same
types as the first file's (else MIXED_SCHEMAS, naming the file).

Rows are numbered across the files, in that order, while they are checked (so a claim id
repeated in two files is seen); a rejected row is then named by its file (its path
within the folder) and its row within that file (data rows from 1): ``rejects.csv``
gains a ``file`` column, and messages name rows as ``2026-05.parquet:3``. The manifest
lists every file with its sha256 and rows, and the table's sha256 is a fingerprint of
that list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from ..audit import bytes_sha256, file_sha256
from ..errors import InputError, Problem
from ..reasons import Reason
from .read import _frame, _readable_columns, _unreadable, integer_range, row_groups
from .readahead import ReadAhead, open_parquet
from .schema import TableSpec

#: The file name suffixes a dataset folder's files have.
SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class DatasetFile:
    """One file of a dataset: its path within the folder, its rows and the number (across
    the dataset, from 1) of its first row."""

    name: str
    path: Path
    rows: int
    first_row: int


@dataclass(frozen=True, eq=False)
class Dataset:
    """The files of a table given as a folder, in the order they are read."""

    folder: Path
    files: tuple[DatasetFile, ...]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @cached_property
    def hashes(self) -> tuple[str, ...]:
        return tuple(file_sha256(f.path) for f in self.files)

    @cached_property
    def sha256(self) -> str:
        """The folder's fingerprint: the sha256 of its files' list (path, sha256, rows)."""
        lines = "".join(
            f"{f.name}\t{sha}\t{f.rows}\n" for f, sha in zip(self.files, self.hashes, strict=True)
        )
        return bytes_sha256(lines.encode())

    def manifest(self) -> list[dict[str, object]]:
        """Each file for the manifest: its path within the folder, sha256 and rows."""
        return [
            {"path": f.name, "sha256": sha, "rows": f.rows}
            for f, sha in zip(self.files, self.hashes, strict=True)
        ]

    def locate(self, rejects: pd.DataFrame) -> pd.DataFrame:
        """Rejected rows numbered across the dataset, named by file and row in that file."""
        if "file" in rejects.columns:
            return rejects
        rows = rejects["row"].to_numpy(dtype=np.int64)
        firsts = np.array([f.first_row for f in self.files], dtype=np.int64)
        which = np.searchsorted(firsts, rows, side="right") - 1
        names = np.array([f.name for f in self.files], dtype=object)
        located = rejects.assign(row=rows - firsts[which] + 1) if len(rows) else rejects.copy()
        located.insert(1, "file", names[which] if len(rows) else pd.Series(dtype=object))
        return located

    def labels(self, rows: tuple[int, ...]) -> tuple[str, ...]:
        """Rows numbered across the dataset as ``file:row`` (the row within its file)."""
        located = self.locate(pd.DataFrame({"row": np.asarray(rows, dtype=np.int64)}))
        return tuple(
            f"{file}:{int(row)}" for file, row in zip(located["file"], located["row"], strict=True)
        )

    def integer_range(self, column: str) -> tuple[int, int] | None:
        """Lowest and highest value of an integer column over every file (``read.integer_range``),
        None when any file cannot say."""
        ranges = [integer_range(f.path, column) for f in self.files]
        if not ranges or any(r is None for r in ranges):
            return None
        found = [r for r in ranges if r is not None]
        return min(r[0] for r in found), max(r[1] for r in found)

    def read_parts(
        self, spec: TableSpec, *, whole: bool = False, ahead: ReadAhead | None = None
    ) -> Iterator[tuple[int, pd.DataFrame]]:
        """The spec's columns, part by part, as (first row number across the dataset, raw
        frame): each file's row groups one after another, or every file as one part."""
        columns = spec.columns_in(_columns_of(self.files[0].path))
        if whole:
            tables: list[pa.Table] = []
            for f in self.files:
                try:
                    tables.extend(row_groups(f.path, columns, ahead))
                    if not f.rows:
                        tables.append(open_parquet(f.path, columns).read(columns))
                except (pa.ArrowInvalid, OSError) as exc:
                    raise _unreadable(spec, f.path, exc) from None
            first = tables[0].schema  # text columns as string or large_string: one type
            yield 1, _frame(pa.concat_tables([t.cast(first) for t in tables]), spec)
            return
        for f in self.files:
            try:
                first = f.first_row
                for table in row_groups(f.path, columns, ahead):
                    rows = table.num_rows
                    yield first, _frame(table, spec)
                    first += rows
            except (pa.ArrowInvalid, OSError) as exc:
                raise _unreadable(spec, f.path, exc) from None


def _columns_of(path: Path) -> list[str]:
    return list(ds.dataset(path, format="parquet").schema.names)


def dataset_paths(folder: Path) -> list[Path]:
    """A dataset folder's Parquet files, at any depth, in the order of their paths within
    it (files and folders whose names start with ``.`` or ``_`` are left out)."""
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in SUFFIXES
        and p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def open_dataset(folder: Path, spec: TableSpec) -> Dataset:
    """A folder of Parquet files as one table: every file has the spec's required columns,
    and the spec's columns with the same types in every file. Raises ``InputError`` naming
    each file that does not."""
    paths = dataset_paths(folder)
    if not paths:
        raise InputError(
            Problem(spec.name, Reason.MISSING_FILE, f"{folder}: a folder with no .parquet file")
        )
    problems: list[Problem] = []
    try:
        fragments = list(ds.dataset([str(p) for p in paths], format="parquet").get_fragments())
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            Problem(spec.name, Reason.UNREADABLE, f"{folder}: cannot be read as Parquet: {exc}")
        ) from None
    files: list[DatasetFile] = []
    first_types: dict[str, pa.DataType] | None = None
    first_name = ""
    next_row = 1
    for path, fragment in zip(paths, fragments, strict=True):
        name = path.relative_to(folder).as_posix()
        try:
            _readable_columns(path, spec)  # MISSING_COLUMN / UNREADABLE, naming the file
            physical = fragment.physical_schema
            rows = int(fragment.metadata.num_rows)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        except (pa.ArrowInvalid, OSError) as exc:
            problems.append(_unreadable(spec, path, exc).problems[0])
            continue
        types = {n: _kind(physical.field(n).type) for n in spec.columns_in(physical.names)}
        if first_types is None:
            first_types, first_name = types, name
        elif types != first_types:
            problems.append(
                Problem(
                    spec.name,
                    Reason.MIXED_SCHEMAS,
                    f"{path}: {_difference(types, first_types, first_name)}; every file of "
                    f"{folder} must have the same columns, of the same types",
                )
            )
        files.append(DatasetFile(name=name, path=path, rows=rows, first_row=next_row))
        next_row += rows
    if problems:
        raise InputError(problems)
    return Dataset(folder=folder, files=tuple(files))


def _kind(kind: pa.DataType) -> pa.DataType:
    """A column's type as compared across files: text is text (string, large_string or
    dictionary-encoded), binary is binary."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    return kind


def _difference(types: dict[str, pa.DataType], first: dict[str, pa.DataType], name: str) -> str:
    """How a file's columns differ from the first file's."""
    parts = []
    for column in sorted(set(types) | set(first)):
        if column not in types:
            parts.append(f"no column {column} ({name} has it)")
        elif column not in first:
            parts.append(f"a column {column} that {name} does not have")
        elif types[column] != first[column]:
            parts.append(f"column {column} is {types[column]}, {first[column]} in {name}")
    return ", ".join(parts)
