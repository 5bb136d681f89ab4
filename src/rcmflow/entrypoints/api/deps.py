"""What route handlers share: a database connection per request, the caller, and the audit record of what
the caller did or read."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Connection, Engine

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.pagination import MAX_LIMIT
from rcmflow.services.audit import AuditEntry, append_audit


@dataclass(frozen=True, slots=True)
class RequestConnection:
    """What a route's ``conn: ReadConn`` or ``conn: WriteConn`` holds until its route runs: the route's own worker
    thread (``routing.OneHopRoute``) checks the connection out, runs the route, commits a write and returns the
    connection to the pool, all in the one thread hop. A FastAPI dependency that opened it would check it out and
    return it on the event loop: on PostgreSQL the pool's ping and the reset's rollback are round trips that would
    stall every other request of the process, and a yield dependency costs two more context switches."""

    engine: Engine
    write: bool
    bounded: bool = False  # a read of one object or one page: may run on the event loop (routing.py)

    def __getattr__(self, name: str) -> Any:
        raise TypeError("a route that takes ReadConn or WriteConn must be a OneHopRoute (entrypoints.api.routing)")


async def read_connection(request: Request) -> RequestConnection:
    return RequestConnection(request.app.state.read_engine, write=False)


def reading_engine(engine: Engine) -> Engine:
    """The engine read-only routes check their connections out of (same pool). On PostgreSQL its connections run
    each statement in autocommit: a read in a transaction costs a BEGIN and, when the connection goes back to the
    pool, a ROLLBACK, two of a claim read's six round trips, and buys nothing at READ COMMITTED, where every
    statement takes its own snapshot anyway. A route whose queries stream rows takes ``StreamingReadConn``.
    SQLite begins no transaction for a read and gets the engine as it is (switching its isolation level would
    cost a statement at checkout and return)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


async def bounded_read_connection(request: Request) -> RequestConnection:
    """A read of a bounded amount (one object, one page through an index). On SQLite, where a read is CPU work on a
    local file and costs less than the hand-off to a worker thread, its route runs on the event loop under a time
    budget, and moves to a worker thread when it overruns (``routing.py``)."""
    return RequestConnection(request.app.state.read_engine, write=False, bounded=True)


async def streaming_read_connection(request: Request) -> RequestConnection:
    """A read in one transaction: what a route needs whose queries stream their rows (``yield_per``), since a
    PostgreSQL server-side cursor lives only inside a transaction."""
    return RequestConnection(request.app.state.engine, write=False)


async def write_connection(request: Request) -> RequestConnection:
    """One transaction per request: the change and its audit rows commit together, before the answer is sent,
    or not at all when the route fails."""
    return RequestConnection(request.app.state.engine, write=True)


# A read whose statements each run on their own (autocommit on PostgreSQL, see ``reading_engine``).
ReadConn = Annotated[Connection, Depends(read_connection)]
BoundedReadConn = Annotated[Connection, Depends(bounded_read_connection)]
StreamingReadConn = Annotated[Connection, Depends(streaming_read_connection)]
WriteConn = Annotated[Connection, Depends(write_connection)]
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


# Where a route's read audits wait, in the request's state, for ``routing.OneHopRoute`` to have them committed.
PENDING_READ_AUDITS = "pending_read_audits"


def audit_read(request: Request, principal: Principal, action: str, object_type: str,
               object_ids: list[str] | str) -> None:
    """Record a read of PHI before its answer leaves: committed by the app's group-commit writer (many
    concurrent reads share one transaction). A ``OneHopRoute`` awaits the commit once the route has returned,
    holding no thread while it waits; anywhere else this waits here. Either way a failure to commit raises, and
    so withholds the answer."""
    entries = _entries(request, principal, action, object_type, object_ids, None, None)
    pending = request.scope.get("state", {}).get(PENDING_READ_AUDITS)
    if pending is not None:
        pending.extend(entries)
    else:
        request.app.state.audit_writer.record(entries)
