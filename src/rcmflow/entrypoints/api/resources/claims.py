"""Claims: lists within the caller's facilities, one claim with its lines, findings and timeline (a read of
protected health information, audited), and releasing a claim held for review."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import BoundedReadConn, Cursor, Id, Limit, WriteConn, audit, audit_read
from rcmflow.entrypoints.api.pagination import decode_cursor, page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.schemas import ClaimDetail, ClaimPage
from rcmflow.entrypoints.api.security import check_facility, facility_filter, require

router = APIRouter(prefix="/v1/claims", tags=["claims"], route_class=OneHopRoute)
ClaimSort = Annotated[str, Query(pattern=r"^-?(id|created_at|total_charge)$",
                                 description="id, created_at or total_charge; prefix - for descending.")]


@router.get("", response_model=ClaimPage)
def list_claims_route(
    conn: BoundedReadConn, principal: Annotated[Principal, Depends(require("claims:read"))],
    state: Annotated[str | None, Query(max_length=24)] = None,
    payer_id: Annotated[str | None, Query(max_length=64)] = None,
    sort: ClaimSort = "id", limit: Limit = 50, cursor: Cursor = None,
) -> dict[str, Any]:
    """Claims of the caller's facilities, with the error and warning counts of their latest scrub."""
    from rcmflow.services.claim_views import list_claims

    rows = list_claims(conn, state=state, payer_id=payer_id, facilities=facility_filter(principal), sort=sort,
                       after=decode_cursor(cursor, sort), limit=limit + 1)
    return page(rows, limit, sort)


@router.get("/{claim_id}", response_model=ClaimDetail)
def claim_route(request: Request, claim_id: Id, conn: BoundedReadConn,
                principal: Annotated[Principal, Depends(require("claims:read"))]) -> dict[str, Any]:
    """One claim: its lines, its latest scrub findings (rule@version, inputs) and its timeline. A read of
    protected health information: it is recorded in the audit trail before the answer is sent."""
    from rcmflow.services.claim_views import claim_detail

    detail = claim_detail(conn, claim_id)
    check_facility(principal, detail["claim"]["facility_id"], f"claim {claim_id}")  # before anything leaves
    audit_read(request, principal, "read claim", "claim", str(claim_id))
    return detail


@router.post("/{claim_id}/release", response_model=ClaimDetail)
def release_route(request: Request, claim_id: Id, conn: WriteConn,
                  principal: Annotated[Principal, Depends(require("claims:write"))]) -> dict[str, Any]:
    """Release a claim the scrubber routed for review (warnings only) to submission."""
    from rcmflow.services.charge_claims import release_claim
    from rcmflow.services.claim_views import claim_detail

    before = claim_detail(conn, claim_id, timeline=False)["claim"]
    check_facility(principal, before["facility_id"], f"claim {claim_id}")
    release_claim(conn, claim_id, actor=principal.actor, now=utc_now())
    after = claim_detail(conn, claim_id)
    audit(conn, request, principal, "release claim", "claim", str(claim_id), before=before, after=after["claim"])
    return after
