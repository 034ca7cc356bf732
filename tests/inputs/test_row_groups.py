"""Parquet files are read row group by row group (ids, dates and dictionary columns stay in
Arrow's chunks; the claims file is checked one row group at a time). Whatever the row
groups, the results, the rejects and the accounting must be those of the same rows read
from CSV, which is read and checked whole."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from totalcare_payments.inputs.claims import check_claims

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "totalcare_payments" / "presets" / "bluekc_medical_home.toml"


def test_row_groups_read_as_one_table(planted: dict[str, Path], year_of) -> None:
    chunked, whole = year_of(planted["parquet"]), year_of(planted["csv"])
    pd.testing.assert_frame_equal(chunked["lines"], whole["lines"])
    pd.testing.assert_frame_equal(chunked["practices"], whole["practices"])
    pd.testing.assert_frame_equal(chunked["rejects"], whole["rejects"])
    assert chunked["accounting"] == whole["accounting"]
    assert chunked["ccf_accounting"] == whole["ccf_accounting"]


def test_every_planted_row_is_caught(planted: dict[str, Path], year_of) -> None:
    result = year_of(planted["parquet"])
    reasons = result["rejects"].groupby(["table", "reason"]).size().to_dict()
    assert reasons == {
        ("attribution", "NULL_KEY"): 1,
        ("attribution", "UNKNOWN_PRACTICE"): 1,
        ("claims", "DUPLICATE_CLAIM_ID"): 2,
        ("claims", "NULL_KEY"): 1,
        ("claims", "NON_FINITE"): 1,
        ("claims", "OUT_OF_RANGE"): 1,
        ("claims", "NULL_VALUE"): 1,
    }
    claims = result["accounting"]["claims"]
    assert claims["excluded"].get("NOT_ATTRIBUTED", 0) >= 1  # the stranger's claim
    for accounting in result["accounting"].values():
        rejected = sum(accounting["rejected"].values())
        excluded = sum(accounting["excluded"].values())
        assert accounting["read"] == accounting["used"] + excluded + rejected


@st.composite
def _claim_lines(draw: st.DrawFn) -> tuple[pd.DataFrame, list[int]]:
    """Claim lines with ids from a small range (so ids and signs repeat), and cut points
    splitting them into parts."""
    n = draw(st.integers(1, 60))
    ids = draw(st.lists(st.integers(100, 130), min_size=n, max_size=n))
    amounts = draw(
        st.lists(st.sampled_from([-50.0, -0.01, 0.0, 12.5, 80.0, 3e9]), min_size=n, max_size=n)
    )
    frame = pd.DataFrame(
        {
            "claim_id": pd.array(ids, dtype=pd.ArrowDtype(pa.int64())),
            "member_id": pd.array([7] * n, dtype=pd.ArrowDtype(pa.int64())),
            "claim_start_date": pd.array(
                [date(2026, 1, 1)] * n, dtype=pd.ArrowDtype(pa.date32())
            ),
            "paid_amount": np.array(amounts),
        }
    )
    cuts = sorted(draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=5, unique=True)))
    return frame, [c for c in cuts if c < n]


def _parts(frame: pd.DataFrame, cuts: list[int]) -> list[tuple[int, pd.DataFrame]]:
    bounds = [0, *cuts, len(frame)]
    return [
        (start + 1, frame.iloc[start:end].reset_index(drop=True))
        for start, end in pairwise(bounds)
    ]


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(_claim_lines(), st.sampled_from([None, (110, 115), (100, 130)]))
def test_claims_checked_in_parts_as_whole(
    lines: tuple[pd.DataFrame, list[int]], id_range: tuple[int, int] | None
) -> None:
    """Checked part by part (the repeated-id marks carried from part to part, widened
    when a part's ids fall outside the range given), the claims keep and reject exactly
    the rows the whole table keeps and rejects: the first row of each (claim_id, sign)
    stays, every later one is a DUPLICATE_CLAIM_ID."""
    frame, cuts = lines
    whole = check_claims([(1, frame)])
    parts = check_claims(_parts(frame, cuts), id_range=id_range or (100, 130))
    pd.testing.assert_frame_equal(parts.frame, whole.frame)
    columns = ["row", "reason"]
    pd.testing.assert_frame_equal(
        parts.rejects[columns].sort_values(columns, ignore_index=True),
        whole.rejects[columns].sort_values(columns, ignore_index=True),
    )
    # the rule itself, row by row
    clean = frame["paid_amount"].abs() <= 1e9
    keys = list(zip(frame["claim_id"], frame["paid_amount"] < 0, strict=True))
    first_seen: set[tuple[int, bool]] = set()
    expected = []
    for row, (key, ok) in enumerate(zip(keys, clean, strict=True), start=1):
        if ok and key in first_seen:
            expected.append(row)
        elif ok:
            first_seen.add(key)
    repeats = parts.rejects.loc[parts.rejects["reason"] == "DUPLICATE_CLAIM_ID", "row"]
    assert sorted(repeats) == expected
    assert parts.rows_read == len(frame) == len(parts.frame) + len(parts.rejects)
