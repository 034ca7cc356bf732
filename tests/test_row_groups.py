"""Parquet files are read row group by row group (ids, dates and dictionary columns stay in
Arrow's chunks). Whatever the row groups, the results, the rejects and the accounting must
be those of the same rows read from CSV, which takes the one-array path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from totalcare_payments.ccf import compute_ccf
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
    rejects = pd.concat([t.rejects for t in data.tables()], ignore_index=True)
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
        ("claims", "DUPLICATE_CLAIM_ID"): 1,
    }
    claims = result["accounting"]["claims"]
    assert claims["excluded"].get("NOT_ATTRIBUTED", 0) >= 1  # the stranger's claim
    for accounting in result["accounting"].values():
        rejected = sum(accounting["rejected"].values())
        excluded = sum(accounting["excluded"].values())
        assert accounting["read"] == accounting["used"] + excluded + rejected
