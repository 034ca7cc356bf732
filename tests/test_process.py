"""The batch process settings: freed memory is kept for reuse, Arrow allocates from the same
heap, and the cycle collector runs less often. Each check compares a fresh process with
the settings against one without them, so a setting that stopped working fails here."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import gc, sys
import numpy as np, pyarrow as pa
from totalcare_payments.process import keep_freed_memory, start_batch

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "settings":
    start_batch()
base = rss_mb()
big = np.ones(50_000_000, dtype=np.int64)  # 400 MB, every page touched
del big
print(round(rss_mb() - base), pa.default_memory_pool().backend_name, gc.get_threshold()[0])
"""


def _run(mode: str) -> tuple[int, str, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), out[1], int(out[2])


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings")
def test_batch_settings_keep_freed_memory_for_reuse() -> None:
    kept, backend, threshold = _run("settings")
    returned, default_backend, default_threshold = _run("defaults")
    # without the settings, glibc maps a large array and unmaps it when freed; with them it
    # comes from the heap and stays with the process for the next array
    assert returned < 100
    assert kept > 300
    assert backend == "system" and default_backend != "system"
    assert threshold == 200_000 and default_threshold < threshold
