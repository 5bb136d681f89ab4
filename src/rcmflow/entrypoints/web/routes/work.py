"""Work queues: the backlog per queue, a filtered and sorted list with bulk assignment, and one item with its
linked objects, notes, history and the actions the person's role allows. Every change goes through the
workflow core (``services.work_items``) and is audited like the API's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from rcmflow.adapters.store.schema import WORK_ITEM_ACTIVE_STATES
from rcmflow.domain.access import Principal
from rcmflow.domain.kpis import age_window
from rcmflow.entrypoints.api.deps import Id, ReadConn, audit, shallow
from rcmflow.entrypoints.api.pagination import decode_cursor
from rcmflow.entrypoints.api.pagination import page as cursor_page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import check_facility, facility_filter, require
from rcmflow.entrypoints.web.filters import flag, period, refuse_unknown_filters
from rcmflow.entrypoints.web.forms import Form, submitted_form
from rcmflow.entrypoints.web.render import now, page, when
from rcmflow.errors import InputError

router = APIRouter(prefix="/ui/work", include_in_schema=False, route_class=OneHopRoute)
PAGE_SIZE = 50
SORTS = {"-priority": "Most urgent first", "created_at": "Oldest first", "-created_at": "Newest first",
         "id": "By number"}
# Common resolution codes (free text is accepted too): what the work on an exception usually ends in.
RESOLUTIONS = ("corrected", "resubmitted", "appealed", "written_off", "payer_contacted", "patient_contacted",
               "no_action_needed", "duplicate")
Reader = Annotated[Principal, Depends(require("work_items:read"))]
Writer = Annotated[Principal, Depends(require("work_items:write"))]
Submitted = Annotated[Form, Depends(submitted_form)]


@router.get("")
def work_list(request: Request, conn: ReadConn, principal: Reader,
              queue: Annotated[str | None, Query(max_length=64)] = None,
              state: Annotated[str, Query(max_length=16)] = "active",
              owner: Annotated[str | None, Query(max_length=128)] = None,
              overdue: Annotated[str, Query(max_length=5)] = "", age: Annotated[str | None, Query(max_length=8)] = None,
              breached: Annotated[str | None, Query(max_length=5)] = None,
              window: Annotated[str | None, Query(max_length=8)] = None,
              as_of: Annotated[str | None, Query(max_length=64)] = None,
              sort: Annotated[str, Query(max_length=16)] = "-priority",
              cursor: Annotated[str | None, Query(max_length=200)] = None, message: str | None = None) -> Response:
    """The control tower's work-item figures drill down here: ``state=active`` (open work), ``state=overdue``
    (SLA breaches), ``state=resolved`` with ``window`` and ``as_of`` (resolved in the window) and ``breached``."""
    from rcmflow.services.work_item_search import count_work_items, work_item_conditions
    from rcmflow.services.work_items import list_item_summaries, queue_summary

    refuse_unknown_filters(request)
    if sort not in SORTS:
        raise InputError(detail=f"sort is one of {', '.join(SORTS)}")
    span = period(as_of, window, now(request))
    at = span.as_of
    facilities = facility_filter(principal)
    late = flag(overdue, "overdue")  # True: only overdue items; False: only those within their SLA
    overdue_only = late is True
    if state == "overdue":  # the KPI tiles' "SLA breaches": active items past their due time
        state, overdue_only = "active", True
    if span.days is not None and state != "resolved":
        raise InputError(detail="window applies to resolved items (state=resolved): those resolved in it")
    # As of a given time, "active" is what the backlog counted then: active, or resolved since.
    active_then = state == "active" and span.given_as_of
    states: Any = None if active_then or state == "all" else (
        list(WORK_ITEM_ACTIVE_STATES) if state == "active" else state)
    try:
        created_after, created_until = age_window(age, at) if age else (None, None)
    except ValueError as exc:
        raise InputError(detail=str(exc)) from exc
    # Overdue only: items_query's own filter for items active now, the KPI's condition for items active then.
    due = False if late is False else (True if overdue_only and active_then else None)
    conditions = work_item_conditions(conn, principal.organisation_id, as_of=at, active=active_then, overdue=due,
                                      window_days=span.days, breached=flag(breached, "breached"))
    if span.given_as_of:
        created_until = min(created_until or at, at)
    selection = {"queue": queue or None, "state": states, "owner": owner or None,
                 "overdue_at": at if overdue_only and not active_then else None, "facilities": facilities,
                 "created_after": created_after, "created_until": created_until,
                 "organisation_id": principal.organisation_id, "sort": sort, "conditions": conditions}
    rows = list_item_summaries(conn, **selection, after=decode_cursor(cursor, sort), limit=PAGE_SIZE + 1)
    listing = cursor_page(rows, PAGE_SIZE, sort)
    queues = queue_summary(conn, at, organisation_id=principal.organisation_id, facilities=facilities)
    filters = {"queue": queue or "", "state": state, "owner": owner or "",
               "overdue": "1" if overdue_only else ("0" if late is False else ""),
               "age": age or "", "breached": breached or "", **span.query(), "sort": sort}
    return page(request, "work_list.html", principal, title="Work queues", items=listing["items"],
                next_cursor=listing["next_cursor"], queues=queues, filters=filters, sorts=SORTS, now=at,
                states=("active", *WORK_ITEM_ACTIVE_STATES, "resolved", "cancelled", "all"),
                may_write=principal.may("work_items:write"), message=_MESSAGES.get(message or ""),
                total=count_work_items(conn, **selection), described=_described(span, state, breached))


def _described(span: Any, state: str, breached: str | None) -> list[str]:
    """The drill-down filters in words, for the page."""
    said = []
    if span.days is not None:
        said.append(f"resolved in the {span.days} days to {when(span.as_of)}")
    elif span.given_as_of:
        said.append(f"{state} as of {when(span.as_of)}")
    if breached:
        said.append("escalated or resolved after their SLA due time" if flag(breached, "breached")
                    else "resolved within their SLA, never escalated")
    return said


_MESSAGES = {"assigned": "Assigned.", "resolved": "Resolved.", "noted": "Note added.", "approved": "Approved.",
             "rejected": "Rejected."}


@router.post("/assign")
def bulk_assign_route(request: Request, principal: Writer, form: Submitted) -> Response:
    """Assign the checked items to someone (or to the person), back to the list they came from."""
    from rcmflow.services.work_items import bulk_assign, get_item

    try:
        ids = sorted({int(value) for value in form.all("item")})
    except ValueError as exc:
        raise InputError(detail="the selected items are not work item numbers") from exc
    if not ids:
        raise InputError(detail="select at least one work item to assign")
    owner = principal.actor if form.get("to_me") else (form.get("owner") or None)
    with request.app.state.engine.begin() as conn:
        for item_id in ids:
            check_facility(principal, get_item(conn, item_id).facility_id, f"work item {item_id}")
        result = bulk_assign(conn, ids, owner, principal.actor, now(request))
        audit(conn, request, principal, "assign work item", "work item", [str(i) for i in result.moved],
              after={"owner": owner})
    back = form.get("back", "/ui/work")
    back = back if back.startswith("/ui/work") else "/ui/work"
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}message=assigned", status_code=303)


def _item_view(conn: Any, item_id: int, principal: Principal) -> dict[str, Any]:
    from rcmflow.services.events import events_for
    from rcmflow.services.work_items import get_item, links_of, notes_of

    item = get_item(conn, item_id)
    check_facility(principal, item.facility_id, f"work item {item_id}")
    links = [(item.object_type, item.object_id), *(link for link in links_of(conn, item_id)
                                                   if link != (item.object_type, item.object_id))]
    return {"item": item, "links": links, "notes": notes_of(conn, item_id),
            "history": events_for(conn, "work item", str(item_id), organisation_id=principal.organisation_id)}


@router.get("/{item_id}")
def work_item(request: Request, item_id: Id, conn: ReadConn, principal: Reader, message: str | None = None) -> Response:
    view = _item_view(conn, item_id, principal)
    return page(request, "work_item.html", principal, title=f"Work item {item_id}", **view, now=now(request),
                resolutions=RESOLUTIONS, may_write=principal.may("work_items:write"),
                message=_MESSAGES.get(message or ""))


def _act(request: Request, principal: Principal, item_id: int, action: str, change: Any, done: str) -> Response:
    with request.app.state.engine.begin() as conn:
        before = shallow(_item_view(conn, item_id, principal)["item"])
        change(conn)
        after = shallow(_item_view(conn, item_id, principal)["item"])
        audit(conn, request, principal, action, "work item", str(item_id), before=before, after=after)
    return RedirectResponse(f"/ui/work/{item_id}?message={done}", status_code=303)


@router.post("/{item_id}/resolve")
def resolve_route(request: Request, item_id: Id, principal: Writer, form: Submitted) -> Response:
    from rcmflow.services.work_items import resolve

    code, note = form.get("resolution_code"), form.get("note") or None
    return _act(request, principal, item_id, "resolve work item", lambda conn: resolve(
        conn, item_id, code, actor=principal.actor, note=note, now=now(request)), "resolved")


@router.post("/{item_id}/assign")
def assign_route(request: Request, item_id: Id, principal: Writer, form: Submitted) -> Response:
    from rcmflow.services.work_items import assign

    owner = principal.actor if form.get("to_me") else (form.get("owner") or None)
    return _act(request, principal, item_id, "assign work item",
                lambda conn: assign(conn, item_id, owner, principal.actor, now(request)), "assigned")


@router.post("/{item_id}/notes")
def note_route(request: Request, item_id: Id, principal: Writer, form: Submitted) -> Response:
    from rcmflow.services.work_items import add_note

    text = form.get("text")
    if not text:
        raise InputError(detail="a note needs text")
    return _act(request, principal, item_id, "annotate work item",
                lambda conn: add_note(conn, item_id, principal.actor, text, now(request)), "noted")
