"""Read-ahead: decode the large Parquet inputs while the program is still starting up.

A batch run spends its first half second importing pandas and the rest of the
program, on one core. Decoding Parquet needs only Arrow, so the ``totalcare ccf`` and
``settle`` commands, once their command line is parsed, start a ``ReadAhead`` handle
decoding the data folder's large tables (attribution, then claims) on a background
thread before those imports, and pass it to the job: ``read.read_parts`` takes the
decoded row groups from the handle instead of decoding them again.

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

from .schema import ATTRIBUTION, ATTRIBUTION_FOR_CCF, CLAIMS, TableSpec, find_table

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


class ReadAhead:
    """A handle on the row groups being decoded ahead of the reader, for one command.

    ``start`` begins decoding files on a background thread; the reader (``read.read_parts``)
    asks ``take`` for each row group. Everything the handle holds is its own: two handles
    never share a row group, and a reader given no handle reads every group itself.
    """

    def __init__(self, memory_ahead: int = MEMORY_AHEAD) -> None:
        self.memory_ahead = memory_ahead
        self._files: dict[tuple[str, int, int], _File] = {}
        self._state = threading.Condition()  # guards _files, every _File and _held
        self._held = 0  # bytes of decoded groups not yet taken
        self._reading = False  # whether the program reads yet (it has taken or claimed a group)
        self.thread: threading.Thread | None = None

    def start(self, files: Iterable[tuple[Path, TableSpec]]) -> ReadAhead:
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
            with self._state:
                if key in self._files:  # already being read ahead
                    continue
                self._files[key] = entry
            queue.append((file, entry))
        if queue:
            self.thread = threading.Thread(
                target=self._decode, args=(queue,), name="read-ahead", daemon=True
            )
            self.thread.start()
        return self

    def _decode(self, queue: list[tuple[pq.ParquetFile, _File]]) -> None:
        for file, entry in queue:
            self._decode_file(file, entry)

    def _room(self) -> bool:
        return self._held < self.memory_ahead

    def _decode_file(self, file: pq.ParquetFile, entry: _File) -> None:
        for group in range(entry.n_groups):
            with self._state:
                self._state.wait_for(self._room)
                if group in entry.claimed:
                    continue
                entry.decoding = group
                # one thread while the program is still starting up on the other core;
                # Arrow's threads once the program reads, which may be waiting for this group
                threads = self._reading
            table = None
            try:
                table = file.read_row_group(group, columns=entry.columns, use_threads=threads)
            except Exception:  # the reader reads this group and meets the problem itself
                pass
            finally:  # whatever happened, the reader never waits on this group again
                with self._state:
                    if table is not None:
                        entry.groups[group] = table
                        self._held += table.nbytes
                    else:
                        entry.claimed.update(range(group, entry.n_groups))
                    entry.decoding = -1
                    self._state.notify_all()
            if table is None:
                return

    def take(self, path: Path, columns: list[str], group: int) -> pa.Table | None:
        """Row group ``group`` of the file as read ahead (waiting for it while it is being
        decoded), or None when the reader is to read it: the file was not read ahead with
        these columns, or the group is not decoded yet. A group is handed out once."""
        try:
            key = _identity(path)
        except OSError:
            return None
        with self._state:
            entry = self._files.get(key)
            if entry is None or entry.columns != columns or not 0 <= group < entry.n_groups:
                return None
            self._reading = True
            self._state.wait_for(lambda: entry.decoding != group)
            table = entry.groups.pop(group, None)
            entry.claimed.add(group)
            if table is not None:
                self._held -= table.nbytes
            if len(entry.claimed) == entry.n_groups:  # all handed out or left to the reader
                del self._files[key]
            self._state.notify_all()
        return table

    @property
    def held_bytes(self) -> int:
        """Bytes of decoded row groups waiting to be taken."""
        with self._state:
            return self._held


def read_ahead_inputs(
    data_dir: str | Path,
    *,
    with_claims: bool,
    attribution: str | Path | None = None,
    claims: str | Path | None = None,
) -> ReadAhead:
    """A handle reading ahead a program's large tables as ``load_program`` will read them:
    the data folder's attribution (or ``attribution``), then its claims (or ``claims``)."""
    folder = Path(data_dir)
    spec = ATTRIBUTION if with_claims else ATTRIBUTION_FOR_CCF  # the columns the job reads
    files = [(Path(attribution or find_table(folder, spec.stem)), spec)]
    if with_claims:
        path = Path(claims or find_table(folder, CLAIMS.stem, folder=True))
        if path.is_dir():  # a folder of Parquet files: each, in the order they are read
            parts = sorted(path.rglob("*.parquet"), key=lambda p: p.relative_to(path).as_posix())
            files.extend(
                (part, CLAIMS)
                for part in parts
                if not any(n.startswith((".", "_")) for n in part.relative_to(path).parts)
            )
        else:
            files.append((path, CLAIMS))
    return ReadAhead().start(files)
