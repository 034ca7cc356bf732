"""A scenario study's files: the output folder, the HTML report and the Excel workbook.

This is the edge of the scenario study (as ``runs`` is of payment runs): it reads the
inputs, calls the functional core (``settlement``, ``scenarios``, ``chance``) and writes

- the output folder, atomically (``outputs.publish``): ``scenario_practices`` and
  ``scenario_summary`` (CSV and Parquet, money as exact decimals), ``tornado.csv``,
  ``chance.csv``, ``rejects.csv``, ``manifest.json`` (every input and output with its
  sha256) and ``run.json``;
- a self-contained HTML report for a finance committee: the tables and the charts an
  actuary expects (the program's settlement waterfall, payout by scenario, the tornado,
  the payment distribution per practice), drawn by matplotlib as inline SVG, so the
  file opens anywhere with no network;
- an Excel workbook with the same tables on named sheets (money in dollars).

Both documents are functions of the inputs, config and scenario file alone (no dates,
fixed SVG ids, fixed zip timestamps), so a rerun writes the same bytes.
"""

from __future__ import annotations

import html
import io
import os
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from . import __version__
from .audit import file_sha256
from .chance import Chance, bootstrap_chance
from .config import load_config
from .console import dollars
from .errors import InputError, OutputExistsError
from .inputs import load_inputs
from .outputs import (
    MANIFEST,
    check_destination,
    public_name,
    publish,
    run_record,
    write_json,
    write_table,
)
from .runs import base_manifest, enforce_policy, input_manifest
from .scenarios import ScenarioStudy, load_scenarios, run_scenarios, tornado
from .settlement import performance_year

Progress = Callable[[str], None]

#: HTML tables show at most this many rows (the CSV files hold them all).
HTML_MAX_ROWS = 200
#: The Excel sheet of scenario x practice rows holds at most this many rows.
EXCEL_MAX_ROWS = 5_000
#: Charts of one bar per scenario or practice show at most this many.
CHART_MAX_BARS = 40
SHEETS = ("About", "Waterfall", "Summary", "Tornado", "Chance", "Practices")

_CHART_STYLE = {
    "svg.hashsalt": "totalcare-scenarios",  # fixed ids: the same chart gives the same bytes
    "svg.fonttype": "none",  # text as text: small, searchable, drawn in the page's font
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}
_BLUE, _GREEN, _RED, _GREY, _ORANGE = "#2b6cb0", "#2f855a", "#c53030", "#718096", "#dd6b20"


def _quiet(_: str) -> None:
    return None


# --- the program waterfall ---------------------------------------------------------------


def program_waterfall(practices: pd.DataFrame) -> pd.DataFrame:
    """The program's settlement, budget to final payment, as steps that add up.

    ``kind`` is ``total`` for a running total and ``step`` for what a step adds (negative:
    takes away). Every amount is a sum of a settlement column, in cents:
    budget - claims paid + stop-loss truncation - completion - CCF as cost = savings;
    savings + (qualifying - savings) = qualifying savings; + (earned before limit -
    qualifying) = earned before limit; + (earned - earned before limit) = earned;
    - shared losses = final payments.
    """

    def total(column: str) -> int:
        return int(practices[column].to_numpy(dtype=np.int64).sum())

    budget, claims, truncated = (
        total("budget_cents"),
        total("claims_paid_cents"),
        total("truncated_cents"),
    )
    ccf_cost, actual = total("ccf_cost_cents"), total("actual_cost_cents")
    completion = (actual - ccf_cost) - (claims - truncated)
    savings, qualifying = total("savings_cents"), total("qualifying_savings_cents")
    before_limit, earned = total("earned_before_limit_cents"), total("earned_cents")
    losses, final = total("shared_loss_cents"), total("final_payment_cents")
    steps = [
        ("budget", "total", budget, "budget_pmpm x member_months"),
        ("claims paid", "step", -claims, "claims with service month in the year"),
        ("stop-loss truncation", "step", truncated, "members' annual cost above the threshold"),
        ("completion (IBNR)", "step", -completion, "claims x (completion_factor - 1)"),
        ("CCF as cost", "step", -ccf_cost, "the year's CCF, when the terms count it as cost"),
        ("savings", "total", savings, "budget - actual cost, all practices"),
        (
            "not qualifying",
            "step",
            qualifying - savings,
            "losses, savings below the MSR, and with net sharing the MSR's part",
        ),
        ("qualifying savings", "total", qualifying, "savings of practices past the MSR"),
        (
            "not shared",
            "step",
            before_limit - qualifying,
            "1 - share rate, quality gate, payment reduction",
        ),
        ("earned before limit", "total", before_limit, "qualifying savings x share rate"),
        ("payment limit", "step", earned - before_limit, "above payment_limit x budget"),
        ("earned", "total", earned, "the practices' shares"),
        ("shared losses", "step", -losses, "losses billed (two-sided terms)"),
        ("final payments", "total", final, "earned - shared losses"),
    ]
    return pd.DataFrame(
        {
            "step": [s[0] for s in steps],
            "kind": [s[1] for s in steps],
            "amount_cents": np.array([s[2] for s in steps], dtype=np.int64),
            "what": [s[3] for s in steps],
        }
    )


