"""The approval requests behind the control tower's approval cycle time: those approved or rejected in a window,
scoped to facilities by their "submit for approval" event, with the conditions ``services.kpis`` counts with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from rcmflow.adapters.store.schema import approval_requests, event_log
from rcmflow.services.approvals import RequestSummary, list_requests
from rcmflow.services.kpis import approval_submission, decided_in_window, kpi_scope


def _selection(conn: Connection, organisation_id: str, as_of: datetime, window_days: int,
               facilities: Sequence[str] | None) -> tuple[Any, list[Any]]:
    s = kpi_scope(conn, as_of=as_of, window_days=window_days, facilities=facilities, organisation_id=organisation_id)
    a, ev = approval_requests, event_log.alias("submitted")
    return a.outerjoin(ev, approval_submission(a, ev)), [*decided_in_window(s, a), *s.facility(ev.c.facility_id)]


def decided_requests(conn: Connection, organisation_id: str, *, as_of: datetime, window_days: int,
                     facilities: Sequence[str] | None = None, limit: int = 200) -> tuple[list[RequestSummary], int]:
    """The newest ``limit`` requests approved or rejected in the ``window_days`` to ``as_of``, and how many
    there are in all."""
    source, where = _selection(conn, organisation_id, as_of, window_days, facilities)
    found = list_requests(conn, organisation_id=organisation_id, limit=limit, source=source, conditions=where)
    total = conn.execute(select(func.count()).select_from(source).where(*where)).scalar_one()
    return found, int(total)
