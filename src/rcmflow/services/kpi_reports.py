"""The control tower's figures, pre-aggregated when computing them live would make the page slow.

Computing every KPI takes milliseconds for a clinic and seconds for a health system with a million claims a
year (``bench/control_tower.py``). So the tower asks ``tower_report``: when the organisation's last full
computation took less than ``LIVE_BUDGET_MS`` the figures are computed live (the page always shows the
present); above it, the page reads the stored report of its window, which the worker's "kpi reports"
schedule refreshes every few minutes, and says when it was computed. One refresh computes each window once,
grouped by every dimension (``compute_kpi_slices``), so the stored report also answers "slice by payer".

Stored reports serve principals who see every facility; a principal limited to some facilities always gets
live figures over their facilities (a sum of per-facility groups would not give their rates).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, kpi_reports, utc_now
from rcmflow.domain.kpis import DIMENSIONS, KPIS
from rcmflow.services.kpis import KpiReport, KpiSlices, KpiValue, compute_kpi_slices
from rcmflow.services.kpis import _aging_rows as aging_rows  # the engine's own order of aging rows
from rcmflow.services.throughput import daily_throughput

log = logging.getLogger(__name__)
WINDOWS = (7, 30, 90)  # the control tower's windows
THROUGHPUT_DAYS = 14  # the throughput chart's days
# Below this, computing live costs less than a page view is allowed (the goal is 300 ms for the whole page).
LIVE_BUDGET_MS = 200
# A stored report older than this is computed again by the page that finds it (when no worker refreshes it).
MAX_AGE = timedelta(minutes=15)

Throughput = dict[str, list[tuple[date, int]]]


@dataclass(frozen=True)
class TowerFigures:
    """What the control tower shows: the KPIs, the throughput, and where they came from."""

    report: KpiReport
    throughput: Throughput
    source: str  # "live" or "stored"
    computed_at: datetime


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _to_json(slices: KpiSlices, throughput: Throughput) -> dict[str, Any]:
    return {
        "as_of": slices.as_of.isoformat(), "window_start": slices.window_start.isoformat(),
        "figures": [[key, None if where is None else list(where), _text(v.value), _text(v.numerator),
                     _text(v.denominator)]
                    for key, by_slice in slices.figures.items() for where, v in by_slice.items()],
        "aging": [[subject, None if where is None else list(where), bucket, count, str(amount)]
                  for (subject, where, bucket), (count, amount) in slices.aging.items()],
        "denials": [[category, count, str(amount)] for category, count, amount in slices.denials_by_category],
        "throughput": {label: [[day.isoformat(), count] for day, count in points]
                       for label, points in throughput.items()},
    }


def _from_json(data: dict[str, Any]) -> tuple[KpiSlices, Throughput]:
    figures: dict[str, dict[Any, KpiValue]] = {}
    for key, where, value, numerator, denominator in data["figures"]:
        slice_ = None if where is None else (where[0], where[1])
        figures.setdefault(key, {})[slice_] = KpiValue(key, _number(value), _number(numerator), _number(denominator),
                                                      None if slice_ is None else slice_[1])
    aging = {(subject, None if where is None else (where[0], where[1]), bucket): (count, Decimal(amount))
             for subject, where, bucket, count, amount in data["aging"]}
    denials = [(category, count, Decimal(amount)) for category, count, amount in data["denials"]]
    slices = KpiSlices(datetime.fromisoformat(data["as_of"]), datetime.fromisoformat(data["window_start"]), figures,
                       aging, denials)
    throughput = {label: [(date.fromisoformat(day), count) for day, count in points]
                  for label, points in data["throughput"].items()}
    return slices, throughput


def report_of(slices: KpiSlices, by: str | None) -> KpiReport:
    """The report ``compute_kpis(by=by)`` gives, taken from slices computed for several dimensions."""
    values: list[KpiValue] = []
    for key in KPIS:
        by_slice = slices.figures.get(key, {})
        values.append(by_slice.get(None) or KpiValue(key, None, None, None))
        values.extend(by_slice[where] for where in sorted(w for w in by_slice if w is not None and w[0] == by))
    cells = {where: figures for where, figures in slices.aging.items() if where[1] is None or where[1][0] == by}
    return KpiReport(as_of=slices.as_of, window_start=slices.window_start, by=by, values=values,
                     aging=aging_rows(cells), denials_by_category=slices.denials_by_category)


def _throughput(conn: Connection, as_of: datetime, window_days: int, facilities: tuple[str, ...] | None,
                organisation_id: str) -> Throughput:
    return daily_throughput(conn, since=as_of - timedelta(days=min(window_days, THROUGHPUT_DAYS)), until=as_of,
                            facilities=facilities, organisation_id=organisation_id)


def refresh_kpi_report(conn: Connection, *, as_of: datetime, window_days: int,
                       organisation_id: str = DEFAULT_ORGANISATION) -> int:
    """Compute and store one window's report (every KPI, every dimension's groups); returns the milliseconds
    it took."""
    started = time.perf_counter()
    slices = compute_kpi_slices(conn, as_of=as_of, window_days=window_days, dimensions=DIMENSIONS,
                                organisation_id=organisation_id)
    throughput = _throughput(conn, as_of, window_days, None, organisation_id)
    elapsed = int((time.perf_counter() - started) * 1000)
    _store(conn, slices, throughput, window_days, elapsed, organisation_id)
    return elapsed


def _store(conn: Connection, slices: KpiSlices, throughput: Throughput, window_days: int, elapsed_ms: int,
           organisation_id: str) -> None:
    r = kpi_reports.c
    conn.execute(delete(kpi_reports).where(r.organisation_id == organisation_id, r.window_days == window_days))
    conn.execute(kpi_reports.insert().values(organisation_id=organisation_id, window_days=window_days,
                                             as_of=slices.as_of, computed_at=utc_now(), duration_ms=elapsed_ms,
                                             report=_to_json(slices, throughput)))


def stored_report(conn: Connection, *, window_days: int, organisation_id: str = DEFAULT_ORGANISATION,
                  ) -> tuple[KpiSlices, Throughput, datetime, int] | None:
    """The stored report of a window: (slices, throughput, computed at, milliseconds it took), if any."""
    r = kpi_reports.c
    row = conn.execute(select(r.report, r.computed_at, r.duration_ms).where(
        r.organisation_id == organisation_id, r.window_days == window_days)).first()
    if row is None:
        return None
    slices, throughput = _from_json(row.report)
    return slices, throughput, row.computed_at, row.duration_ms


def tower_report(conn: Connection, *, as_of: datetime, window_days: int, by: str | None,
                 facilities: tuple[str, ...] | None, organisation_id: str = DEFAULT_ORGANISATION) -> TowerFigures:
    """The control tower's figures: live when that is cheap (or the caller sees only some facilities), else the
    stored report of the window."""
    if facilities is None:
        stored = stored_report(conn, window_days=window_days, organisation_id=organisation_id)
        if stored is not None and stored[3] >= LIVE_BUDGET_MS and utc_now() - stored[2] <= MAX_AGE:
            slices, throughput, computed_at, _ = stored
            return TowerFigures(report_of(slices, by), throughput, "stored", computed_at)
    started = time.perf_counter()
    slices = compute_kpi_slices(conn, as_of=as_of, window_days=window_days, dimensions=() if by is None else (by,),
                                facilities=facilities, organisation_id=organisation_id)
    throughput = _throughput(conn, as_of, window_days, facilities, organisation_id)
    if facilities is None and by is None:  # learn what live costs here; a slow one is stored for the next page
        elapsed = int((time.perf_counter() - started) * 1000)
        if elapsed >= LIVE_BUDGET_MS or stored_report(conn, window_days=window_days,
                                                      organisation_id=organisation_id) is not None:
            _store(conn, slices, throughput, window_days, elapsed, organisation_id)
    return TowerFigures(report_of(slices, by), throughput, "live", as_of)


def run_kpi_reports(engine: Engine, now: datetime) -> dict[str, Any]:
    """The worker's schedule: refresh every organisation's tower windows, each in its own transaction."""
    from rcmflow.services.kpi_snapshots import snapshot_organisations

    with engine.connect() as conn:
        organisations = snapshot_organisations(conn)
    took: dict[str, dict[int, int]] = {}
    for organisation_id in organisations:
        for window_days in WINDOWS:
            with engine.begin() as conn:
                took.setdefault(organisation_id, {})[window_days] = refresh_kpi_report(
                    conn, as_of=now, window_days=window_days, organisation_id=organisation_id)
    log.info("KPI reports refreshed for %d organisation(s): %s", len(organisations), took)
    return {"organisations": len(organisations), "milliseconds": took}
