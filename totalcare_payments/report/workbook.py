"""A scenario study's Excel workbook: the report's tables on named sheets, with native charts.

The sheets (``SHEETS``):

- ``About``: the study's facts (numbers as numbers);
- ``Charts``: native Excel charts of the Summary and Tornado sheets: total paid and the
  payer's net savings by scenario (losses in red), and the tornado;
- ``Waterfall``, ``Summary``, ``Tornado``, ``Chance``: the report's tables;
- ``Practices``: the scenario x practice rows, at most ``EXCEL_MAX_ROWS`` of them (the
  output folder has them all);
- ``Segments``, only for a program budgeted per segment (baselines per practice and
  segment): the base terms' budget of each practice and segment;
- ``Definitions``: every column of every sheet, its unit and what it means
  (``report.DEFINITIONS``).

Money is in dollars (number format ``#,##0.00``), rates are fractions shown as
percentages, and every number is a numeric cell. The workbook is written by xlsxwriter,
in memory, with fixed document dates and zip entry times, so the same study gives the
same bytes.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.workbook import Workbook

from ..outputs.tables import public_name
from ..scenarios.plan import BASE, ScenarioStudy
from . import DEFINITIONS
from .charts import CHART_MAX_BARS, COLORS, program_waterfall
from .html import column_kind

#: The Excel sheet of scenario x practice rows holds at most this many rows.
EXCEL_MAX_ROWS = 5_000

SHEETS = (
    "About",
    "Charts",
    "Waterfall",
    "Summary",
    "Tornado",
    "Chance",
    "Practices",
    "Definitions",
)
#: The sheets that hold a table (a header row, then one row per record): all but Charts.
TABLE_SHEETS = tuple(name for name in SHEETS if name != "Charts")
#: The sheet of a study budgeted per segment, before Definitions.
SEGMENTS_SHEET = "Segments"


def sheet_names(result: ScenarioStudy) -> tuple[str, ...]:
    """The study's sheets in order: ``SHEETS``, with ``Segments`` when it has segments."""
    if result.segments is None:
        return SHEETS
    return (*SHEETS[:-1], SEGMENTS_SHEET, SHEETS[-1])

#: The document's dates, as its zip entries' (xlsxwriter's in-memory files): no clock.
FIXED_DATE = datetime(1980, 1, 1, tzinfo=UTC)

#: Columns that hold dollars though they are not ``_cents`` columns.
_DOLLAR_COLUMNS = {"stop_loss_threshold"}
#: Columns of numbers and text together (a fact, a config value): each cell as it is.
_MIXED_COLUMNS = {"value", "base_value", "low", "high"}

_NUMBER_FORMATS = {
    "money": "#,##0.00",
    "probability": "0.0%",
    "percent": "0.00%",
    "grouped": "#,##0",
}
_UNITS = {
    "money": "dollars",
    "percent": "fraction (0.05 = 5%), shown as a percentage",
    "probability": "probability, a fraction (0.05 = 5%) shown as a percentage",
    "int": "count",
    "float": "number",
    "bool": "true/false",
    "text": "text",
}
_MIXED_UNITS = {
    "value": "a number or text",
    "base_value": "as in the config: a number, true/false or a table",
    "low": "as in the scenario file: a number, true/false or a table",
    "high": "as in the scenario file: a number, true/false or a table",
}
#: A table sheet: its frame (public names, money in dollars) and each column's kind.
Table = tuple[pd.DataFrame, dict[str, str]]

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_GROUPED = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def number_or_text(value: object) -> tuple[object, bool]:
    """A cell's value: a number where the value is one ("1,234" and "0.05" too), else text.

    The flag says the number was written with thousands separators (shown so in Excel).
    """
    if value is None:
        return None, False
    if isinstance(value, bool | np.bool_):
        return bool(value), False
    if isinstance(value, int | np.integer):
        return int(value), False
    if isinstance(value, float | np.floating):
        return (float(value) if math.isfinite(value) else None), False
    text = str(value)
    grouped = _GROUPED.fullmatch(text) is not None
    plain = text.replace(",", "") if grouped else text
    if not (grouped or _NUMBER.fullmatch(plain)):
        return text, False
    if re.fullmatch(r"[-+]?\d+", plain):
        return int(plain), grouped
    return float(plain), grouped


def _kinds(source: pd.DataFrame) -> dict[str, str]:
    """Each column's kind under its public name (money, percent, int, ..., mixed)."""
    kinds = {}
    for column in source.columns:
        name = public_name(column)
        if name in _MIXED_COLUMNS:
            kinds[name] = "mixed"
        elif name in _DOLLAR_COLUMNS:
            kinds[name] = "money"
        else:
            kinds[name] = column_kind(column, source[column].dtype)
    return kinds


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
    return pd.DataFrame(out, columns=[public_name(c) for c in frame.columns])


