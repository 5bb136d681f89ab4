"""The ``/v1`` resources served so far: claims (list, one with its timeline and findings), work items, the
operational summary. Reads use one connection per request from the app's engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Connection

from rcmflow.entrypoints.api.pagination import MAX_LIMIT, decode_cursor, page
from rcmflow.entrypoints.api.schemas import ClaimDetail, ClaimPage, WorkItemPage

router = APIRouter(prefix="/v1")

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page.")]


def connection(request: Request) -> Iterator[Connection]:
    with request.app.state.engine.connect() as conn:
        yield conn


Conn = Annotated[Connection, Depends(connection)]


@router.get("/claims", response_model=ClaimPage, tags=["claims"])
def list_claims_route(conn: Conn, state: Annotated[str | None, Query(max_length=24)] = None, limit: Limit = 50,
                      cursor: Cursor = None) -> dict[str, Any]:
    """Claims in id order, with the error and warning counts of their latest scrub."""
    from rcmflow.services.claim_views import list_claims

    rows = list_claims(conn, state=state, limit=limit + 1, after_id=decode_cursor(cursor), oldest_first=True)
    return page(rows, limit)


@router.get("/claims/{claim_id}", response_model=ClaimDetail, tags=["claims"])
def claim_route(request: Request, claim_id: int) -> dict[str, Any]:
    """One claim: its lines, its latest scrub findings (rule@version, inputs) and its timeline. A read of
    protected health information: it is recorded in the audit trail."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.audit import AuditEntry, append_audit
    from rcmflow.services.claim_views import claim_detail

    with request.app.state.engine.begin() as conn:
        detail = claim_detail(conn, claim_id)
        append_audit(conn, [AuditEntry(
            "anonymous", "read claim", "claim", str(claim_id), utc_now(),
            source=request.client.host if request.client else None,
            request_id=(request.headers.get("x-request-id") or "")[:64] or None)])
    return detail


@router.get("/work-items", response_model=WorkItemPage, tags=["work items"])
def list_work_items_route(conn: Conn, queue: Annotated[str | None, Query(max_length=64)] = None,
                          state: Annotated[str | None, Query(max_length=16)] = None, limit: Limit = 50,
                          cursor: Cursor = None) -> dict[str, Any]:
    """Work items in id order, filtered by queue and state."""
    from rcmflow.services.work_items import list_items

    items = list_items(conn, queue=queue, state=state, limit=limit + 1, after_id=decode_cursor(cursor))
    return page([asdict(item) for item in items], limit)


@router.get("/reports/summary", tags=["reports"])
def summary_route(conn: Conn) -> dict[str, Any]:
    """The operational summary (the keys of ``rcmflow report summary --json``)."""
    from rcmflow.services.reports import summary

    return summary(conn)
