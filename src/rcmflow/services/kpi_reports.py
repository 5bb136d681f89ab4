"""The control tower's figures, pre-aggregated when computing them live would make the page slow.

Computing every KPI takes milliseconds for a clinic and seconds for a health system with a million claims a
year (``bench/control_tower.py``). So the tower asks ``tower_report``: when the organisation's last full
computation took less than ``LIVE_BUDGET_MS`` the figures are computed live (the page always shows the
present); above it, the page reads the stored report of its window, which the worker's "kpi reports"
schedule refreshes every few minutes, and says when it was computed. One refresh computes each window once,
grouped by every dimension (``compute_kpi_slices``), so the stored report also answers "slice by payer".

Who the stored report serves, exactly:

- a person who sees every facility: the totals, and any slice;
- a person limited to one facility: that facility's group of the facility slice, whose figures are the
  facility's own (every counted object belongs to exactly one facility, so its group counts exactly what a
  computation limited to it counts), with the facility's own aging, denial categories and throughput, also
  stored per facility; the organisation-wide KPIs have no value for them, as live. Sliced by another dimension
  (payer within their facility) is not stored: live;
- a person limited to several facilities: the report stored for exactly their facility set (``facility_scope``,
  ``services.facility_scopes``), computed over those facilities by every dimension. Counts and ratios of sums would
  add up across facilities, but the medians and the 90th percentile would not, and days in A/R divides by rounded
  daily charges, so no combination of the organisation's report gives them. The worker's run stores one per set
  held by an active principal (at most ``stored_facility_sets_per_run`` sets a run); a set not stored yet (a
  principal created since) is computed live, and when that was slow the page starts the refresh that stores it.

A stored report older than ``MAX_AGE`` (no worker refreshed it) is still served, saying when it was computed,
and one refresh of it (this window, this facility set) starts in the background (``services.background``; across
processes, the row's ``refreshing_until`` lease lets one process at a time do it). Only when no report is stored
does a page compute the figures itself; it stores them when that was slow, so the next page reads them.
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
from rcmflow.services.background import claim_refresh, start_once
from rcmflow.services.facility_scopes import FacilitySet, refresh_facility_sets, scope_key
from rcmflow.services.kpis import (
    KpiReport,
    KpiSlices,
    KpiValue,
    Slice,
    compute_kpi_slices,
    nothing_counted,
)
from rcmflow.services.kpis import _aging_rows as aging_rows  # the engine's own order of aging rows
from rcmflow.services.throughput import Throughput, daily_throughput, daily_throughput_by_facility

log = logging.getLogger(__name__)
WINDOWS = (7, 30, 90)  # the control tower's windows
THROUGHPUT_DAYS = 14  # the throughput chart's days
# Below this, computing live costs less than a page view is allowed (the goal is 300 ms for the whole page).
LIVE_BUDGET_MS = 200
# A stored report older than this is served as it is while one refresh runs in the background.
MAX_AGE = timedelta(minutes=15)
# How long one process may hold a report's refresh before another may take it over (it died meanwhile).
REFRESH_LEASE = timedelta(minutes=15)
_FORMAT = 2  # 2: the facilities' own denial categories and throughput are stored too


@dataclass(frozen=True)
class TowerFigures:
    """What the control tower shows: the KPIs, the throughput, and where they came from."""

    report: KpiReport
    throughput: Throughput
    source: str  # "live" or "stored"
    computed_at: datetime
    facility: str | None = None  # the facility whose own figures the stored report gave
    facilities: tuple[str, ...] | None = None  # the facility set whose own stored report gave them
    stale: bool = False  # stored longer ago than MAX_AGE: a refresh runs in the background


@dataclass(frozen=True)
class StoredReport:
    """One window's stored report and what computing it took."""

    slices: KpiSlices
    throughput: Throughput
    facility_throughput: dict[str, Throughput] | None  # None: stored before facilities' series were kept
    computed_at: datetime
    duration_ms: int


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _throughput_json(throughput: Throughput) -> dict[str, Any]:
    return {label: [[day.isoformat(), count] for day, count in points] for label, points in throughput.items()}


def _throughput_of(data: dict[str, Any]) -> Throughput:
    return {label: [(date.fromisoformat(day), count) for day, count in points] for label, points in data.items()}


def _denials_json(denials: list[tuple[str, int, Decimal]]) -> list[list[Any]]:
    return [[category, count, str(amount)] for category, count, amount in denials]


