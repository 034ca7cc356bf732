"""What is done to an open ledger: post a CCF batch or a settlement, void a batch, and read
batches, balances and exports. Each write is one locked transaction: it is wholly posted
or not at all, and two posts on one ledger never interleave.

A batch is inserted as a draft, its lines and roster after it, and then marked posted,
all in one transaction; posted batches and lines are never updated or deleted (the
database's triggers refuse it). Voiding posts a new batch of reversal lines that
cancel the voided one's, and changes the voided batch's status from posted to voided:
the one change a posted batch allows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import LedgerError
from ..periods import format_period, parse_year_month
from . import retro
from .store import Ledger, insert_frame, read_bulk, read_frame, scalar_rows
from .tables import batch_inputs, batches, lines, roster, settlement_lines

#: Batches whose lines count: posted ones, and voided ones (whose reversal counts too).
COUNTED = ("posted", "voided")


@dataclass(frozen=True)
class BatchRecord:
    """What a batch records of its run: the kind and month paid (or year settled), the
    config's source and sha256, each input's path, sha256 and rows, the tool's version."""

    kind: str  # ccf | settlement
    period: str  # YYYY-MM paid, or YYYY settled
    config_source: str
    config_sha256: str
    tool_version: str
    retro_months: int = 0
    pay_date: str | None = None
    stage: str | None = None  # settlement: interim | final
    runout_months: int | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)  # table, path, sha256, rows

    @property
    def fingerprint(self) -> str:
        """sha256 of what decides the batch's lines: kind, period, stage, terms and the
        inputs' contents (not their paths, nor the time or the tool's version)."""
        decided = {
            "kind": self.kind,
            "period": self.period,
            "stage": self.stage,
            "config_sha256": self.config_sha256,
            "retro_months": self.retro_months,
            "runout_months": self.runout_months,
            "inputs": sorted((i["table"], i["sha256"]) for i in self.inputs),
        }
        return hashlib.sha256(json.dumps(decided, sort_keys=True).encode()).hexdigest()


@dataclass
class Posting:
    """What a post or a draft did: the batch, its status (``posted``, ``draft``, or
    ``already`` when the same inputs and config were posted before as ``batch_id``), its
    roster and practice-month lines, and the differences outside the window."""

    batch_id: int
    status: str
    roster: pd.DataFrame
    lines: pd.DataFrame
    outside: pd.DataFrame
    window: list[int]


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---- reads -----------------------------------------------------------------------------------

_CODED = pa.dictionary(pa.int32(), pa.string())
_ROSTER_TYPES = {
    "batch_id": pa.int64(),
    "member_id": _CODED,
    "tier": _CODED,
    "member_months": pa.int64(),
    "risk_score": pa.float64(),
    "rate_cents": pa.int64(),
    "fee_cents": pa.int64(),
}


def _months(periods: list[int]) -> list[str]:
    return [format_period(p) for p in periods]


def _periods(months: pd.Series) -> np.ndarray:
    """YYYY-MM text as periods: each distinct month parsed once."""
    if isinstance(months.dtype, pd.CategoricalDtype):
        lookup = np.array([parse_year_month(str(m)) for m in months.cat.categories], dtype=np.int64)
        return lookup[months.cat.codes.to_numpy()]
    labels = pd.unique(months.to_numpy())
    mapping = {m: parse_year_month(str(m)) for m in labels}  # a few months, not rows
    return months.map(mapping).to_numpy(np.int64)


def posted_roster(conn: Connection, periods: list[int]) -> pd.DataFrame:
    """Every roster line of counted batches for these service months (``period`` added;
    the text columns as categoricals)."""
    r, b = roster.c, batches.c
    frame = read_bulk(
        conn,
        {name: (r[name], kind) for name, kind in _ROSTER_TYPES.items()},
        roster.join(batches, r.batch_id == b.batch_id),
        sa.and_(
            b.status.in_(COUNTED),
            b.kind == "ccf",
            b.period >= format_period(min(periods)),  # a batch pays no month after its own
            r.service_month.in_(_months(periods)),
        ),
        {"practice_id": r.practice_id, "service_month": r.service_month},
    )
    return frame.assign(period=_periods(frame["service_month"])).drop(columns="service_month")