def _sources(result: ScenarioStudy) -> dict[str, pd.DataFrame]:
    """The data sheets' tables as the study holds them (money in cents)."""
    practices = result.result.practices
    about = dict(result.facts)
    if len(practices) > EXCEL_MAX_ROWS:
        about["Practices sheet"] = (
            f"the first {EXCEL_MAX_ROWS:,} of {len(practices):,} rows; "
            "all of them are in scenario_practices.csv / .parquet"
        )
    return {
        "About": pd.DataFrame(
            {
                "item": [str(k) for k in about],
                "value": pd.Series(list(about.values()), dtype=object),
            }
        ),
        "Waterfall": program_waterfall(result.result.base),
        "Summary": result.result.summary,
        "Tornado": result.tornado,
        "Chance": result.chance.practices if result.chance is not None else pd.DataFrame(),
        "Practices": practices.head(EXCEL_MAX_ROWS),
    } | ({} if result.segments is None else {SEGMENTS_SHEET: result.segments})


def _definitions(tables: dict[str, Table]) -> pd.DataFrame:
    """One row per column of every table sheet (this one too): its unit and definition."""
    rows = []
    for sheet, (frame, kinds) in tables.items():
        for column in frame.columns:
            rows.append((sheet, column, _unit(column, kinds[column])))
    own = ("sheet", "column", "unit", "definition")
    rows += [("Definitions", column, "text") for column in own]
    return pd.DataFrame(
        {
            "sheet": [r[0] for r in rows],
            "column": [r[1] for r in rows],
            "unit": [r[2] for r in rows],
            "definition": [DEFINITIONS.get(r[1], "") for r in rows],
        },
        dtype=object,
    )


def _unit(column: str, kind: str) -> str:
    return _MIXED_UNITS.get(column, "") if kind == "mixed" else _UNITS[kind]


def _tables(result: ScenarioStudy) -> dict[str, Table]:
    """Every table sheet, by name: the frame (public names, dollars) and its columns' kinds."""
    tables = {
        name: (_dollar_frame(source), _kinds(source)) for name, source in _sources(result).items()
    }
    definitions = _definitions(tables)
    tables["Definitions"] = (definitions, dict.fromkeys(definitions.columns, "text"))
    return tables


def workbook_sheets(result: ScenarioStudy) -> dict[str, pd.DataFrame]:
    """The workbook's table sheets, by name (``TABLE_SHEETS``, and ``Segments`` for a study
    budgeted per segment), money in dollars."""
    return {name: frame for name, (frame, _) in _tables(result).items()}


# --- writing -----------------------------------------------------------------------------


def _width(column: str, values: Iterable[object]) -> float:
    sample = [len(str(v)) for v in values]
    return min(max(10, max([len(column), *sample]) + 2), 60)


def _write_table(
    sheet: Any, frame: pd.DataFrame, kinds: dict[str, str], formats: dict[str, Any]
) -> None:
    """A header row, then one row per record: numbers as numbers, text as text, NaN empty."""
    header = formats["header"]
    for c, column in enumerate(frame.columns):
        sheet.write_string(0, c, column, header)
        kind = kinds[column]
        values = frame[column].to_numpy()
        if kind in ("money", "probability", "percent", "int", "float"):
            fmt = formats.get(kind)
            for r, number in enumerate(values.astype(np.float64).tolist(), start=1):
                if math.isfinite(number):
                    sheet.write_number(r, c, number, fmt)
        elif kind == "bool":
            for r, flag in enumerate(values.tolist(), start=1):
                if flag is not None and flag is not pd.NA:
                    sheet.write_boolean(r, c, bool(flag))
        elif kind == "mixed":
            for r, raw in enumerate(values.tolist(), start=1):
                value, grouped = number_or_text(raw)
                if isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, int | float):
                    sheet.write_number(r, c, value, formats["grouped"] if grouped else None)
                elif value is not None:
                    sheet.write_string(r, c, str(value))
        else:
            for r, text in enumerate(values.tolist(), start=1):
                if not (
                    text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text))
                ):
                    sheet.write_string(r, c, str(text))
        if column == "definition":
            sheet.set_column(c, c, 100, formats["wrap"])
        else:
            sheet.set_column(c, c, _width(column, values[:50]))
    if len(frame.columns):
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)


def _bar_chart(book: Any, rows: int, title: str, value_format: str) -> Any:
    """A chart of one bar per row: horizontal up to CHART_MAX_BARS rows, else columns."""
    horizontal = rows <= CHART_MAX_BARS
    chart = book.add_chart({"type": "bar" if horizontal else "column"})
    chart.set_title({"name": title, "name_font": {"size": 12}})
    chart.set_legend({"none": True})
    values_axis = {"num_format": value_format, "major_gridlines": {"visible": True}}
    if horizontal:  # a bar chart's x axis is the (horizontal) value axis
        chart.set_x_axis(values_axis)
        chart.set_y_axis({"reverse": True, "label_position": "low"})  # the sheet's order
        chart.set_size({"width": 840, "height": 90 + 22 * rows})
    else:
        chart.set_y_axis(values_axis)
        chart.set_x_axis({"label_position": "low"})
        chart.set_size({"width": 960, "height": 420})
    return chart


