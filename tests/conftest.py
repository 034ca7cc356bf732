"""Fixtures the tests share: small programs written to a temporary folder, and a generated
program with rows every check must catch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from helpers import write_program

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.config import preset
from totalcare_payments.generate import generate_program
from totalcare_payments.inputs.checks import TableUse
from totalcare_payments.inputs.readahead import ReadAhead
from totalcare_payments.periods import year_periods
from totalcare_payments.program import load_program
from totalcare_payments.savings.year import compute_settlement


@pytest.fixture
def tmp_program(tmp_path: Path):
    def build(**tables: pd.DataFrame | list[dict]) -> Path:
        return write_program(tmp_path / "data", **tables)

    return build


# A generated program with rows every check must catch, as Parquet (977-row groups) and CSV.


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


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
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


def _year(folder: Path, ahead: ReadAhead | None = None) -> dict[str, object]:
    """A program's year: its CCF lines, settlement, rejects and accounting."""
    config = preset("bluekc_medical_home")
    program = load_program(folder, config, with_claims=True, with_quality=True, ahead=ahead)
    batch = compute_ccf(program, config, list(year_periods(2026)))
    settlement = compute_settlement(program, config, 2026)
    rejects = pd.concat([t.rejects for t in program.tables()], ignore_index=True).sort_values(
        ["table", "row", "reason"], kind="stable", ignore_index=True
    )

    def accounting(uses: tuple[TableUse, ...]) -> dict[str, object]:
        by_table = {use.table: use for use in uses}
        return {t.name: t.accounting(by_table.get(t.name)) for t in program.tables()}

    return {
        "lines": batch.lines,
        "practices": settlement.practices,
        "ccf_accounting": accounting(batch.uses),
        "accounting": accounting(settlement.uses),
        "rejects": rejects[["table", "row", "reason", "column"]],
    }


@pytest.fixture(scope="session")
def year_of() -> Callable[..., dict[str, object]]:
    """``year_of(folder, ahead=None)``: a program's 2026 CCF lines, settlement, rejects and
    accounting (``ahead``: a read-ahead handle to read through)."""
    return _year


# The payment ledger: every ledger test runs on SQLite and on PostgreSQL, each in a ledger
# of its own (a fresh file, or a fresh schema dropped afterwards).


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.sqlite")
        return
    import uuid

    import sqlalchemy as sa
    from helpers import in_schema, postgres_base_url

    base = postgres_base_url()
    schema = f"ledger_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield in_schema(base, schema)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()
