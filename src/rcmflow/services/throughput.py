"""Throughput: how many of the revenue cycle's key events happened each day (claims submitted and
adjudicated, payments posted, exceptions opened and resolved), read from the event log over a window.

One grouped query over the window, driven by the (organisation_id, occurred_at) index: the control tower's
throughput chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, null, or_, select

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, event_log
from rcmflow.adapters.store.sql import as_date, utc_day

# (series label, object type, activity): the events each series counts.
SERIES = (
    ("Claims submitted", "claim", "submit claim"),
    ("Claims adjudicated", "claim", "record adjudication"),
    ("Payments posted", "claim payment", "post claim payment"),
    ("Exceptions opened", "work item", "open work item"),
    ("Exceptions resolved", "work item", "resolve work item"),
)


Throughput = dict[str, list[tuple[date, int]]]  # series label -> (day, count), every day of the window


def daily_throughput(conn: Connection, *, since: datetime, until: datetime,
                     facilities: Sequence[str] | None = None,
                     organisation_id: str = DEFAULT_ORGANISATION) -> Throughput:
    """Per series, the count per UTC day in ``(since, until]``, every day present (zero when none)."""
    counts = _counts(conn, since, until, facilities, organisation_id, by_facility=False)
    return _series(since, until, {key[1:]: count for key, count in counts.items()})


def daily_throughput_by_facility(
        conn: Connection, *, since: datetime, until: datetime,
        organisation_id: str = DEFAULT_ORGANISATION) -> tuple[Throughput, dict[str, Throughput]]:
    """``daily_throughput`` of every facility and in total, from one query grouped by facility as well: each
    event counts in its facility's series (events of no facility in the total only), so a facility's series is
    what ``daily_throughput(facilities=[it])`` gives."""
    counts = _counts(conn, since, until, None, organisation_id, by_facility=True)
    total: dict[tuple[date, str, str], int] = {}
    per_facility: dict[str, dict[tuple[date, str, str], int]] = {}
    for (facility, *key), count in counts.items():
        cell = (key[0], key[1], key[2])
        total[cell] = total.get(cell, 0) + count
        if facility is not None:
            per_facility.setdefault(facility, {})[cell] = count
    return (_series(since, until, total),
            {facility: _series(since, until, found) for facility, found in sorted(per_facility.items())})


def _counts(conn: Connection, since: datetime, until: datetime, facilities: Sequence[str] | None,
            organisation_id: str, *, by_facility: bool) -> dict[tuple[Any, date, str, str], int]:
    """(facility or None, day, object type, activity) -> events of the series in ``(since, until]``."""
    e = event_log.c
    day = utc_day(conn, e.occurred_at)
    facility = e.facility_id if by_facility else null()
    query = (select(facility, day.label("day"), e.object_type, e.activity, func.count())
             .where(e.organisation_id == organisation_id, e.occurred_at > since, e.occurred_at <= until,
                    or_(*(and_(e.object_type == kind, e.activity == activity) for _, kind, activity in SERIES)))
             .group_by(*([facility] if by_facility else []), day, e.object_type, e.activity))
    if facilities is not None:
        query = query.where(e.facility_id.in_(list(facilities)))
    return {(row[0] or None, as_date(row[1]), row[2], row[3]): int(row[4])  # type: ignore[misc]
            for row in conn.execute(query)}


def _series(since: datetime, until: datetime, counts: dict[tuple[date, str, str], int]) -> Throughput:
    first, last = (since + timedelta(microseconds=1)).date(), until.date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return {label: [(d, counts.get((d, kind, activity), 0)) for d in days] for label, kind, activity in SERIES}
