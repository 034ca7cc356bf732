"""Reading values written the way payers' systems write them, by declaration only.

The input contract's defaults are strict: dates ``YYYY-MM-DD``, months ``YYYY-MM``, plain
numbers, identifiers as written. A file written otherwise declares how, per column, in
the config's ``[inputs.<table>]`` (``config.ColumnFormat``): date and month formats,
thousands separators and currency signs in money, percentages, identifier normalization.
A value that does not read under its declaration is rejected with the format it was
expected in; a value that two declared formats read as different dates is rejected as
ambiguous (``01/02/2026`` is never silently January 2nd or February 1st). Values whose
type already says what they are (Parquet dates and timestamps) need no declaration.

Every parse works once per distinct value (a year of claims has a few hundred distinct
dates), then one gather per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import ColumnFormat

NO_PERIOD = -1


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes per row, the distinct values as text); code -1 for an empty value."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.array.codes, values.cat.categories
    else:
        codes, uniques = pd.factorize(values)
    return np.asarray(codes), pd.Series(uniques).astype("string").str.strip()


def periods_by_formats(
    values: pd.Series, formats: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The month (periods since 1970-01) of each text value read by the declared formats:
    (periods, mask of values no format reads, mask of values two formats read as different
    months). Works for dates and for months (``%Y%m``, ``%Y-%m``, ``%m/%Y``, ...)."""
    codes, text = _distinct(values)
    found = np.full(len(text), NO_PERIOD, dtype=np.int64)
    ambiguous = np.zeros(len(text), dtype=bool)
    for fmt in formats:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        months = parsed.to_numpy().astype("datetime64[M]").astype(np.int64)
        ok = ~pd.isna(parsed).to_numpy()
        ambiguous |= ok & (found != NO_PERIOD) & (found != months)
        found = np.where(ok & (found == NO_PERIOD), months, found)
    unique_period = np.where(ambiguous, NO_PERIOD, found).astype(np.int32)
    period = np.append(unique_period, np.int32(NO_PERIOD))[codes]  # code -1: empty
    unreadable = np.append(found == NO_PERIOD, False)[codes]
    return period, unreadable & (codes >= 0), np.append(ambiguous, False)[codes]


def periods_of_timestamps(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The month of each date or timestamp (a Parquet ``date``/``timestamp`` column):
    (periods, mask of empty values)."""
    arr = pd.to_datetime(values).to_numpy()
    empty = np.isnat(arr)
    months = arr.astype("datetime64[M]").astype(np.int64)
    return np.where(empty, NO_PERIOD, months).astype(np.int32), empty


def number_text(values: pd.Series, fmt: ColumnFormat) -> pd.Series:
    """Numbers written with the declared separators and signs, as plain number text."""
    text = values.astype("string").str.strip()
    if fmt.currency:
        text = text.str.replace(fmt.currency, "", regex=False).str.strip()
    if fmt.thousands:
        text = text.str.replace(fmt.thousands, "", regex=False)
    if fmt.percent:
        text = text.str.removesuffix("%").str.strip()
    return text


def normalized_ids(ids: pd.Series, fmt: ColumnFormat) -> pd.Series:
    """Identifiers normalized as declared, so that the same member or practice written two
    ways in two files is one id (``00100000000`` and ``100000000``; ``p0001`` and ``P0001``)."""
    if not fmt.ids:
        return ids
    if pd.api.types.is_integer_dtype(ids.dtype):  # integers have no zeros or case to fold
        return ids
    text = ids.astype("string")
    for step in fmt.ids:
        if step == "strip_leading_zeros":
            text = text.str.replace(r"^0+(?=.)", "", regex=True)
        elif step == "uppercase":
            text = text.str.upper()
    return text
