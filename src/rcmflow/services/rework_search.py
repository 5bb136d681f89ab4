"""The business objects behind the control tower's rework rate: those that changed state in a window, each with
whether it re-entered a state it had been in before (and which), with the conditions ``services.kpis`` counts
with; in keyset pages, the objects whose first change in the window came last first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, func, select

from rcmflow.adapters.store.schema import event_log
from rcmflow.adapters.store.sql import keyset_page
from rcmflow.services.kpis import KpiScope, reentered_state, state_changes


def _moved(s: KpiScope, object_type: str | None, reworked: bool | None) -> Any:
    """Subquery ``moved``: one row per object that changed state in the window (as ``rework_rate`` counts them)."""
    ev = event_log.alias("ev")
    again = reentered_state(ev)
    query = (select(ev.c.object_type, ev.c.object_id, func.min(ev.c.id).label("id"), func.count().label("changes"),
                    func.max(ev.c.occurred_at).label("last_change"), func.max(ev.c.facility_id).label("facility_id"),
                    func.max(ev.c.payer_id).label("payer_id"),
                    func.max(case((again, 1), else_=0)).label("reentered"),
                    func.max(case((again, ev.c.to_state))).label("reentered_state"))
             .where(*state_changes(s, ev), *s.facility(ev.c.facility_id))
             .group_by(ev.c.object_type, ev.c.object_id))
    if object_type is not None:
        query = query.where(ev.c.object_type == object_type)
    if reworked is not None:
        query = query.having(func.max(case((again, 1), else_=0)) == (1 if reworked else 0))
    return query.subquery("moved")


def search_rework(conn: Connection, s: KpiScope, *, object_type: str | None = None, reworked: bool | None = None,
                  after: tuple[Any, int] | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The objects that changed state in ``s``'s window (of ``object_type``; that re-entered a state or not)."""
    moved = _moved(s, object_type, reworked)
    query = keyset_page(select(moved), moved.c.id, moved.c.id, descending=True, after=after, limit=limit)
    return [dict(row._mapping) for row in conn.execute(query)]


def rework_totals(conn: Connection, s: KpiScope, *, object_type: str | None = None,
                  reworked: bool | None = None) -> dict[str, int]:
    """How many objects the list holds, and how many of them re-entered a state."""
    moved = _moved(s, object_type, reworked)
    count, again = conn.execute(select(func.count(), func.coalesce(func.sum(moved.c.reentered), 0))).one()
    return {"count": int(count), "reentered": int(again)}
