"""Money: integer cents, rounded half-up (away from zero on .5), formatted to two places.

Every amount the engine pays is an ``int64`` number of cents; floats only carry
rates and ratios. Control totals are sums of those integers, so they equal the
sum of the lines exactly.

Claim amounts may carry fractions of a cent. They are read as whole *units* of a
hundredth of a cent (``UNITS_PER_DOLLAR`` = 10,000 to the dollar), summed exactly in
units, and rounded half-up to cents once per practice (``units_to_cents``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Money columns in Parquet: exact decimals, never binary floats.
MONEY_TYPE = pa.decimal128(18, 2)

# Products such as 1.005 * 100 land a hair below .5 in binary floating point;
# rounding the scaled value to this many places first removes that noise.
_NOISE_DECIMALS = 6

# Claim amounts are summed in units of a hundredth of a cent.
UNITS_PER_CENT = 100
UNITS_PER_DOLLAR = 100 * UNITS_PER_CENT


def to_cents(dollars: np.ndarray | float) -> np.ndarray:
    """Dollars (float) to whole cents, half-up: 0.125 -> 13, -0.125 -> -13, 1.005 -> 101."""
    scaled = np.round(np.asarray(dollars, dtype=np.float64) * 100.0, _NOISE_DECIMALS)
    cents = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return cents.astype(np.int64)


def round_half_up(values: np.ndarray | float, decimals: int) -> np.ndarray:
    """Round to ``decimals`` places, half away from zero (for rates such as avg_risk_score)."""
    factor = 10.0**decimals
    scaled = np.round(np.asarray(values, dtype=np.float64) * factor, _NOISE_DECIMALS)
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / factor


def units_to_cents(units: np.ndarray | int) -> np.ndarray:
    """Whole units (hundredths of a cent) to whole cents, half-up, in integers: 50 -> 1, -150 -> -2."""
    u = np.asarray(units, dtype=np.int64)
    return np.sign(u) * ((np.abs(u) + UNITS_PER_CENT // 2) // UNITS_PER_CENT)


def mul_div_half_up(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a x b / c`` rounded half-up to a whole number, exactly, for int64 arrays with
    ``a >= 0``, ``0 <= b <= c``, ``c > 0`` and ``a < 2**53``: although ``a x b`` may pass
    int64, the quotient (at most ``a``) does not.

    The quotient is estimated in floating point (within 3 of the truth) and corrected
    with the exact remainder ``a x b - q x c``, worked out modulo 2**64: the true
    remainder is small, so its wrapped value is exact.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    q = np.floor(a.astype(np.float64) * (b / c)).astype(np.int64)

    def remainder(q: np.ndarray) -> np.ndarray:
        wrapped = a.astype(np.uint64) * b.astype(np.uint64) - q.astype(np.uint64) * c.astype(
            np.uint64
        )
        return wrapped.view(np.int64)

    r = remainder(q)
    for _ in range(4):  # the estimate is at most 3 off
        low, high = r < 0, r >= c
        if not (low.any() or high.any()):
            break
        q = q - low + high
        r = remainder(q)
    assert ((r >= 0) & (r < c)).all(), "mul_div_half_up: inputs outside its range"
    return q + (2 * r >= c)


def cents_text(cents: int | np.integer) -> str:
    """Cents as exact decimal text with two places, no separators: 1200000 -> '12000.00'."""
    value = int(cents)
    whole, frac = divmod(abs(value), 100)
    return f"{'-' if value < 0 else ''}{whole}.{frac:02d}"


def cents_to_dollars(cents: np.ndarray) -> np.ndarray:
    """Cents to float dollars, for display and for ratios only."""
    return np.asarray(cents, dtype=np.int64) / 100.0


def cents_to_arrow(cents: np.ndarray) -> pa.Array:
    """Cents to an exact ``decimal128(18, 2)`` Arrow array, without going through text.

    A decimal128 value is its unscaled integer (here: the cents) as 16 little-endian
    bytes in two's complement: the int64 and its sign extension.
    """
    c = np.asarray(cents, dtype=np.int64)
    words = np.empty((len(c), 2), dtype=np.int64)
    words[:, 0] = c
    words[:, 1] = c >> 63
    return pa.Array.from_buffers(MONEY_TYPE, len(c), [None, pa.py_buffer(words)])


def format_cents(cents: np.ndarray) -> np.ndarray:
    """Cents to exact decimal strings with two places: 123456 -> '1234.56', -5 -> '-0.05'."""
    text = pc.cast(cents_to_arrow(cents), pa.string())
    return text.to_numpy(zero_copy_only=False)


def dollars(cents: int | np.integer) -> str:
    """Cents as dollars with thousands separators, exactly: -123456 -> -$1,234.56."""
    value = int(cents)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 100)
    return f"{sign}${whole:,}.{frac:02d}"


def grouped_digits(values: np.ndarray) -> np.ndarray:
    """Whole numbers with thousands separators, element by element as ``f"{v:,}"``:
    -1234567 -> '-1,234,567' (one pass per group of three digits, not per value)."""
    v = np.asarray(values, dtype=np.int64)
    if not v.size:
        return np.array([], dtype=str)
    whole = np.abs(v)
    text = (whole % 1000).astype(str)
    top, rest = whole % 1000, whole // 1000
    while np.any(rest > 0):
        pad = np.where(top < 10, "00", np.where(top < 100, "0", ""))
        longer = np.strings.add(np.strings.add((rest % 1000).astype(str), ","), pad)
        text = np.where(rest > 0, np.strings.add(longer, text), text)
        top, rest = rest % 1000, rest // 1000
    return np.where(v < 0, np.strings.add("-", text), text)


def dollars_array(cents: np.ndarray) -> np.ndarray:
    """``dollars`` of every element of an array of cents: -123456 -> '-$1,234.56'."""
    c = np.asarray(cents, dtype=np.int64)
    if not c.size:
        return np.array([], dtype=str)
    whole, frac = np.divmod(np.abs(c), 100)
    text = np.strings.add(np.strings.add("$", grouped_digits(whole)), ".")
    text = np.strings.add(text, np.strings.zfill(frac.astype(str), 2))
    return np.where(c < 0, np.strings.add("-", text), text)