def posted_line_totals(
    conn: Connection, *, before: str | None = None, year: int | None = None
) -> pd.DataFrame:
    """Counted lines summed per practice and service month (before a month, or in a year)."""
    c, b = lines.c, batches.c
    query = (
        sa.select(
            c.practice_id,
            c.service_month,
            sa.func.sum(c.members).label("members"),
            sa.func.sum(c.amount_cents).label("amount_cents"),
        )
        .select_from(lines.join(batches, c.batch_id == b.batch_id))
        .where(b.status.in_(COUNTED))
        .group_by(c.practice_id, c.service_month)
        .order_by(c.service_month, c.practice_id)
    )
    if before is not None:
        query = query.where(c.service_month < before)
    if year is not None:
        query = query.where(c.service_month.like(f"{year:04d}-%"))
    types = {
        "practice_id": pa.string(),
        "service_month": pa.string(),
        "members": pa.int64(),
        "amount_cents": pa.int64(),
    }
    frame = read_frame(conn, query, types)
    return frame.assign(period=_periods(frame["service_month"]))


def first_ccf_month(conn: Connection) -> int | None:
    """The month paid by the ledger's first counted CCF batch (None: none yet)."""
    first = conn.execute(
        sa.select(sa.func.min(batches.c.period)).where(
            batches.c.kind == "ccf", batches.c.status.in_(COUNTED)
        )
    ).scalar()
    return None if first is None else parse_year_month(str(first))


def _posted_fingerprint(conn: Connection, fingerprint: str) -> int | None:
    row = conn.execute(
        sa.select(batches.c.batch_id).where(
            batches.c.fingerprint == fingerprint, batches.c.status == "posted"
        )
    ).first()
    return None if row is None else int(row[0])


# ---- writes ----------------------------------------------------------------------------------


def _insert_batch(conn: Connection, record: BatchRecord, **extra: Any) -> int:
    values = {
        "kind": record.kind,
        "period": record.period,
        "stage": record.stage,
        "status": "draft",
        "created_at": now_text(),
        "pay_date": record.pay_date,
        "tool_version": record.tool_version,
        "config_source": record.config_source,
        "config_sha256": record.config_sha256,
        "retro_months": record.retro_months,
        "runout_months": record.runout_months,
        "fingerprint": record.fingerprint,
        **extra,
    }
    key = conn.execute(batches.insert().values(**values)).inserted_primary_key
    assert key is not None
    batch_id = int(key[0])
    if record.inputs:
        conn.execute(
            batch_inputs.insert(),
            [
                {
                    "batch_id": batch_id,
                    "table_name": i["table"],
                    "path": i["path"],
                    "sha256": i["sha256"],
                    "rows_read": int(i["read"]),
                    "rows_used": int(i["used"]),
                }
                for i in record.inputs
            ],
        )
    return batch_id


def _mark_posted(conn: Connection, batch_id: int) -> None:
    conn.execute(
        batches.update()
        .where(batches.c.batch_id == batch_id, batches.c.status == "draft")
        .values(status="posted", posted_at=now_text())
    )


def _drop_drafts(conn: Connection, kind: str, period: str) -> None:
    """Earlier drafts of the same kind and period: a new run replaces them."""
    drafts = sa.select(batches.c.batch_id).where(
        batches.c.kind == kind, batches.c.period == period, batches.c.status == "draft"
    )
    for table in (roster, lines, settlement_lines, batch_inputs):
        conn.execute(table.delete().where(table.c.batch_id.in_(drafts)))
    conn.execute(batches.delete().where(batches.c.batch_id.in_(drafts.scalar_subquery())))


def _roster_rows(batch_id: int, changes: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "batch_id": np.full(len(changes), batch_id, dtype=np.int64),
            "member_id": changes["member_id"].array,
            "practice_id": changes["practice_id"].array,
            "service_month": _labels(changes["period"]),
            "kind": changes["kind"].array,
            "tier": changes["tier"].array,
            "member_months": changes["member_months"].to_numpy(np.int64),
            "risk_score": changes["risk_score"].to_numpy(np.float64),
            "rate_cents": changes["rate_cents"].to_numpy(np.int64),
            "fee_cents": changes["fee_cents"].to_numpy(np.int64),
            "reason": pd.Categorical(changes["reason"].to_numpy()),
        }
    )


