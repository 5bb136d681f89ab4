"""Small dialect bridges and bulk helpers for statements SQLAlchemy Core spells differently per database."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Date,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import NullType

from rcmflow.adapters.crypto.types import Encrypted
from rcmflow.adapters.store.write_behind import queued_writer
from rcmflow.domain.money import CENT, from_cents

# Above this many rows PostgreSQL gets them through COPY: an INSERT's parameters are parsed and planned per
# page of rows, COPY streams them; below it, COPY's extra round trips cost more than they save.
COPY_THRESHOLD = 500
SQLITE_CHUNK = 5_000  # values per IN (...) on SQLite: under its bound-parameter limit
# Values per multi-row INSERT on SQLite (at most: the connection's bound-parameter limit is lower on old builds).
SQLITE_INSERT_VALUES = 32_000
_STAGING_NUMBERS = itertools.count(1)  # unique staging table names within a process


def in_chunks(conn: Connection, column: Any, values: Sequence[Any]) -> Iterator[Any]:
    """``column IN values`` conditions: one array parameter on PostgreSQL (no statement with thousands of
    placeholders to parse and plan), chunks of 5,000 on SQLite. Run the query once per condition."""
    if conn.dialect.name == "postgresql":
        yield column == any_(bindparam(f"in_{column.name}", list(values), type_=ARRAY(column.type)))
        return
    for start in range(0, len(values), SQLITE_CHUNK):
        yield column.in_(list(values[start:start + SQLITE_CHUNK]))


def literal_in(column: Any, values: Iterable[str]) -> Any:
    """``column IN ('a', 'b')`` with the values written into the statement: SQLite uses a partial index only
    when the query repeats the index's condition literally, and a bound parameter's value is unknown to its
    planner. For the fixed sets of states the partial indexes are built on, never for values from outside."""
    return column.in_(bindparam(None, list(values), expanding=True, literal_execute=True))


def raw(column: Any) -> Any:
    """``column`` read as the driver returns it, skipping SQLAlchemy's result conversion (on SQLite: NUMERIC
    as float, DATE as ISO text). For volume reads that convert values themselves, e.g. with a cache of
    repeated amounts; ``as_date`` turns either database's dates into ``date``."""
    return type_coerce(column, NullType()).label(column.name)


def as_date(value: Any) -> date | None:
    """A raw DATE value (ISO text on SQLite, ``date`` on PostgreSQL) as a ``date``."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def utc_day(conn: Connection, column: Any) -> Any:
    """The UTC calendar day of a ``UtcDateTime`` column, as SQL: text ``YYYY-MM-DD`` on SQLite (stored as UTC
    wall-clock text), a date on PostgreSQL (converted to UTC first, whatever the session's time zone)."""
    if conn.dialect.name == "sqlite":
        return func.substr(column, 1, 10)
    return cast(func.timezone("UTC", column), Date)


def sum_money(conn: Connection, column: Any) -> Any:
    """SUM of a money column, 0 when there are no rows, exact on both databases: SQLite keeps NUMERIC as
    binary floating point, so there the whole cents are summed as integers. Read it with ``summed_money``."""
    if conn.dialect.name == "sqlite":
        return func.coalesce(func.sum(cast(func.round(column * 100), Integer)), 0)
    return func.coalesce(func.sum(column), 0)


def summed_money(conn: Connection, value: Any) -> Decimal:
    """A ``sum_money`` result as exact money."""
    if value is None:
        return Decimal("0.00")
    return from_cents(int(value)) if conn.dialect.name == "sqlite" else Decimal(value).quantize(CENT)


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
    if conn.dialect.name == "sqlite":
        if not with_ids:
            names = list(rows[0])
            _sqlite_insert(conn, table, names, _values(names, rows))
            return []
        # INSERT ... RETURNING of many rows runs as hundreds of small statements. Instead: insert the first row
        # for its id; that write takes SQLite's single write lock, so until this transaction ends nobody else
        # inserts, and the ids after it (SQLite gives max(id) + 1) are ours to assign in the multi-row INSERTs.
        first = conn.execute(table.insert().returning(table.c.id), rows[0]).scalar_one()
        ids = list(range(first, first + len(rows)))
        if len(rows) > 1:
            names = ["id", *rows[0]]
            _sqlite_insert(conn, table, names, [(row_id, *row) for row_id, row in zip(
                ids[1:], _values(names[1:], rows[1:]), strict=True)])
        return ids
    if not uses_copy(conn) or (not with_ids and len(rows) <= COPY_THRESHOLD):
        if not with_ids:
            conn.execute(table.insert(), rows)
            return []
        # sort_by_parameter_order: the returned ids come back in row order, so each maps to its record.
        return list(conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows).scalars())
    # PostgreSQL: a multi-row INSERT ... RETURNING of 50,000 rows takes seconds; taking the ids from the
    # sequence in one statement and streaming the rows with COPY takes a fraction of that.
    ids: list[int] = []
    names = list(rows[0])
    values = _values(names, rows)
    if with_ids:
        ids = reserve_ids(conn, table, len(rows))
        names = ["id", *names]
        values = [(row_id, *row) for row_id, row in zip(ids, values, strict=True)]
    copy_rows(conn, table, names, values)
    return ids


