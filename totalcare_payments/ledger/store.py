"""The ledger database: opening one, its schema revision, the post lock, bulk writes and
reads. The I/O edge of the ledger; ``ledger.retro`` is the arithmetic.

One code path through SQLAlchemy Core for both databases: an SQLite file (the default,
no set-up) or PostgreSQL (``postgresql://``, psycopg 3). What differs is only how a
write transaction takes the lock (SQLite ``BEGIN IMMEDIATE`` with a busy timeout;
PostgreSQL ``pg_advisory_xact_lock`` with a lock timeout) and the bulk paths (SQLite
``executemany`` in the transaction; PostgreSQL ``COPY`` through the same connection).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from ..errors import LedgerError

MIGRATIONS = Path(__file__).parent / "migrations"
#: How long a post waits for another post on the same ledger before it gives up (seconds);
#: ``TOTALCARE_LEDGER_TIMEOUT`` sets another.
DEFAULT_TIMEOUT = 60.0
#: The environment variable naming the ledger when ``--ledger`` is not given.
LEDGER_ENV = "TOTALCARE_LEDGER"


def ledger_url(ledger: str) -> sa.URL:
    """A ledger as a database URL: a file path (``ledger.sqlite``) or ``sqlite:///path`` is
    an SQLite file; ``postgresql://...`` is PostgreSQL through psycopg 3."""
    text = ledger.strip()
    if "://" not in text:
        return sa.URL.create("sqlite", database=str(Path(text).expanduser().resolve()))
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError:
        raise LedgerError(f"'{ledger}' is not a ledger: give a file or postgresql://...") from None
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite" and url.database:
        return url.set(database=str(Path(url.database).expanduser().resolve()))
    raise LedgerError(
        f"'{ledger}': a ledger is an SQLite file or a postgresql:// URL, not {url.drivername}"
    )


def shown(url: sa.URL) -> str:
    """A ledger's URL as it is shown: without its password."""
    return url.database or "" if url.get_backend_name() == "sqlite" else url.render_as_string()


@dataclass
class Ledger:
    """An open ledger: its engine and what kind of database it is."""

    url: sa.URL
    engine: Engine
    timeout: float
    created: bool = False  # made by this opening: it holds no batch from before

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def name(self) -> str:
        return shown(self.url)

    @contextmanager
    def begin(self, *, write: bool) -> Iterator[Connection]:
        """A transaction; a write one holds the ledger's lock until it commits or rolls
        back, so posts are one at a time (the next waits up to ``timeout`` seconds)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(ledger_write=write)
                with conn.begin():
                    if write and self.is_postgresql:
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(self.timeout * 1000)}ms'")
                        conn.exec_driver_sql(
                            "SELECT pg_advisory_xact_lock(hashtext('totalcare_ledger:' "
                            "|| current_database() || ':' || current_schema()))"
                        )
                    yield conn
        except sa.exc.OperationalError as exc:
            raise self._operational(exc) from None

    def _operational(self, exc: sa.exc.OperationalError) -> LedgerError:
        text = str(exc.orig)
        if "locked" in text or "lock timeout" in text:
            return LedgerError(
                f"{self.name}: another post holds the ledger; waited {self.timeout:g} s "
                f"(set {LEDGER_ENV}_TIMEOUT to wait longer), nothing was posted"
            )
        return LedgerError(f"{self.name}: the database refused: {text.strip()}")

    def dispose(self) -> None:
        self.engine.dispose()


def open_ledger(ledger: str, *, create: bool, timeout: float | None = None) -> Ledger:
    """Open a ledger, creating it when ``create`` and it is not there yet, and bring its
    schema to this tool's revision (migrations run in one locked transaction). A ledger of
    a newer revision than this tool knows is refused (``LedgerError``, exit 6)."""
    url = ledger_url(ledger)
    wait = timeout if timeout is not None else float(os.environ.get(f"{LEDGER_ENV}_TIMEOUT", DEFAULT_TIMEOUT))
    is_sqlite = url.get_backend_name() == "sqlite"
    if is_sqlite:
        assert url.database is not None
        path = Path(url.database)
        if not path.exists() and not create:
            raise LedgerError(f"{path}: no ledger there (a batch posted with --ledger makes one)")
        if path.is_dir():
            raise LedgerError(f"{path} is a folder; a ledger is a file (ledger.sqlite)")
        if not path.parent.is_dir():
            # a mistyped path must not start a new, empty ledger that pays everything again
            raise LedgerError(
                f"{path}: there is no folder {path.parent}; a new ledger is made only in a "
                "folder that exists (check the path, or make the folder first)"
            )
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        _sqlite_transactions(engine, wait)
    else:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    opened = Ledger(url=url, engine=engine, timeout=wait)
    try:
        with opened.begin(write=True) as conn:
            opened.created = migrate(conn, create=create, name=opened.name)
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise LedgerError(f"{opened.name}: cannot open the ledger ({_first_line(exc)})") from None
    except LedgerError:
        engine.dispose()
        raise
    return opened


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


def _sqlite_transactions(engine: Engine, timeout: float) -> None:
    """SQLite: foreign keys on, write-ahead log, a busy timeout, and transactions begun by
    the ledger itself: ``BEGIN IMMEDIATE`` for a write, which takes the write lock at once
    (a second post waits for it, never interleaves)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the ledger begins and commits
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("ledger_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# ---- schema revisions ------------------------------------------------------------------------


def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def head_revision() -> str:
    """The newest schema revision this tool knows."""
    return str(_script().get_current_head())


def current_revision(conn: Connection) -> str | None:
    """The schema revision of the ledger on ``conn`` (None: no ledger yet)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def migrate(conn: Connection, *, create: bool, name: str, to: str = "head") -> bool:
    """Bring the ledger's schema to ``to`` (the newest revision), inside the caller's
    transaction; refuse one whose revision this tool does not know (a newer tool made it).
    True when the database held no ledger before (a new ledger is made)."""
    from alembic import command
    from alembic.config import Config

    current = current_revision(conn)
    script = _script()
    known = {rev.revision for rev in script.walk_revisions()}
    if current is None and not create:
        raise LedgerError(f"{name}: the database holds no ledger")
    if current is not None and current not in known:
        raise LedgerError(
            f"{name}: the ledger's schema is revision {current}, newer than this tool's "
            f"({script.get_current_head()}); use the version of totalcare_payments that wrote it"
        )
    target = script.get_current_head() if to == "head" else to
    if current == target:
        return False
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, to)
    return current is None


# ---- bulk writes and reads -------------------------------------------------------------------


def insert_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Insert a frame's rows (its columns are the table's) in the caller's transaction:
    PostgreSQL by ``COPY ... FROM STDIN`` on the same connection, SQLite by one
    ``executemany``."""
    if not len(frame):
        return
    columns = list(frame.columns)
    if conn.dialect.name == "postgresql":
        buffer = io.BytesIO()
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        pacsv.write_csv(arrow, buffer, write_options=pacsv.WriteOptions(include_header=False))
        raw = conn.connection.driver_connection
        assert raw is not None
        names = ", ".join(columns)
        with raw.cursor() as cursor, cursor.copy(
            f"COPY {table.name} ({names}) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            copy.write(buffer.getvalue())
        return
    marks = ", ".join("?" for _ in columns)
    rows = list(zip(*(_python_values(frame[c]) for c in columns), strict=True))
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows
    )


def _python_values(column: pd.Series) -> list[Any]:
    """A column's values as Python objects for the driver (None for a missing value)."""
    if isinstance(column.dtype, pd.CategoricalDtype):  # each distinct value made once
        values = np.concatenate(
            [column.cat.categories.to_numpy(dtype=object), np.array([None], dtype=object)]
        )
        return values[column.cat.codes.to_numpy()].tolist()  # code -1 (missing): None
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        return [None if v is None or v is pd.NA or v != v else v for v in column.tolist()]
    return column.tolist()


def read_frame(conn: Connection, query: sa.Select[Any], types: dict[str, pa.DataType]) -> pd.DataFrame:
    """A query's rows as a frame with these column types: PostgreSQL through ``COPY (...)
    TO STDOUT``, SQLite through the driver's cursor, in the caller's transaction."""
    names = list(types)
    if conn.dialect.name == "postgresql":
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        raw = conn.connection.driver_connection
        assert raw is not None
        buffer = io.BytesIO()
        with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
        if buffer.tell() == 0:
            return _empty(types)
        buffer.seek(0)
        table = pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
            ),
        )
        return table.to_pandas()
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    ordered = tuple(params[name] for name in compiled.positiontup or ())
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute(str(compiled), ordered)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return _empty(types)
    columns = list(zip(*rows, strict=True))
    arrays = [pa.array(values, type=types[name]) for name, values in zip(names, columns, strict=True)]
    return pa.Table.from_arrays(arrays, names=names).to_pandas()


