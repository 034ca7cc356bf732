"""The batch memory settings: applied once at start-up by the command, harmless to results."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np, pyarrow as pa
from totalcare_payments.process import keep_freed_memory
changed = keep_freed_memory()
print(changed, pa.default_memory_pool().backend_name)
big = np.arange(50_000_000, dtype=np.int64)  # 400 MB from the heap, then freed and reused
total = int(big.sum()); del big
again = np.arange(50_000_000, dtype=np.int64)
print(total == int(again.sum()) == 50_000_000 * 49_999_999 // 2)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings")
def test_keep_freed_memory_switches_arrow_to_the_shared_heap() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "system", "True"]
