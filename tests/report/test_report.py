"""The scenario study's HTML report and its charts: self-contained, complete, the same
bytes on a rerun, the payer's net savings defined as the code computes them, losses drawn
in red, every chart's text inside its figure, and the report opens in a headless browser.

The studies (``sample_study``, ``many_study``) are in this folder's conftest.py; the
workbook's tests are in test_workbook.py."""

from __future__ import annotations

import dataclasses
import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from helpers import ROOT
from matplotlib.figure import Figure
from matplotlib.text import Text

from totalcare_payments.money import dollars
from totalcare_payments.outputs.tables import public_name
from totalcare_payments.report import DEFINITIONS
from totalcare_payments.report import charts as report_charts
from totalcare_payments.report.charts import (
    GAIN,
    LOSS,
    distribution_chart,
    distribution_figure,
    distribution_titles,
    program_waterfall,
    scenario_chart,
)
from totalcare_payments.report.html import html_report, write_html
from totalcare_payments.report.workbook import SHEETS, write_xlsx
from totalcare_payments.scenarios.plan import SUMMARY_COLUMNS, ScenarioStudy

# the scenario documents (matplotlib, xlsxwriter) and whole README examples: make test
pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DOC = ROOT / "docs" / "scenarios.md"


@pytest.fixture(scope="module")
def written(sample_study, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("report")
    return write_html(sample_study, folder / "report.html"), write_xlsx(
        sample_study, folder / "scenarios.xlsx"
    )


def _section(text: str, anchor: str) -> str:
    """One section of the report, by its anchor."""
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', text, re.S)
    assert match, anchor
    return match.group(1)


def _with_summary(result: ScenarioStudy, **net_cents: int) -> ScenarioStudy:
    """The study with some scenarios' payer net savings set (scenario name -> cents)."""
    summary = result.result.summary.copy()
    for name, cents in net_cents.items():
        summary.loc[summary["scenario"] == name, "payer_net_savings_cents"] = cents
    return dataclasses.replace(result, result=dataclasses.replace(result.result, summary=summary))


# What a page would fetch: a src or href to another host, a script, a stylesheet link, an
# @import or a CSS url() that is not a fragment.
EXTERNAL = [
    r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:|//|ftp:)""",
    r"<script\b",
    r"<link\b",
    r"<iframe\b",
    r"<object\b",
    r"@import",
    r"""url\(\s*["']?(?!#)""",
    r"""<img\b[^>]*\bsrc\s*=\s*["']?(?!data:)""",
]


def test_report_has_every_chart_and_loads_nothing(written):
    html_path, _ = written
    text = html_path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<svg ") == 5  # waterfall, scenarios, tornado, distribution, MSR chance
    for anchor in ("waterfall", "scenarios", "tornado", "chance", "practices"):
        assert f'<section id="{anchor}">' in text
    for pattern in EXTERNAL:
        assert not re.search(pattern, text, re.I), pattern
    # the tables: a scenario name, the tornado's parameters and money as dollars
    assert "sharing 40%" in text and "settlement.payment_limit" in text
    assert "$36,418.58" in text  # the base total paid on the sample program
    # each chart's ids are its own, so charts in one page do not clash
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids))


