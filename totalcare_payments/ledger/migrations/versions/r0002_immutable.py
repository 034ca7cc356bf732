"""Posted batches and their lines are immutable, in the database too.

Triggers reject an UPDATE or DELETE of a posted or voided batch's rows; the one change a
posted batch allows is its status, from posted to voided (with voided_at and voided_by),
when a reversing batch is posted. Draft batches and their lines may be replaced.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LINE_TABLES = ("lines", "roster", "settlement_lines", "batch_inputs")

#: The batch columns that never change once a batch is posted.
FIXED = (
    "batch_id", "kind", "period", "stage", "created_at", "posted_at", "reverses", "pay_date",
    "tool_version", "config_source", "config_sha256", "retro_months", "runout_months",
    "fingerprint",
)


def _sqlite_same(column: str) -> str:
    return f"NEW.{column} IS NOT OLD.{column}"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        changed = " OR ".join(_sqlite_same(c) for c in FIXED)
        op.execute(
            "CREATE TRIGGER batches_immutable BEFORE UPDATE ON batches "
            "WHEN OLD.status <> 'draft' AND NOT (OLD.status = 'posted' AND NEW.status = 'voided' "
            f"AND NOT ({changed})) "
            "BEGIN SELECT RAISE(ABORT, 'ledger: a posted batch is immutable'); END"
        )
        op.execute(
            "CREATE TRIGGER batches_no_delete BEFORE DELETE ON batches "
            "WHEN OLD.status <> 'draft' "
            "BEGIN SELECT RAISE(ABORT, 'ledger: a posted batch is immutable'); END"
        )
        for table in LINE_TABLES:
            posted = (
                "(SELECT status FROM batches WHERE batch_id = OLD.batch_id) <> 'draft'"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"WHEN {posted} "
                "BEGIN SELECT RAISE(ABORT, 'ledger: a posted line is immutable'); END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"WHEN {posted} "
                "BEGIN SELECT RAISE(ABORT, 'ledger: a posted line is immutable'); END"
            )
        return
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FIXED)
    op.execute(
        "CREATE FUNCTION ledger_batch_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF OLD.status <> 'draft' AND (TG_OP = 'DELETE' OR NOT (OLD.status = 'posted' "
        f"AND NEW.status = 'voided' AND NOT ({changed}))) THEN "
        "RAISE EXCEPTION 'ledger: a posted batch is immutable'; END IF; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER batches_immutable BEFORE UPDATE OR DELETE ON batches "
        "FOR EACH ROW EXECUTE FUNCTION ledger_batch_immutable()"
    )
    op.execute(
        "CREATE FUNCTION ledger_line_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF (SELECT status FROM batches WHERE batch_id = OLD.batch_id) <> 'draft' THEN "
        "RAISE EXCEPTION 'ledger: a posted line is immutable'; END IF; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
    )
    for table in LINE_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_line_immutable()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("batches_immutable", "batches_no_delete"):
            op.execute(f"DROP TRIGGER {name}")
        for table in LINE_TABLES:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
        return
    op.execute("DROP TRIGGER batches_immutable ON batches")
    for table in LINE_TABLES:
        op.execute(f"DROP TRIGGER {table}_immutable ON {table}")
    op.execute("DROP FUNCTION ledger_line_immutable()")
    op.execute("DROP FUNCTION ledger_batch_immutable()")
