"""Alembic environment for rcmflow: no alembic.ini, the caller hands over a connection or a URL.

``rcmflow.adapters.store.migrate`` builds the Alembic ``Config`` in code and puts either
``attributes["connection"]`` (preferred: the caller owns the transaction) or ``attributes["url"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from rcmflow.adapters.store.schema import metadata

# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that serialises concurrent upgrades.
_MIGRATION_LOCK_KEY = 0x72636D666C6F77  # "rcmflow"

config = context.config


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=True,
        **options,
    )


def _run_online(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several API/worker processes may start at once on a fresh database; one migrates, the
            # others wait here and then find the schema already at head.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        elif connection.dialect.name == "sqlite" and not connection.connection.driver_connection.in_transaction:
            # pysqlite opens a transaction only before DML, so DDL would commit statement by statement and a
            # process killed mid-upgrade would leave tables without a revision. SQLite's DDL is transactional:
            # open the transaction here (IMMEDIATE: concurrent upgrades wait, as for the lock above).
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        context.run_migrations()


def run() -> None:
    """Run the migrations Alembic asked for, online on a connection or offline as SQL text."""
    if context.is_offline_mode():
        _configure(url=config.attributes["url"], literal_binds=True, dialect_opts={"paramstyle": "named"})
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_online(connection)
        return
    # Imported late: env.py is also loaded for offline SQL generation where no engine is wanted.
    from rcmflow.adapters.store.engine import create_engine_for

    engine = create_engine_for(config.attributes["url"])
    try:
        with engine.begin() as connection:
            _run_online(connection)
    finally:
        engine.dispose()


run()
