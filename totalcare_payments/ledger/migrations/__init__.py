"""The ledger's schema migrations (Alembic), run by the ledger itself when it opens one."""
