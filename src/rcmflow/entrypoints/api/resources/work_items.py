"""Work items: lists with filters and sorting within the caller's facilities, one item with its links and
notes, and the actions people take on them (assign, resolve, annotate), each audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import BoundedReadConn, Cursor, Id, Limit, WriteConn, audit, shallow
from rcmflow.entrypoints.api.pagination import decode_cursor, page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.schemas import WorkItemDetail, WorkItemPage
from rcmflow.entrypoints.api.security import check_facility, facility_filter, require

router = APIRouter(prefix="/v1/work-items", tags=["work items"], route_class=OneHopRoute)
Sort = Annotated[str, Query(pattern=r"^-?(id|created_at|priority)$",
                            description="id, created_at or priority; prefix - for descending.")]


class AssignRequest(BaseModel):
    owner: str | None = Field(default=None, max_length=128, description="Who works it; null: back to the pool.")


class ResolveRequest(BaseModel):
    resolution_code: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=4000)


class NoteRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


@router.get("", response_model=WorkItemPage)
def list_work_items_route(
    conn: BoundedReadConn, principal: Annotated[Principal, Depends(require("work_items:read"))],
    queue: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    owner: Annotated[str | None, Query(max_length=128)] = None,
    sort: Sort = "id", limit: Limit = 50, cursor: Cursor = None,
) -> dict[str, Any]:
    """Work items of the caller's facilities, filtered by queue, state and owner."""
    from rcmflow.services.work_items import list_item_summaries

    items = list_item_summaries(conn, queue=queue, state=state, owner=owner, facilities=facility_filter(principal),
                       organisation_id=principal.organisation_id, sort=sort, after=decode_cursor(cursor, sort),
                       limit=limit + 1)
    return page(items, limit, sort)


def _detail(conn: Any, item_id: Id, principal: Principal) -> dict[str, Any]:
    from rcmflow.services.work_items import get_item, links_of, notes_of

    item = get_item(conn, item_id)
    check_facility(principal, item.facility_id, f"work item {item_id}")
    return {**shallow(item), "links": [{"object_type": t, "object_id": i} for t, i in links_of(conn, item_id)],
            "notes": [shallow(note) for note in notes_of(conn, item_id)]}


@router.get("/{item_id}", response_model=WorkItemDetail)
def work_item_route(item_id: Id, conn: BoundedReadConn,
                    principal: Annotated[Principal, Depends(require("work_items:read"))]) -> dict[str, Any]:
    """One work item with the objects it is about and its notes."""
    return _detail(conn, item_id, principal)


def _act(request: Request, conn: Any, principal: Principal, item_id: Id, action: str, change: Any) -> dict[str, Any]:
    before = _detail(conn, item_id, principal)
    change()
    after = _detail(conn, item_id, principal)
    audit(conn, request, principal, action, "work item", str(item_id), before=before, after=after)
    return after


@router.post("/{item_id}/assign", response_model=WorkItemDetail)
def assign_route(request: Request, item_id: Id, body: AssignRequest, conn: WriteConn,
                 principal: Annotated[Principal, Depends(require("work_items:write"))]) -> dict[str, Any]:
    """Give an active item to someone, or back to its role's pool."""
    from rcmflow.services.work_items import assign

    return _act(request, conn, principal, item_id, "assign work item",
                lambda: assign(conn, item_id, body.owner, principal.actor, utc_now()))


@router.post("/{item_id}/resolve", response_model=WorkItemDetail)
def resolve_route(request: Request, item_id: Id, body: ResolveRequest, conn: WriteConn,
                  principal: Annotated[Principal, Depends(require("work_items:write"))]) -> dict[str, Any]:
    """Resolve an active item with a resolution code and an optional note."""
    from rcmflow.services.work_items import resolve

    return _act(request, conn, principal, item_id, "resolve work item",
                lambda: resolve(conn, item_id, body.resolution_code, actor=principal.actor, note=body.note,
                                now=utc_now()))


@router.post("/{item_id}/notes", response_model=WorkItemDetail, status_code=201)
def note_route(request: Request, item_id: Id, body: NoteRequest, conn: WriteConn,
               principal: Annotated[Principal, Depends(require("work_items:write"))]) -> dict[str, Any]:
    """Add a note to a work item."""
    from rcmflow.services.work_items import add_note

    return _act(request, conn, principal, item_id, "annotate work item",
                lambda: add_note(conn, item_id, principal.actor, body.text, utc_now()))
