"""Approvals: requests and their decisions, and approving or rejecting as the caller. Segregation of duties
is the workflow core's (``services.approvals``): the maker cannot decide, nobody decides twice, only people
holding the level's role (or a delegation of it) decide. Its refusals come back as 403 with their reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import BoundedReadConn, Id, WriteConn, audit
from rcmflow.entrypoints.api.routes_shared import approval_body
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import require

router = APIRouter(prefix="/v1/approvals", tags=["approvals"], route_class=OneHopRoute)


class ApproveRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)
    on_behalf_of: str | None = Field(default=None, max_length=128, description="The delegator, when deciding "
                                     "under a delegation.")


class RejectRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    on_behalf_of: str | None = Field(default=None, max_length=128)


@router.get("")
def list_approvals_route(conn: BoundedReadConn, principal: Annotated[Principal, Depends(require("approvals:read"))],
                         state: Annotated[str | None, Query(pattern="^(pending|approved|rejected|cancelled)$")]
                         = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Approval requests, newest first."""
    from rcmflow.services.approvals import list_requests

    requests = list_requests(conn, state=state, organisation_id=principal.organisation_id, limit=limit)
    return {"items": [approval_body(r) for r in requests]}


@router.get("/{request_id}")
def approval_route(request_id: Id, conn: BoundedReadConn,
                   principal: Annotated[Principal, Depends(require("approvals:read"))]) -> dict[str, Any]:
    """One approval request with its chain and decisions."""
    from rcmflow.services.approvals import request_detail

    return approval_body(request_detail(conn, request_id))


def _decide(request: Request, conn: Any, principal: Principal, request_id: Id, action: str, decide: Any,
            ) -> dict[str, Any]:
    from rcmflow.services.approvals import request_detail

    before = approval_body(request_detail(conn, request_id))
    decide()
    after = approval_body(request_detail(conn, request_id))
    audit(conn, request, principal, action, "approval request", str(request_id), before=before, after=after)
    return after


@router.post("/{request_id}/approve")
def approve_route(request: Request, request_id: Id, body: ApproveRequest, conn: WriteConn,
                  principal: Annotated[Principal, Depends(require("approvals:decide"))]) -> dict[str, Any]:
    """Approve at the request's current level, as the caller."""
    from rcmflow.services.approvals import approve

    return _decide(request, conn, principal, request_id, "approve", lambda: approve(
        conn, request_id, principal.actor, set(principal.roles), now=utc_now(), reason=body.reason,
        on_behalf_of=body.on_behalf_of))


@router.post("/{request_id}/reject")
def reject_route(request: Request, request_id: Id, body: RejectRequest, conn: WriteConn,
                 principal: Annotated[Principal, Depends(require("approvals:decide"))]) -> dict[str, Any]:
    """Reject the request at its current level, with a reason."""
    from rcmflow.services.approvals import reject

    return _decide(request, conn, principal, request_id, "reject", lambda: reject(
        conn, request_id, principal.actor, set(principal.roles), reason=body.reason, now=utc_now(),
        on_behalf_of=body.on_behalf_of))
