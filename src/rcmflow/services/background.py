"""Work a page starts and does not wait for: one daemon thread per key, never two at once for the same key.

The control tower and the process map serve a stored result that has gone stale (no worker refreshed it) at
once, and refresh it here. The job queue (``services.jobs``) is no fit: only ``rcmflow worker`` runs jobs, and a
stale result means no worker is refreshing it. Across processes (several uvicorn workers, several hosts) the
callers take a lease in the database as well (``kpi_reports.refreshing_until``), so this only keeps one process
from starting the same work twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, exists, or_, select, update

from rcmflow.adapters.store.schema import utc_now

log = logging.getLogger(__name__)

_running: dict[Hashable, threading.Thread] = {}
_lock = threading.Lock()


def start_once(key: Hashable, work: Callable[[], object]) -> bool:
    """Run ``work`` in a daemon thread unless work of ``key`` is still running here; True when started."""
    with _lock:
        running = _running.get(key)
        if running is not None and running.is_alive():
            return False
        thread = threading.Thread(target=_run, args=(key, work), name=f"background-{key}", daemon=True)
        _running[key] = thread
        thread.start()
    return True


def _run(key: Hashable, work: Callable[[], object]) -> None:
    try:
        work()
    except Exception:  # a failed refresh leaves the stale result served and is tried again by a later page
        log.exception("background work %r failed", key)
    finally:
        with _lock:
            if _running.get(key) is threading.current_thread():
                del _running[key]


def running() -> list[Hashable]:
    """The keys whose work is running in this process."""
    with _lock:
        return [key for key, thread in _running.items() if thread.is_alive()]


def wait_for_background(timeout: float = 60.0) -> bool:
    """Wait until no background work runs in this process (tests, a benchmark, shutdown); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        with _lock:
            threads = [thread for thread in _running.values() if thread.is_alive()]
        if not threads:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        threads[0].join(left)


def claim_refresh(engine: Engine, table: Table, key: Sequence[Any], *, lease: timedelta,
                  now: datetime | None = None) -> bool:
    """Take the refresh of ``table``'s row matching ``key`` (conditions) for ``lease``, in a short transaction:
    False while another process holds it. No row yet: nothing to hold, the caller may write the first one."""
    when = now or utc_now()
    free = or_(table.c.refreshing_until.is_(None), table.c.refreshing_until <= when)
    with engine.begin() as conn:
        # One guarded UPDATE, no read first: of two processes racing, the second matches no row.
        if conn.execute(update(table).where(*key, free).values(refreshing_until=when + lease)).rowcount:
            return True
        return not conn.execute(select(exists().where(*key))).scalar()
