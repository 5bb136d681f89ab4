"""The process map page's maps, mined ahead when mining them in the page would make it slow.

Mining a month of a large organisation's claims reads hundreds of thousands of events and takes seconds
(``bench/control_tower.py``), so, as the control tower does with its figures (``services.kpi_reports``), the
page asks ``process_map``: when mining the map last took less than ``LIVE_BUDGET_MS`` it is mined live (the
route keeps it a few minutes); above it, the page reads the map the worker's "process maps" schedule stored
for the object type and window, and says when it was mined. A stored map older than ``MAX_AGE`` (no worker
refreshed it) is still served while one refresh runs in the background.

Maps are stored for the page's object types and windows, over every facility and over each facility set (one
facility or several) that an active principal who may read reports is limited to (``facility_scope``,
``services.facility_scopes``): a map of every facility cannot be cut down to some facilities' events, so a person
limited to some reads the map mined over exactly theirs. The worker's run mines at most
``stored_facility_sets_per_run`` sets; a set not stored yet (a principal created since), or a window the page does
not offer, is mined in the page, and when that was slow the page starts the refresh that stores it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, process_maps, utc_now
from rcmflow.services.background import claim_refresh, start_once
from rcmflow.services.facility_scopes import FacilitySet, refresh_facility_sets, scope_key
from rcmflow.services.process_mining import ProcessMining, mine_process

log = logging.getLogger(__name__)
OBJECT_TYPES = ("claim", "claim payment", "remittance", "bank deposit", "work item", "approval request")
WINDOWS = (7, 30, 90, 365)  # days: the page's windows, stored ahead
MAX_CASES = 20_000  # the most recently active objects mined per map
# Below this, mining in the page costs less than a page view is allowed.
LIVE_BUDGET_MS = 200
# A stored map older than this is served as it is while one refresh runs in the background.
MAX_AGE = timedelta(minutes=30)
REFRESH_LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class MapFigures:
    """The map the page shows, and where it came from."""

    mining: ProcessMining
    source: str  # "live" or "stored"
    until: datetime  # the end of the mined window; it began window_days before
    computed_at: datetime
    stale: bool = False  # stored longer ago than MAX_AGE: a refresh runs in the background
    facilities: tuple[str, ...] | None = None  # the facility set the stored map was mined over (None: every one)


@dataclass(frozen=True)
class StoredMap:
    mining: ProcessMining
    until: datetime
    computed_at: datetime
    duration_ms: int


def mine_window(conn: Connection, *, object_type: str, window_days: int, until: datetime,
                facilities: tuple[str, ...] | None = None,
                organisation_id: str = DEFAULT_ORGANISATION) -> ProcessMining:
    """The page's map: the ``MAX_CASES`` most recently active objects of the ``window_days`` before ``until``."""
    return mine_process(conn, object_type=object_type, since=until - timedelta(days=window_days), until=until,
                        max_cases=MAX_CASES, facilities=facilities, organisation_id=organisation_id)


def _key(object_type: str, window_days: int, organisation_id: str, facilities: tuple[str, ...] | None) -> list[Any]:
    m = process_maps.c
    return [m.organisation_id == organisation_id, m.object_type == object_type, m.window_days == window_days,
            m.facility_scope == scope_key(facilities)]


def _store(conn: Connection, mining: ProcessMining, *, object_type: str, window_days: int, until: datetime,
           elapsed_ms: int, organisation_id: str, facilities: tuple[str, ...] | None) -> None:
    conn.execute(delete(process_maps).where(*_key(object_type, window_days, organisation_id, facilities)))
    conn.execute(process_maps.insert().values(
        organisation_id=organisation_id, object_type=object_type, window_days=window_days,
        facility_scope=scope_key(facilities), until=until, computed_at=utc_now(), duration_ms=elapsed_ms,
        mining=mining.to_dict()))


def _mine_timed(conn: Connection, *, object_type: str, window_days: int, until: datetime, organisation_id: str,
                facilities: tuple[str, ...] | None) -> tuple[ProcessMining, int]:
    started = time.perf_counter()
    mining = mine_window(conn, object_type=object_type, window_days=window_days, until=until, facilities=facilities,
                         organisation_id=organisation_id)
    return mining, int((time.perf_counter() - started) * 1000)


def refresh_process_map(conn: Connection, *, object_type: str, window_days: int, until: datetime,
                        organisation_id: str = DEFAULT_ORGANISATION, facilities: tuple[str, ...] | None = None) -> int:
    """Mine and store one map (of ``facilities``' events only, when given) in the caller's transaction; returns the
    milliseconds mining took."""
    mining, elapsed = _mine_timed(conn, object_type=object_type, window_days=window_days, until=until,
                                  organisation_id=organisation_id, facilities=facilities)
    _store(conn, mining, object_type=object_type, window_days=window_days, until=until, elapsed_ms=elapsed,
           organisation_id=organisation_id, facilities=facilities)
    return elapsed


def refresh_process_map_apart(engine: Engine, *, object_type: str, window_days: int, until: datetime,
                              organisation_id: str = DEFAULT_ORGANISATION,
                              facilities: tuple[str, ...] | None = None) -> int:
    """``refresh_process_map`` reading on a connection of its own and writing in a short transaction."""
    with engine.connect() as conn:
        mining, elapsed = _mine_timed(conn, object_type=object_type, window_days=window_days, until=until,
                                      organisation_id=organisation_id, facilities=facilities)
    with engine.begin() as conn:
        _store(conn, mining, object_type=object_type, window_days=window_days, until=until, elapsed_ms=elapsed,
               organisation_id=organisation_id, facilities=facilities)
    return elapsed


