"""How a run is executed: in one piece in memory, or partitioned by member (on this
machine's cores or on a Dask cluster), and how much memory it may take."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InputError

Engine = Literal["auto", "memory", "local", "dask"]
ENGINES: tuple[str, ...] = ("auto", "memory", "local", "dask")

# What the partitioned engine's kernel holds per input row of a bucket (attribution,
# risk scores, claims: the decoded columns, the checks' masks, the codes and sums),
# measured at about 40 bytes; planned with room to spare.
BYTES_PER_ROW = 96
# What the program in one piece holds per member-level row (measured: 1.06 GB for the
# 25 million rows of a million members, with the process).
BYTES_PER_ROW_IN_ONE_PIECE = 40
# A process's own memory (Python, pandas, pyarrow, the practices) before any bucket.
PROCESS_BYTES = 350 * 2**20
# Below this many member-level rows a program is read in one piece (auto).
SMALL_PROGRAM_ROWS = 4_000_000
_UNITS = {
    "": 1,
    "B": 1,
    "K": 2**10,
    "KB": 2**10,
    "M": 2**20,
    "MB": 2**20,
    "G": 2**30,
    "GB": 2**30,
    "T": 2**40,
    "TB": 2**40,
}


def parse_size(text: str) -> int:
    """Bytes from ``2GB``, ``512MB``, ``1.5G`` or a number of bytes (binary units)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?B?)\s*", text.upper())
    if not match:
        raise InputError(f"--memory-limit takes a size such as 2GB or 512MB, not '{text}'")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def available_memory() -> int:
    """The memory the machine has available now (MemAvailable), or 4 GiB when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


def default_memory_limit() -> int:
    """A safe share of the machine: half of the memory available now, at most 8 GiB and
    at least 1 GiB."""
    return max(2**30, min(available_memory() // 2, 8 * 2**30))


@dataclass(frozen=True)
class EngineOptions:
    """``engine``: ``memory`` (the program in one piece), ``local`` (partitioned by member,
    ``workers`` processes), ``dask`` (partitioned, as Dask tasks on ``scheduler``, or a
    local cluster of ``workers`` processes), or ``auto`` (in one piece when the inputs are
    small for the memory limit, else ``local``). ``memory_limit``: bytes the run may use
    (None: ``default_memory_limit``); ``buckets``: the bucket count (None: chosen from the
    input sizes and the limit); ``work_dir``: where the bucketed inputs are written, in a new
    folder of the run's own, removed after it (None: the system's temporary folder)."""

    engine: Engine = "auto"
    workers: int | None = None
    memory_limit: int | None = None
    buckets: int | None = None
    work_dir: Path | None = None
    scheduler: str | None = None

    @property
    def n_workers(self) -> int:
        return max(1, self.workers if self.workers is not None else (os.cpu_count() or 1))

    @property
    def limit(self) -> int:
        return self.memory_limit if self.memory_limit is not None else default_memory_limit()

    def partitioned(self, rows: int) -> bool:
        """Whether a program of ``rows`` member-level rows runs partitioned."""
        if self.engine == "memory":
            return False
        if self.engine in ("local", "dask"):
            return True
        in_one_piece = PROCESS_BYTES + rows * BYTES_PER_ROW_IN_ONE_PIECE
        return rows >= SMALL_PROGRAM_ROWS and in_one_piece > self.limit

    def bucket_count(self, rows: int) -> int:
        """Buckets enough that ``n_workers`` kernels at once stay within the limit, and at
        least one per worker."""
        if self.buckets is not None:
            return max(1, self.buckets)
        workers = self.n_workers if self.engine != "dask" or self.scheduler is None else 1
        per_kernel = max(self.limit // workers - PROCESS_BYTES, 64 * 2**20)
        needed = -(-rows * BYTES_PER_ROW // per_kernel)
        return int(max(needed, workers, 1))


def file_rows(paths: list[Path]) -> int:
    """About how many rows these input files have: a Parquet file's from its metadata, a
    CSV file's from its size (about 40 bytes a line); files that cannot be read count 0."""
    total = 0
    for path in paths:
        try:
            if path.is_dir():  # a folder of Parquet files (``inputs.dataset``)
                total += file_rows(sorted(path.rglob("*.parquet")))
            elif path.suffix.lower() == ".csv":
                total += path.stat().st_size // 40
            elif path.exists():
                import pyarrow.parquet as pq

                total += pq.ParquetFile(path).metadata.num_rows
        except Exception:  # the reader meets the problem and reports it
            continue
    return total