def _line_rows(batch_id: int, changes: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "batch_id": np.full(len(changes), batch_id, dtype=np.int64),
            "practice_id": changes["practice_id"].to_numpy(),
            "service_month": _labels(changes["period"]),
            "kind": changes["kind"].to_numpy(),
            "members": changes["members"].to_numpy(np.int64),
            "amount_cents": changes["amount_cents"].to_numpy(np.int64),
            "reason": changes["reason"].to_numpy(),
        }
    )


def _labels(periods: pd.Series) -> pd.Categorical:
    """Periods as YYYY-MM text: each distinct month formatted once."""
    values = periods.to_numpy(np.int64)
    uniques, codes = np.unique(values, return_inverse=True)
    labels = pd.Index([format_period(p) for p in uniques], dtype=object)
    return pd.Categorical.from_codes(codes.reshape(-1), categories=labels)


def post_ccf(
    ledger: Ledger,
    record: BatchRecord,
    due: pd.DataFrame,
    window: list[int],
    due_before: Callable[[list[int]], pd.DataFrame],
    *,
    post: bool,
    before_commit: Callable[[Posting], None] | None = None,
) -> Posting:
    """Post (or, without ``post``, record as a draft) the CCF batch of ``record.period``:
    per member-month of the ``window`` the difference between the ``due`` roster and
    everything posted before, and the practice-month lines of those differences.
    ``due_before(periods)`` gives the latest inputs' practice-month lines of earlier
    months posted before (``period``, ``practice_id``, ``members``, ``amount_cents``),
    whose differences are reported, not paid. The same inputs and config as a posted
    batch post nothing (``status`` ``already``).
    ``before_commit(posting)`` runs inside the transaction once the batch is written: the
    batch's files are staged there, so that an exception in it posts nothing."""
    pay_period = parse_year_month(record.period)
    with ledger.begin(write=True) as conn:
        existing = _posted_fingerprint(conn, record.fingerprint)
        if existing is not None:
            empty = retro.practice_lines(due.iloc[:0].assign(kind="", member_months=0, reason=None))
            return Posting(existing, "already", due.iloc[:0], empty, pd.DataFrame(), window)
        opening = first_ccf_month(conn)
        # the ledger pays from the month of its first batch on: months before it were paid
        # elsewhere, and are never adjusted here
        start = pay_period if opening is None else max(min(window), min(opening, pay_period))
        window = [p for p in window if p >= start]
        due = due.loc[due["period"].to_numpy() >= start]
        state = retro.posted_state(posted_roster(conn, window))
        changes = retro.roster_changes(state, due, pay_period)
        practice = retro.practice_lines(changes)
        earlier = posted_line_totals(conn, before=format_period(min(window)))
        months = sorted({int(p) for p in earlier["period"]})
        outside = retro.differences_outside(
            earlier, due_before(months) if months else earlier.iloc[:0]
        )
        _drop_drafts(conn, record.kind, record.period)
        batch_id = _insert_batch(conn, record)
        insert_frame(conn, lines, _line_rows(batch_id, practice))
        if post:
            insert_frame(conn, roster, _roster_rows(batch_id, changes))
            _mark_posted(conn, batch_id)
        posting = Posting(
            batch_id, "posted" if post else "draft", changes, practice, outside, window
        )
        if before_commit is not None:
            before_commit(posting)
    return posting


def post_settlement(
    ledger: Ledger, record: BatchRecord, settled: pd.DataFrame, *, post: bool
) -> Posting:
    """Post (or record as a draft) a settlement of ``record.period``'s performance year:
    per practice, its final payment less everything posted for the year before (a final
    after an interim posts the true-up). A year with a final settlement posted takes no
    other; the same inputs and config as a posted batch post nothing."""
    with posting_settlement(ledger, record, settled, post=post) as posting:
        return posting


