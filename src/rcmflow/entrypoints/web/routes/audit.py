"""The audit page, for auditors: who did or read what, newest first, filtered by actor, action, object and date,
in cursor pages; and the state of the hash chain, checked exactly as ``rcmflow audit verify`` checks it.

Verifying walks and re-hashes every row, so it is automatic only while the trail is small
(``AUTO_VERIFY_ROWS``); above that the page says how many rows a check would walk and verifies on request
(``?verify=1``), so browsing a large trail stays fast."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import ReadConn
from rcmflow.entrypoints.api.pagination import decode_cursor, encode_cursor
from rcmflow.entrypoints.api.pagination import page as cursor_page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import require
from rcmflow.entrypoints.web.render import page
from rcmflow.errors import InputError

router = APIRouter(prefix="/ui/audit", include_in_schema=False, route_class=OneHopRoute)
PAGE_SIZE = 50
ORDER = "-id"
AUTO_VERIFY_ROWS = 10_000  # about 0.3 s of re-hashing (measured on SQLite); beyond it, verify on request
Reader = Annotated[Principal, Depends(require("audit:read"))]
Text = Annotated[str | None, Query(max_length=128)]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (UTC)")]


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(detail=f"{name} is a date written YYYY-MM-DD") from exc


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@router.get("")
def audit_page(request: Request, conn: ReadConn, principal: Reader, actor: Text = None, action: Text = None,
               object_type: Text = None, object_id: Text = None, since: Day = None, until: Day = None,
               cursor: Annotated[str | None, Query(max_length=200)] = None,
               verify: Annotated[str | None, Query(max_length=5)] = None) -> Response:
    from rcmflow.services.audit import audit_rows, verify_chain
    from rcmflow.services.audit_views import search_audit

    first, last = _day(since, "since"), _day(until, "until")
    if first and last and last < first:
        raise InputError(detail="until is before since")
    after = decode_cursor(cursor, ORDER)
    rows = search_audit(conn, organisation_id=principal.organisation_id, actor=actor or None, action=action or None,
                        object_type=object_type or None, object_id=object_id or None,
                        since=_start_of(first) if first else None,
                        until=_start_of(last + timedelta(days=1)) if last else None,
                        before_id=after[1] if after else None, limit=PAGE_SIZE + 1)
    listing = cursor_page(rows, PAGE_SIZE, ORDER)
    total = audit_rows(conn)
    asked = (verify or "").lower() in ("1", "true", "yes", "on")  # a bare ?verify= is not asking
    check = verify_chain(conn) if asked or total <= AUTO_VERIFY_ROWS else None
    filters = {key: value for key, value in {"actor": actor, "action": action, "object_type": object_type,
                                             "object_id": object_id, "since": since, "until": until}.items() if value}
    # A link to the page that starts at the broken row, whatever filters are on.
    broken_link = (f"/ui/audit?cursor={encode_cursor(check.broken_at + 1, ORDER, check.broken_at + 1)}&verify=1"
                   if check is not None and check.broken_at is not None else None)
    return page(request, "audit.html", principal, title="Audit trail", rows=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, check=check, total=total,
                auto_verify_rows=AUTO_VERIFY_ROWS, broken_link=broken_link, first_page=not cursor)