def _denials_of(data: list[list[Any]]) -> list[tuple[str, int, Decimal]]:
    return [(category, count, Decimal(amount)) for category, count, amount in data]


def _to_json(slices: KpiSlices, throughput: Throughput, facility_throughput: dict[str, Throughput]) -> dict[str, Any]:
    return {
        "format": _FORMAT, "as_of": slices.as_of.isoformat(), "window_start": slices.window_start.isoformat(),
        "figures": [[key, None if where is None else list(where), _text(v.value), _text(v.numerator),
                     _text(v.denominator)]
                    for key, by_slice in slices.figures.items() for where, v in by_slice.items()],
        "aging": [[subject, None if where is None else list(where), bucket, count, str(amount)]
                  for (subject, where, bucket), (count, amount) in slices.aging.items()],
        "denials": _denials_json(slices.denials_by_category),
        "facility_denials": {name: _denials_json(found) for name, found in slices.denials_by_facility.items()},
        "throughput": _throughput_json(throughput),
        "facility_throughput": {name: _throughput_json(series) for name, series in facility_throughput.items()},
    }


def _from_json(data: dict[str, Any]) -> tuple[KpiSlices, Throughput, dict[str, Throughput] | None]:
    figures: dict[str, dict[Any, KpiValue]] = {}
    for key, where, value, numerator, denominator in data["figures"]:
        slice_ = None if where is None else (where[0], where[1])
        figures.setdefault(key, {})[slice_] = KpiValue(key, _number(value), _number(numerator), _number(denominator),
                                                      None if slice_ is None else slice_[1])
    aging = {(subject, None if where is None else (where[0], where[1]), bucket): (count, Decimal(amount))
             for subject, where, bucket, count, amount in data["aging"]}
    current = data.get("format") == _FORMAT
    facility_denials = ({name: _denials_of(found) for name, found in data["facility_denials"].items()}
                        if current else {})
    slices = KpiSlices(datetime.fromisoformat(data["as_of"]), datetime.fromisoformat(data["window_start"]), figures,
                       aging, _denials_of(data["denials"]), facility_denials)
    facility_throughput = ({name: _throughput_of(series) for name, series in data["facility_throughput"].items()}
                           if current else None)
    return slices, _throughput_of(data["throughput"]), facility_throughput


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


def facility_report_of(slices: KpiSlices, facility: str, by: str | None) -> KpiReport:
    """The report ``compute_kpis(by=by, facilities=(facility,))`` gives (``by`` None or "facility"), taken from
    slices computed by facility: the facility's group is its total."""
    if by not in (None, "facility"):
        raise ValueError("a facility's stored figures are sliced by nothing or by facility only")
    where: Slice = ("facility", facility)
    values: list[KpiValue] = []
    for key, kpi in KPIS.items():
        if "facility" not in kpi.dimensions:  # organisation-wide: nothing a facility can be given
            values.append(KpiValue(key, None, None, None))
            continue
        own = slices.figures.get(key, {}).get(where)
        values.append(nothing_counted(key) if own is None else KpiValue(key, own.value, own.numerator,
                                                                        own.denominator))
        if by is not None and own is not None:
            values.append(own)
    cells: dict[tuple[str, Slice, str], tuple[int, Decimal]] = {}
    for (subject, cell, bucket), figures in slices.aging.items():
        if cell == where:
            cells[(subject, None, bucket)] = figures
            if by is not None:
                cells[(subject, cell, bucket)] = figures
    return KpiReport(as_of=slices.as_of, window_start=slices.window_start, by=by, values=values,
                     aging=aging_rows(cells), denials_by_category=slices.denials_by_facility.get(facility, []))


def _throughput(conn: Connection, as_of: datetime, window_days: int, facilities: tuple[str, ...] | None,
                organisation_id: str) -> Throughput:
    return daily_throughput(conn, since=_throughput_since(as_of, window_days), until=as_of, facilities=facilities,
                            organisation_id=organisation_id)


def _throughput_since(as_of: datetime, window_days: int) -> datetime:
    return as_of - timedelta(days=min(window_days, THROUGHPUT_DAYS))


@dataclass(frozen=True)
class _Computed:
    slices: KpiSlices
    throughput: Throughput
    facility_throughput: dict[str, Throughput]
    window_days: int
    elapsed_ms: int