# --- charts ------------------------------------------------------------------------------


def _short_dollars(value: float, _pos: object = None) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{sign}${value / size:,.3g}{suffix}"
    return f"{sign}${value:,.0f}"


_MONEY_AXIS = FuncFormatter(_short_dollars)


def _svg(fig: Figure, name: str) -> str:
    """The figure as inline SVG: no XML prolog, DOCTYPE or metadata, ids prefixed by name."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', text)
    text = re.sub(
        r"#([A-Za-z_][\w.-]*)",
        lambda m: f"#{name}-{m.group(1)}" if m.group(1) in ids else m.group(0),
        text,
    )
    text = text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(name)}" ', 1)
    return text


def _waterfall_bars(ax: Any, steps: pd.DataFrame) -> None:
    running = 0.0
    labels = []
    lo, hi = 0.0, 0.0
    for i, row in enumerate(steps.itertuples(index=False)):
        value = row.amount_cents / 100.0
        if row.kind == "total":
            bottom, height, color = 0.0, value, _BLUE
            running = value
        else:
            bottom, height = running, value
            color = _GREEN if value >= 0 else _RED
            running += value
        ax.bar(i, height, bottom=bottom, color=color, width=0.7)
        top = max(bottom, bottom + height)
        lo, hi = min(lo, bottom, bottom + height), max(hi, top)
        ax.annotate(
            _short_dollars(value),
            (i, top),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
        )
        labels.append(row.step)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.yaxis.set_major_formatter(_MONEY_AXIS)
    pad = 0.12 * (hi - lo or 1.0)  # room for the labels (bars' edges would pin the limits)
    ax.set_ylim(lo - (pad if lo < 0 else 0), hi + pad)
    ax.axhline(0, color="#333333", linewidth=0.6)


def waterfall_chart(steps: pd.DataFrame) -> str:
    """Two panels: budget to savings (large amounts), savings to final payments."""
    with rc_context(_CHART_STYLE):
        fig = Figure(figsize=(10, 4.4), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[6, 9])
        split = int(np.flatnonzero(steps["step"].to_numpy() == "savings")[0])
        _waterfall_bars(left, steps.iloc[: split + 1])
        left.set_title("Budget to savings")
        _waterfall_bars(right, steps.iloc[split:])
        right.set_title("Savings to final payments")
        return _svg(fig, "waterfall")


def scenario_chart(summary: pd.DataFrame) -> str:
    """Total paid and the payer's net savings, one bar per scenario (or sorted curves)."""
    paid = summary["total_paid_cents"].to_numpy(dtype=np.int64) / 100.0
    net = summary["payer_net_savings_cents"].to_numpy(dtype=np.int64) / 100.0
    names = summary["scenario"].astype(str).to_numpy()
    base = np.flatnonzero(names == "base")
    with rc_context(_CHART_STYLE):
        if len(summary) <= CHART_MAX_BARS:
            height = 1.2 + 0.28 * len(summary)
            fig = Figure(figsize=(10, height), layout="constrained")
            left, right = fig.subplots(1, 2, sharey=True)
            y = np.arange(len(summary))[::-1]
            colors = [_ORANGE if i in base else _BLUE for i in range(len(summary))]
            left.barh(y, paid, color=colors)
            right.barh(y, net, color=[_ORANGE if i in base else _GREEN for i in range(len(y))])
            left.set_yticks(y, [_clip_label(n) for n in names])
            for ax, values in ((left, paid), (right, net)):
                if len(base):
                    ax.axvline(values[base[0]], color="#333333", linewidth=0.8, linestyle="--")
                ax.xaxis.set_major_formatter(_MONEY_AXIS)
            left.set_title("Total shared-savings payments")
            right.set_title("Payer's net savings")
        else:
            fig = Figure(figsize=(10, 4), layout="constrained")
            left, right = fig.subplots(1, 2)
            for ax, values, title, color in (
                (left, paid, "Total shared-savings payments", _BLUE),
                (right, net, "Payer's net savings", _GREEN),
            ):
                order = np.argsort(values, kind="stable")
                ax.plot(np.arange(1, len(values) + 1), values[order], color=color)
                if len(base):
                    ax.axhline(values[base[0]], color=_ORANGE, linestyle="--", label="base")
                    ax.legend(loc="upper left")
                ax.yaxis.set_major_formatter(_MONEY_AXIS)
                ax.set_xlabel(f"scenarios, sorted ({len(values):,})")
                ax.set_title(title)
        return _svg(fig, "scenarios")


