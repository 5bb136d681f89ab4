"""What route handlers share: a database connection per request, the caller, and the audit record of what
the caller did or read."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import fields
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Path, Query, Request
from sqlalchemy import Connection

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.pagination import MAX_LIMIT
from rcmflow.services.audit import AuditEntry, append_audit


# The connection dependencies are async on purpose: FastAPI runs a sync dependency in a worker thread, and two
# extra thread hops per request (open, close) cost more than checking a connection out of the pool here. The
# route (sync, in a thread) does the queries.
async def read_connection(request: Request) -> AsyncIterator[Connection]:
    with request.app.state.engine.connect() as conn:
        yield conn


async def write_connection(request: Request) -> AsyncIterator[Connection]:
    """One transaction per request: the change and its audit rows commit together or not at all."""
    with request.app.state.engine.connect() as conn:
        yield conn
        # Commit in a thread: on PostgreSQL it waits for the server (and on SQLite for the disk). The route may
        # have failed, in which case the generator is closed at the yield and the connection rolls back.
        await anyio.to_thread.run_sync(conn.commit)


# scope="function": the connection is released (and a write committed) when the route returns, before the
# response is sent. The default ("request") would commit after the client already had its 200.
ReadConn = Annotated[Connection, Depends(read_connection, scope="function")]
WriteConn = Annotated[Connection, Depends(write_connection, scope="function")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
MAX_ID = 2**63 - 1  # the largest id either database stores (BIGINT): anything above is no id of ours
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Cursor = Annotated[str | None, Query(max_length=200, description="The next_cursor of the previous page.")]


def shallow(record: Any) -> dict[str, Any]:
    """A dataclass as a dict, one level deep: ``dataclasses.asdict`` deep-copies every nested value (a work
    item's details), which cost more than the query on a list page."""
    return {field.name: getattr(record, field.name) for field in fields(record)}


def digest(value: Any) -> str:
    """SHA-256 of an object's canonical JSON: the before/after fingerprints of the audit trail."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


def request_id(request: Request) -> str | None:
    state_id = request.scope.get("state", {}).get("request_id")
    return state_id or (request.headers.get("x-request-id") or "")[:64] or None


def _entries(request: Request, principal: Principal, action: str, object_type: str, object_ids: list[str] | str,
             before: Any, after: Any) -> list[AuditEntry]:
    ids = [object_ids] if isinstance(object_ids, str) else object_ids
    now = utc_now()
    source = request.client.host if request.client else None
    rid = request_id(request)
    return [AuditEntry(principal.actor, action, object_type, object_id, now, source=source, request_id=rid,
                       before_digest=None if before is None else digest(before),
                       after_digest=None if after is None else digest(after),
                       organisation_id=principal.organisation_id) for object_id in ids]


def audit(conn: Connection, request: Request, principal: Principal, action: str, object_type: str,
          object_ids: list[str] | str, *, before: Any = None, after: Any = None) -> None:
    """Record a write in the caller's transaction: the change and its audit rows commit together."""
    append_audit(conn, _entries(request, principal, action, object_type, object_ids, before, after))


def audit_read(request: Request, principal: Principal, action: str, object_type: str,
               object_ids: list[str] | str) -> None:
    """Record a read of PHI before its answer leaves: committed by the app's group-commit writer (many
    concurrent reads share one transaction); raises, and so withholds the answer, if it cannot be."""
    request.app.state.audit_writer.record(_entries(request, principal, action, object_type, object_ids, None, None))
