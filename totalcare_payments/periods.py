"""Months as integers: a period is the number of months since 1970-01 (numpy's ``datetime64[M]``).

``"2026-03"`` <-> 674. Integer periods make member-month keys cheap to build and compare.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_YEAR_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_year_month(text: str) -> int:
    """``"2026-03"`` -> period 674; raises ``ValueError`` naming the expected form."""
    m = _YEAR_MONTH.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a month in the form YYYY-MM (for example 2026-03)")
    return (int(m.group(1)) - 1970) * 12 + int(m.group(2)) - 1


def format_period(period: int) -> str:
    """Period 674 -> ``"2026-03"``."""
    year, month0 = divmod(int(period), 12)
    return f"{year + 1970:04d}-{month0 + 1:02d}"


def parse_month_range(text: str) -> list[int]:
    """``"2026-01..2026-12"`` (or one month, or a comma list) -> the periods it covers, in order."""
    periods: list[int] = []
    for part in text.split(","):
        if ".." in part:
            start_text, end_text = part.split("..", 1)
            start, end = parse_year_month(start_text), parse_year_month(end_text)
            if end < start:
                raise ValueError(f"month range '{part}' ends before it starts")
            periods.extend(range(start, end + 1))
        else:
            periods.append(parse_year_month(part))
    return sorted(set(periods))


def year_periods(year: int) -> np.ndarray:
    """The twelve periods of a calendar year."""
    first = (year - 1970) * 12
    return np.arange(first, first + 12, dtype=np.int32)


def periods_from_year_month(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized parse of a ``YYYY-MM`` column: (periods as int32, mask of unparseable rows).

    Each distinct text is parsed once (a year of attribution has twelve).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.array.codes, values.cat.categories
    else:
        codes, uniques = pd.factorize(values)
    text = pd.Series(uniques).astype("string")
    ok = text.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").fillna(False).to_numpy(dtype=bool)
    year = pd.to_numeric(text.str.slice(0, 4), errors="coerce").to_numpy(dtype="float64")
    month = pd.to_numeric(text.str.slice(5, 7), errors="coerce").to_numpy(dtype="float64")
    unique_period = np.where(ok, (year - 1970) * 12 + month - 1, -1).astype(np.int32)
    first = int(unique_period[0]) if len(unique_period) else -1
    if first >= 0 and np.array_equal(unique_period, first + np.arange(len(unique_period))):
        # consecutive months in code order (a year of attribution, as written): the
        # period is the code plus the first month, no gather
        period = codes.astype(np.int32)
        period += first
        empty = codes < 0
        if empty.any():
            period[empty] = -1
        return period, empty
    # code -1 (empty) indexes the trailing -1: one gather, no per-row parsing
    period = np.append(unique_period, np.int32(-1))[codes]
    return period, period < 0


_UNITS_PER_DAY = {"D": 1, "s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400 * 10**9}
_NAT = np.iinfo(np.int64).min


def periods_from_dates(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized service month of a date column (dates or ``YYYY-MM-DD`` text): (periods, bad mask)."""
    if isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_date32(values.dtype.pyarrow_dtype):
        days = pa.array(values.array)
        return _periods_from_days(
            days if isinstance(days, pa.ChunkedArray) else pa.chunked_array([days])
        )
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    arr = values.to_numpy()
    unit = np.datetime_data(arr.dtype)[0]
    ticks = arr.view(np.int64)
    bad = ticks == _NAT
    if unit not in _UNITS_PER_DAY or len(arr) == 0 or bad.all():
        months = arr.astype("datetime64[M]").astype(np.int64)
        return np.where(bad, -1, months).astype(np.int32), bad
    days = np.floor_divide(ticks, _UNITS_PER_DAY[unit])
    good_days = days[~bad] if bad.any() else days
    first, last = int(good_days.min()), int(good_days.max())
    if last - first > 200_000:  # centuries of dates: let numpy's calendar do it
        months = arr.astype("datetime64[M]").astype(np.int64)
        return np.where(bad, -1, months).astype(np.int32), bad
    # the calendar is applied once per distinct day, then looked up
    month_of_day = (
        np.arange(first, last + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int32)
    )
    offset = np.where(bad, 0, days - first)
    return np.where(bad, -1, month_of_day[offset]).astype(np.int32), bad


def _month_of_day(first: int, last: int) -> np.ndarray:
    """The period of each day from ``first`` to ``last`` (days since 1970-01-01)."""
    return (
        np.arange(first, last + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int32)
    )


def _periods_from_days(days: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Service month of Arrow ``date32`` values, read in place chunk by chunk (one chunk per
    Parquet row group): the calendar is applied once per distinct day, then looked up."""
    period = np.full(len(days), -1, dtype=np.int32)
    bad = np.zeros(len(days), dtype=bool)
    bounds = pc.min_max(days)
    if not bounds["min"].is_valid:  # no dates at all
        bad[:] = True
        return period, bad
    first = int(bounds["min"].cast(pa.int32()).as_py())
    last = int(bounds["max"].cast(pa.int32()).as_py())
    calendar = _month_of_day(first, last) if last - first <= 200_000 else None
    start = 0
    for chunk in days.chunks:  # a loop over row groups, not rows
        end = start + len(chunk)
        day = chunk.cast(pa.int32())
        if chunk.null_count:  # a copy with the nulls filled, only when there are any
            day = day.fill_null(first)
        day = day.to_numpy(zero_copy_only=False)
        if calendar is not None:
            period[start:end] = calendar[day - np.int32(first)]
        else:  # centuries of dates: let numpy's calendar do it
            period[start:end] = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int32)
        if chunk.null_count:
            null = chunk.is_null().to_numpy(zero_copy_only=False)
            bad[start:end] = null
            period[start:end][null] = -1
        start = end
    return period, bad


def month_index(periods: np.ndarray, values: np.ndarray, dtype: type = np.int32) -> np.ndarray:
    """Position of each period value in the run's ``periods`` (-1 when outside the run)."""
    first = int(periods[0])
    if int(periods[-1]) - first + 1 == len(periods):  # contiguous months: arithmetic only
        pos = np.subtract(values, first, dtype=dtype)
        pos[pos.view(f"u{pos.itemsize}") >= len(periods)] = -1  # negatives wrap to huge ones
        return pos
    lut = np.full(int(periods[-1]) - first + 1, -1, dtype=np.int32)
    lut[periods - first] = np.arange(len(periods), dtype=np.int32)
    pos = values - first
    inside = (pos >= 0) & (pos < len(lut))
    return np.where(inside, lut[np.where(inside, pos, 0)], -1).astype(dtype)
