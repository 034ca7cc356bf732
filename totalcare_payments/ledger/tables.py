"""The ledger's tables as SQLAlchemy Core objects: the schema at the newest revision.

The database itself is made and upgraded by the migrations (``migrations/versions``);
these objects are what the queries are written against, and a test holds them to what
the migrations make.
"""

from __future__ import annotations

import sqlalchemy as sa

#: Row ids: SQLite's rowid (INTEGER PRIMARY KEY), PostgreSQL's bigint.
RowId = sa.Integer().with_variant(sa.BigInteger(), "postgresql")

metadata = sa.MetaData()

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # ccf | settlement
    sa.Column("period", sa.String(7), nullable=False),  # the month paid, or the year settled
    sa.Column("stage", sa.String(16)),  # a settlement's: interim | final
    sa.Column("status", sa.String(8), nullable=False),  # draft | posted | voided
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
sa.Index(
    "posted_fingerprint",
    batches.c.fingerprint,
    unique=True,
    sqlite_where=sa.text("status = 'posted'"),
    postgresql_where=sa.text("status = 'posted'"),
)

batch_inputs = sa.Table(
    "batch_inputs",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.batch_id"), primary_key=True),
    sa.Column("table_name", sa.String(32), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("rows_read", sa.BigInteger, nullable=False),
    sa.Column("rows_used", sa.BigInteger, nullable=False),
)

lines = sa.Table(
    "lines",
    metadata,
    sa.Column("line_id", RowId, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.batch_id"), nullable=False),
    sa.Column("practice_id", sa.Text, nullable=False),
    sa.Column("service_month", sa.String(7), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # current | adjustment | reversal
    sa.Column("members", sa.BigInteger, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text),
    sa.CheckConstraint("kind IN ('current', 'adjustment', 'reversal')", name="line_kind"),
    sa.Index("lines_batch", "batch_id"),
    sa.Index("lines_month", "service_month", "practice_id"),
)

# A roster line has no row id of its own: a batch holds one line per member, practice and
# month, and the later batch's line is the later one (a bulk insert without a sequence).
roster = sa.Table(
    "roster",
    metadata,
    # no foreign key: a COPY of a million lines would check each (10 s instead of 2 s);
    # the lines are written only in their batch's own transaction
    sa.Column("batch_id", sa.Integer, nullable=False),
    sa.Column("member_id", sa.Text, nullable=False),
    sa.Column("practice_id", sa.Text, nullable=False),
    sa.Column("service_month", sa.String(7), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("member_months", sa.Integer, nullable=False),  # +1 paid, -1 taken back, 0 changed
    sa.Column("risk_score", sa.Float, nullable=False),
    sa.Column("rate_cents", sa.BigInteger, nullable=False),
    sa.Column("fee_cents", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(16)),
    sa.Index("roster_batch", "batch_id"),
)

settlement_lines = sa.Table(
    "settlement_lines",
    metadata,
    sa.Column("line_id", RowId, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.batch_id"), nullable=False),
    sa.Column("practice_id", sa.Text, nullable=False),
    sa.Column("performance_year", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # settlement | true_up | reversal
    sa.Column("final_payment_cents", sa.BigInteger, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(24)),
    sa.CheckConstraint("kind IN ('settlement', 'true_up', 'reversal')", name="settlement_line_kind"),
    sa.Index("settlement_lines_batch", "batch_id"),
)

#: The columns of a CCF roster line as stored, in order (the bulk paths write them so).
ROSTER_COLUMNS = [c.name for c in roster.columns]
LINE_COLUMNS = [c.name for c in lines.columns if c.name != "line_id"]
