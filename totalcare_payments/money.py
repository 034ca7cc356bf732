"""Money: integer cents, rounded half-up (away from zero on .5), formatted to two places.

Every amount the engine pays is an ``int64`` number of cents; floats only carry
rates and ratios. Control totals are sums of those integers, so they equal the
sum of the lines exactly.
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
