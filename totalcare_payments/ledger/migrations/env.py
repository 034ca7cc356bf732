"""Alembic's entry: run the migrations on the connection the ledger hands over.

The ledger opens the database, takes its lock and begins the transaction; the
migrations run inside it (``ledger.store.upgrade``), so no ``alembic.ini`` is needed
and a ledger is upgraded wholly or not at all.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
