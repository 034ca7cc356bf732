"""The scenario study's Excel workbook, read back: a Definitions sheet that defines every
column of every sheet from report.DEFINITIONS, native charts over the right ranges, numbers
stored as numbers, and the same bytes on a rerun."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from helpers import DEFAULT_CONFIG, ROOT, SAMPLE
from openpyxl.utils import get_column_letter

from totalcare_payments.config import load_config
from totalcare_payments.jobs import StudyRun, run_scenario_study
from totalcare_payments.report import DEFINITIONS
from totalcare_payments.report.workbook import (
    SHEETS,
    TABLE_SHEETS,
    number_or_text,
    workbook_sheets,
    write_xlsx,
)

# the scenario documents (matplotlib, xlsxwriter) and whole README examples: make test
pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "scenarios_example.toml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> StudyRun:
    """The study as ``totalcare scenarios`` runs it, with its real About facts."""
    folder = tmp_path_factory.mktemp("workbook")
    return run_scenario_study(
        load_config(DEFAULT_CONFIG),
        EXAMPLE,
        2026,
        folder / "out",
        data=SAMPLE,
        draws=40,
        xlsx=folder / "scenarios.xlsx",
    )


@pytest.fixture(scope="module")
def book(run: StudyRun) -> openpyxl.Workbook:
    assert run.xlsx is not None
    return openpyxl.load_workbook(run.xlsx)


def _header(sheet) -> list[str]:
    return [cell.value for cell in next(sheet.iter_rows(min_row=1, max_row=1))]


def _column(sheet, name: str) -> list[object]:
    """A column's cells below the header, by its heading."""
    index = _header(sheet).index(name) + 1
    return [row[0].value for row in sheet.iter_rows(min_row=2, min_col=index, max_col=index)]


# --- the Definitions sheet -----------------------------------------------------------------


def test_definitions_sheet_defines_every_column_of_every_sheet(book):
    assert book.sheetnames == list(SHEETS) and book.sheetnames[-1] == "Definitions"
    rows = list(book["Definitions"].iter_rows(values_only=True))
    assert rows[0] == ("sheet", "column", "unit", "definition")
    defined = {(sheet, column): (unit, text) for sheet, column, unit, text in rows[1:]}
    shown = set()
    for name in book.sheetnames:
        sheet = book[name]
        if name == "Charts":
            assert sheet.max_row == 1 and sheet["A1"].value is None  # charts only, no table
            continue
        for column in _header(sheet):
            shown.add((name, column))
            unit, text = defined[(name, column)]
            assert text and unit, (name, column)
            assert text == DEFINITIONS[column]  # one source, not a second set
    assert set(defined) == shown  # and nothing defined that is not shown
    assert {name for name, _ in shown} == set(TABLE_SHEETS)


def test_definitions_give_money_in_dollars_and_rates_as_fractions(book):
    rows = list(book["Definitions"].iter_rows(values_only=True))[1:]
    unit = {(sheet, column): u for sheet, column, u, _ in rows}
    for key in [
        ("Summary", "total_paid"),
        ("Summary", "payer_net_savings"),
        ("Summary", "stop_loss_threshold"),
        ("Tornado", "swing"),
        ("Practices", "final_payment"),
        ("Waterfall", "amount"),
    ]:
        assert unit[key] == "dollars", key
    for key in [("Practices", "savings_rate"), ("Practices", "msr"), ("Chance", "msr")]:
        assert unit[key].startswith("fraction (0.05 = 5%)"), key
    assert unit[("Chance", "p_paid")].startswith("probability, a fraction")
    assert unit[("Practices", "meets_msr")] == "true/false"
    definition = {(s, c): d for s, c, _, d in rows}
    assert "untruncated" in definition[("Summary", "payer_net_savings")]


def test_rates_are_fractions_shown_as_percentages_and_money_has_cents(book, run):
    practices = book["Practices"]
    rates = _column(practices, "savings_rate")
    expected = run.study.result.practices["savings_rate"].to_numpy()
    assert np.allclose(np.array(rates, dtype=float), expected)  # 0.117, not 11.7
    index = _header(practices).index("savings_rate") + 1
    assert practices.cell(row=2, column=index).number_format == "0.00%"
    index = _header(practices).index("final_payment") + 1
    assert practices.cell(row=2, column=index).number_format == "#,##0.00"
    flags = _column(practices, "meets_msr")
    assert {type(v) for v in flags} == {bool}


# --- native charts -------------------------------------------------------------------------


