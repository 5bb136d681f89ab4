"""Rework: the business objects (claims, remittances, claim payments, deposits, work items, appeals, supplier
invoices) that changed state in a window, and those of them that re-entered a state they had been in before, the
list behind the control tower's rework rate. Each object links to its own page where it has one; the list is
limited to the person's facilities by the facility its events carry, as the KPI is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import ReadConn
from rcmflow.entrypoints.api.pagination import decode_cursor
from rcmflow.entrypoints.api.pagination import page as cursor_page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import facility_filter, require
from rcmflow.entrypoints.web.filters import choice, flag, period, refuse_unknown_filters
from rcmflow.entrypoints.web.render import now, page, when

router = APIRouter(prefix="/ui/rework", include_in_schema=False, route_class=OneHopRoute)
PAGE_SIZE = 50
ORDER = "-id"
DEFAULT_WINDOW = 30  # the control tower's
Reader = Annotated[Principal, Depends(require("reports:read"))]
Text = Annotated[str | None, Query(max_length=64)]


@router.get("")
def rework_list(request: Request, conn: ReadConn, principal: Reader, reworked: Text = None,
                object_type: Text = None, window: Text = None, as_of: Text = None,
                cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """The objects that changed state in the window (30 days unless given) to ``as_of``; ``reworked=true``: those
    that re-entered a state, the rework rate's numerator."""
    from rcmflow.services.kpis import REWORK_OBJECT_TYPES, kpi_scope
    from rcmflow.services.rework_search import rework_totals, search_rework

    refuse_unknown_filters(request)
    span = period(as_of, window, now(request))
    days = span.days or DEFAULT_WINDOW
    scope = kpi_scope(conn, as_of=span.as_of, window_days=days, facilities=facility_filter(principal),
                      organisation_id=principal.organisation_id)
    kind = choice(object_type, "object_type", REWORK_OBJECT_TYPES)
    again = flag(reworked, "reworked")
    rows = search_rework(conn, scope, object_type=kind, reworked=again, after=decode_cursor(cursor, ORDER),
                         limit=PAGE_SIZE + 1)
    listing = cursor_page(rows, PAGE_SIZE, ORDER)
    filters = {key: value for key, value in {"reworked": reworked, "object_type": object_type, "window": str(days),
                                             **({"as_of": as_of} if span.given_as_of else {})}.items() if value}
    said = f"changed state in the {days} days to {when(span.as_of)}"
    if again is not None:
        said += "; re-entered a state they had been in before" if again else "; never re-entered a state"
    return page(request, "rework.html", principal, title="Rework", objects=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, object_types=REWORK_OBJECT_TYPES,
                first_page=not cursor, described=said,
                totals=rework_totals(conn, scope, object_type=kind, reworked=again))
