"""The payment ledger: every batch paid, its lines and the member roster behind them.

* ``retro``: the retroactive window's arithmetic (a functional core of frames);
* ``book``: what is done to a ledger (post, void, balance, export), one locked
  transaction each;
* ``store``: the database (SQLite or PostgreSQL through SQLAlchemy Core), its schema
  revisions (``migrations``), the lock and the bulk paths;
* ``tables``: the schema as Core tables.
"""
