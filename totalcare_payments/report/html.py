"""A scenario study's HTML report: one self-contained file for a finance committee.

The tables and the charts an actuary expects (the program's settlement waterfall, payout
by scenario, the tornado, the payment distribution per practice), drawn by matplotlib as
inline SVG (``report.charts``), so the file opens anywhere with no network: no scripts,
no external files or fonts. Money is shown as $1,234.56 and rates as percentages; the
columns' definitions (``report.DEFINITIONS``) are the tables' tooltips.

The report is a function of the study alone (no dates, fixed SVG ids), so a rerun writes
the same bytes.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..money import dollars
from ..outputs.tables import public_name
from ..scenarios.plan import ScenarioStudy
from . import DEFINITIONS
from .charts import (
    distribution_chart,
    msr_chance_chart,
    program_waterfall,
    scenario_chart,
    tornado_chart,
    waterfall_chart,
)

#: HTML tables show at most this many rows (the CSV files hold them all).
HTML_MAX_ROWS = 200

#: The scenario summary's columns that the report defines beside its table and chart.
SUMMARY_DEFINED = ("total_paid", "incurred_cost", "payer_net_savings", "paid_vs_base")


# --- tables ------------------------------------------------------------------------------

_PERCENT = re.compile(r"(^|_)(rate|msr|mlr|share_rate|savings_rate|payment_reduction)($|_)")


def column_kind(column: str, dtype: Any) -> str:
    """How a column is shown: money, probability, percent, bool, int, float or text."""
    if column.endswith("_cents"):
        return "money"
    if pd.api.types.is_bool_dtype(dtype):  # before the rates: meets_msr is not a rate
        return "bool"
    if column.startswith("p_"):
        return "probability"
    if _PERCENT.search(column) or column.startswith("savings_rate"):
        return "percent"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "text"


def _cell(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if kind == "money":
        return dollars(int(value))
    if kind == "probability":
        return f"{float(value):.1%}"
    if kind == "percent":
        return f"{float(value):.2%}"
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "float":
        return f"{float(value):,.6g}"
    return str(value)


def _th(name: str) -> str:
    """A column heading, its definition (``DEFINITIONS``) as the tooltip."""
    meaning = DEFINITIONS.get(name)
    title = f' title="{html.escape(meaning)}"' if meaning else ""
    return f"<th{title}>{html.escape(name)}</th>"


def html_table(frame: pd.DataFrame, *, limit: int = HTML_MAX_ROWS, note: str = "") -> str:
    """A table with money as $1,234.56 and rates as percentages; at most ``limit`` rows."""
    kinds = {c: column_kind(c, frame[c].dtype) for c in frame.columns}
    head = "".join(_th(public_name(c)) for c in frame.columns)
    body = []
    for row in frame.head(limit).itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            css = ' class="num"' if kinds[column] not in ("text", "bool") else ""
            cells.append(f"<td{css}>{html.escape(_cell(value, kinds[column]))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(frame) > limit:
        more = (
            f'<p class="note">Showing {limit:,} of {len(frame):,} rows'
            + (f"; {html.escape(note)}" if note else "")
            + ".</p>"
        )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


# --- the HTML report ---------------------------------------------------------------------

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1a202c; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em;
       border-bottom: 1px solid #cbd5e0; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0; }
th, td { border: 1px solid #e2e8f0; padding: 0.2em 0.5em; white-space: nowrap; }
th { background: #edf2f7; position: sticky; top: 0; } td.num { text-align: right;
       font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #f7fafc; }
.scroll { max-height: 32em; overflow: auto; } .note, .facts { color: #4a5568; font-size: 0.9em; }
svg { max-width: 100%; height: auto; } nav a { margin-right: 1em; }
dt { font-weight: bold; } dd { margin: 0 0 0.5em 1.5em; }
"""


def _section(anchor: str, title: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _definitions(columns: tuple[str, ...]) -> str:
    """The columns' definitions (``DEFINITIONS``, as in the workbook's Definitions sheet)."""
    items = "".join(
        f"<dt>{html.escape(c)}</dt><dd>{html.escape(DEFINITIONS[c])}</dd>" for c in columns
    )
    return f'<dl class="definitions">{items}</dl>'


def _facts_list(facts: dict[str, object]) -> str:
    items = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in facts.items()
    )
    return f'<table class="facts">{items}</table>'


def html_report(result: ScenarioStudy) -> str:
    """The whole report as one HTML document: no scripts, no external files or fonts."""
    summary = result.result.summary
    steps = program_waterfall(result.result.base)
    title = f"Savings scenarios: {result.program}, performance year {result.year}"
    sections = [
        _section(
            "waterfall",
            "1. The program's settlement under the base terms",
            _p(
                "Every step is the sum over practices of a column of the settlement: the "
                "budget, less claims paid, plus what the stop-loss truncates, less the "
                "completion gross-up and any CCF counted as cost, gives the savings; only "
                "practices past their minimum savings rate qualify, they earn their share "
                "rate, up to the payment limit, less any shared losses."
            ),
            waterfall_chart(steps),
            html_table(steps.drop(columns="kind")),
        ),
        _section(
            "scenarios",
            "2. Payout by scenario",
            _definitions(SUMMARY_DEFINED),
            _p(
                "The mean, std (over all practices), min and max payment are of the "
                "practices' final payments. Every column's definition is its heading's "
                "tooltip, and in the workbook's Definitions sheet."
            ),
            scenario_chart(summary),
            html_table(summary, note="the full table is scenario_summary.csv"),
        ),
    ]
    chart = tornado_chart(result.tornado)
    sections.append(
        _section(
            "tornado",
            "3. Sensitivity: one parameter at a time",
            _p(
                "Each parameter moves to its low and its high value while every other term "
                "stays at the base; bars show the total paid, sorted by swing "
                "(|high - low|), largest first."
            ),
            chart or _p("No [sensitivity] table in the scenario file."),
            html_table(result.tornado) if chart else "",
        )
    )
    if result.chance is not None:
        chance = result.chance
        sections.append(
            _section(
                "chance",
                "4. Chance: what random variation alone could do",
                _p(
                    f"Each practice's attributed members were resampled with replacement "
                    f"{chance.draws:,} times (seed {chance.seed}) and every draw settled "
                    "through the same waterfall. p_pass_msr_if_no_savings: how often the "
                    "savings rate passes the MSR when the true savings are zero (budget = "
                    "expected cost); it is the chance the program pays for noise. The "
                    "payment percentiles are under the actual budget."
                ),
                distribution_chart(chance),
                msr_chance_chart(chance),
                html_table(chance.practices, note="the full table is chance.csv"),
            )
        )
    sections.append(
        _section(
            "practices",
            "5. The base settlement by practice",
            html_table(result.result.base, note="every scenario is in scenario_practices.csv"),
        )
    )
    nav = " ".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in [
            ("waterfall", "Waterfall"),
            ("scenarios", "Scenarios"),
            ("tornado", "Tornado"),
            ("chance", "Chance"),
            ("practices", "Practices"),
        ]
        if a != "chance" or result.chance is not None
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<nav>{nav}</nav>\n"
        f"{_facts_list(result.facts)}\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def write_html(result: ScenarioStudy, path: str | Path) -> Path:
    """Write the HTML report (atomically)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(html_report(result), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