@pytest.mark.slow
def test_report_and_workbook_are_the_same_bytes_on_a_rerun(tmp_path):
    """The whole study in two processes, with different string hashing (so set and dict
    orders of strings differ): the report, the workbook and every table are the same
    bytes."""
    outputs = []
    for seed in ("1", "2"):
        folder = tmp_path / f"run-{seed}"
        command = [sys.executable, "-m", "totalcare_payments", "scenarios", "--year", "2026"]
        grid = ROOT / "examples" / "scenarios_example.toml"
        result = subprocess.run(
            [
                *command,
                *("--grid", str(grid), "--data", str(ROOT / "sample_data"), "--draws", "20"),
                *("--out", str(folder / "out"), "--report", str(folder / "report.html")),
                *("--xlsx", str(folder / "study.xlsx")),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(folder)
    first, second = outputs
    for name in ("report.html", "study.xlsx"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for path in sorted((first / "out").iterdir()):
        if path.name != "run.json":
            assert path.read_bytes() == (second / "out" / path.name).read_bytes(), path.name


def test_workbook_has_the_named_sheets_in_dollars(written, sample_study):
    _, xlsx_path = written
    book = openpyxl.load_workbook(xlsx_path, read_only=True)
    assert book.sheetnames == list(SHEETS)
    rows = list(book["Summary"].iter_rows(values_only=True))
    header = list(rows[0])
    assert "total_paid" in header and "total_paid_cents" not in header
    base = dict(zip(header, rows[1], strict=True))
    expected = sample_study.result.summary["total_paid_cents"].iloc[0] / 100
    assert base["scenario"] == "base" and base["total_paid"] == pytest.approx(expected)
    practices = list(book["Practices"].iter_rows(values_only=True))
    assert len(practices) - 1 == len(sample_study.result.practices)
    tornado = list(book["Tornado"].iter_rows(values_only=True))
    assert len(tornado) - 1 == len(sample_study.tornado)
    book.close()


def test_waterfall_steps_add_up_to_each_total(sample_study):
    steps = program_waterfall(sample_study.result.base)
    running = 0
    for row in steps.itertuples(index=False):
        if row.kind == "total":
            assert running == row.amount_cents or row.step == "budget", row.step
            running = row.amount_cents
        else:
            running += row.amount_cents
    base = sample_study.result.base
    totals = steps.set_index("step")["amount_cents"]
    assert totals["final payments"] == base["final_payment_cents"].sum()
    assert totals["savings"] == base["savings_cents"].sum()


def test_report_of_many_scenarios_and_practices(many_study):
    """Past 40 scenarios or practices the charts switch to sorted curves and the top 40."""
    text = html_report(many_study)
    assert text.count("<svg ") == 4  # no tornado without [sensitivity]
    assert "No [sensitivity] table" in text
    assert "Showing" not in text  # 46 scenarios and 50 practices fit the tables


def _browser() -> str | None:
    return next((b for b in BROWSERS if shutil.which(b)), None)


def test_report_opens_in_a_headless_browser(written, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip(
            "no headless browser: install one (Debian/Ubuntu: apt-get install chromium) "
            "to open the report as a reader would"
        )
    html_path, _ = written
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<h1>Savings scenarios:" in dom
    assert dom.count("<svg") == 5
    assert "net::ERR" not in done.stderr


# --- the payer's net savings: defined, computed and drawn as the code does --------------


def test_report_defines_payer_net_savings_on_untruncated_incurred_cost(sample_study):
    """scenarios.settle computes budget - incurred_cost - net_payment - ccf_paid, with the
    untruncated incurred cost; the report says so, from the same DEFINITIONS."""
    section = _section(html_report(sample_study), "scenarios")
    shown = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", section))
    definition = html.unescape(shown["payer_net_savings"])
    assert definition == DEFINITIONS["payer_net_savings"]
    assert definition.startswith("budget - incurred cost - net payments - CCF paid")
    assert "untruncated" in definition
    assert html.unescape(shown["incurred_cost"]).startswith(
        "claims paid x completion factor, untruncated, no CCF"
    )
    plain = html.unescape(re.sub(r"<[^>]+>", " ", section))
    assert "truncated cost" not in plain and "settlement's basis" not in plain
    # the figures: the summary's own column, which is budget - incurred - net - CCF ...
    summary = sample_study.result.summary.set_index("scenario")
    expected = (
        summary["budget_cents"]
        - summary["incurred_cost_cents"]
        - summary["net_payment_cents"]
        - summary["ccf_paid_cents"]
    )
    assert (summary["payer_net_savings_cents"] == expected).all()
    # ... not budget - the settlement's (truncated) actual cost: the 99th-percentile
    # truncation takes cost off the settlement but leaves the payer's net savings alone
    truncated = summary.loc["truncation at 99th percentile"]
    assert truncated["actual_cost_cents"] < summary.loc["base", "actual_cost_cents"]
    assert truncated["payer_net_savings_cents"] == summary.loc["base", "payer_net_savings_cents"]
    assert dollars(int(summary.loc["base", "payer_net_savings_cents"])) == "-$408,806.92"
    assert '<td class="num">-$408,806.92</td>' in section
    # the chart's axis says what is drawn
    assert "budget - incurred cost (untruncated)" in scenario_chart(sample_study.result.summary)


def _docs_summary_table() -> dict[str, str]:
    """docs/scenarios.md's table of scenario_summary columns: column -> its meaning there."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("`scenario_summary` columns") :].split("\n\n")[1]
    meanings: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        columns = re.findall(r"`([^`]+)`", cells[0])
        meaning = cells[1].replace("`", "")
        parts = meaning.split("; ") if len(columns) > 1 else [meaning]
        if len(parts) == len(columns):
            meanings.update(zip(columns, parts, strict=True))
    return meanings


def test_definitions_agree_with_the_docs():
    """One set of definitions: each column the docs define alone reads the same in
    DEFINITIONS (which may say more); every summary column has one."""
    documented = _docs_summary_table()
    assert {"payer_net_savings", "incurred_cost", "total_paid", "practices_paid"} <= set(documented)
    for column, meaning in documented.items():
        assert meaning in DEFINITIONS[column], column
    for column in SUMMARY_COLUMNS:
        assert DEFINITIONS.get(public_name(column)), column


def test_table_headings_carry_their_definitions_and_flags_read_yes_or_no(sample_study):
    text = html_report(sample_study)
    practices = _section(text, "practices")
    meaning = html.escape(DEFINITIONS["meets_msr"])
    assert f'<th title="{meaning}">meets_msr</th>' in practices
    head = re.findall(r"<th[^>]*>([^<]+)</th>", practices)
    column = head.index("meets_msr")
    rows = re.findall(r"<tr>(<td.*?)</tr>", practices)
    flags = {re.findall(r"<td[^>]*>([^<]*)</td>", row)[column] for row in rows}
    assert flags <= {"yes", "no"} and flags  # a flag, not a rate (it was "100.00%")


# --- colours ------------------------------------------------------------------------------


def _net_fills(svg: str) -> dict[int, str]:
    """The fill of each payer-net-savings bar, by the summary's row."""
    pattern = r'<g id="scenarios-net-savings-(\d+)">\s*<path [^>]*style="fill: (#[0-9a-f]{6})'
    return {int(i): color for i, color in re.findall(pattern, svg)}


def test_negative_payer_savings_are_red_and_positive_green(sample_study):
    result = _with_summary(sample_study, **{"sharing 40%": 12_345_600, "MSR 3%": -1})
    summary = result.result.summary
    net = summary["payer_net_savings_cents"].to_numpy()
    assert (net < 0).any() and (net > 0).any()
    svg = _section(html_report(result), "scenarios")
    fills = _net_fills(svg)
    assert sorted(fills) == list(range(len(summary)))
    for row, value in enumerate(net):
        assert fills[row] == (GAIN if value >= 0 else LOSS), summary["scenario"].iloc[row]
    assert fills[1] == GAIN == "#2f855a" and fills[0] == LOSS == "#c53030"  # base: a loss


def test_negative_payer_savings_are_red_in_the_sorted_curves_too(many_study):
    """Past 40 scenarios the payer's net savings are a sorted curve: red below zero."""
    summary = many_study.result.summary.copy()
    net = summary["payer_net_savings_cents"].to_numpy()
    summary["payer_net_savings_cents"] = net - int(np.median(net))  # half gains, half losses
    svg = scenario_chart(summary)
    strokes = set(re.findall(r"stroke: (#[0-9a-f]{6})", svg))
    assert {GAIN, LOSS} <= strokes
    losses_only = summary.assign(payer_net_savings_cents=-np.abs(net) - 1)
    assert GAIN not in set(re.findall(r"stroke: (#[0-9a-f]{6})", scenario_chart(losses_only)))


# --- every chart's text fits its figure ---------------------------------------------------


def _drawn(fig: Figure) -> list[Text]:
    """The figure's titles, axis labels, annotations and legend texts, and the tick labels
    it draws (those of ticks inside the view)."""
    texts = [fig._suptitle] if fig._suptitle is not None else []
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        texts += list(ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            texts += list(legend.get_texts())
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            texts += [
                tick.label1
                for tick in axis.get_major_ticks()
                if tick.label1.get_visible() and lo <= tick.get_loc() <= hi
            ]
    return [text for text in texts if text.get_visible() and text.get_text()]


def _outside(fig: Figure) -> list[str]:
    """The texts drawn (partly) outside the figure: what a reader would see clipped."""
    fig.draw_without_rendering()
    box, tolerance = fig.bbox, 0.5
    outside = []
    for text in _drawn(fig):
        extent = text.get_window_extent()
        if (
            extent.x0 < box.x0 - tolerance
            or extent.x1 > box.x1 + tolerance
            or extent.y0 < box.y0 - tolerance
            or extent.y1 > box.y1 + tolerance
        ):
            outside.append(text.get_text())
    return outside


FIGURES: dict[str, Callable[[ScenarioStudy], Figure | None]] = {
    "waterfall": lambda s: report_charts.waterfall_figure(program_waterfall(s.result.base)),
    "scenarios": lambda s: report_charts.scenario_figure(s.result.summary),
    "tornado": lambda s: report_charts.tornado_figure(s.tornado),
    "distribution": lambda s: report_charts.distribution_figure(s.chance) if s.chance else None,
    "msr-chance": lambda s: report_charts.msr_chance_figure(s.chance) if s.chance else None,
}


@pytest.mark.parametrize("study_name", ["sample_study", "many_study"])
@pytest.mark.parametrize("chart", sorted(FIGURES))
def test_no_chart_text_is_clipped(chart, study_name, request):
    result = request.getfixturevalue(study_name)
    fig = FIGURES[chart](result)
    if fig is None:
        pytest.skip(f"no {chart} chart for this study")
    assert _outside(fig) == []


def test_distribution_title_is_whole_with_50_practices(many_study):
    """50 practices: the 40 widest are shown, and the title says so without being cut."""
    chance = many_study.chance
    assert chance is not None and len(chance.practices) == 50
    title, subtitle = distribution_titles(chance)
    assert title == "Payment per practice over 20 bootstrap draws"
    assert subtitle == (
        "The 40 practices with the widest 5%-95% range; box: quartiles, whiskers: "
        "5th-95th percentile"
    )
    svg = distribution_chart(chance)
    for text in (title, subtitle):
        assert f">{html.escape(text, quote=False)}</text>" in svg  # one text element, whole
    fig = distribution_figure(chance)
    fig.draw_without_rendering()
    drawn = {t.get_text(): t for t in _drawn(fig)}
    for text in (title, subtitle):
        box = drawn[text].get_window_extent()
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, text
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, text
    width = float(re.search(r'<svg [^>]*width="([\d.]+)pt"', svg).group(1))
    assert width == 720  # 10 inches: the title fits in it (see above), and the page scales it
