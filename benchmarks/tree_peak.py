"""Run one command and report its wall time, the CPU seconds of the processes it waited
for, and the peak of the summed RSS of its whole process tree (the command, its worker
processes, a Dask cluster's), sampled every 0.1 s from /proc: a partitioned run's memory is
that of all its processes together.

    python benchmarks/tree_peak.py LABEL totalcare settle --year 2026 --data DIR --out OUT
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


def main() -> None:
    label, command = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _rss(_tree(proc.pid)))
        time.sleep(0.1)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    print(
        json.dumps(
            {
                "label": label,
                "rc": proc.returncode,
                "wall_s": round(wall, 2),
                "cpu_s_children": round(usage.ru_utime + usage.ru_stime, 2),
                "peak_tree_rss_mb": round(peak / 2**20),
                "stderr_tail": stderr[-300:] if proc.returncode else "",
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
