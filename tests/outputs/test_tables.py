"""Output files: exact money text, CSV quoting, Parquet decimals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from totalcare_payments.money import format_cents, to_cents
from totalcare_payments.outputs.tables import write_table


def test_half_up_rounding_to_cents():
    # half away from zero, with binary noise removed first: 1.005 is 1.00499999... in binary
    got = to_cents(np.array([0.125, -0.125, 1.005, 2.675, 0.0049999, 1e7 / 3]))
    assert got.tolist() == [13, -13, 101, 268, 0, 333333333]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=50))
def test_money_text_is_exact(cents):
    text = format_cents(np.array(cents, dtype=np.int64))
    assert [Decimal(t) for t in text] == [Decimal(c) / 100 for c in cents]


def test_csv_quotes_only_where_needed_and_reads_back(tmp_path: Path):
    frame = pd.DataFrame(
        {
            "practice_id": ["P1", "P2", "P3"],
            "practice_name": ['Smith, Jones & Co', 'The "Corner" Clinic', "Lee's Summit"],
            "amount_cents": np.array([123456, -5, 0], dtype=np.int64),
            "rate": [0.1 + 0.2, 1.0, np.nan],
            "paid": [True, False, True],
        }
    )
    csv, parquet = write_table(frame, tmp_path, "t")
    assert csv.read_text().splitlines() == [
        "practice_id,practice_name,amount,rate,paid",
        'P1,"Smith, Jones & Co",1234.56,0.3,true',
        'P2,"The ""Corner"" Clinic",-0.05,1,false',
        "P3,Lee's Summit,0.00,,true",
    ]
    back = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert back["practice_name"].tolist() == frame["practice_name"].tolist()
    table = pq.read_table(parquet)
    assert str(table.schema.field("amount").type) == "decimal128(18, 2)"
    assert table.column("amount").to_pylist() == [
        Decimal("1234.56"),
        Decimal("-0.05"),
        Decimal("0.00"),
    ]
