"""The facility sets an organisation's principals are limited to, the key figures stored for one are kept under, and
which of them one run of a schedule refreshes.

A person limited to several facilities sees medians and percentiles over those facilities only, and a process map of
their events only: no combination of figures stored for the organisation or per facility gives those. So the control
tower's reports (``services.kpi_reports``) and the process maps (``services.process_maps``) are also stored per
facility set held by an active principal who may read reports, in the same tables, keyed by ``scope_key``. Each set
costs about what the organisation's own refresh costs, so one run refreshes at most
``Settings.stored_facility_sets_per_run`` of them, those never stored or refreshed longest ago first; the others
wait for the next run (meanwhile a page serves what is stored, and refreshes it in the background once stale).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select

from rcmflow.adapters.store.schema import principals
from rcmflow.domain.access import permissions_of

log = logging.getLogger(__name__)
EVERY_FACILITY = ""  # the key of figures over every facility
_READABLE_MAX = 128  # the column's width: longer sets are keyed by a digest
_DIGEST = "sha256:"
_NEVER = datetime.min.replace(tzinfo=UTC)  # when a set never stored was refreshed: before any other


def scope_key(facilities: Iterable[str] | None) -> str:
    """The canonical key of a facility set (None: every facility): its ids sorted and joined by commas, readable
    in the table, or a digest of them when that would be long or ambiguous (an id holding a comma)."""
    if facilities is None:
        return EVERY_FACILITY
    ids = sorted(set(facilities))
    readable = ",".join(ids)
    if ids and len(readable) <= _READABLE_MAX and not any("," in f for f in ids) and not readable.startswith(_DIGEST):
        return readable
    return _DIGEST + hashlib.sha256(json.dumps(ids).encode()).hexdigest()


@dataclass(frozen=True)
class FacilitySet:
    """A set of facilities some principals of an organisation are limited to."""

    organisation_id: str
    facilities: tuple[str, ...]  # sorted, distinct

    @property
    def key(self) -> str:
        return scope_key(self.facilities)


def held_facility_sets(conn: Connection, organisation_id: str, *, least: int = 1) -> list[FacilitySet]:
    """The distinct facility sets of at least ``least`` facilities that the organisation's active principals who may
    read reports are limited to (the others never open the tower or the process map)."""
    p = principals.c
    found: dict[str, FacilitySet] = {}
    for roles, facilities in conn.execute(select(p.roles, p.facilities).where(
            p.organisation_id == organisation_id, p.active.is_(True))):
        ids = tuple(sorted(set(facilities or ())))
        if len(ids) >= max(least, 1) and "reports:read" in permissions_of(roles):
            found.setdefault(scope_key(ids), FacilitySet(organisation_id, ids))
    return [found[key] for key in sorted(found)]


def _last_refreshed(conn: Connection, table: Table) -> dict[tuple[str, str], datetime]:
    """(organisation, facility scope) -> when its oldest stored row was computed."""
    t = table.c
    rows = conn.execute(select(t.organisation_id, t.facility_scope, func.min(t.computed_at))
                        .where(t.facility_scope != EVERY_FACILITY).group_by(t.organisation_id, t.facility_scope))
    return {(organisation, scope): computed_at for organisation, scope, computed_at in rows}


def forget_unheld(conn: Connection, table: Table, organisation_id: str, held: Sequence[FacilitySet]) -> int:
    """Delete the rows stored for facility sets no principal holds any more; how many were deleted."""
    t = table.c
    keys = [held_set.key for held_set in held]
    return conn.execute(delete(table).where(t.organisation_id == organisation_id, t.facility_scope != EVERY_FACILITY,
                                            t.facility_scope.notin_(keys))).rowcount


def due_first(held: Sequence[FacilitySet], last: dict[tuple[str, str], datetime], cap: int) -> list[FacilitySet]:
    """At most ``cap`` sets: those never stored first, then those refreshed longest ago."""
    def due(held_set: FacilitySet) -> tuple[datetime, str, str]:
        return last.get((held_set.organisation_id, held_set.key), _NEVER), held_set.organisation_id, held_set.key
    return sorted(held, key=due)[:cap]


def refresh_facility_sets(engine: Engine, table: Table, organisations: Iterable[str], *, least: int,
                          refresh: Callable[[FacilitySet], object], what: str,
                          cap: int | None = None) -> dict[str, Any]:
    """One schedule run's part for facility sets: forget the sets no principal holds, refresh at most ``cap``
    (default: the setting) of those held with ``refresh``; returns and logs how many and how long it took."""
    from rcmflow.settings import get_settings

    limit = get_settings().stored_facility_sets_per_run if cap is None else cap
    held: list[FacilitySet] = []
    forgotten = 0
    with engine.begin() as conn:
        for organisation_id in organisations:
            found = held_facility_sets(conn, organisation_id, least=least)
            forgotten += forget_unheld(conn, table, organisation_id, found)
            held.extend(found)
        last = _last_refreshed(conn, table)
    chosen = due_first(held, last, limit)
    started = time.perf_counter()
    for facility_set in chosen:
        refresh(facility_set)
    took = int((time.perf_counter() - started) * 1000)
    outcome = {"held": len(held), "refreshed": len(chosen), "left for later runs": len(held) - len(chosen),
               "forgotten rows": forgotten, "milliseconds": took, "cap": limit}
    log.info("%s of facility sets: %d held, %d refreshed in %d ms (at most %d per run), %d left for later runs",
             what, len(held), len(chosen), took, limit, len(held) - len(chosen))
    return outcome