def _charts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as xlsx:
        return {
            name: xlsx.read(name).decode("utf-8")
            for name in sorted(xlsx.namelist())
            if re.fullmatch(r"xl/charts/chart\d+\.xml", name)
        }


def _by_title(charts: dict[str, str]) -> dict[str, str]:
    out = {}
    for xml in charts.values():
        title = "".join(re.findall(r"<a:t>([^<]*)</a:t>", xml.split("</c:title>")[0]))
        out[title] = xml
    return out


def _range(sheet, name: str, rows: int) -> str:
    letter = get_column_letter(_header(sheet).index(name) + 1)
    return f"{sheet.title}!${letter}$2:${letter}${rows + 1}"


def _cached(xml: str, reference: str) -> list[float]:
    """The values a chart caches for one of its ranges."""
    block = xml.split(f"<c:f>{reference}</c:f>", 1)[1].split("</c:numCache>", 1)[0]
    return [float(v) for v in re.findall(r"<c:v>([^<]+)</c:v>", block)]


def test_workbook_has_native_charts_of_the_right_ranges(book, run):
    assert run.xlsx is not None
    charts = _by_title(_charts(run.xlsx))
    assert len(charts) == 3
    summary, tornado = book["Summary"], book["Tornado"]
    n, k = len(run.study.result.summary), len(run.study.tornado)
    assert n == 12 and k == 6
    scenarios = _range(summary, "scenario", n)

    paid = charts["Total shared-savings payments by scenario"]
    assert "<c:barChart>" in paid and '<c:barDir val="bar"/>' in paid
    refs = re.findall(r"<c:f>([^<]+)</c:f>", paid)
    assert refs == [scenarios, _range(summary, "total_paid", n)]
    assert refs[1] == "Summary!$I$2:$I$13"
    expected = run.study.result.summary["total_paid_cents"].to_numpy() / 100
    assert np.allclose(_cached(paid, refs[1]), expected)

    net = charts["Payer's net savings by scenario (losses in red)"]
    refs = re.findall(r"<c:f>([^<]+)</c:f>", net)
    assert refs == [scenarios, _range(summary, "payer_net_savings", n)]
    assert '<c:invertIfNegative val="1"/>' in net and "C53030" in net.upper()

    title = next(t for t in charts if t.startswith("Change in total paid"))
    refs = re.findall(r"<c:f>([^<]+)</c:f>", charts[title])
    parameters = _range(tornado, "parameter", k)
    assert refs == [
        parameters,
        _range(tornado, "change_low", k),
        parameters,
        _range(tornado, "change_high", k),
    ]
    assert refs[1] == "Tornado!$H$2:$H$7" and refs[3] == "Tornado!$I$2:$I$7"
    assert "(base $36,419)" in title
    # the charts are drawn on the Charts sheet
    with zipfile.ZipFile(run.xlsx) as xlsx:
        sheet = SHEETS.index("Charts") + 1
        rels = xlsx.read(f"xl/worksheets/_rels/sheet{sheet}.xml.rels").decode()
        drawing = re.search(r'Target="\.\./drawings/(drawing\d+\.xml)"', rels)
        assert drawing is not None
        drawn = xlsx.read(f"xl/drawings/_rels/{drawing.group(1)}.rels").decode()
        assert drawn.count("../charts/chart") == 3


def test_many_scenarios_chart_as_columns_and_no_tornado(many_study, tmp_path):
    path = write_xlsx(many_study, tmp_path / "many.xlsx")
    charts = _by_title(_charts(path))
    assert len(charts) == 2  # no [sensitivity]: no tornado
    paid = charts["Total shared-savings payments by scenario"]
    assert '<c:barDir val="col"/>' in paid  # 46 scenarios: columns, not 46 labelled bars
    assert "<c:f>Summary!$A$2:$A$47</c:f>" in paid


# --- numbers as numbers --------------------------------------------------------------------


