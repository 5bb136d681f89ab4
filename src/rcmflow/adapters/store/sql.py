"""Small dialect bridges for statements SQLAlchemy Core spells differently per database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def insert_ignoring_conflicts(
    connection: Connection, table: Table, *conflict_columns: str, index_where: Any = None
) -> Insert:
    """Return ``INSERT ... ON CONFLICT (conflict_columns) DO NOTHING`` for the connection's database.

    ``index_where`` names a partial unique index by its WHERE clause (both databases need it to pick
    the index as the conflict target).
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(
            index_elements=list(conflict_columns), index_where=index_where)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(
            index_elements=list(conflict_columns), index_where=index_where)
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")