@contextmanager
def posting_settlement(
    ledger: Ledger, record: BatchRecord, settled: pd.DataFrame, *, post: bool
) -> Iterator[Posting]:
    """``post_settlement`` with its transaction open while the caller's block runs: the
    batch is written, and committed when the block ends (rolled back if it raises), so
    that the settlement's files can be staged before the commit."""
    year = int(record.period)
    with ledger.begin(write=True) as conn:
        existing = _posted_fingerprint(conn, record.fingerprint)
        if existing is not None:
            yield Posting(existing, "already", pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), [])
            return
        final = conn.execute(
            sa.select(batches.c.batch_id).where(
                batches.c.kind == "settlement",
                batches.c.period == record.period,
                batches.c.stage == "final",
                batches.c.status == "posted",
            )
        ).first()
        if final is not None and post:
            raise LedgerError(
                f"{ledger.name}: performance year {year} has a final settlement posted "
                f"(batch {final[0]}); void it first (totalcare ledger void {final[0]})"
            )
        posted = settlement_totals(conn, year)
        changes = retro.settlement_changes(posted, settled)
        _drop_drafts(conn, record.kind, record.period)
        batch_id = _insert_batch(conn, record)
        rows = changes.assign(batch_id=batch_id, performance_year=year)
        insert_frame(
            conn,
            settlement_lines,
            rows[
                [
                    "batch_id",
                    "practice_id",
                    "performance_year",
                    "kind",
                    "final_payment_cents",
                    "amount_cents",
                    "reason",
                ]
            ],
        )
        if post:
            _mark_posted(conn, batch_id)
        yield Posting(
            batch_id, "posted" if post else "draft", pd.DataFrame(), changes, pd.DataFrame(), []
        )


def settlement_totals(conn: Connection, year: int) -> pd.DataFrame:
    """Counted settlement lines of a performance year, summed per practice."""
    c, b = settlement_lines.c, batches.c
    query = (
        sa.select(c.practice_id, sa.func.sum(c.amount_cents).label("amount_cents"))
        .select_from(settlement_lines.join(batches, c.batch_id == b.batch_id))
        .where(b.status.in_(COUNTED), c.performance_year == year)
        .group_by(c.practice_id)
        .order_by(c.practice_id)
    )
    return read_frame(conn, query, {"practice_id": pa.string(), "amount_cents": pa.int64()})


def void_batch(ledger: Ledger, batch_id: int) -> int:
    """Void a posted batch: post a batch of reversal lines that cancel its lines, and mark
    it voided. Returns the reversing batch's id."""
    with ledger.begin(write=True) as conn:
        row = conn.execute(sa.select(batches).where(batches.c.batch_id == batch_id)).mappings().first()
        if row is None:
            raise LedgerError(f"{ledger.name}: there is no batch {batch_id}")
        if row["status"] != "posted":
            raise LedgerError(
                f"{ledger.name}: batch {batch_id} is {row['status']}; only a posted batch "
                "can be voided"
            )
        if row["reverses"] is not None:
            raise LedgerError(
                f"{ledger.name}: batch {batch_id} is the reversal of batch {row['reverses']}; "
                "post that batch's month again instead"
            )
        record = BatchRecord(
            kind=row["kind"],
            period=row["period"],
            config_source=row["config_source"],
            config_sha256=row["config_sha256"],
            tool_version=row["tool_version"],
            retro_months=row["retro_months"],
            pay_date=row["pay_date"],
            stage=row["stage"],
            runout_months=row["runout_months"],
        )
        reversal = _insert_batch(
            conn,
            record,
            reverses=batch_id,
            fingerprint=hashlib.sha256(f"void:{batch_id}:{row['fingerprint']}".encode()).hexdigest(),
        )
        roster_rows = batch_roster(conn, batch_id)
        line_rows = batch_lines(conn, batch_id)
        negated_roster, negated_lines = retro.reversal(roster_rows, line_rows)
        insert_frame(conn, roster, negated_roster.assign(batch_id=reversal)[_stored(roster)])
        insert_frame(conn, lines, negated_lines.assign(batch_id=reversal)[_stored(lines)])
        settled = batch_settlement_lines(conn, batch_id)
        if len(settled):
            insert_frame(
                conn,
                settlement_lines,
                settled.assign(
                    batch_id=reversal,
                    kind="reversal",
                    amount_cents=-settled["amount_cents"].to_numpy(np.int64),
                )[_stored(settlement_lines)],
            )
        _mark_posted(conn, reversal)
        conn.execute(
            batches.update()
            .where(batches.c.batch_id == batch_id, batches.c.status == "posted")
            .values(status="voided", voided_at=now_text(), voided_by=reversal)
        )
    return reversal


