"""Small dialect bridges and bulk helpers for statements SQLAlchemy Core spells differently per database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Insert

SQLITE_CHUNK = 5_000  # values per IN (...) on SQLite: under its bound-parameter limit


def in_chunks(conn: Connection, column: Any, values: Sequence[Any]) -> Iterator[Any]:
    """``column IN values`` conditions: one array parameter on PostgreSQL (no statement with thousands of
    placeholders to parse and plan), chunks of 5,000 on SQLite. Run the query once per condition."""
    if conn.dialect.name == "postgresql":
        yield column == any_(bindparam(f"in_{column.name}", list(values), type_=ARRAY(column.type)))
        return
    for start in range(0, len(values), SQLITE_CHUNK):
        yield column.in_(list(values[start:start + SQLITE_CHUNK]))


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


def uses_copy(conn: Connection) -> bool:
    """True when rows can be streamed with COPY (PostgreSQL through psycopg 3)."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]], *, with_ids: bool = False) -> list[int]:
    """Insert ``rows`` (all with the same keys) in one bulk operation; with ``with_ids``, return their new ids
    in row order. No conflict handling: callers insert rows they know to be new."""
    if not rows:
        return []
    if not uses_copy(conn):
        if not with_ids:
            conn.execute(table.insert(), rows)
            return []
        # sort_by_parameter_order: the returned ids come back in row order, so each maps to its record.
        return list(conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows).scalars())
    # PostgreSQL: a multi-row INSERT ... RETURNING of 50,000 rows takes seconds; taking the ids from the
    # sequence in one statement and streaming the rows with COPY takes a fraction of that.
    ids: list[int] = []
    if with_ids:
        ids = list(conn.execute(
            select(func.nextval(func.pg_get_serial_sequence(table.name, "id"))).select_from(
                func.generate_series(1, len(rows)))).scalars())
        rows = [{**row, "id": row_id} for row, row_id in zip(rows, ids, strict=True)]
    copy_rows(conn, table, rows)
    return ids


def copy_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY ``rows`` (all with the same keys) into ``table`` on the connection's transaction (psycopg 3)."""
    from psycopg.types.json import Jsonb  # only imported where PostgreSQL is in use

    names = list(rows[0])
    json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
    target = conn.dialect.identifier_preparer.format_table(table)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {target} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Jsonb(row[name]) if name in json_columns and row[name] is not None else row[name]
                                for name in names])
    finally:
        cursor.close()
