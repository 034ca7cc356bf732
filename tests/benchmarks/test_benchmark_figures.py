"""The README's performance tables are the committed peer-benchmark JSON, figure for figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIZES = {100_000, 1_000_000, 3_000_000}
JOBS = ("ccf_month", "ccf_months", "settle", "full_year")
PEERS = ("engine", "duckdb", "polars")


def _table(header_start: str) -> dict[tuple[int, str], list[str]]:
    """The rows of the performance section's table whose header starts so, keyed by
    (members, job)."""
    text = (ROOT / "README.md").read_text()
    lines = text[text.index("## Performance") :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = {}
    for line in lines[start + 2 :]:
        match = re.match(r"\| ([\d,]+) \| `(\w+)` \| (.+) \|$", line)
        if not match:
            break
        cells = [c.strip() for c in match.group(3).split("|")]
        rows[(int(match.group(1).replace(",", "")), match.group(2))] = cells
    return rows


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


def _result(members: int) -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / f"peers-{members}.json").read_text())


def test_readme_wall_time_table_matches_the_results() -> None:
    rows = _table("| members | job | engine |")
    assert set(rows) == {(members, job) for members in SIZES for job in JOBS}
    for (members, job), cells in rows.items():
        result = _result(members)
        assert result["members"] == members
        peers = result["jobs"][job]["peers"]
        wall = {name: peers[name]["wall_s"] for name in PEERS}
        expected = [
            *(_seconds(wall[name]) for name in PEERS),
            f"{wall['engine'] / wall['duckdb']:.2f}",
            f"{wall['engine'] / wall['polars']:.2f}",
        ]
        assert cells == expected, (members, job)


def test_readme_cost_table_matches_the_results() -> None:
    rows = _table("| members | job | CPU-seconds per million members")
    assert set(rows) == {(members, job) for members in SIZES for job in JOBS}
    for (members, job), cells in rows.items():
        peers = _result(members)["jobs"][job]["peers"]
        expected = [
            *(f"{peers[name]['cpu_s_per_million_members']:.2f}" for name in PEERS),
            *(f"{peers[name]['rss_mb']:,.0f} MB" for name in PEERS),
        ]
        assert cells == expected, (members, job)


def test_every_committed_run_agrees_to_the_cent() -> None:
    for members in SIZES:
        result = _result(members)
        assert result["agree"] is True, members
        assert set(result["jobs"]) == set(JOBS), members
        for job, j in result["jobs"].items():
            assert set(j["agreement"]["pairs"]) == {"engine_vs_duckdb", "engine_vs_polars"}
            assert j["agreement"]["agree"] is True, (members, job)
        assert all(c["agree"] for c in result["consistency"].values()), members
