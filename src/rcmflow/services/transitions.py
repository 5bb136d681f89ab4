"""The one way any business object changes state: a guarded UPDATE plus its event-log row, together.

``transition`` moves one object: ``UPDATE ... SET state = :to WHERE id = :id AND state = :expected``.
No row changed means the object was not in the expected state (an illegal move, or another process
won the race): ``StaleStateError``, and nothing changed. ``transition_many`` moves thousands of
objects with one statement and one multi-row insert of their events, for volume paths. Both run in
the caller's transaction, so the state and its history commit or roll back together.

Each object type keeps its state in its own table; ``STATE_TABLES`` says where (tables of later
issues register themselves with ``register_state_table``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from sqlite3 import sqlite_version_info
from typing import Any

from sqlalchemy import Connection, Table, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from rcmflow.adapters.store.schema import approval_requests, utc_now, work_items
from rcmflow.adapters.store.sql import bulk_update, queued_update
from rcmflow.adapters.store.write_behind import queued_writer
from rcmflow.domain.states import IllegalTransitionError, machine_for
from rcmflow.errors import NotFoundError
from rcmflow.services.events import Event, EventRows, append_event_rows, append_events, events_for

ORGANISATION_KEYS = ("organisation_id", "facility_id", "payer_id", "department_id")
_CHUNK = 5_000  # ids per statement: under SQLite's bound-parameter limit, large enough to be set-based
_PG_CHUNK = 50_000


class StaleStateError(IllegalTransitionError):
    """The object is not in the state the caller expected: nothing was changed."""

    code = "stale_state"


@dataclass(frozen=True)
class StateTable:
    """Where an object type keeps its state: the table, its id and state columns."""

    table: Table
    id_column: str = "id"
    state_column: str = "state"

    def keys(self) -> list[str]:
        """Organisation key columns this table has (copied onto every event row)."""
        return [name for name in ORGANISATION_KEYS if name in self.table.c]


STATE_TABLES: dict[str, StateTable] = {
    "work item": StateTable(work_items),
    "approval request": StateTable(approval_requests),
}


def register_state_table(object_type: str, state_table: StateTable) -> None:
    """Declare where ``object_type`` keeps its state (its machine must be declared in domain.states)."""
    machine_for(object_type)
    STATE_TABLES[object_type] = state_table


def _state_table(object_type: str) -> StateTable:
    try:
        return STATE_TABLES[object_type]
    except KeyError:
        raise NotFoundError(kind="state table for", key=repr(object_type)) from None


@dataclass(frozen=True)
class BulkResult:
    """What a bulk transition did: the ids that moved, and those that were not in the expected state."""

    moved: tuple[Any, ...]
    not_moved: tuple[Any, ...]


def transition(
    conn: Connection,
    object_type: str,
    object_id: Any,
    expected: str,
    to_state: str,
    *,
    activity: str,
    actor: str,
    reason: str | None = None,
    rule_version: str | None = None,
    values: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    guard: Mapping[str, Any] | None = None,
) -> None:
    """Move one object from ``expected`` to ``to_state`` and log it; ``values`` sets more columns.

    ``guard`` adds ``column = value`` conditions the row must also meet (e.g. an approval's level), so a
    move decided on a value another transaction has since changed is refused like a stale state.
    """
    machine_for(object_type).check(expected, to_state)
    where = _state_table(object_type)
    table = where.table
    id_col, state_col = table.c[where.id_column], table.c[where.state_column]
    keys = where.keys()
    guards = [table.c[name] == value for name, value in (guard or {}).items()]
    row = conn.execute(
        update(table)
        .where(id_col == object_id, state_col == expected, *guards)
        .values({where.state_column: to_state, **(values or {})})
        .returning(*(table.c[k] for k in keys))
    ).one_or_none()
    if row is None:
        current = conn.execute(select(state_col).where(id_col == object_id)).scalar_one_or_none()
        if current is None:
            raise NotFoundError(kind=object_type, key=object_id)
        found = f"no longer has {dict(guard or {})}" if current == expected else f"is {current!r}, not {expected!r}"
        raise StaleStateError(f"{object_type} {object_id} {found}: {activity!r} to {to_state!r} was not applied")
    append_events(conn, [Event(
        object_type=object_type, object_id=str(object_id), from_state=expected, to_state=to_state,
        activity=activity, actor=actor, reason=reason, rule_version=rule_version, occurred_at=at or utc_now(),
        attributes=attributes, **dict(zip(keys, row, strict=True)),
    )])


def transition_many(
    conn: Connection,
    object_type: str,
    object_ids: Sequence[Any],
    expected: str,
    to_state: str,
    *,
    activity: str,
    actor: str,
    reason: str | None = None,
    rule_version: str | None = None,
    values: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    values_by_id: tuple[str, Mapping[Any, Any]] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> BulkResult:
    """Move many objects with one UPDATE per 5,000 ids and one multi-row insert of their events.

    Objects not in ``expected`` are left as they are and reported in ``not_moved``. ``values_by_id``
    (column, {id: value}) sets one more column per object, for the objects that move and have a value: in the
    same UPDATE on PostgreSQL (a row updated twice is two new row versions, each with every index updated),
    right after it on SQLite.
    """
    machine_for(object_type).check(expected, to_state)
    where = _state_table(object_type)
    table = where.table
    id_col, state_col = table.c[where.id_column], table.c[where.state_column]
    keys = where.keys()
    when = at or utc_now()
    moved: list[Any] = []
    events = EventRows(Event(object_type, "-", to_state, activity, actor, from_state=expected, reason=reason,
                             rule_version=rule_version, occurred_at=when, attributes=attributes))
    positional = keys == list(ORGANISATION_KEYS)[:len(keys)]  # in ``EventRows.add``'s order: passed as they come
    postgres = conn.dialect.name == "postgresql"
    # PostgreSQL takes the ids as one array parameter (= ANY): no statement with thousands of
    # placeholders to parse and plan, so the chunks can be larger too.
    size = _PG_CHUNK if postgres else _CHUNK
    for start in range(0, len(object_ids), size):
        chunk = list(object_ids[start:start + size])
        if postgres and values_by_id is not None:
            rows = _update_with_values(conn, table, where, chunk, expected, to_state, values or {}, values_by_id)
        else:
            matches = (id_col == any_(bindparam("ids", chunk, type_=ARRAY(id_col.type))) if postgres
                       else id_col.in_(chunk))
            rows = conn.execute(
                update(table)
                .where(matches, state_col == expected)
                .values({where.state_column: to_state, **(values or {})})
                .returning(id_col, *(table.c[k] for k in keys))
            ).all()
            if values_by_id is not None:
                column, by_id = values_by_id
                bulk_update(conn, table, (column,), [(by_id[row[0]], row[0]) for row in rows
                                                     if by_id.get(row[0]) is not None])
        for row in rows:
            moved.append(row[0])
            if positional:
                events.add(*row)
            else:
                events.add(row[0], **dict(zip(keys, row[1:], strict=True)))
    append_event_rows(conn, events.rows)
    moved_set = set(moved)
    return BulkResult(tuple(moved), tuple(i for i in object_ids if i not in moved_set))


def transition_known(
    conn: Connection,
    object_type: str,
    objects: Mapping[Any, Sequence[Any]],
    expected: str,
    to_state: str,
    *,
    activity: str,
    actor: str,
    at: datetime,
    values_by_id: tuple[str, Mapping[Any, Any]] | None = None,
) -> BulkResult | None:
    """``transition_many`` of objects the caller has read in ``expected``, in this transaction after its first
    write (SQLite's write lock has kept every other writer out since): ``objects`` maps each id to its
    ``ORGANISATION_KEYS`` values (None for a key the table lacks). On SQLite inside ``write_behind`` the UPDATEs
    are queued on the writer thread instead of run with RETURNING, so the caller goes on while they step; each
    checks there that it moved every object, and a wrong belief fails the transaction where the queue is drained.
    The events are the same as ``transition_many``'s. None, doing nothing, where it cannot queue: the caller
    then calls ``transition_many``."""
    machine_for(object_type).check(expected, to_state)
    if (not objects or conn.dialect.name != "sqlite" or queued_writer(conn) is None
            or sqlite_version_info < (3, 33)):  # UPDATE ... FROM: 3.33
        return None
    where = _state_table(object_type)
    quoted = conn.dialect.identifier_preparer
    table, id_column, state_column = (quoted.format_table(where.table), quoted.quote(where.id_column),
                                      quoted.quote(where.state_column))
    column, by_id = values_by_id if values_by_id is not None else (None, {})
    # One statement per chunk: the ids (with the value to set, or NULL to keep the column) as a VALUES list.
    assign = f", {quoted.quote(column)} = coalesce(v.column2, {table}.{quoted.quote(column)})" if column else ""
    ids = list(objects)
    for start in range(0, len(ids), _CHUNK // 2):
        chunk = ids[start:start + _CHUNK // 2]
        statement = (f"UPDATE {table} SET {state_column} = ?{assign} FROM (VALUES {', '.join(['(?, ?)'] * len(chunk))})"
                     f" AS v WHERE {table}.{id_column} = v.column1 AND {table}.{state_column} = ?")
        values = [value for object_id in chunk for value in (object_id, by_id.get(object_id))]
        queued_update(conn, statement, (to_state, *values, expected), len(chunk))
    events = EventRows(Event(object_type, "-", to_state, activity, actor, from_state=expected, occurred_at=at))
    for object_id, keys in objects.items():
        events.add(object_id, *keys)
    append_event_rows(conn, events.rows)
    return BulkResult(tuple(ids), ())


@lru_cache(maxsize=256)
def checked_path(object_type: str, steps: tuple[tuple[str, str], ...]) -> tuple[tuple[str | None, str, str], ...]:
    """``steps`` ((activity, to_state), ...) of an object created in this transaction and moved on before it is
    first written, checked as ``transition`` would: the first step enters one of the machine's entry states
    (usually the initial state), every later one is a declared move. Returns (from_state, to_state, activity) per
    step; cached, so volume paths check each path once."""
    state_machine = machine_for(object_type)
    if not steps or steps[0][1] not in state_machine.entry_states:
        raise IllegalTransitionError(
            f"{object_type}: a new object starts in {' or '.join(repr(s) for s in sorted(state_machine.entry_states))}")
    checked: list[tuple[str | None, str, str]] = [(None, steps[0][1], steps[0][0])]
    for activity, to_state in steps[1:]:
        state_machine.check(checked[-1][1], to_state)
        checked.append((checked[-1][1], to_state, activity))
    return tuple(checked)


def creation_events(object_type: str, object_id: Any, path: Sequence[tuple[str | None, str, str]], *, actor: str,
                    at: datetime, **keys: Any) -> list[Event]:
    """The events of an object inserted already in the last state of ``path`` (from ``checked_path``): one per
    step, as if it had been inserted in the initial state and moved with ``transition``. The caller inserts the
    row and appends these in the same transaction."""
    return [Event(object_type, str(object_id), to_state, activity, actor, from_state=from_state, occurred_at=at,
                  **keys) for from_state, to_state, activity in path]


def creation_event_rows(object_type: str, path: Sequence[tuple[str | None, str, str]], *, actor: str,
                        at: datetime, rows: list[tuple[Any, ...]] | None = None) -> EventRows:
    """``creation_events`` for many objects: add each object (with its organisation keys) to the result, and
    append its rows with ``append_event_rows`` (``rows``: see ``EventRows``)."""
    return EventRows(*(Event(object_type, "-", to_state, activity, actor, from_state=from_state, occurred_at=at)
                       for from_state, to_state, activity in path), rows=rows)


def _update_with_values(conn: Connection, table: Table, where: StateTable, ids: list[Any], expected: str,
                        to_state: str, values: Mapping[str, Any], values_by_id: tuple[str, Mapping[Any, Any]]) -> Any:
    """PostgreSQL: the guarded state UPDATE that also sets ``column`` from a per-id value (kept where none)."""
    column_name, by_id = values_by_id
    id_col, state_col, column = table.c[where.id_column], table.c[where.state_column], table.c[column_name]
    given = [by_id.get(object_id) for object_id in ids]
    pairs = func.unnest(bindparam("ids", ids, type_=ARRAY(id_col.type)),
                        bindparam("given", given, type_=ARRAY(column.type))).table_valued(
        "object_id", "given").render_derived(name="pairs")
    return conn.execute(
        update(table)
        .where(id_col == pairs.c.object_id, state_col == expected)
        .values({where.state_column: to_state, column_name: func.coalesce(pairs.c.given, column), **values})
        .returning(id_col, *(table.c[k] for k in where.keys()))
    ).all()


def history(conn: Connection, object_type: str, object_id: Any) -> list[tuple[str | None, str, str]]:
    """(from_state, to_state, activity) of every logged transition of one object, oldest first."""
    return [(e.from_state, e.to_state, e.activity) for e in events_for(conn, object_type, str(object_id))]
