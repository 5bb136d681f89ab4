"""Fiscal periods of the built-in ledger: monthly, open or closed, closed periods refuse postings.

Periods are created on demand (a posting into a month without a period row creates it, open) or a year at
a time with ``ensure_periods``. Closing and reopening are transitions of the "fiscal period" state machine
(``domain.states.FISCAL_PERIOD``: open -> closed -> open), so each is in the event log with who and why.
Reopening needs a reason: it exists for the late correction a controller authorises, as ERPs allow.

On PostgreSQL a posting reads its periods ``FOR SHARE``, so a close waits for in-flight postings to commit
and a posting that starts after a close sees it; SQLite serialises writers anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, fiscal_periods
from rcmflow.adapters.store.sql import insert_ignoring_conflicts
from rcmflow.domain.ledger import JournalEntryDraft, PeriodClosedError, period_bounds, periods_of_year
from rcmflow.errors import InputError
from rcmflow.services.transitions import StateTable, register_state_table, transition

OBJECT_TYPE = "fiscal period"
register_state_table(OBJECT_TYPE, StateTable(fiscal_periods))


@dataclass(frozen=True, slots=True)
class FiscalPeriod:
    """One monthly period and whether it accepts postings."""

    id: int
    period: str
    starts_on: date
    ends_on: date
    state: str
    closed_at: datetime | None
    closed_by: str | None


def _create(conn: Connection, organisation_id: str, periods: Iterable[str]) -> None:
    rows = []
    for period in sorted(set(periods)):
        starts_on, ends_on = period_bounds(period)
        rows.append({"organisation_id": organisation_id, "period": period, "starts_on": starts_on,
                     "ends_on": ends_on, "state": "open"})
    if rows:
        conn.execute(insert_ignoring_conflicts(conn, fiscal_periods, "organisation_id", "period"), rows)


def ensure_periods(conn: Connection, year: int, *, organisation_id: str = DEFAULT_ORGANISATION) -> None:
    """Create the twelve monthly periods of ``year`` that do not exist yet (open)."""
    _create(conn, organisation_id, periods_of_year(year))


def list_periods(
    conn: Connection, *, year: int | None = None, organisation_id: str = DEFAULT_ORGANISATION
) -> list[FiscalPeriod]:
    """The organisation's periods (of one year, or all), oldest first."""
    query = select(fiscal_periods).where(fiscal_periods.c.organisation_id == organisation_id)
    if year is not None:
        query = query.where(fiscal_periods.c.period.like(f"{year:04d}-%"))
    return [FiscalPeriod(r.id, r.period, r.starts_on, r.ends_on, r.state, r.closed_at, r.closed_by)
            for r in conn.execute(query.order_by(fiscal_periods.c.period))]


def check_periods_open(conn: Connection, organisation_id: str, entries: Iterable[JournalEntryDraft]) -> None:
    """Create missing periods of ``entries`` (open); raise ``PeriodClosedError`` if any entry's period is closed."""
    by_period: dict[str, JournalEntryDraft] = {}
    for entry in entries:
        by_period.setdefault(entry.period, entry)
    if not by_period:
        return
    _create(conn, organisation_id, by_period)
    query = (select(fiscal_periods.c.period).where(fiscal_periods.c.organisation_id == organisation_id,
                                                   fiscal_periods.c.period.in_(sorted(by_period)),
                                                   fiscal_periods.c.state == "closed")
             .with_for_update(read=True))
    closed = sorted(conn.execute(query).scalars())
    if closed:
        entry = by_period[closed[0]]
        raise PeriodClosedError(f"fiscal period {closed[0]} is closed: entry {entry.idempotency_key!r} dated "
                                f"{entry.posting_date.isoformat()} cannot be posted (nothing was posted)")


def _period_id(conn: Connection, period: str, organisation_id: str) -> Any:
    period_bounds(period)  # validates the name
    _create(conn, organisation_id, [period])
    return conn.execute(select(fiscal_periods.c.id).where(
        fiscal_periods.c.organisation_id == organisation_id, fiscal_periods.c.period == period)).scalar_one()


def close_period(
    conn: Connection, period: str, *, actor: str, now: datetime, reason: str | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> None:
    """Close a period (``StaleStateError`` if it is already closed); later postings into it are refused."""
    if not actor:
        raise InputError("closing a fiscal period needs the actor who closes it")
    transition(conn, OBJECT_TYPE, _period_id(conn, period, organisation_id), "open", "closed",
               activity="close fiscal period", actor=actor, reason=reason, at=now,
               values={"closed_at": now, "closed_by": actor}, attributes={"period": period})


def reopen_period(
    conn: Connection, period: str, *, actor: str, reason: str, now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> None:
    """Reopen a closed period for a late correction; the reason is kept in the event log."""
    if not reason.strip():
        raise InputError("reopening a fiscal period needs a reason")
    transition(conn, OBJECT_TYPE, _period_id(conn, period, organisation_id), "closed", "open",
               activity="reopen fiscal period", actor=actor, reason=reason, at=now,
               values={"closed_at": None, "closed_by": None}, attributes={"period": period})