def _clip_label(text: str, width: int = 48) -> str:
    """A long scenario name cut to fit beside a bar."""
    return text if len(text) <= width else text[: width - 1] + "…"


def tornado_chart(table: pd.DataFrame) -> str | None:
    """Bars from the base total paid to its value at each parameter's low and high."""
    if table.empty:
        return None
    base = table["base_total_paid_cents"].iloc[0] / 100.0
    low = table["total_paid_low_cents"].to_numpy(dtype=np.int64) / 100.0
    high = table["total_paid_high_cents"].to_numpy(dtype=np.int64) / 100.0
    y = np.arange(len(table))[::-1]
    labels = [
        f"{p.removeprefix('settlement.')}  [{lo} / {hi}]"
        for p, lo, hi in zip(table["parameter"], table["low"], table["high"], strict=True)
    ]
    with rc_context(_CHART_STYLE):
        fig = Figure(figsize=(10, 1.2 + 0.4 * len(table)), layout="constrained")
        ax = fig.subplots()
        ax.barh(y, low - base, left=base, color=_BLUE, label="low value", height=0.6)
        ax.barh(y, high - base, left=base, color=_ORANGE, label="high value", height=0.6)
        ax.axvline(base, color="#333333", linewidth=0.8)
        ax.set_yticks(y, [_clip_label(label, 60) for label in labels])
        ax.xaxis.set_major_formatter(_MONEY_AXIS)
        ax.set_title(f"Total paid, one parameter at a time (base {_short_dollars(base)})")
        ax.legend(loc="lower right")
        return _svg(fig, "tornado")


def _shown_practices(chance: Chance) -> tuple[np.ndarray, str]:
    table = chance.practices
    if len(table) <= CHART_MAX_BARS:
        return np.arange(len(table)), "every practice"
    spread = (table["payment_p95_cents"] - table["payment_p5_cents"]).to_numpy()
    shown = np.sort(np.argsort(-spread, kind="stable")[:CHART_MAX_BARS])
    return shown, f"the {CHART_MAX_BARS} practices with the widest 5%-95% range"


