"""Money as text: the array formatters write what the one-value formatter writes."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from totalcare_payments.money import dollars, dollars_array, grouped_digits

CENTS = st.lists(st.integers(min_value=-(10**15), max_value=10**15), max_size=40)


@given(CENTS)
def test_dollars_of_an_array_are_dollars_of_each_value(values: list[int]) -> None:
    assert list(dollars_array(np.array(values, dtype=np.int64))) == [dollars(v) for v in values]
    assert list(grouped_digits(np.array(values, dtype=np.int64))) == [f"{v:,}" for v in values]


def test_dollars_by_hand() -> None:
    # -123456 cents: $1,234.56 taken back; 100000000 cents: one million dollars
    cents = np.array([-123456, 5, 0, 100_000_000, 100_005_00], dtype=np.int64)
    assert list(dollars_array(cents)) == [
        "-$1,234.56", "$0.05", "$0.00", "$1,000,000.00", "$100,005.00",
    ]
    assert list(grouped_digits(np.array([1_000_005, -1000, 999]))) == ["1,000,005", "-1,000", "999"]
