"""Money: integer cents, rounded half-up (away from zero on .5), formatted to two places.

Every amount the engine pays is an ``int64`` number of cents; floats only carry
rates and ratios. Control totals are sums of those integers, so they equal the
sum of the lines exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

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


def format_cents(cents: np.ndarray) -> np.ndarray:
    """Cents to exact decimal strings with two places: 123456 -> '1234.56', -5 -> '-0.05'."""
    c = np.asarray(cents, dtype=np.int64)
    sign = np.where(c < 0, "-", "")
    a = np.abs(c)
    whole = (a // 100).astype(str)
    frac = np.char.zfill((a % 100).astype(str), 2)
    return np.char.add(np.char.add(np.char.add(sign, whole), "."), frac)


def cents_to_arrow(cents: np.ndarray) -> pa.Array:
    """Cents to an exact ``decimal128(18, 2)`` Arrow array (via the exact decimal text)."""
    return pa.array(format_cents(cents)).cast(MONEY_TYPE)