def stored_process_map(conn: Connection, *, object_type: str, window_days: int,
                       organisation_id: str = DEFAULT_ORGANISATION,
                       facilities: tuple[str, ...] | None = None) -> StoredMap | None:
    """The stored map of an object type and window (over every facility, or exactly ``facilities``), if any."""
    m = process_maps.c
    row = conn.execute(select(m.mining, m.until, m.computed_at, m.duration_ms)
                       .where(*_key(object_type, window_days, organisation_id, facilities))).first()
    if row is None:
        return None
    return StoredMap(ProcessMining.from_dict(row.mining), row.until, row.computed_at, row.duration_ms)


def _stale(stored: StoredMap) -> bool:
    return utc_now() - stored.computed_at > MAX_AGE


def process_map(conn: Connection, *, object_type: str, window_days: int, until: datetime,
                facilities: tuple[str, ...] | None, organisation_id: str = DEFAULT_ORGANISATION,
                live: Callable[[], ProcessMining] | None = None) -> MapFigures:
    """The page's map: the stored one when mining is slow and one is stored for this view (this object type,
    window and facility set; refreshed in the background when stale), else mined now (``live()`` when given: the
    route's cached mining)."""
    scope = None if facilities is None else tuple(sorted(set(facilities)))
    storable = object_type in OBJECT_TYPES and window_days in WINDOWS
    stored = stored_process_map(conn, object_type=object_type, window_days=window_days,
                                organisation_id=organisation_id, facilities=scope) if storable else None
    if stored is not None and stored.duration_ms >= LIVE_BUDGET_MS:
        stale = _stale(stored)
        if stale:
            refresh_in_background(conn.engine, object_type=object_type, window_days=window_days, until=until,
                                  organisation_id=organisation_id, facilities=scope)
        return MapFigures(stored.mining, "stored", stored.until, stored.computed_at, stale, scope)
    started = time.perf_counter()
    mining = live() if live is not None else mine_window(
        conn, object_type=object_type, window_days=window_days, until=until, facilities=facilities,
        organisation_id=organisation_id)
    slow = (time.perf_counter() - started) * 1000 >= LIVE_BUDGET_MS
    if storable and slow and (stored is None or stored.duration_ms < LIVE_BUDGET_MS or _stale(stored)):
        # The next page should find it stored: mined again and stored in the background (this request's
        # connection only reads).
        refresh_in_background(conn.engine, object_type=object_type, window_days=window_days, until=until,
                              organisation_id=organisation_id, facilities=scope)
    return MapFigures(mining, "live", until, until)


def refresh_in_background(engine: Engine, *, object_type: str, window_days: int, until: datetime,
                          organisation_id: str = DEFAULT_ORGANISATION,
                          facilities: tuple[str, ...] | None = None) -> bool:
    """Start one refresh of the map (of ``facilities`` only, when given) in a thread of this process, unless one
    runs (here, or in another process that holds the row's lease); True when this call started it."""
    scope = scope_key(facilities)

    def refresh() -> None:
        if claim_refresh(engine, process_maps, _key(object_type, window_days, organisation_id, facilities),
                         lease=REFRESH_LEASE):
            took = refresh_process_map_apart(engine, object_type=object_type, window_days=window_days, until=until,
                                             organisation_id=organisation_id, facilities=facilities)
            log.info("process map of %s, %s, %d days, facilities %r, refreshed in the background in %d ms",
                     organisation_id, object_type, window_days, scope or "all", took)

    return start_once(("process map", str(engine.url), organisation_id, object_type, window_days, scope), refresh)


def run_process_maps(engine: Engine, now: datetime) -> dict[str, Any]:
    """The worker's schedule: mine and store every organisation's maps of the page's object types and windows;
    then those of the facility sets its principals are limited to (at most ``stored_facility_sets_per_run`` sets,
    longest ago first)."""
    from rcmflow.services.kpi_snapshots import snapshot_organisations

    with engine.connect() as conn:
        organisations = snapshot_organisations(conn)
    took: dict[str, dict[str, int]] = {}
    for organisation_id in organisations:
        for object_type in OBJECT_TYPES:
            for window_days in WINDOWS:
                took.setdefault(organisation_id, {})[f"{object_type}/{window_days}"] = refresh_process_map_apart(
                    engine, object_type=object_type, window_days=window_days, until=now,
                    organisation_id=organisation_id)
    log.info("process maps refreshed for %d organisation(s): %s", len(organisations), took)

    def refresh_set(facility_set: FacilitySet) -> None:
        for object_type in OBJECT_TYPES:
            for window_days in WINDOWS:
                refresh_process_map_apart(engine, object_type=object_type, window_days=window_days, until=now,
                                          organisation_id=facility_set.organisation_id,
                                          facilities=facility_set.facilities)

    sets = refresh_facility_sets(engine, process_maps, organisations, least=1, refresh=refresh_set,
                                 what="process maps")
    return {"organisations": len(organisations), "milliseconds": took, "facility sets": sets}
