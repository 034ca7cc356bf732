"""The README's performance table is the committed peer-benchmark JSON, figure for figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_rows() -> dict[int, list[str]]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Performance") :]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| ([\d,]+) \| (.+) \|$", line)
        if match:
            rows[int(match.group(1).replace(",", ""))] = [
                c.strip() for c in match.group(2).split("|")
            ]
        elif rows:
            break
    return rows


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


def test_readme_performance_table_matches_the_results() -> None:
    rows = _readme_rows()
    assert set(rows) == {100_000, 1_000_000, 3_000_000}
    for members, cells in rows.items():
        result = json.loads((ROOT / "benchmarks" / "results" / f"peers-{members}.json").read_text())
        assert result["members"] == members
        peers = result["peers"]
        wall = {name: peers[name]["wall_s"] for name in ("engine", "duckdb", "polars")}
        expected = [
            _seconds(wall["engine"]),
            _seconds(wall["duckdb"]),
            _seconds(wall["polars"]),
            f"{wall['engine'] / wall['duckdb']:.2f}",
            f"{wall['engine'] / wall['polars']:.2f}",
            f"{peers['engine']['rss_mb']:,.0f} MB",
        ]
        assert cells == expected, members
        agreement = result["agreement"]
        assert agreement["agree"] is True, members
        assert set(agreement["pairs"]) == {"engine_vs_duckdb", "engine_vs_polars"}
        assert all(pair["agree"] for pair in agreement["pairs"].values()), members
