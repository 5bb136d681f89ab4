"""Throughput: how many of the revenue cycle's key events happened each day (claims submitted and
adjudicated, payments posted, exceptions opened and resolved), read from the event log over a window.

One grouped query over the window, driven by the (organisation_id, occurred_at) index: the control tower's
throughput chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select

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


def daily_throughput(conn: Connection, *, since: datetime, until: datetime,
                     facilities: Sequence[str] | None = None,
                     organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, list[tuple[date, int]]]:
    """Per series, the count per UTC day in ``(since, until]``, every day present (zero when none)."""
    e = event_log.c
    day = utc_day(conn, e.occurred_at)
    query = (select(day.label("day"), e.object_type, e.activity, func.count())
             .where(e.organisation_id == organisation_id, e.occurred_at > since, e.occurred_at <= until,
                    or_(*(and_(e.object_type == kind, e.activity == activity) for _, kind, activity in SERIES)))
             .group_by(day, e.object_type, e.activity))
    if facilities is not None:
        query = query.where(e.facility_id.in_(list(facilities)))
    counts: dict[tuple[date, str, str], int] = {}
    for row in conn.execute(query):
        counts[(as_date(row[0]), row[1], row[2])] = int(row[3])  # type: ignore[index]
    first, last = (since + timedelta(microseconds=1)).date(), until.date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return {label: [(d, counts.get((d, kind, activity), 0)) for d in days] for label, kind, activity in SERIES}