def _add_charts(book: Any, sheet: Any, tables: dict[str, Table]) -> None:
    """Native charts of the Summary and Tornado sheets' ranges, one under the other."""
    summary, _ = tables["Summary"]
    n = len(summary)
    at = summary.columns.get_loc
    names = summary["scenario"].astype(str).to_numpy()
    base = np.flatnonzero(names == BASE)
    categories = ["Summary", 1, at("scenario"), n, at("scenario")]
    money_axis = "$#,##0"
    charts = []

    paid = _bar_chart(book, n, "Total shared-savings payments by scenario", money_axis)
    paid.add_series(
        {
            "name": "total paid",
            "categories": categories,
            "values": ["Summary", 1, at("total_paid"), n, at("total_paid")],
            "fill": {"color": COLORS["paid"]},
            "points": _points({int(i): {"fill": {"color": COLORS["base"]}} for i in base}),
        }
    )
    charts.append(paid)

    net_values = summary["payer_net_savings"].to_numpy(dtype=np.float64)
    net = _bar_chart(book, n, "Payer's net savings by scenario (losses in red)", money_axis)
    net.add_series(
        {
            "name": "payer net savings",
            "categories": categories,
            "values": ["Summary", 1, at("payer_net_savings"), n, at("payer_net_savings")],
            "fill": {"color": COLORS["gain"]},
            "invert_if_negative": True,
            "invert_if_negative_color": COLORS["loss"],
            "points": _points(
                {
                    int(i): {
                        "fill": {"color": COLORS["gain" if net_values[i] >= 0 else "loss"]},
                        "border": {"color": "#1a202c", "width": 1.5},
                    }
                    for i in base
                },
            ),
        }
    )
    charts.append(net)

    tornado, _ = tables["Tornado"]
    k = len(tornado)
    if k:
        tat = tornado.columns.get_loc
        base_paid = float(tornado["base_total_paid"].iloc[0])
        chart = book.add_chart({"type": "bar"})
        chart.set_title(
            {
                "name": f"Change in total paid, one parameter at a time (base ${base_paid:,.0f})",
                "name_font": {"size": 12},
            }
        )
        for label, column, color in (
            ("low value", "change_low", COLORS["low"]),
            ("high value", "change_high", COLORS["high"]),
        ):
            chart.add_series(
                {
                    "name": label,
                    "categories": ["Tornado", 1, tat("parameter"), k, tat("parameter")],
                    "values": ["Tornado", 1, tat(column), k, tat(column)],
                    "fill": {"color": color},
                    "overlap": 100,
                    "gap": 60,
                }
            )
        chart.set_x_axis({"num_format": money_axis, "name": "change against the base"})
        chart.set_y_axis({"reverse": True, "label_position": "low"})  # largest swing on top
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 840, "height": 120 + 36 * k})
        charts.append(chart)

    row = 1
    for chart in charts:
        sheet.insert_chart(row, 1, chart)
        row += math.ceil(chart.height / 20) + 2  # rows are 20 pixels high


def _points(special: dict[int, dict[str, Any]]) -> list[dict[str, Any] | None] | None:
    """xlsxwriter's per-point formats: None for every point but the special ones."""
    if not special:
        return None
    return [special.get(i) for i in range(max(special) + 1)]


def workbook_bytes(result: ScenarioStudy) -> bytes:
    """The whole workbook as the bytes of an .xlsx file."""
    tables = _tables(result)
    buffer = io.BytesIO()
    book = Workbook(
        buffer,
        {
            "in_memory": True,  # fixed zip entry times, and no temporary files
            "strings_to_numbers": False,
            "strings_to_formulas": False,  # a scenario named "=1+1" stays text
            "strings_to_urls": False,
        },
    )
    book.set_properties(
        {
            "title": f"Savings scenarios: {result.program}, performance year {result.year}",
            "author": "totalcare_payments",
            "created": FIXED_DATE,  # xlsxwriter writes it as created and modified
        }
    )
    formats = {kind: book.add_format({"num_format": f}) for kind, f in _NUMBER_FORMATS.items()}
    formats["header"] = book.add_format({"bold": True, "bottom": 1})
    formats["wrap"] = book.add_format({"text_wrap": True, "valign": "top"})
    sheets = {name: book.add_worksheet(name) for name in sheet_names(result)}
    for name, (frame, kinds) in tables.items():
        _write_table(sheets[name], frame, kinds, formats)
    _add_charts(book, sheets["Charts"], tables)
    book.close()
    return buffer.getvalue()


def write_xlsx(result: ScenarioStudy, path: str | Path) -> Path:
    """Write the workbook (atomically: a temporary file renamed into place)."""
    path = Path(path)
    data = workbook_bytes(result)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