def test_tornado_values_and_about_figures_are_numeric_cells(book, run):
    tornado = book["Tornado"]
    for column in ("base_value", "low", "high", "total_paid_low", "swing"):
        values = _column(tornado, column)
        assert values and all(type(v) in (int, float) for v in values), (column, values)
    table = run.study.tornado.set_index("parameter")
    parameters = _column(tornado, "parameter")
    lows = dict(zip(parameters, _column(tornado, "low"), strict=True))
    assert lows["settlement.stop_loss.amount"] == 50000
    assert lows["settlement.annual_trend"] == pytest.approx(0.03)
    assert table.loc["settlement.annual_trend", "low"] == "0.03"  # text in the study's table
    about = dict(book["About"].iter_rows(min_row=2, values_only=True))
    facts = run.study.facts
    assert about["performance year"] == 2026
    for item in ("scenarios", "sensitivity parameters", "practices settled"):
        assert type(about[item]) is int and about[item] == facts[item]
    members = int(str(facts["member months"]).replace(",", ""))
    assert type(about["member months"]) is int and about["member months"] == members
    assert isinstance(about["program"], str) and isinstance(about["bootstrap"], str)
    rows = {row[0].value: row[1] for row in book["About"].iter_rows(min_row=2)}
    assert rows["member months"].number_format == "#,##0"  # shown as the report shows it


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("1,234,567", (1234567, True)),
        ("0.03", (0.03, False)),
        ("100000", (100000, False)),
        ("1e+06", (1e6, False)),
        ("-5", (-5, False)),
        (2026, (2026, False)),
        (float("nan"), (None, False)),
        ("true", ("true", False)),
        ("{kind=fixed,amount=100000}", ("{kind=fixed,amount=100000}", False)),
        ("nan", ("nan", False)),
        ("1_000", ("1_000", False)),
        ("12,34", ("12,34", False)),
        ("50 draws, seed 7", ("50 draws, seed 7", False)),
    ],
)
def test_number_or_text(value, cell):
    assert number_or_text(value) == cell


def test_sheets_in_dollars_under_public_names(sample_study):
    sheets = workbook_sheets(sample_study)
    assert list(sheets) == list(TABLE_SHEETS)
    summary = sheets["Summary"]
    assert "payer_net_savings" in summary.columns and "payer_net_savings_cents" not in summary
    expected = sample_study.result.summary["payer_net_savings_cents"] / 100
    assert np.allclose(summary["payer_net_savings"].to_numpy(dtype=float), expected)


# --- the same bytes ------------------------------------------------------------------------


def test_workbook_has_fixed_dates_and_zip_times(sample_study, tmp_path):
    path = write_xlsx(sample_study, tmp_path / "one.xlsx")
    with zipfile.ZipFile(path) as xlsx:
        assert {info.date_time for info in xlsx.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = xlsx.read("docProps/core.xml").decode()
    assert re.findall(r"<dcterms:(?:created|modified)[^>]*>([^<]*)<", core) == [
        "1980-01-01T00:00:00Z",
        "1980-01-01T00:00:00Z",
    ]
    again = write_xlsx(sample_study, tmp_path / "again.xlsx")
    assert again.read_bytes() == path.read_bytes()


def test_a_study_budgeted_per_segment_has_a_segments_sheet(tmp_path: Path) -> None:
    """The sample program with two segments (by the parity of the member id) and the
    practices' baselines as both segments': the scenario job writes the base terms' budget
    by practice and segment, to its folder and to a Segments sheet before Definitions."""
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    attribution = pd.read_csv(data / "attribution.csv", dtype=str)
    odd = attribution["member_id"].str[-1].isin(list("13579"))
    attribution.assign(segment=np.where(odd, "esrd", "aged_nondual")).to_csv(
        data / "attribution.csv", index=False
    )
    practices = pd.read_csv(data / "practices.csv", dtype=str)
    base = practices[["practice_id", "baseline_pmpm", "baseline_risk"]]
    pd.concat([base.assign(segment=s) for s in ("aged_nondual", "esrd")]).to_csv(
        data / "baselines.csv", index=False
    )
    done = run_scenario_study(
        load_config(DEFAULT_CONFIG),
        EXAMPLE,
        2026,
        tmp_path / "out",
        data=data,
        draws=0,
        xlsx=tmp_path / "segments.xlsx",
    )
    assert done.study.segments is not None and len(done.study.segments) == 12
    written = pd.read_csv(tmp_path / "out" / "settlement_segments.csv")
    budgets = (written.groupby("practice_id")["budget"].sum() * 100).round().astype(np.int64)
    base_rows = done.study.result.base.set_index("practice_id")["budget_cents"]
    assert budgets.to_dict() == base_rows.to_dict()
    book = openpyxl.load_workbook(tmp_path / "segments.xlsx")
    assert book.sheetnames == [*SHEETS[:-1], "Segments", "Definitions"]
    header = _header(book["Segments"])
    assert header[:2] == ["practice_id", "segment"] and "risk_ratio_capped" in header
    defined = {(s, c) for s, c, *_ in book["Definitions"].iter_rows(min_row=2, values_only=True)}
    assert {("Segments", column) for column in header} <= defined
