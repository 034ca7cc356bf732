"""Read-ahead: decode the large Parquet inputs while the program is still starting up.

A batch run spends its first half second importing pandas and the rest of the
program, on one core. Decoding Parquet needs only Arrow, so the ``totalcare``
command starts decoding the data folder's large tables (attribution, then claims) on
a background thread before those imports, and ``inputs.read_parts`` takes the decoded
row groups from here instead of decoding them again.

Read-ahead changes when a file is decoded, never what is read: a row group is taken
only for the same file (path, size and modification time) and the same columns, and
anything not read ahead -- or that failed to read -- is read by ``read_parts`` as
usual, with its checks and error messages. This module imports only Arrow, so it can
run before pandas is loaded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .schema import ATTRIBUTION, CLAIMS, TableSpec, find_table

# the decoded row groups waiting to be taken, over all files, stay under this many bytes
# (a million members' claims take about 340 MB); a file nobody reads holds no more
MEMORY_AHEAD = 512 << 20


def open_parquet(path: Path, columns: list[str]) -> pq.ParquetFile:
    """A Parquet input opened as the program reads it: mapped (its pages are decoded
    from the page cache, not copied in first), string columns as dictionaries (pandas
    Categorical: one string per distinct value, not one per row)."""
    file_schema = pq.read_schema(path)
    strings = [n for n in columns if pa.types.is_string(file_schema.field(n).type)]
    return pq.ParquetFile(path, read_dictionary=strings, memory_map=True)


def spec_columns(path: Path, spec: TableSpec) -> list[str]:
    """The spec's columns that the file has, in the spec's order."""
    return spec.columns_in(pq.read_schema(path).names)


def _identity(path: Path) -> tuple[str, int, int]:
    stat = os.stat(path)
    return str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns


@dataclass
class _File:
    """The row groups of one file being read ahead, in order. A group is decoded here or
    by the reader, never both: the reader waits only for a group being decoded, and
    claims any other group it reaches first."""

    columns: list[str]
    n_groups: int
    groups: dict[int, pa.Table] = field(default_factory=dict)  # decoded, not yet taken
    claimed: set[int] = field(default_factory=set)  # taken, or left to the reader
    decoding: int = -1


_files: dict[tuple[str, int, int], _File] = {}
_state = threading.Condition()  # guards _files, every _File and _held
_held = 0  # bytes of decoded groups not yet taken
_reading = False  # whether the program reads yet (it has taken a group or claimed one)


def read_ahead(files: Iterable[tuple[Path, TableSpec]]) -> threading.Thread | None:
    """Start decoding these Parquet files' row groups (the spec's columns), one file after
    another, on a background thread. Files that are missing, not Parquet or unreadable
    are skipped: reading them later reports the problem."""
    queue: list[tuple[pq.ParquetFile, _File]] = []
    for path, spec in files:
        try:
            if Path(path).suffix.lower() != ".parquet":
                continue
            key = _identity(path)  # before opening: a file replaced since is not taken
            columns = spec_columns(path, spec)
            file = open_parquet(path, columns)
            entry = _File(columns=columns, n_groups=file.num_row_groups)
        except Exception:  # read later as usual, which reports the problem
            continue
        with _state:
            if key in _files:  # already being read ahead
                continue
            _files[key] = entry
        queue.append((file, entry))
    if not queue:
        return None
    thread = threading.Thread(target=_decode, args=(queue,), name="read-ahead", daemon=True)
    thread.start()
    return thread


def _decode(queue: list[tuple[pq.ParquetFile, _File]]) -> None:
    for file, entry in queue:
        _decode_file(file, entry)


def _room() -> bool:
    return _held < MEMORY_AHEAD


def _decode_file(file: pq.ParquetFile, entry: _File) -> None:
    global _held
    for group in range(entry.n_groups):
        with _state:
            _state.wait_for(_room)
            if group in entry.claimed:
                continue
            entry.decoding = group
            # one thread while the program is still starting up on the other core;
            # Arrow's threads once the program reads, which may be waiting for this group
            threads = _reading
        table = None
        try:
            table = file.read_row_group(group, columns=entry.columns, use_threads=threads)
        except Exception:  # the reader reads this group and meets the problem itself
            pass
        finally:  # whatever happened, the reader never waits on this group again
            with _state:
                if table is not None:
                    entry.groups[group] = table
                    _held += table.nbytes
                else:
                    entry.claimed.update(range(group, entry.n_groups))
                entry.decoding = -1
                _state.notify_all()
        if table is None:
            return


def take(path: Path, columns: list[str], group: int) -> pa.Table | None:
    """Row group ``group`` of the file as read ahead (waiting for it while it is being
    decoded), or None when the reader is to read it: the file was not read ahead with
    these columns, or the group is not decoded yet. A group is handed out once."""
    global _held, _reading
    try:
        key = _identity(path)
    except OSError:
        return None
    with _state:
        entry = _files.get(key)
        if entry is None or entry.columns != columns or not 0 <= group < entry.n_groups:
            return None
        _reading = True
        _state.wait_for(lambda: entry.decoding != group)
        table = entry.groups.pop(group, None)
        entry.claimed.add(group)
        if table is not None:
            _held -= table.nbytes
        if len(entry.claimed) == entry.n_groups:  # all handed out or left to the reader
            del _files[key]
        _state.notify_all()
    return table


def read_ahead_inputs(
    data_dir: str | Path,
    *,
    with_claims: bool,
    attribution: str | Path | None = None,
    claims: str | Path | None = None,
) -> threading.Thread | None:
    """Read ahead a program's large tables as ``load_inputs`` will read them: the data
    folder's attribution (or ``attribution``), then its claims (or ``claims``)."""
    folder = Path(data_dir)
    files = [(Path(attribution or find_table(folder, ATTRIBUTION.stem)), ATTRIBUTION)]
    if with_claims:
        files.append((Path(claims or find_table(folder, CLAIMS.stem)), CLAIMS))
    return read_ahead(files)
