"""The settings of a batch process: no idle BLAS threads, a rarer cycle collector, and
memory that is kept and reused.

``start_batch`` makes all of them; the ``totalcare`` command calls it before anything
else is loaded, and a script that runs the engine the way the command does (the
benchmarks) imports this module first and calls it too. Importing this module sets
``OPENBLAS_NUM_THREADS=1`` unless it is set already: numpy's linear-algebra library
starts worker threads when numpy is loaded, and they spin on the core the read-ahead
uses; the engine does no matrix algebra. Like mypy, a batch run collects cycles far
less often (arrays are freed by reference counting, not by the collector).

Memory (``keep_freed_memory``):

A batch reads a few large tables and makes many short-lived arrays of the same sizes
(one value per claim line or member-month). By default glibc hands every large array
fresh pages from the kernel (``mmap``) and returns them when the array is freed, so
each array pays for faulting its pages in again; Arrow's own allocator does the same
with its buffers. On a virtual machine a page fault can cost more than the arithmetic
done on the page.

``keep_freed_memory`` makes the process reuse what it frees instead: large blocks come
from the heap and stay with the process when freed (up to 2 GB of them), and Arrow allocates
through the same heap, so a column buffer freed after reading is reused by the next
array. Freed blocks are reused rather than kept in addition, so the peak grows only by
what fragmentation leaves unused; memory freed before the peak is simply not returned
to the system early. All threads allocate from that one heap (one malloc arena), so
the threads that read files reuse what the main thread freed instead of each growing a
heap of its own.

It also stops numpy from asking the kernel for transparent huge pages for large arrays
(numpy's ``NUMPY_MADVISE_HUGEPAGE=0``): where the kernel compacts memory on demand to find
huge pages, that compaction stalls the first touch of an array for longer than the huge
pages save, and reused memory has no faults left to save.

The command line calls it once at start-up; a library user may call it in a
long-running process of their own or leave the defaults. It only acts on Linux with
glibc and does nothing elsewhere.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8  # one arena: every thread shares the heap
_TRIM_THRESHOLD = 2**31 - 1  # keep up to 2 GB free at the heap's top while running
_TOP_PAD = 16 << 20  # grow the heap 16 MB at a time


def keep_freed_memory() -> bool:
    """Serve large arrays from a heap that keeps freed memory; Arrow allocates from it too.

    Returns whether the allocator was changed (False off glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    changed = all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_MMAP_MAX, 0),
            (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD),
            (_M_TOP_PAD, _TOP_PAD),
            (_M_ARENA_MAX, 1),
        )
    )
    if changed:
        import pyarrow as pa
        from numpy._core import multiarray

        pa.set_memory_pool(pa.system_memory_pool())
        advise_huge_pages = getattr(multiarray, "_set_madvise_hugepage", None)
        if advise_huge_pages is not None:  # the switch behind NUMPY_MADVISE_HUGEPAGE
            advise_huge_pages(False)
    return changed


def start_batch() -> None:
    """The settings of a batch process (see the module's docstring)."""
    # Loading pandas, pydantic and the rest creates objects by the hundred thousand, and
    # with the default threshold the cycle collector runs some 190 times meanwhile (about
    # 0.1 s); arrays are freed by reference counting, not by the collector.
    gc.set_threshold(200_000, 30, 30)
    keep_freed_memory()
