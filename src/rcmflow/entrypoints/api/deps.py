"""What route handlers share: a database connection per request, the caller, and the audit record of what
the caller did or read."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy import Connection

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.pagination import MAX_LIMIT
from rcmflow.services.audit import AuditEntry, append_audit


def read_connection(request: Request) -> Iterator[Connection]:
    with request.app.state.engine.connect() as conn:
        yield conn


def write_connection(request: Request) -> Iterator[Connection]:
    """One transaction per request: the change and its audit rows commit together or not at all."""
    with request.app.state.engine.begin() as conn:
        yield conn


ReadConn = Annotated[Connection, Depends(read_connection)]
WriteConn = Annotated[Connection, Depends(write_connection)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=200, description="The next_cursor of the previous page.")]


def digest(value: Any) -> str:
    """SHA-256 of an object's canonical JSON: the before/after fingerprints of the audit trail."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


def request_id(request: Request) -> str | None:
    state_id = request.scope.get("state", {}).get("request_id")
    return state_id or (request.headers.get("x-request-id") or "")[:64] or None


def audit(conn: Connection, request: Request, principal: Principal, action: str, object_type: str,
          object_ids: list[str] | str, *, before: Any = None, after: Any = None) -> None:
    """Record a read of PHI or a write, in the caller's transaction."""
    ids = [object_ids] if isinstance(object_ids, str) else object_ids
    now = utc_now()
    source = request.client.host if request.client else None
    rid = request_id(request)
    append_audit(conn, [AuditEntry(
        principal.actor, action, object_type, object_id, now, source=source, request_id=rid,
        before_digest=None if before is None else digest(before), after_digest=None if after is None else digest(after),
        organisation_id=principal.organisation_id) for object_id in ids])