def _compute(conn: Connection, *, as_of: datetime, window_days: int, organisation_id: str,
             facilities: tuple[str, ...] | None) -> _Computed:
    """Every KPI of the window, by every dimension, and the throughput in total and per facility; limited to
    ``facilities`` when given (their own total throughput then: a person of several facilities sees no other)."""
    started = time.perf_counter()
    slices = compute_kpi_slices(conn, as_of=as_of, window_days=window_days, dimensions=DIMENSIONS,
                                facilities=facilities, organisation_id=organisation_id)
    if facilities is None:
        throughput, by_facility = daily_throughput_by_facility(
            conn, since=_throughput_since(as_of, window_days), until=as_of, organisation_id=organisation_id)
    else:
        throughput, by_facility = _throughput(conn, as_of, window_days, facilities, organisation_id), {}
    return _Computed(slices, throughput, by_facility, window_days, int((time.perf_counter() - started) * 1000))


def _key(window_days: int, organisation_id: str, facilities: tuple[str, ...] | None) -> list[Any]:
    r = kpi_reports.c
    return [r.organisation_id == organisation_id, r.window_days == window_days,
            r.facility_scope == scope_key(facilities)]


def _store(conn: Connection, computed: _Computed, organisation_id: str, facilities: tuple[str, ...] | None) -> None:
    conn.execute(delete(kpi_reports).where(*_key(computed.window_days, organisation_id, facilities)))
    conn.execute(kpi_reports.insert().values(
        organisation_id=organisation_id, window_days=computed.window_days, facility_scope=scope_key(facilities),
        as_of=computed.slices.as_of, computed_at=utc_now(), duration_ms=computed.elapsed_ms,
        report=_to_json(computed.slices, computed.throughput, computed.facility_throughput)))


def refresh_kpi_report(conn: Connection, *, as_of: datetime, window_days: int,
                       organisation_id: str = DEFAULT_ORGANISATION, facilities: tuple[str, ...] | None = None) -> int:
    """Compute and store one window's report (every KPI, every dimension's groups; over ``facilities`` only when
    given) in the caller's transaction; returns the milliseconds computing it took."""
    computed = _compute(conn, as_of=as_of, window_days=window_days, organisation_id=organisation_id,
                        facilities=facilities)
    _store(conn, computed, organisation_id, facilities)
    return computed.elapsed_ms


def refresh_kpi_report_apart(engine: Engine, *, as_of: datetime, window_days: int,
                             organisation_id: str = DEFAULT_ORGANISATION,
                             facilities: tuple[str, ...] | None = None) -> int:
    """``refresh_kpi_report`` reading on a connection of its own and writing in a short transaction of its own:
    seconds of reading hold no write lock (SQLite has one writer)."""
    with engine.connect() as conn:
        computed = _compute(conn, as_of=as_of, window_days=window_days, organisation_id=organisation_id,
                            facilities=facilities)
    with engine.begin() as conn:
        _store(conn, computed, organisation_id, facilities)
    return computed.elapsed_ms


def stored_report(conn: Connection, *, window_days: int, organisation_id: str = DEFAULT_ORGANISATION,
                  facilities: tuple[str, ...] | None = None) -> StoredReport | None:
    """The stored report of a window (over every facility, or the one of exactly ``facilities``), if any."""
    r = kpi_reports.c
    row = conn.execute(select(r.report, r.computed_at, r.duration_ms).where(
        *_key(window_days, organisation_id, facilities))).first()
    if row is None:
        return None
    slices, throughput, facility_throughput = _from_json(row.report)
    return StoredReport(slices, throughput, facility_throughput, row.computed_at, row.duration_ms)