def read_bulk(
    conn: Connection,
    columns: dict[str, tuple[sa.ColumnElement[Any], pa.DataType]],
    source: sa.FromClause,
    where: sa.ColumnElement[bool],
    groups: dict[str, sa.ColumnElement[Any]],
) -> pd.DataFrame:
    """Many rows (a window's posted roster) as a frame, fast on both databases: per group
    (the ``groups`` columns: practice and month), the database writes the group's rows as
    one CSV text (``group_concat`` / ``string_agg``) and Arrow parses them, so no Python
    object is made per row; the group's values are repeated for its rows. Text columns are
    quoted as CSV asks; the columns must not be NULL."""
    fields = []
    for expr, kind in columns.values():
        if pa.types.is_string(kind) or pa.types.is_dictionary(kind):
            fields.append('"' + sa.func.replace(expr, '"', '""') + '"')
        else:
            fields.append(sa.cast(expr, sa.Text))
    row = fields[0]
    for field_ in fields[1:]:
        row = row + "," + field_
    query = (
        sa.select(*groups.values(), sa.func.count(), sa.func.aggregate_strings(row, "\n"))
        .select_from(source)
        .where(where)
        .group_by(*groups.values())
    )
    found = conn.execute(query).fetchall()  # one row per group: a few thousand
    types = {name: kind for name, (_, kind) in columns.items()}
    if not found:
        frame = _empty(types)
        for name in groups:
            frame[name] = pd.Series(dtype=object)
        return frame
    data = "\n".join(str(group[-1]) for group in found).encode("utf-8")
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=list(types), block_size=1 << 24),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False),
    )
    counts = np.array([int(group[len(groups)]) for group in found], dtype=np.int64)
    if int(counts.sum()) != table.num_rows:  # a value the CSV text could not hold
        raise LedgerError("the ledger's roster could not be read back whole (a malformed value)")
    frame = table.to_pandas()
    for i, name in enumerate(groups):
        values = pd.Categorical([group[i] for group in found])  # a value per group
        codes = np.repeat(values.codes, counts)
        frame[name] = pd.Categorical.from_codes(codes, categories=values.categories)
    return frame


def _empty(types: dict[str, pa.DataType]) -> pd.DataFrame:
    return pa.schema(list(types.items())).empty_table().to_pandas()


def scalar_rows(conn: Connection, query: sa.Select[Any]) -> Sequence[sa.Row[Any]]:
    """A small query's rows (batches, totals): through Core as it is."""
    return conn.execute(query).fetchall()
