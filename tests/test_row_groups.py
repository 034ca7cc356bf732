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
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.claims import check_claims
from totalcare_payments.config import load_config
from totalcare_payments.generate import generate_program
from totalcare_payments.inputs import load_inputs
from totalcare_payments.periods import year_periods
from totalcare_payments.settlement import compute_settlement

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "bluekc_medical_home.toml"


def _with_bad_rows(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Rows every check must catch, placed in different row groups."""
    claims = tables["claims"].to_pandas()
    attribution = tables["attribution"].to_pandas()
    first, late = claims.iloc[[0]].copy(), claims.iloc[[len(claims) - 5]].copy()
    late["claim_id"] = first["claim_id"].to_numpy()  # same id and sign, another row group
    late["paid_amount"] = abs(late["paid_amount"].to_numpy())
    first["paid_amount"] = abs(first["paid_amount"].to_numpy())
    claims.iloc[0] = first.iloc[0]
    stranger = claims.iloc[[7]].copy()
    stranger["member_id"] = 999_999_999  # never attributed
    stranger["claim_id"] = 1
    claims = pd.concat([claims.iloc[:-1], late, stranger], ignore_index=True)
    claims.loc[1500, "member_id"] = None  # column checks, in other row groups
    claims.loc[2600, "paid_amount"] = float("inf")
    claims.loc[4100, "paid_amount"] = 2e9
    claims.loc[5200, "claim_start_date"] = None
    repeat = claims.iloc[[5300]].copy()  # the same id and sign twice in one row group
    claims = pd.concat([claims.iloc[:5301], repeat, claims.iloc[5301:]], ignore_index=True)
    attribution.loc[3, "practice_id"] = None  # an empty key in a dictionary column
    attribution.loc[len(attribution) - 2, "practice_id"] = "NOT-A-PRACTICE"
    return {
        **tables,
        "claims": pa.Table.from_pandas(claims, schema=tables["claims"].schema),
        "attribution": pa.Table.from_pandas(attribution, schema=tables["attribution"].schema),
    }


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tables = _with_bad_rows(generate_program(3_000, seed=11))
    folders = {}
    for name, row_group_size in (("parquet", 977), ("csv", None)):
        folder = tmp_path_factory.mktemp(name)
        for table_name, table in tables.items():
            if row_group_size is None:
                pacsv.write_csv(table, folder / f"{table_name}.csv")
            else:
                pq.write_table(
                    table, folder / f"{table_name}.parquet", row_group_size=row_group_size
                )
        folders[name] = folder
    assert pq.ParquetFile(folders["parquet"] / "claims.parquet").num_row_groups > 30
    return folders


def _year(folder: Path) -> dict[str, object]:
    config = load_config(CONFIG)
    data = load_inputs(folder, config, with_claims=True, with_quality=True)
    batch = compute_ccf(data, config, list(year_periods(2026)))
    ccf_accounting = {t.name: t.accounting() for t in data.tables()}
    settlement = compute_settlement(data, config, 2026)
    rejects = pd.concat([t.rejects for t in data.tables()], ignore_index=True).sort_values(
        ["table", "row", "reason"], kind="stable", ignore_index=True
    )
    return {
        "lines": batch.lines,
        "practices": settlement.practices,
        "ccf_accounting": ccf_accounting,
        "accounting": {t.name: t.accounting() for t in data.tables()},
        "rejects": rejects[["table", "row", "reason", "column"]],
    }


def test_row_groups_read_as_one_table(program: dict[str, Path]) -> None:
    chunked, whole = _year(program["parquet"]), _year(program["csv"])
    pd.testing.assert_frame_equal(chunked["lines"], whole["lines"])
    pd.testing.assert_frame_equal(chunked["practices"], whole["practices"])
    pd.testing.assert_frame_equal(chunked["rejects"], whole["rejects"])
    assert chunked["accounting"] == whole["accounting"]
    assert chunked["ccf_accounting"] == whole["ccf_accounting"]


def test_every_planted_row_is_caught(program: dict[str, Path]) -> None:
    result = _year(program["parquet"])
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