def _several(facilities: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The facility set whose own stored report answers a person limited to ``facilities``: theirs when they are
    several (None: one facility or every facility, which the organisation's report answers)."""
    if facilities is None or len(set(facilities)) < 2:
        return None
    return tuple(sorted(set(facilities)))


def _served(stored: StoredReport, by: str | None,
            facilities: tuple[str, ...] | None) -> tuple[KpiReport, Throughput, str | None] | None:
    """The figures the stored report gives exactly for this view, or None when only live would be exact. A stored
    report of several facilities is their own (``_several``): it answers their view as the organisation's does."""
    if facilities is None or _several(facilities) is not None:
        return report_of(stored.slices, by), stored.throughput, None
    if len(facilities) != 1 or by not in (None, "facility") or stored.facility_throughput is None:
        return None
    facility = facilities[0]
    empty = {label: [(day, 0) for day, _ in points] for label, points in stored.throughput.items()}
    return (facility_report_of(stored.slices, facility, by), stored.facility_throughput.get(facility, empty),
            facility)


def _stale(stored: StoredReport) -> bool:
    return utc_now() - stored.computed_at > MAX_AGE


def tower_report(conn: Connection, *, as_of: datetime, window_days: int, by: str | None,
                 facilities: tuple[str, ...] | None, organisation_id: str = DEFAULT_ORGANISATION) -> TowerFigures:
    """The control tower's figures: live when that is cheap (or no stored report answers this view exactly),
    else the stored report of the window (of the person's facility set when they have several), stale or not; a
    stale one is refreshed in the background."""
    own = _several(facilities)
    stored = stored_report(conn, window_days=window_days, organisation_id=organisation_id, facilities=own)
    served = None if stored is None or stored.duration_ms < LIVE_BUDGET_MS else _served(stored, by, facilities)
    if stored is not None and served is not None:
        report, throughput, facility = served
        stale = _stale(stored)
        if stale:
            refresh_in_background(conn.engine, as_of=as_of, window_days=window_days, organisation_id=organisation_id,
                                  facilities=own)
        return TowerFigures(report, throughput, "stored", stored.computed_at, facility, own, stale)
    started = time.perf_counter()
    slices = compute_kpi_slices(conn, as_of=as_of, window_days=window_days, dimensions=() if by is None else (by,),
                                facilities=facilities, organisation_id=organisation_id)
    throughput = _throughput(conn, as_of, window_days, facilities, organisation_id)
    slow = (time.perf_counter() - started) * 1000 >= LIVE_BUDGET_MS
    if slow and window_days in WINDOWS and (stored is None or stored.duration_ms < LIVE_BUDGET_MS or _stale(stored)):
        # The next page should find a (fresh) stored report: computed by every dimension in the background,
        # since this request's connection only reads. Only the tower's windows: any other is computed live.
        refresh_in_background(conn.engine, as_of=as_of, window_days=window_days, organisation_id=organisation_id,
                              facilities=own)
    return TowerFigures(report_of(slices, by), throughput, "live", as_of)


def refresh_in_background(engine: Engine, *, as_of: datetime, window_days: int,
                          organisation_id: str = DEFAULT_ORGANISATION,
                          facilities: tuple[str, ...] | None = None) -> bool:
    """Start one refresh of the window's report (of ``facilities`` only, when given) in a thread of this process,
    unless one runs (here, or in another process that holds the row's lease); True when this call started it."""
    scope = scope_key(facilities)

    def refresh() -> None:
        if claim_refresh(engine, kpi_reports, _key(window_days, organisation_id, facilities), lease=REFRESH_LEASE):
            took = refresh_kpi_report_apart(engine, as_of=as_of, window_days=window_days,
                                            organisation_id=organisation_id, facilities=facilities)
            log.info("KPI report of %s, %d days, facilities %r, refreshed in the background in %d ms",
                     organisation_id, window_days, scope or "all", took)

    return start_once(("kpi report", str(engine.url), organisation_id, window_days, scope), refresh)


def run_kpi_reports(engine: Engine, now: datetime) -> dict[str, Any]:
    """The worker's schedule: refresh every organisation's tower windows, each read apart and stored in a
    short transaction of its own; then those of the facility sets of two or more facilities its principals are
    limited to (at most ``stored_facility_sets_per_run`` sets, longest ago first)."""
    from rcmflow.services.kpi_snapshots import snapshot_organisations

    with engine.connect() as conn:
        organisations = snapshot_organisations(conn)
    took: dict[str, dict[int, int]] = {}
    for organisation_id in organisations:
        for window_days in WINDOWS:
            took.setdefault(organisation_id, {})[window_days] = refresh_kpi_report_apart(
                engine, as_of=now, window_days=window_days, organisation_id=organisation_id)
    log.info("KPI reports refreshed for %d organisation(s): %s", len(organisations), took)

    def refresh_set(facility_set: FacilitySet) -> None:
        for window_days in WINDOWS:
            refresh_kpi_report_apart(engine, as_of=now, window_days=window_days,
                                     organisation_id=facility_set.organisation_id, facilities=facility_set.facilities)

    sets = refresh_facility_sets(engine, kpi_reports, organisations, least=2, refresh=refresh_set, what="KPI reports")
    return {"organisations": len(organisations), "milliseconds": took, "facility sets": sets}
