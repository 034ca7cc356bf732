"""The ledger's tables: batches and their inputs, lines, roster, settlement lines.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: Row ids: SQLite's rowid (INTEGER PRIMARY KEY), PostgreSQL's bigint.
RowId = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("stage", sa.String(16)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("posted_at", sa.String(32)),
        sa.Column("voided_at", sa.String(32)),
        sa.Column("reverses", sa.Integer, sa.ForeignKey("batches.batch_id")),
        sa.Column("voided_by", sa.Integer, sa.ForeignKey("batches.batch_id")),
        sa.Column("pay_date", sa.String(10)),
        sa.Column("tool_version", sa.String(32), nullable=False),
        sa.Column("config_source", sa.Text, nullable=False),
        sa.Column("config_sha256", sa.String(64), nullable=False),
        sa.Column("retro_months", sa.Integer, nullable=False),
        sa.Column("runout_months", sa.Integer),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.CheckConstraint("kind IN ('ccf', 'settlement')", name="batch_kind"),
        sa.CheckConstraint("status IN ('draft', 'posted', 'voided')", name="batch_status"),
        sa.CheckConstraint("stage IS NULL OR stage IN ('interim', 'final')", name="batch_stage"),
        sqlite_autoincrement=True,  # a batch id is never given again, not even a draft's
    )
    # one posted batch per fingerprint (kind, month or year, config, inputs): never twice
    op.create_index(
        "posted_fingerprint",
        "batches",
        ["fingerprint"],
        unique=True,
        sqlite_where=sa.text("status = 'posted'"),
        postgresql_where=sa.text("status = 'posted'"),
    )
    op.create_table(
        "batch_inputs",
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("table_name", sa.String(32), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows_read", sa.BigInteger, nullable=False),
        sa.Column("rows_used", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "lines",
        sa.Column("line_id", RowId, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.batch_id"), nullable=False),
        sa.Column("practice_id", sa.Text, nullable=False),
        sa.Column("service_month", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("members", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text),
        sa.CheckConstraint("kind IN ('current', 'adjustment', 'reversal')", name="line_kind"),
    )
    op.create_index("lines_batch", "lines", ["batch_id"])
    op.create_index("lines_month", "lines", ["service_month", "practice_id"])
    # a roster line has no row id: a batch holds one per member, practice and month
    op.create_table(
        "roster",
        # no foreign key: a COPY of a million lines would check each (10 s instead of 2 s);
        # the lines are written only in their batch's own transaction
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.Text, nullable=False),
        sa.Column("practice_id", sa.Text, nullable=False),
        sa.Column("service_month", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("member_months", sa.Integer, nullable=False),
        sa.Column("risk_score", sa.Float, nullable=False),
        sa.Column("rate_cents", sa.BigInteger, nullable=False),
        sa.Column("fee_cents", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(16)),
    )
    # one index, by batch: a window's lines are read from the batches paid since its first
    # month (a batch pays no month after its own), and a million-line insert keeps one index
    op.create_index("roster_batch", "roster", ["batch_id"])
    op.create_table(
        "settlement_lines",
        sa.Column("line_id", RowId, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.batch_id"), nullable=False),
        sa.Column("practice_id", sa.Text, nullable=False),
        sa.Column("performance_year", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("final_payment_cents", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(24)),
        sa.CheckConstraint(
            "kind IN ('settlement', 'true_up', 'reversal')", name="settlement_line_kind"
        ),
    )
    op.create_index("settlement_lines_batch", "settlement_lines", ["batch_id"])


def downgrade() -> None:
    for table in ("settlement_lines", "roster", "lines", "batch_inputs", "batches"):
        op.drop_table(table)
