"""The event log: one append-only row per state transition of any business object.

KPIs and process mining read only this log, so every service that changes a state appends here, in the
same transaction as the change. Rows are never updated or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, event_log, utc_now
from rcmflow.adapters.store.sql import bulk_insert_values


@dataclass(frozen=True, slots=True)
class Event:
    """One state transition of one business object (``occurred_at`` None means "when appended")."""

    object_type: str
    object_id: str
    to_state: str
    activity: str
    actor: str
    from_state: str | None = None
    reason: str | None = None
    # "rule id@version" or "model id@version" of the logic that decided this transition, if any.
    rule_version: str | None = None
    organisation_id: str = DEFAULT_ORGANISATION
    facility_id: str | None = None
    payer_id: str | None = None
    department_id: str | None = None
    occurred_at: datetime | None = None
    attributes: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        # Fail at the call site, not deep in a 10,000-row insert.
        if self.occurred_at is not None and self.occurred_at.utcoffset() is None:
            raise ValueError("Event.occurred_at must be timezone-aware")
        for name in ("object_type", "object_id", "to_state", "activity", "actor"):
            if not getattr(self, name):
                raise ValueError(f"Event.{name} must not be empty")


# The event_log columns an event is inserted as, in the order of ``_row`` and ``EventRows``.
EVENT_COLUMNS = ("organisation_id", "facility_id", "payer_id", "department_id", "object_type", "object_id",
                 "from_state", "to_state", "activity", "actor", "occurred_at", "reason", "rule_version", "attributes")


def _row(event: Event, now: datetime) -> tuple[Any, ...]:
    return (
        event.organisation_id, event.facility_id, event.payer_id, event.department_id, event.object_type,
        # str(): callers often hold integer ids, and PostgreSQL will not cast an int parameter to varchar.
        str(event.object_id), event.from_state, event.to_state, event.activity, event.actor,
        event.occurred_at or now, event.reason, event.rule_version,
        dict(event.attributes) if event.attributes is not None else None,
    )


def append_events(conn: Connection, events: Sequence[Event]) -> int:
    """Append ``events`` in one bulk operation within the caller's transaction; return how many."""
    if not events:
        return 0
    # One timestamp for the batch: events recorded together share their "now".
    now = utc_now()
    rows = [_row(event, now) for event in events]
    bulk_insert_values(conn, event_log, EVENT_COLUMNS, rows)  # COPY on PostgreSQL, multi-row INSERTs on SQLite
    return len(rows)


class EventRows:
    """Many events that differ only in their object and organisation keys, as rows for ``append_event_rows``:
    for each object added, one event per template, in template order (the steps of one object's path).

    Volume paths (a transition of 50,000 claims, the three steps of every new claim payment) log hundreds of
    thousands of events: an ``Event`` each (a frozen dataclass, checked field by field) cost more than the rows
    themselves. Here the templates are checked once, as ``Event`` checks them, and each event is one tuple."""

    __slots__ = ("_object_type", "_tails", "rows")

    def __init__(self, *templates: Event, rows: list[tuple[Any, ...]] | None = None) -> None:
        if not templates or len({template.object_type for template in templates}) != 1:
            raise ValueError("EventRows needs templates, all of one object type")
        self._object_type = templates[0].object_type
        tails = []
        for template in templates:
            if template.occurred_at is None:
                raise ValueError("EventRows templates need their occurred_at")
            # from_state ... attributes (the object and organisation keys are each object's own).
            tails.append(_row(template, template.occurred_at)[6:])
        self._tails = tuple(tails)
        # ``rows``: a list shared with other EventRows, so that the events of objects on different paths stay in
        # the order the objects were added.
        self.rows: list[tuple[Any, ...]] = [] if rows is None else rows

    def add(self, object_id: Any, organisation_id: str = DEFAULT_ORGANISATION, facility_id: str | None = None,
            payer_id: str | None = None, department_id: str | None = None) -> None:
        """The events of one object (with ``Event``'s check of the id: not empty)."""
        object_id = str(object_id)
        if not object_id:
            raise ValueError("Event.object_id must not be empty")
        head = (organisation_id, facility_id, payer_id, department_id, self._object_type, object_id)
        for tail in self._tails:
            self.rows.append(head + tail)


def append_event_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Append events given as ``EVENT_COLUMNS`` rows (``EventRows.rows``), in one bulk operation."""
    bulk_insert_values(conn, event_log, EVENT_COLUMNS, rows)
    return len(rows)


# What a timeline shows of each event, read with a statement built once (the claim read of the API runs it on
# every request; building it and its cache key cost more than the query).
TIMELINE_COLUMNS = ("occurred_at", "from_state", "to_state", "activity", "actor", "reason", "rule_version")
_TIMELINE = (select(*(event_log.c[name] for name in TIMELINE_COLUMNS))
             .where(event_log.c.object_type == bindparam("object_type"),
                    event_log.c.object_id == bindparam("object_id"))
             .order_by(event_log.c.occurred_at, event_log.c.id))


def timeline_of(conn: Connection, object_type: str, object_id: str) -> list[dict[str, Any]]:
    """One object's history as ``TIMELINE_COLUMNS`` dicts, oldest first (ties in time keep insertion order)."""
    return [dict(zip(TIMELINE_COLUMNS, row, strict=True))
            for row in conn.execute(_TIMELINE, {"object_type": object_type, "object_id": object_id})]


def events_for(
    conn: Connection, object_type: str, object_id: str, *, organisation_id: str | None = None
) -> list[Event]:
    """Return the history of one object, oldest first (ties in time keep insertion order)."""
    query = (
        select(event_log)
        .where(event_log.c.object_type == object_type, event_log.c.object_id == str(object_id))
        .order_by(event_log.c.occurred_at, event_log.c.id)
    )
    if organisation_id is not None:
        query = query.where(event_log.c.organisation_id == organisation_id)
    return [
        Event(
            object_type=row.object_type,
            object_id=row.object_id,
            to_state=row.to_state,
            activity=row.activity,
            actor=row.actor,
            from_state=row.from_state,
            reason=row.reason,
            rule_version=row.rule_version,
            organisation_id=row.organisation_id,
            facility_id=row.facility_id,
            payer_id=row.payer_id,
            department_id=row.department_id,
            occurred_at=row.occurred_at,
            attributes=row.attributes,
        )
        for row in conn.execute(query)
    ]
