"""Writing a run's tables: CSV and Parquet, money as exact two-place decimals.

Every file but ``run.json`` (when the run happened) is a function of the inputs and
config alone, so reruns give byte-identical files. Folders are published by ``publish``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..money import cents_to_arrow

MANIFEST = "manifest.json"
CENTS_SUFFIX = "_cents"
# Rates and ratios in CSV: ten significant digits (Parquet keeps the full float).
FLOAT_DIGITS = 10


def public_name(column: str) -> str:
    """Column name in files: money columns lose the ``_cents`` suffix of the API."""
    return column.removesuffix(CENTS_SUFFIX)


def _float_text(values: np.ndarray) -> pa.Array:
    """Floats rounded to ``FLOAT_DIGITS`` significant digits, written as the shortest text
    that reads back to that value (empty for NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(values)))
    magnitude = np.where(np.isfinite(magnitude), magnitude, 0)
    factor = 10.0 ** (FLOAT_DIGITS - 1 - magnitude)
    with np.errstate(invalid="ignore", over="ignore"):
        rounded = np.where(np.isfinite(factor), np.round(values * factor) / factor, values)
    return pc.fill_null(pc.cast(pa.array(rounded, from_pandas=True), pa.string()), "")


def text_columns(frame: pd.DataFrame) -> dict[str, pa.Array]:
    """Each column as the text a CSV file shows: money as exact two-place decimals (the
    ``_cents`` suffix dropped), booleans as true/false, floats to ten significant digits,
    text quoted where it must be."""
    out: dict[str, pa.Array] = {}
    for col in frame.columns:
        values = frame[col]
        if col.endswith(CENTS_SUFFIX):
            text = pc.cast(cents_to_arrow(values.to_numpy(dtype=np.int64)), pa.string())
        elif pd.api.types.is_bool_dtype(values.dtype):
            text = pa.array(np.where(values.to_numpy(dtype=bool), "true", "false"))
        elif pd.api.types.is_float_dtype(values.dtype):
            text = _float_text(values.to_numpy(dtype=np.float64))
        elif pd.api.types.is_integer_dtype(values.dtype):
            text = pc.cast(pa.array(values.to_numpy()), pa.string())
        else:  # free text: the only values that may need quoting in a CSV file
            text = _csv_field(pc.fill_null(pa.array(values.astype("string"), type=pa.string()), ""))
        out[public_name(col)] = text
    return out


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    arrays, names = [], []
    for col in frame.columns:
        values = frame[col]
        if col.endswith(CENTS_SUFFIX):
            arrays.append(cents_to_arrow(values.to_numpy(dtype=np.int64)))
        elif pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            arrays.append(pa.array(values.astype("string"), type=pa.string()))
        else:
            arrays.append(pa.array(values.to_numpy()))
        names.append(public_name(col))
    return pa.Table.from_arrays(arrays, names=names)


def write_table(
    frame: pd.DataFrame, folder: Path, stem: str, *, parquet: bool = True
) -> list[Path]:
    """Write ``stem.csv`` (and ``stem.parquet``): money as exact two-place decimals."""
    paths = [folder / f"{stem}.csv"]
    write_csv(text_columns(frame), paths[0])
    if parquet:
        paths.append(folder / f"{stem}.parquet")
        pq.write_table(_arrow_table(frame), paths[1], compression="zstd", store_schema=False)
    return paths


def _csv_field(text: pa.Array) -> pa.Array:
    """Text as a CSV field: quoted (quotes doubled) only when it holds a comma, quote or
    line break, as RFC 4180 asks."""
    needs = pc.match_substring_regex(text, '[,"\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def write_csv(columns: dict[str, pa.Array], path: Path) -> None:
    """Write ``text_columns`` as CSV, vectorized: each line is joined in Arrow, then the
    lines' bytes are written in one piece."""
    with path.open("wb") as fh:
        fh.write((",".join(columns) + "\n").encode())
        if not columns or len(next(iter(columns.values()))) == 0:
            return
        lines = pc.binary_join_element_wise(*columns.values(), ",")
        lines = pc.binary_join_element_wise(lines, "", "\n").cast(pa.large_string())
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
        data = lines.buffers()[2]
        first, last = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
        fh.write(memoryview(data)[first:last])


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")


