"""The audit trail, for auditors: its rows in order, and a check of its hash chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import Cursor, Limit, ReadConn
from rcmflow.entrypoints.api.pagination import decode_cursor, page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import require

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=OneHopRoute)


@router.get("")
def audit_route(conn: ReadConn, principal: Annotated[Principal, Depends(require("audit:read"))],
                actor: Annotated[str | None, Query(max_length=128)] = None,
                object_type: Annotated[str | None, Query(max_length=64)] = None,
                object_id: Annotated[str | None, Query(max_length=128)] = None,
                limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """Audit rows oldest first: who did or read what, when, from where, with before/after digests."""
    from rcmflow.services.audit import list_audit

    after = decode_cursor(cursor)
    rows = list_audit(conn, organisation_id=principal.organisation_id, actor=actor, object_type=object_type,
                      object_id=object_id, after_id=after[1] if after else None, limit=limit + 1)
    return page(rows, limit)


@router.get("/verify")
def verify_route(conn: ReadConn, principal: Annotated[Principal, Depends(require("audit:read"))]) -> dict[str, Any]:
    """Walk the hash chain: intact, or the id of the first row whose link does not hold and why."""
    from rcmflow.services.audit import verify_chain

    check = verify_chain(conn)
    return {"rows": check.rows, "intact": check.intact, "broken_at": check.broken_at, "reason": check.reason or None}
