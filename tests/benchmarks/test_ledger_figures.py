"""The README's ledger figures are the committed ledger benchmark's JSON, figure for figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"SQLite": "sqlite", "PostgreSQL": "postgresql"}


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


def test_readme_ledger_figures_match_the_results() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The payment ledger") : text.index("## Proof on real")]
    result = json.loads((ROOT / "benchmarks" / "results" / "ledger-1000000.json").read_text())
    assert result["members"] == 1_000_000 and result["within_targets"] is True
    rows = dict(re.findall(r"^\| (SQLite|PostgreSQL) \| (.+) \|$", section, re.M))
    assert set(rows) == set(NAMES)
    for name, cells in rows.items():
        figures = result["databases"][NAMES[name]]
        assert [c.strip() for c in cells.split("|")] == [
            _seconds(figures["post_s"]),
            _seconds(figures["retro_s"]),
            _seconds(figures["april_job_s"]),
        ]
        assert figures["post_s"] < result["targets"]["post_s"] == 10
        assert figures["retro_s"] < result["targets"]["retro_s"] == 20
    sqlite = result["databases"]["sqlite"]
    for figure in (
        f"{result['members']:,} members",
        f"{sqlite['post_roster_lines']:,} roster lines",
        f"({sqlite['retro_due_roster_rows']:,}",
        f"{sqlite['retro_roster_lines_posted']:,} roster lines ({sqlite['retro_adjusted_roster_lines']:,}",
        f"average {result['machine']['load_average_at_start'][0]} when",
    ):
        assert figure in " ".join(section.split()), figure