def bulk_insert_values(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``bulk_insert`` of rows given as tuples of the ``names`` columns, in that order: what volume paths build
    (a tuple costs a third of a dict of the same values, and is what the driver takes)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        _sqlite_insert(conn, table, names, rows)
    elif uses_copy(conn) and len(rows) > COPY_THRESHOLD:
        copy_rows(conn, table, names, rows)
    else:
        conn.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])


def _values(names: Sequence[str], rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows of dicts as tuples of their ``names`` values (``itemgetter`` runs in C)."""
    if len(names) == 1:
        return [(row[names[0]],) for row in rows]
    return list(map(itemgetter(*names), rows))


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """Ids for ``count`` rows the caller inserts, with them, later in this transaction: so that records can
    refer to each other (journal keys, work items, events) before any of them is written.

    PostgreSQL takes them from the table's sequence. SQLite gives a new row max(id) + 1, and only one
    transaction at a time can write: a no-op UPDATE takes that write lock first (it is held until commit),
    so the ids after the current maximum are this transaction's alone."""
    if count <= 0:
        return []
    if conn.dialect.name == "sqlite":
        name = conn.dialect.identifier_preparer.format_table(table)
        conn.exec_driver_sql(f"UPDATE {name} SET id = id WHERE 0")
        first = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) + 1 FROM {name}").scalar_one()
        return list(range(first, first + count))
    # The sequence is looked up once (a scalar subquery is an InitPlan; in the select list it was evaluated per
    # row, a catalog look-up per id) and the ids come back as one array, not one result row each.
    sequence = select(func.pg_get_serial_sequence(table.name, "id")).scalar_subquery()
    return conn.execute(select(func.array_agg(func.nextval(sequence))).select_from(
        func.generate_series(1, count))).scalar_one()


# Rows a bulk load must add before its tables' planner statistics are refreshed at once (see below).
BULK_LOAD_ANALYZE_ROWS = 5_000


def analyze_after_bulk_load(conn: Connection, rows: int, *tables: Table) -> None:
    """Refresh PostgreSQL's planner statistics of ``tables`` after a bulk load of ``rows`` rows.

    Autovacuum analyses a table a minute or more after it grew, and only from committed rows: until then the
    planner plans lookups on a table of 250,000 fresh claims from guesses, and chose to read all of them
    through the organisation index to find 2,500 patient control numbers (290 ms instead of 5). ANALYZE
    samples a bounded number of rows (tens of milliseconds), inside the loading transaction it sees its rows.
    SQLite plans these lookups from its indexes alone."""
    if conn.dialect.name != "postgresql" or rows < BULK_LOAD_ANALYZE_ROWS:
        return
    for table in tables:
        conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.format_table(table)}")


