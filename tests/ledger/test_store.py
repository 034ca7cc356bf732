"""The ledger's database: its schema revisions, and posted rows that the database itself
refuses to change, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from helpers import SAMPLE
from typer.testing import CliRunner

from totalcare_payments.cli.app import app
from totalcare_payments.config import preset
from totalcare_payments.errors import EXIT_LEDGER, LedgerError
from totalcare_payments.jobs import run_ccf_ledger
from totalcare_payments.ledger.store import (
    current_revision,
    head_revision,
    ledger_url,
    migrate,
    open_ledger,
)
from totalcare_payments.ledger.tables import metadata
from totalcare_payments.periods import parse_year_month


def _post_march(url: str, out: Path) -> None:
    run_ccf_ledger(
        preset("bluekc_medical_home"), SAMPLE, parse_year_month("2026-03"), out, url, post=True
    )


def test_a_new_ledger_is_at_the_newest_revision_with_the_schemas_tables(ledger_url: str) -> None:
    ledger = open_ledger(ledger_url, create=True)
    try:
        with ledger.engine.connect() as conn:
            assert current_revision(conn) == head_revision() == "0002"
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        ledger.dispose()


def test_an_older_ledger_is_upgraded_when_opened(ledger_url: str) -> None:
    url = ledger_url_of(ledger_url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        migrate(conn, create=True, name="test", to="0001")
        assert current_revision(conn) == "0001"
    engine.dispose()
    ledger = open_ledger(ledger_url, create=False)
    try:
        with ledger.engine.connect() as conn:
            assert current_revision(conn) == "0002"
    finally:
        ledger.dispose()


def test_a_ledger_of_a_newer_schema_is_refused(ledger_url: str, tmp_path: Path) -> None:
    _post_march(ledger_url, tmp_path / "out")
    engine = sa.create_engine(ledger_url_of(ledger_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    with pytest.raises(LedgerError, match="revision 0099, newer than this tool's"):
        open_ledger(ledger_url, create=False)
    result = CliRunner().invoke(app, ["ledger", "batches", "--ledger", ledger_url])
    assert result.exit_code == EXIT_LEDGER == 6
    assert "newer than this tool" in result.output and "Traceback" not in result.output


def ledger_url_of(url: str) -> sa.URL:
    return ledger_url(url)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE lines SET amount_cents = amount_cents + 1",
        "DELETE FROM lines",
        "UPDATE roster SET fee_cents = 0",
        "DELETE FROM roster",
        "DELETE FROM batch_inputs",
        "UPDATE batches SET period = '2026-04'",
        "UPDATE batches SET status = 'draft'",
        "DELETE FROM batches",
    ],
)
def test_the_database_refuses_to_change_a_posted_batch(
    ledger_url: str, tmp_path: Path, statement: str
) -> None:
    _post_march(ledger_url, tmp_path / "out")
    engine = sa.create_engine(ledger_url_of(ledger_url))
    try:
        with pytest.raises(sa.exc.DBAPIError, match="immutable"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
        with engine.connect() as conn:  # nothing changed
            total = conn.exec_driver_sql("SELECT SUM(amount_cents) FROM lines").scalar()
            assert int(total) == 237810
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM roster").scalar() == 573
            assert conn.exec_driver_sql("SELECT status FROM batches").scalar() == "posted"
    finally:
        engine.dispose()


def test_a_ledger_is_a_file_or_a_postgresql_url(tmp_path: Path) -> None:
    assert ledger_url("ledger.sqlite").get_backend_name() == "sqlite"
    url = ledger_url("postgresql://u:secret@localhost/db")
    assert url.drivername == "postgresql+psycopg"
    with pytest.raises(LedgerError, match="SQLite file or a postgresql"):
        ledger_url("mysql://u@localhost/db")
    with pytest.raises(LedgerError, match="no ledger there"):
        open_ledger(str(tmp_path / "none.sqlite"), create=False)
    (tmp_path / "folder").mkdir()
    with pytest.raises(LedgerError, match="is a folder"):
        open_ledger(str(tmp_path / "folder"), create=True)