def _stored(table: sa.Table) -> list[str]:
    """A line table's columns but its row id, in order."""
    return [c.name for c in table.columns if c.name != "line_id"]


# ---- what a ledger holds ---------------------------------------------------------------------


def batch_roster(conn: Connection, batch_id: int) -> pd.DataFrame:
    """A batch's roster lines, as stored."""
    return _roster_rows_where(conn, roster.c.batch_id == batch_id)


def _roster_rows_where(conn: Connection, where: sa.ColumnElement[bool]) -> pd.DataFrame:
    """Roster lines as stored, read in bulk (a batch's million lines, or the whole table),
    in batch, month and practice order; an empty reason reads as None."""
    r = roster.c
    columns: dict[str, tuple[sa.ColumnElement[Any], pa.DataType]] = {
        c.name: (sa.func.coalesce(r[c.name], "") if c.nullable else r[c.name], _arrow_type(c))
        for c in roster.columns
        if c.name not in ("batch_id", "practice_id", "service_month")
    }
    frame = read_bulk(
        conn,
        columns,
        roster,
        where,
        {"batch_id": r.batch_id, "service_month": r.service_month, "practice_id": r.practice_id},
    )
    frame["batch_id"] = frame["batch_id"].astype(np.int64)
    frame["reason"] = frame["reason"].where(frame["reason"] != "", None)
    order = np.lexsort(
        (frame["practice_id"].astype(str), frame["service_month"].astype(str), frame["batch_id"])
    )
    return frame.iloc[order][[c.name for c in roster.columns]].reset_index(drop=True)


def batch_lines(conn: Connection, batch_id: int) -> pd.DataFrame:
    """A batch's practice-month lines, as stored."""
    c = lines.c
    types = {
        "batch_id": pa.int64(),
        "practice_id": pa.string(),
        "service_month": pa.string(),
        "kind": pa.string(),
        "members": pa.int64(),
        "amount_cents": pa.int64(),
        "reason": pa.string(),
    }
    query = sa.select(*(c[n] for n in types)).where(c.batch_id == batch_id).order_by(c.line_id)
    return read_frame(conn, query, types)


def batch_settlement_lines(conn: Connection, batch_id: int) -> pd.DataFrame:
    """A batch's settlement lines, as stored."""
    c = settlement_lines.c
    types = {
        "batch_id": pa.int64(),
        "practice_id": pa.string(),
        "performance_year": pa.int64(),
        "kind": pa.string(),
        "final_payment_cents": pa.int64(),
        "amount_cents": pa.int64(),
        "reason": pa.string(),
    }
    query = sa.select(*(c[n] for n in types)).where(c.batch_id == batch_id).order_by(c.line_id)
    return read_frame(conn, query, types)


def list_batches(ledger: Ledger) -> pd.DataFrame:
    """Every batch, oldest first, with its lines' count and total."""
    b = batches.c
    ccf_total = (
        sa.select(sa.func.coalesce(sa.func.sum(lines.c.amount_cents), 0))
        .where(lines.c.batch_id == b.batch_id)
        .scalar_subquery()
    )
    settled_total = (
        sa.select(sa.func.coalesce(sa.func.sum(settlement_lines.c.amount_cents), 0))
        .where(settlement_lines.c.batch_id == b.batch_id)
        .scalar_subquery()
    )
    ccf_count = sa.select(sa.func.count()).where(lines.c.batch_id == b.batch_id).scalar_subquery()
    settled_count = (
        sa.select(sa.func.count()).where(settlement_lines.c.batch_id == b.batch_id).scalar_subquery()
    )
    query = sa.select(
        b.batch_id,
        b.kind,
        b.period,
        b.stage,
        b.status,
        b.posted_at,
        b.reverses,
        b.voided_by,
        (ccf_count + settled_count).label("lines"),
        (ccf_total + settled_total).label("amount_cents"),
    ).order_by(b.batch_id)
    with ledger.begin(write=False) as conn:
        rows = scalar_rows(conn, query)
    columns = [
        "batch_id", "kind", "period", "stage", "status", "posted_at", "reverses", "voided_by",
        "lines", "amount_cents",
    ]
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for column in ("lines", "amount_cents"):
        frame[column] = frame[column].astype(np.int64)
    return frame


