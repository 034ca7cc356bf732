"""TODO"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..outputs.tables import public_name
from ..scenarios.plan import ScenarioStudy
from .charts import program_waterfall
from .html import _kind

#: The Excel sheet of scenario x practice rows holds at most this many rows.
EXCEL_MAX_ROWS = 5_000



SHEETS = ("About", "Waterfall", "Summary", "Tornado", "Chance", "Practices")



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
