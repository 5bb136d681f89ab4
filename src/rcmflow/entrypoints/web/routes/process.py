"""The process map page: the discovered map of one object type with frequencies and waits, the bottlenecks
(where time is spent between states), rework loops, and conformance to the declared state machine.

The map comes from ``services.process_maps``: stored by the worker when mining takes seconds (a large
organisation), else mined here. A map mined here is kept for ``CACHE_SECONDS`` per (object type, window,
facility scope) in this process: the map is a picture of weeks of work, and a few minutes' staleness does not
change it.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rcmflow.domain.access import Principal
from rcmflow.domain.states import MACHINES
from rcmflow.entrypoints.api.deps import StreamingReadConn
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import facility_filter, require
from rcmflow.entrypoints.web.process_map import layout
from rcmflow.entrypoints.web.render import now, page
from rcmflow.errors import InputError

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=OneHopRoute)
CACHE_SECONDS = 300
_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
_lock = threading.Lock()


def _mined(conn: Any, key: tuple[Any, ...], compute: Any) -> Any:
    with _lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
    result = compute()
    with _lock:
        _cache[key] = (time.monotonic(), result)
        for stale in [k for k, (t, _) in _cache.items() if time.monotonic() - t >= CACHE_SECONDS]:
            del _cache[stale]
    return result


@router.get("/process")
def process_map(request: Request, conn: StreamingReadConn,
                principal: Annotated[Principal, Depends(require("reports:read"))],
                object_type: Annotated[str, Query(max_length=32)] = "claim",
                days: Annotated[int, Query(ge=1, le=3650)] = 30) -> Response:
    from rcmflow.services.process_maps import MAX_CASES, OBJECT_TYPES, WINDOWS, mine_window, process_map

    if object_type not in OBJECT_TYPES:
        raise InputError(detail=f"object_type is one of {', '.join(OBJECT_TYPES)}")
    at = now(request)
    facilities = facility_filter(principal)
    # Cached per CACHE_SECONDS of the clock: the window moves on with it, and a map asked again within them is
    # the same map.
    key = (principal.organisation_id, object_type, days, facilities, int(at.timestamp()) // CACHE_SECONDS)
    figures = process_map(
        conn, object_type=object_type, window_days=days, until=at, facilities=facilities,
        organisation_id=principal.organisation_id,
        live=lambda: _mined(conn, key, lambda: mine_window(conn, object_type=object_type, window_days=days, until=at,
                                                           facilities=facilities,
                                                           organisation_id=principal.organisation_id)))
    mining = figures.mining
    return page(request, "process.html", principal, title="Process map", mining=mining, drawing=layout(mining),
                object_type=object_type, object_types=OBJECT_TYPES, days=days, windows=WINDOWS, at=at,
                declared=object_type in MACHINES, max_cases=MAX_CASES, figures=figures)