def distribution_chart(chance: Chance) -> str:
    """Each practice's bootstrap payments: box = quartiles, whiskers = 5th-95th percentile."""
    shown, which = _shown_practices(chance)
    table = chance.practices.iloc[shown]
    draws = chance.payments_cents[:, shown] / 100.0
    y = np.arange(len(shown))[::-1] + 1
    with rc_context(_CHART_STYLE):
        fig = Figure(figsize=(10, 1.4 + 0.32 * len(shown)), layout="constrained")
        ax = fig.subplots()
        ax.boxplot(
            draws,
            positions=y,
            orientation="horizontal",
            whis=(5, 95),
            showfliers=False,
            widths=0.6,
            medianprops={"color": _ORANGE},
        )
        ax.scatter(
            table["payment_mean_cents"].to_numpy() / 100.0,
            y,
            marker="o",
            color=_BLUE,
            s=14,
            label="mean of the draws",
            zorder=3,
        )
        ax.scatter(
            table["final_payment_cents"].to_numpy() / 100.0,
            y,
            marker="D",
            color=_RED,
            s=16,
            label="actual payment",
            zorder=3,
        )
        ax.set_yticks(y, table["practice_id"].astype(str).to_numpy())
        ax.xaxis.set_major_formatter(_MONEY_AXIS)
        ax.set_title(
            f"Payment per practice over {chance.draws:,} bootstrap draws ({which}); "
            "box: quartiles, whiskers: 5th-95th percentile"
        )
        ax.legend(loc="lower right")
        return _svg(fig, "distribution")


def msr_chance_chart(chance: Chance) -> str:
    """The chance of passing the MSR with zero true savings, against panel size."""
    table = chance.practices
    with rc_context(_CHART_STYLE):
        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax = fig.subplots()
        members = table["members"].to_numpy()
        p = table["p_pass_msr_if_no_savings"].to_numpy()
        ax.scatter(members, p, color=_BLUE, s=18)
        if len(table) <= CHART_MAX_BARS:
            for label, x, yv in zip(table["practice_id"].astype(str), members, p, strict=True):
                ax.annotate(label, (x, yv), xytext=(3, 3), textcoords="offset points", fontsize=7)
        if len(table) and members.max() / max(members.min(), 1) > 20:
            ax.set_xscale("log")
        ax.set_ylim(0, max(0.05, float(p.max()) * 1.15) if len(p) else 1)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel("attributed members")
        ax.set_ylabel("P(pass MSR | no true savings)")
        ax.set_title("How often noise alone passes the MSR")
        return _svg(fig, "msr-chance")


# --- tables ------------------------------------------------------------------------------

_PERCENT = re.compile(r"(^|_)(rate|msr|mlr|share_rate|savings_rate|payment_reduction)($|_)")


def _kind(column: str, dtype: Any) -> str:
    if column.endswith("_cents"):
        return "money"
    if column.startswith("p_"):
        return "probability"
    if _PERCENT.search(column) or column.startswith("savings_rate"):
        return "percent"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
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


