"""Daily KPI snapshots: each day's figures, in total and per group of every dimension, kept for the trends.

``snapshot_kpis`` computes the KPIs as of the end of a day (or now, for today) and replaces whatever that
day's snapshot held: running it twice leaves one set of rows. The worker snapshots yesterday and today every
hour (``run_snapshots``), so today's figures follow the day and yesterday's end as the day ended; the demo
snapshots each simulated day. ``kpi_trend`` reads one KPI's daily values back.

Backlog and aging figures are the state at the snapshot's as-of time as far as the tables tell it: an object's
current state, counted when it existed by then (work items resolved since are counted as still open). A past
day snapshotted again later is exact for the windowed rates and close for the backlogs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, union

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    kpi_snapshots,
    ledger_accounts,
    principals,
    utc_now,
)
from rcmflow.adapters.store.sql import bulk_insert
from rcmflow.domain.kpis import DIMENSIONS, KPIS, quantize
from rcmflow.errors import InputError
from rcmflow.services.kpis import compute_kpi_slices, day_end

log = logging.getLogger(__name__)

SNAPSHOT_WINDOW_DAYS = 30  # the window of every snapshot's rates: what the control tower shows
MAX_TREND_DAYS = 3_660


def snapshot_as_of(day: date, now: datetime | None = None) -> datetime:
    """The as-of time of ``day``'s snapshot: the end of the day, or ``now`` while the day is not over."""
    now = now or utc_now()
    return min(day_end(day), now)


def snapshot_kpis(conn: Connection, *, day: date, organisation_id: str = DEFAULT_ORGANISATION,
                  now: datetime | None = None, window_days: int = SNAPSHOT_WINDOW_DAYS) -> int:
    """Replace ``day``'s snapshot with the KPIs as of its end (totals, and every group of every dimension);
    return how many rows it holds. Runs in the caller's transaction."""
    computed_at = now or utc_now()
    found = compute_kpi_slices(conn, as_of=snapshot_as_of(day, computed_at), window_days=window_days,
                               dimensions=DIMENSIONS, organisation_id=organisation_id)
    rows = [{"organisation_id": organisation_id, "day": day, "kpi": key,
             "dimension": "" if where is None else where[0], "group_value": "" if where is None else where[1][:128],
             "value": value.value, "numerator": value.numerator, "denominator": value.denominator,
             "computed_at": computed_at}
            for key, by_slice in found.figures.items() for where, value in by_slice.items()]
    conn.execute(delete(kpi_snapshots).where(kpi_snapshots.c.organisation_id == organisation_id,
                                             kpi_snapshots.c.day == day))
    bulk_insert(conn, kpi_snapshots, rows)
    return len(rows)


def kpi_trend(conn: Connection, key: str, *, days: int, until: date, group: str | None = None,
              dimension: str | None = None,
              organisation_id: str = DEFAULT_ORGANISATION) -> list[tuple[date, Decimal | None]]:
    """``key``'s daily value over the ``days`` days ending ``until``, oldest first; None for a day with no
    snapshot (or nothing to measure). ``group`` of ``dimension`` instead of the total when given."""
    if key not in KPIS:
        raise InputError(detail=f"unknown KPI {key!r}: one of {', '.join(KPIS)}")
    return kpi_trends(conn, (key,), days=days, until=until, group=group, dimension=dimension,
                      organisation_id=organisation_id)[key]


def kpi_trends(conn: Connection, keys: Sequence[str] = tuple(KPIS), *, days: int, until: date,
               group: str | None = None, dimension: str | None = None,
               organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, list[tuple[date, Decimal | None]]]:
    """``kpi_trend`` of each of ``keys`` (every KPI by default), read in one query (the control tower's tiles)."""
    unknown = [key for key in keys if key not in KPIS]
    if unknown:
        raise InputError(detail=f"unknown KPI {unknown[0]!r}: one of {', '.join(KPIS)}")
    if (group is None) != (dimension is None):
        raise InputError(detail="a KPI trend of a group needs both the dimension and the group")
    if dimension is not None and dimension not in DIMENSIONS:
        raise InputError(detail=f"unknown KPI dimension {dimension!r}: one of {', '.join(DIMENSIONS)}")
    if not 1 <= days <= MAX_TREND_DAYS:
        raise InputError(detail=f"a KPI trend covers 1 to {MAX_TREND_DAYS} days, not {days}")
    first = until - timedelta(days=days - 1)
    s = kpi_snapshots.c
    found: dict[tuple[str, date], Any] = {
        (kpi, day): value for kpi, day, value in conn.execute(select(s.kpi, s.day, s.value).where(
            s.organisation_id == organisation_id, s.dimension == (dimension or ""), s.group_value == (group or ""),
            s.day >= first, s.day <= until, s.kpi.in_(list(keys))))}
    dates = [first + timedelta(days=n) for n in range(days)]
    return {key: [(day, quantize(found.get((key, day)), KPIS[key].unit)) for day in dates] for key in keys}


def snapshot_organisations(conn: Connection) -> list[str]:
    """The organisations to snapshot: the default one, and every one with a ledger or API principals."""
    found = set(conn.execute(union(select(ledger_accounts.c.organisation_id).distinct(),
                                   select(principals.c.organisation_id).distinct())).scalars())
    return sorted(found | {DEFAULT_ORGANISATION})


def run_snapshots(engine: Engine, now: datetime) -> dict[str, Any]:
    """The worker's schedule: snapshot yesterday and today for every organisation, one transaction each."""
    today = now.date()
    with engine.connect() as conn:
        organisations = snapshot_organisations(conn)
    written = 0
    for organisation_id in organisations:
        for day in (today - timedelta(days=1), today):
            with engine.begin() as conn:
                written += snapshot_kpis(conn, day=day, organisation_id=organisation_id, now=now)
    log.info("KPI snapshots of %s and %s: %d rows for %d organisation(s)", today - timedelta(days=1), today,
             written, len(organisations))
    return {"organisations": len(organisations), "rows": written}
