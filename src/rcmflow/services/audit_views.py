"""The audit trail as auditors browse it: newest rows first, filtered by who, what, which object and when, in
keyset pages (``audit.list_audit`` walks the chain oldest first, as exports and verification need)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from rcmflow.adapters.store.schema import audit_log

AUDIT_FILTERS = ("actor", "action", "object_type", "object_id")


def search_audit(conn: Connection, *, organisation_id: str, actor: str | None = None, action: str | None = None,
                 object_type: str | None = None, object_id: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, before_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Audit rows of the organisation, newest first, occurred in ``[since, until)``; page with ``before_id`` =
    the last id seen."""
    a = audit_log.c
    query = select(audit_log).where(a.organisation_id == organisation_id)
    for column, value in zip(AUDIT_FILTERS, (actor, action, object_type, object_id), strict=True):
        if value is not None:
            query = query.where(a[column] == value)
    if since is not None:
        query = query.where(a.occurred_at >= since)
    if until is not None:
        query = query.where(a.occurred_at < until)
    if before_id is not None:
        query = query.where(a.id < before_id)
    return [dict(row) for row in conn.execute(query.order_by(a.id.desc()).limit(limit)).mappings()]