@dataclass
class BatchDetail:
    """One batch: its record, its inputs, its lines, its settlement lines, its roster size."""

    record: dict[str, Any]
    inputs: pd.DataFrame
    lines: pd.DataFrame
    settlement_lines: pd.DataFrame
    roster_lines: int


def show_batch(ledger: Ledger, batch_id: int) -> BatchDetail:
    """A batch as the ledger holds it."""
    with ledger.begin(write=False) as conn:
        row = conn.execute(sa.select(batches).where(batches.c.batch_id == batch_id)).mappings().first()
        if row is None:
            raise LedgerError(f"{ledger.name}: there is no batch {batch_id}")
        inputs = conn.execute(
            sa.select(batch_inputs).where(batch_inputs.c.batch_id == batch_id)
        ).mappings().all()
        count = conn.execute(
            sa.select(sa.func.count()).where(roster.c.batch_id == batch_id)
        ).scalar_one()
        return BatchDetail(
            record=dict(row),
            inputs=pd.DataFrame([dict(i) for i in inputs]),
            lines=batch_lines(conn, batch_id),
            settlement_lines=batch_settlement_lines(conn, batch_id),
            roster_lines=int(count),
        )


def balance(ledger: Ledger, year: int, practice: str | None = None) -> pd.DataFrame:
    """What the ledger has paid for a year: per practice and service month, the current,
    adjustment and reversal lines and their net, from posted and voided batches."""
    c, b = lines.c, batches.c
    query = (
        sa.select(
            c.practice_id,
            c.service_month,
            c.kind,
            sa.func.sum(c.members).label("members"),
            sa.func.sum(c.amount_cents).label("amount_cents"),
        )
        .select_from(lines.join(batches, c.batch_id == b.batch_id))
        .where(b.status.in_(COUNTED), c.service_month.like(f"{year:04d}-%"))
        .group_by(c.practice_id, c.service_month, c.kind)
    )
    if practice is not None:
        query = query.where(c.practice_id == practice)
    with ledger.begin(write=False) as conn:
        rows = scalar_rows(conn, query)
    frame = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=["practice_id", "service_month", "kind", "members", "amount_cents"],
    )
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "practice_id", "service_month", "members", "current_cents", "adjustment_cents",
                "reversal_cents", "net_cents",
            ]
        )
    frame["amount_cents"] = frame["amount_cents"].astype(np.int64)
    amounts = frame.pivot_table(
        index=["practice_id", "service_month"],
        columns="kind",
        values="amount_cents",
        aggfunc="sum",
        fill_value=0,
    )
    members = frame.groupby(["practice_id", "service_month"])["members"].sum().astype(np.int64)
    out = pd.DataFrame(index=amounts.index)
    out["members"] = members
    for kind in ("current", "adjustment", "reversal"):
        out[f"{kind}_cents"] = (
            amounts[kind].astype(np.int64) if kind in amounts.columns else np.int64(0)
        )
    out["net_cents"] = out["current_cents"] + out["adjustment_cents"] + out["reversal_cents"]
    return out.reset_index().sort_values(["practice_id", "service_month"], ignore_index=True)


def posted_ccf_by_practice(ledger: Ledger, year: int) -> pd.Series:
    """The CCF the ledger has paid for a year's service months, per practice (cents)."""
    with ledger.begin(write=False) as conn:
        totals = posted_line_totals(conn, year=year)
    return totals.groupby("practice_id")["amount_cents"].sum().astype(np.int64)


def export_tables(ledger: Ledger) -> dict[str, pd.DataFrame]:
    """Every table of the ledger, whole, for an export."""
    out: dict[str, pd.DataFrame] = {}
    with ledger.begin(write=False) as conn:
        for table in (batches, batch_inputs, lines, settlement_lines):
            types = {c.name: _arrow_type(c) for c in table.columns}
            query = sa.select(table).order_by(*table.primary_key.columns)
            out[table.name] = read_frame(conn, query, types)
        out["roster"] = _roster_rows_where(conn, sa.true())
    return out


def _arrow_type(column: sa.Column[Any]) -> pa.DataType:
    if isinstance(column.type, sa.Float):
        return pa.float64()
    if isinstance(column.type, sa.Integer):
        return pa.int64()
    return pa.string()
