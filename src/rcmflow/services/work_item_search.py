"""What the work-queue list selects by besides its own filters (``work_items.items_query``): the populations of
the control tower's work-item figures, with the conditions ``services.kpis`` counts with (active at an as-of time,
overdue then, resolved in a window, breached), and how many items a filtered list holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from rcmflow.adapters.store.schema import work_items
from rcmflow.services.kpis import (
    active_work_items,
    breached_item,
    kpi_scope,
    overdue_at,
    resolved_in_window,
)
from rcmflow.services.work_items import items_query


def work_item_conditions(conn: Connection, organisation_id: str, *, as_of: datetime, active: bool = False,
                         overdue: bool | None = None, window_days: int | None = None,
                         breached: bool | None = None) -> list[Any]:
    """Conditions on work_items: ``active`` at ``as_of`` (active then, though maybe resolved since), ``overdue``
    or not (past the SLA due time at ``as_of``), resolved in the ``window_days`` to ``as_of``, ``breached`` or
    not (escalated, or resolved after the due time)."""
    s = kpi_scope(conn, as_of=as_of, window_days=window_days or 1, organisation_id=organisation_id)
    found: list[Any] = []
    if active:
        now_active, resolved_since = active_work_items(s)
        found.append(or_(and_(*now_active), and_(*resolved_since)))
    if overdue is not None:
        late = overdue_at(work_items.c.due_at, as_of)
        found.append(late if overdue else ~late)
    if window_days is not None:
        found += resolved_in_window(s)
    if breached is not None:
        found.append(breached_item() if breached else ~breached_item())
    return found


def count_work_items(conn: Connection, **filters: Any) -> int:
    """How many work items the filters of ``items_query`` select, across all pages."""
    filters = {key: value for key, value in filters.items() if key not in ("after", "after_id", "limit")}
    # Without the page's order: counting needs no sort.
    inner = items_query(select(work_items.c.id), **filters).order_by(None).limit(None).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())
