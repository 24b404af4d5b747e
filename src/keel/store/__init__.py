"""The store: one SQLAlchemy engine per workspace, transactions, and the schema's migrations.

Each package owns its tables (`keel.<package>.tables`); this package only gives them a
shared `Base`, opens engines for SQLite (the embedded default) and PostgreSQL (scale-out),
hands out read and write transactions, and runs the Alembic migrations.
"""

from keel.store.base import Base
from keel.store.engine import make_engine, transaction

__all__ = ["Base", "make_engine", "transaction"]