def html_table(frame: pd.DataFrame, *, limit: int = HTML_MAX_ROWS, note: str = "") -> str:
    """A table with money as $1,234.56 and rates as percentages; at most ``limit`` rows."""
    kinds = {c: _kind(c, frame[c].dtype) for c in frame.columns}
    head = "".join(f"<th>{html.escape(public_name(c))}</th>" for c in frame.columns)
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
            _p(
                "total_paid: the shared-savings payments; payer_net_savings: budget less "
                "actual cost (CCF not counted), less the net payments and the CCF paid in "
                "the year, on the settlement's basis (truncated cost: a lower stop-loss "
                "raises it with no change in what was paid; incurred_cost is the "
                "untruncated cost); paid_vs_base: total_paid against the base terms; the "
                "mean, std (over all practices), min and max are of the practices' final "
                "payments."
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


# --- the Excel workbook ------------------------------------------------------------------


def _dollar_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Money columns in dollars under their public names (``total_paid``), for Excel."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if column.endswith("_cents"):
            out[public_name(column)] = values.to_numpy(dtype=np.int64) / 100.0
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            out[column] = values.astype(object).to_numpy()
        else:
            out[column] = values.to_numpy()
    return pd.DataFrame(out)


def workbook_sheets(result: ScenarioStudy) -> dict[str, pd.DataFrame]:
    """The workbook's sheets, by name (``SHEETS``), money in dollars."""
    practices = result.result.practices
    about = dict(result.facts)
    if len(practices) > EXCEL_MAX_ROWS:
        about["Practices sheet"] = (
            f"the first {EXCEL_MAX_ROWS:,} of {len(practices):,} rows; "
            "all of them are in scenario_practices.csv / .parquet"
        )
    chance = result.chance.practices if result.chance is not None else pd.DataFrame()
    return {
        "About": pd.DataFrame({"item": list(about), "value": [str(v) for v in about.values()]}),
        "Waterfall": _dollar_frame(program_waterfall(result.result.base)),
        "Summary": _dollar_frame(result.result.summary),
        "Tornado": _dollar_frame(result.tornado),
        "Chance": _dollar_frame(chance),
        "Practices": _dollar_frame(practices.head(EXCEL_MAX_ROWS)),
    }


def _format_sheet(sheet: Any, frame: pd.DataFrame, money: set[str]) -> None:
    sheet.freeze_panes = "A2"
    for i, column in enumerate(frame.columns, start=1):
        letter = sheet.cell(row=1, column=i).column_letter
        sample = frame[column].head(50).astype(str).str.len()
        width = max(len(str(column)), int(sample.max()) if len(sample) else 0)
        sheet.column_dimensions[letter].width = min(max(10, width + 2), 60)
        kind = "money" if column in money else _kind(column, frame[column].dtype)
        fmt = {"money": "#,##0.00", "probability": "0.0%", "percent": "0.00%"}.get(kind)
        if fmt and len(frame) <= EXCEL_MAX_ROWS:
            for (cell,) in sheet.iter_rows(min_row=2, max_row=len(frame) + 1, min_col=i, max_col=i):
                cell.number_format = fmt


def write_xlsx(result: ScenarioStudy, path: str | Path) -> Path:
    """Write the workbook (atomically: a temporary file renamed into place)."""
    path = Path(path)
    sources = {
        "Waterfall": program_waterfall(result.result.base),
        "Summary": result.result.summary,
        "Tornado": result.tornado,
        "Chance": result.chance.practices if result.chance is not None else pd.DataFrame(),
        "Practices": result.result.practices,
    }
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, frame in workbook_sheets(result).items():
                frame.to_excel(writer, sheet_name=name, index=False)
                source = sources.get(name)
                money = (
                    {public_name(c) for c in source.columns if c.endswith("_cents")}
                    if source is not None
                    else set()
                )
                _format_sheet(writer.sheets[name], frame, money)
        _fixed_zip(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _fixed_zip(path: Path) -> None:
    """Rewrite an .xlsx with fixed entry times and no created/modified dates: same bytes."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", b"", data)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)


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


# --- the whole study, end to end ---------------------------------------------------------


@dataclass
class StudyRun:
    """What a scenario study computed and wrote."""

    study: ScenarioStudy
    out: Path
    manifest: dict
    files: list[Path]
    rejects: pd.DataFrame
    report: Path | None = None
    xlsx: Path | None = None
    backup: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _check_document(path: Path | None, out: Path, force: bool) -> None:
    if path is None or _inside(path, out):
        return
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists; rerun with --force to replace it")
    if path.exists() and path.is_dir():
        raise OutputExistsError(f"{path} is a folder, not a file")


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().parent == folder.resolve()


def run_scenario_study(
    config_path: str | Path,
    scenarios_path: str | Path,
    year: int,
    out: str | Path,
    *,
    data_dir: str | Path,
    draws: int = 200,
    seed: int = 7,
    report: str | Path | None = None,
    xlsx: str | Path | None = None,
    force: bool = False,
    strict: bool = False,
    progress: Progress = _quiet,
) -> StudyRun:
    """Read the inputs, settle every scenario, run the tornado and the bootstrap, write files.

    A report or workbook path directly inside ``out`` is written into the output folder
    (and listed in its manifest); elsewhere it is written after the folder is published.
    """
    out = Path(out)
    report_path = Path(report) if report is not None else None
    xlsx_path = Path(xlsx) if xlsx is not None else None
    check_destination(out, force)
    for path in (report_path, xlsx_path):
        _check_document(path, out, force)
    config_path = Path(config_path)
    scenarios_path = Path(scenarios_path)
    config = load_config(config_path)
    config.require_settlement()
    plan = load_scenarios(scenarios_path, config)
    timings: dict[str, float] = {}

    progress("Reading inputs")
    start = time.perf_counter()
    data = load_inputs(data_dir, config, with_claims=True, with_quality=True)
    timings["read_inputs"] = time.perf_counter() - start
    progress("Member-level work (attribution, risk, claims)")
    start = time.perf_counter()
    performance = performance_year(data, config, year, with_ccf=True)
    rejects = enforce_policy(data, strict=strict)
    timings["performance_year"] = time.perf_counter() - start
    progress(f"Settling {len(plan.scenarios):,} scenarios")
    facts: dict[str, object] = {
        "program": config.program.name,
        "performance year": year,
        "config": f"{config_path} (sha256 {file_sha256(config_path)[:12]})",
        "scenario file": f"{scenarios_path} (sha256 {file_sha256(scenarios_path)[:12]})",
        "scenarios": len(plan.scenarios),
        "sensitivity parameters": len(plan.sensitivity),
        "practices settled": len(performance.practices),
        "member months": f"{int(performance.practices['member_months'].sum()):,}",
        "bootstrap": f"{draws:,} draws, seed {seed}" if draws else "not run (--draws 0)",
        "tool": f"totalcare_payments {__version__}",
    }
    start = time.perf_counter()
    settled = run_scenarios(performance, config, plan.scenarios)
    timings["scenarios"] = time.perf_counter() - start
    start = time.perf_counter()
    sensitivity = tornado(performance, config, plan.sensitivity)
    timings["tornado"] = time.perf_counter() - start
    chance = None
    if draws:
        progress(f"Bootstrap: {draws:,} draws")
        start = time.perf_counter()
        chance = bootstrap_chance(performance, config, draws=draws, seed=seed)
        timings["chance"] = time.perf_counter() - start
    result = ScenarioStudy(
        year=year,
        program=config.program.name,
        result=settled,
        tornado=sensitivity,
        chance=chance,
        facts=facts,
    )

    manifest = base_manifest("scenarios", config, config_path)
    manifest["year"] = year
    manifest["scenario_file"] = {
        "path": str(scenarios_path),
        "sha256": file_sha256(scenarios_path),
        "scenarios": [s.name for s in plan.scenarios],
        "sensitivity": [s.parameter for s in plan.sensitivity],
    }
    manifest["chance"] = {"draws": draws, "seed": seed}
    manifest["inputs"] = input_manifest(data)
    manifest["notes"] = performance.notes

    tables: dict[str, tuple[pd.DataFrame, bool]] = {
        "scenario_practices": (result.result.practices, True),
        "scenario_summary": (result.result.summary, True),
        "tornado": (result.tornado, False),
    }
    if result.chance is not None:
        tables["chance"] = (result.chance.practices, False)
    tables["rejects"] = (rejects, False)
    documents = [
        (path, writer)
        for path, writer in ((report_path, write_html), (xlsx_path, write_xlsx))
        if path is not None
    ]

    def fill(folder: Path) -> None:
        written: dict[str, int | None] = {}
        for stem, (frame, parquet) in tables.items():
            for path in write_table(frame, folder, stem, parquet=parquet):
                written[path.name] = len(frame)
        for path, writer in documents:
            if _inside(path, out):
                writer(result, folder / path.name)
                written[path.name] = None
        manifest["outputs"] = {
            name: {"sha256": file_sha256(folder / name)}
            | ({"rows": rows} if rows is not None else {})
            for name, rows in written.items()
        }
        write_json(folder / MANIFEST, manifest)
        write_json(folder / "run.json", run_record())

    progress("Writing outputs")
    start = time.perf_counter()
    backup = publish(out, fill, force=force)
    timings["write_outputs"] = time.perf_counter() - start
    start = time.perf_counter()
    for path, writer in documents:
        if not _inside(path, out):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                writer(result, path)
            except OSError as exc:
                raise InputError(f"{path}: cannot write it ({exc.strerror})") from None
    timings["write_documents"] = time.perf_counter() - start
    return StudyRun(
        study=result,
        out=out,
        manifest=manifest,
        files=sorted(out.iterdir()),
        rejects=rejects,
        report=report_path,
        xlsx=xlsx_path,
        backup=backup,
        timings=timings,
    )