def copy_rows(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """COPY ``rows`` (tuples of the ``names`` columns) into ``table`` on the connection's transaction (psycopg 3)."""
    from psycopg.types.json import Jsonb  # only imported where PostgreSQL is in use

    # COPY bypasses the column types: JSON columns are wrapped and encrypted columns encrypted here, as their bind
    # step would. Column by column (as ``_bind``), so the rows of the other columns pass through untouched.
    convert: dict[int, Any] = {}
    for index, name in enumerate(names):
        column_type = table.c[name].type
        if isinstance(column_type, Encrypted):
            convert[index] = column_type.encrypt
        elif isinstance(column_type, JSON):
            convert[index] = Jsonb
    if convert:
        columns = list(zip(*rows, strict=True))
        for index, process in convert.items():
            columns[index] = tuple(None if value is None else process(value) for value in columns[index])
        rows = list(zip(*columns, strict=True))
    target = conn.dialect.identifier_preparer.format_table(table)
    statement = f"COPY {target} ({', '.join(names)}) FROM STDIN"
    writer = queued_writer(conn)
    if writer is None:
        _copy(conn.connection.dbapi_connection, statement, rows)
    else:
        writer.submit(statement, _copy, conn.connection.dbapi_connection, statement, rows)


def _copy(dbapi: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    cursor = dbapi.cursor()
    try:
        with cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    finally:
        cursor.close()


def _bind(conn: Connection, columns: Sequence[Any], rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows of values converted by their columns' bind processors (what SQLAlchemy would send the driver);
    only the columns that have one are touched, and None stays None.

    Column by column, not row by row: a column's distinct values are converted once (a batch repeats its
    timestamp, its dates and most of its amounts thousands of times) and mapped back with ``map(dict.get)``,
    and the rows are taken apart and put together again with ``zip``: loops that run in C, not per value in
    Python."""
    processors = {index: process for index, column in enumerate(columns)
                  if (process := column.type._cached_bind_processor(conn.dialect)) is not None}
    rows = [tuple(row) for row in rows]
    if not processors or not rows:
        return rows
    values = list(zip(*rows, strict=True))
    for index, process in processors.items():
        column = values[index]
        try:
            converted = {value: process(value) for value in set(column) if value is not None}
        except TypeError:  # unhashable (a JSON document): converted one by one
            values[index] = tuple(None if value is None else process(value) for value in column)
            continue
        values[index] = tuple(map(converted.get, column))  # None is no key: it stays None
    return list(zip(*values, strict=True))


def _sqlite_insert(conn: Connection, table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` (tuples of the ``names`` columns) straight to the driver, the same values SQLAlchemy would bind
    without its per-row parameter bookkeeping, as multi-row ``INSERT ... VALUES (...), (...)`` statements.

    Not one executemany: that binds, steps and resets each row on its own; a statement of a few thousand rows
    is one bind of its values in C and one step, 15-25% faster for a 200,000-row table (posting a million
    service lines: about 10%)."""
    columns = [table.c[name] for name in names]
    quoted = conn.dialect.identifier_preparer
    head = (f"INSERT INTO {quoted.format_table(table)} ({', '.join(quoted.quote(name) for name in names)}) "
            "VALUES ")
    one = f"({', '.join('?' for _ in names)})"
    bound = _bind(conn, columns, rows)
    dbapi = conn.connection.dbapi_connection
    # Builds older than 3.32 allow 999 values; Python's own builds allow at least 32,766.
    limit = min(SQLITE_INSERT_VALUES, dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))  # type: ignore[union-attr]
    per = max(1, limit // len(names))
    full = head + ", ".join(itertools.repeat(one, per))
    flat = itertools.chain.from_iterable
    writer = queued_writer(conn)
    for start in range(0, len(bound), per):
        chunk = bound[start:start + per]
        sql = full if len(chunk) == per else head + ", ".join(itertools.repeat(one, len(chunk)))
        if writer is None:
            conn.exec_driver_sql(sql, tuple(flat(chunk)))
        else:  # straight to the driver on the writer thread: the caller's statements drain it (write_behind)
            writer.submit(sql, dbapi.execute, sql, tuple(flat(chunk)))


class UnexpectedRowCount(RuntimeError):
    """A queued UPDATE (``queued_update``) changed another number of rows than its caller knew it would."""


def queued_update(conn: Connection, statement: str, parameters: Sequence[Any], expected: int) -> None:
    """Queue the SQLite UPDATE ``statement`` on the connection's writer thread (inside ``write_behind``), which
    checks there that it changed ``expected`` rows.

    For callers that know the outcome already: they read the rows in this transaction after its first write, so
    SQLite's single write lock has kept every other writer out since. The check makes a wrong belief an error
    (raised where the queue is drained, failing the transaction), never a silent difference."""
    writer = queued_writer(conn)
    if writer is None or conn.dialect.name != "sqlite":
        raise ValueError("queued_update needs a SQLite connection inside write_behind")
    dbapi = conn.connection.dbapi_connection

    def run() -> None:
        cursor = dbapi.execute(statement, parameters)
        if cursor.rowcount != expected:
            raise UnexpectedRowCount(f"{statement[:120]}: changed {cursor.rowcount} rows, {expected} expected")

    writer.submit(statement, run)


def bulk_update(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``UPDATE table SET names... WHERE id = ?`` for many rows of ``(*values, id)``, as one executemany
    (straight to the driver on SQLite, like ``bulk_insert``)."""
    if not rows:
        return
    quoted = conn.dialect.identifier_preparer
    columns = [table.c[name] for name in names] + [table.c.id]
    if conn.dialect.name == "sqlite":
        assignments = ", ".join(f"{quoted.quote(name)} = ?" for name in names)
        conn.exec_driver_sql(f"UPDATE {quoted.format_table(table)} SET {assignments} WHERE id = ?",
                             _bind(conn, columns, rows))
        return
    if uses_copy(conn) and len(rows) > COPY_THRESHOLD:
        _postgres_update_from_copy(conn, table, names, rows)
        return
    conn.execute(update(table).where(table.c.id == bindparam("b_id")).values(
        {name: bindparam(f"b_{name}") for name in names}),
        [{**{f"b_{name}": value for name, value in zip(names, row[:-1], strict=True)}, "b_id": row[-1]}
         for row in rows])


def _postgres_update_from_copy(conn: Connection, table: Table, names: Sequence[str],
                               rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: an executemany UPDATE is a round trip per row; COPY the new values into a temporary table
    and apply them with one ``UPDATE ... FROM`` instead."""
    quoted = conn.dialect.identifier_preparer
    staging = f"bulk_update_{table.name}_{next(_STAGING_NUMBERS)}"
    columns = [table.c[name] for name in names]
    definitions = ", ".join(f"{quoted.quote(column.name)} {column.type.compile(dialect=conn.dialect)}"
                            for column in columns)
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {staging} (id BIGINT PRIMARY KEY, {definitions}) ON COMMIT DROP")
    # COPY bypasses the column types: encrypted columns are encrypted here, as their bind step would.
    encrypt = [column.type.encrypt if isinstance(column.type, Encrypted) else None for column in columns]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {staging} (id, {', '.join(quoted.quote(name) for name in names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[-1], *(value if process is None else process(value)
                                           for process, value in zip(encrypt, row[:-1], strict=True))])
    finally:
        cursor.close()
    assignments = ", ".join(f"{quoted.quote(name)} = staged.{quoted.quote(name)}" for name in names)
    conn.exec_driver_sql(f"UPDATE {quoted.format_table(table)} AS target SET {assignments} "
                         f"FROM {staging} AS staged WHERE target.id = staged.id")
    conn.exec_driver_sql(f"DROP TABLE {staging}")


def keyset_page(query: Any, sort_column: Any, id_column: Any, *, descending: bool, after: tuple[Any, int] | None,
                limit: int) -> Any:
    """``query`` ordered by (sort column, id) and continued after the row ``after`` = (sort value, id): keyset
    pagination, which neither skips nor repeats rows when others are inserted between pages. The sort column
    must not be NULL (NULLs have no place in a keyset order)."""
    if after is not None:
        value, last_id = after
        if sort_column is id_column:
            query = query.where(id_column < last_id if descending else id_column > last_id)
        elif descending:
            query = query.where(or_(sort_column < value, and_(sort_column == value, id_column < last_id)))
        else:
            query = query.where(or_(sort_column > value, and_(sort_column == value, id_column > last_id)))
    order = [sort_column.desc(), id_column.desc()] if descending else [sort_column, id_column]
    if sort_column is id_column:
        order = order[:1]
    return query.order_by(None).order_by(*order).limit(limit)
