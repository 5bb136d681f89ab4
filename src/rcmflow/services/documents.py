"""The raw document store: every inbound file or message, kept verbatim with its SHA-256, before parsing.

One mechanism for every intake channel. Storing the same bytes twice is a no-op; a parse failure keeps
the bytes with the located errors so the document can be re-processed after a fix. Each status change
is one guarded UPDATE and one event-log row in the caller's transaction.

    received ──parse──▶ parsed
        │
        └──fail──▶ failed ──parse──▶ reprocessed
                     ▲  │
                     └──┘ fail again
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select, update

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, DOCUMENT_STATUSES, documents, utc_now
from rcmflow.adapters.store.sql import insert_ignoring_conflicts
from rcmflow.errors import DomainRuleError, NotFoundError
from rcmflow.services.events import Event, append_events

OBJECT_TYPE = "document"
ACTIVITY_RECEIVE = "receive document"
ACTIVITY_PARSE = "parse document"
ACTIVITY_FAIL = "fail document parse"
ACTIVITY_REPROCESS = "reprocess document"

# The shape of one located error, as stored in documents.errors (extra keys a caller adds are kept).
ERROR_KEYS: tuple[str, ...] = ("segment_index", "segment_id", "element", "code", "message", "severity")

DEFAULT_LIMIT = 100

# Allowed status changes, from -> to. A failed document parsed later is "reprocessed", not "parsed", so
# its status keeps the fact that it once failed.
_PARSE_MOVES: dict[str, str] = {"received": "parsed", "failed": "reprocessed"}
_FAIL_MOVES: dict[str, str] = {"received": "failed", "failed": "failed"}


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """The outcome of storing bytes: the document's id, and whether this call created it."""

    id: int
    sha256: str
    size: int
    created: bool


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A stored document without its bytes (what lists and dashboards need)."""

    id: int
    organisation_id: str
    sha256: str
    size_bytes: int
    channel: str
    filename: str | None
    detected_type: str
    status: str
    received_at: datetime
    processed_at: datetime | None
    errors: list[dict[str, Any]]
    summary: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Document(DocumentInfo):
    """A stored document with its verbatim bytes."""

    content: bytes


INFO_COLUMNS = [column for column in documents.c if column.name != "content"]


def store_document(
    conn: Connection,
    content: bytes,
    *,
    channel: str,
    detected_type: str,
    filename: str | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
    actor: str = "system",
) -> StoredDocument:
    """Store ``content`` verbatim unless the organisation already has these bytes; never parses."""
    if not channel or not detected_type:
        raise ValueError("channel and detected_type are required")
    data = bytes(content)
    digest = hashlib.sha256(data).hexdigest()
    # ON CONFLICT DO NOTHING rather than select-then-insert: two channels delivering the same file at
    # once must end with one row, and neither may fail.
    inserted = conn.execute(
        insert_ignoring_conflicts(conn, documents, "organisation_id", "sha256")
        .values(
            organisation_id=organisation_id,
            sha256=digest,
            size_bytes=len(data),
            channel=channel,
            filename=filename,
            detected_type=detected_type,
            status="received",
            received_at=utc_now(),
            content=data,
            errors=[],
        )
        .returning(documents.c.id)
    ).scalar_one_or_none()
    if inserted is None:
        existing = conn.execute(
            select(documents.c.id).where(
                documents.c.organisation_id == organisation_id, documents.c.sha256 == digest
            )
        ).scalar_one()
        return StoredDocument(id=existing, sha256=digest, size=len(data), created=False)
    append_events(
        conn,
        [
            Event(
                object_type=OBJECT_TYPE,
                object_id=str(inserted),
                to_state="received",
                activity=ACTIVITY_RECEIVE,
                actor=actor,
                organisation_id=organisation_id,
                # No filename: file names often carry patient names, and the event log feeds analytics.
                attributes={"channel": channel, "detected_type": detected_type, "size_bytes": len(data)},
            )
        ],
    )
    return StoredDocument(id=inserted, sha256=digest, size=len(data), created=True)


def mark_parsed(
    conn: Connection,
    doc_id: int,
    summary: Mapping[str, Any],
    *,
    warnings: Sequence[Mapping[str, Any]] = (),
    actor: str = "system",
) -> str:
    """Record a successful parse (of a received or a failed document); return the new status."""
    from_state, to_state, organisation_id = _transition(
        conn,
        doc_id,
        _PARSE_MOVES,
        processed_at=utc_now(),
        summary=dict(summary),
        # Errors of an earlier failed attempt are stale now; the event log keeps the history.
        errors=[_located(warning) for warning in warnings],
    )
    append_events(
        conn,
        [
            Event(
                object_type=OBJECT_TYPE,
                object_id=str(doc_id),
                from_state=from_state,
                to_state=to_state,
                activity=ACTIVITY_REPROCESS if from_state == "failed" else ACTIVITY_PARSE,
                actor=actor,
                organisation_id=organisation_id,
            )
        ],
    )
    return to_state


def mark_failed(
    conn: Connection, doc_id: int, errors: Sequence[Mapping[str, Any]], *, actor: str = "system"
) -> None:
    """Record a failed parse with its located errors; the bytes stay for re-processing."""
    if not errors:
        raise ValueError("a failed parse needs at least one located error")
    located = [_located(error) for error in errors]
    from_state, to_state, organisation_id = _transition(
        conn, doc_id, _FAIL_MOVES, processed_at=utc_now(), errors=located, summary=None
    )
    codes = sorted({str(error["code"]) for error in located if error.get("code")})
    append_events(
        conn,
        [
            Event(
                object_type=OBJECT_TYPE,
                object_id=str(doc_id),
                from_state=from_state,
                to_state=to_state,
                activity=ACTIVITY_FAIL,
                actor=actor,
                organisation_id=organisation_id,
                # Codes only: error messages may quote element values, i.e. PHI.
                reason=", ".join(codes[:10]) or None,
                attributes={"error_count": len(located)},
            )
        ],
    )


def get_document(conn: Connection, doc_id: int) -> Document:
    """Return one document with its bytes, or raise NotFoundError."""
    row = conn.execute(select(documents).where(documents.c.id == doc_id)).one_or_none()
    if row is None:
        raise NotFoundError(kind="Document", key=doc_id)
    return Document(**row._mapping)


def list_documents(
    conn: Connection,
    *,
    status: str | None = None,
    organisation_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    before_id: int | None = None,
) -> list[DocumentInfo]:
    """Return documents newest first, without their bytes; page with ``before_id`` = last id seen."""
    query = select(*INFO_COLUMNS).order_by(documents.c.id.desc()).limit(limit)
    if status is not None:
        if status not in DOCUMENT_STATUSES:
            raise ValueError(f"unknown document status {status!r}; expected one of {DOCUMENT_STATUSES}")
        query = query.where(documents.c.status == status)
    if organisation_id is not None:
        query = query.where(documents.c.organisation_id == organisation_id)
    if before_id is not None:
        query = query.where(documents.c.id < before_id)
    return [DocumentInfo(**row._mapping) for row in conn.execute(query)]


def documents_to_reprocess(
    conn: Connection,
    *,
    organisation_id: str | None = None,
    detected_type: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Document]:
    """Claim failed documents, oldest first, for parsing again after a fix (locked until commit)."""
    query = _claim(documents.c.status == "failed", limit)
    if organisation_id is not None:
        query = query.where(documents.c.organisation_id == organisation_id)
    if detected_type is not None:
        query = query.where(documents.c.detected_type == detected_type)
    return [Document(**row._mapping) for row in conn.execute(query)]


def documents_awaiting_processing(conn: Connection, *, limit: int = DEFAULT_LIMIT) -> list[Document]:
    """Claim received, not yet parsed documents, oldest first (the worker's batch; locked until commit)."""
    return [Document(**row._mapping) for row in conn.execute(_claim(documents.c.status == "received", limit))]


def _claim(condition: Any, limit: int) -> Select[Any]:
    # SKIP LOCKED lets many workers take disjoint batches on PostgreSQL; SQLite ignores FOR UPDATE and
    # serialises writers anyway. The status guard in mark_* catches any overlap.
    return (
        select(documents)
        .where(condition)
        .order_by(documents.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _located(error: Mapping[str, Any]) -> dict[str, Any]:
    if not error.get("message"):
        raise ValueError(f"a located error needs a message: {dict(error)!r}")
    located = {key: error.get(key) for key in ERROR_KEYS}
    located["severity"] = located["severity"] or "error"
    located.update((key, value) for key, value in error.items() if key not in located)
    return located


def _transition(
    conn: Connection, doc_id: int, moves: Mapping[str, str], **values: Any
) -> tuple[str, str, str]:
    # Read the state, then one guarded UPDATE on it: no row changed means another process moved the
    # document in between, which we report rather than overwrite.
    current = conn.execute(
        select(documents.c.status, documents.c.organisation_id).where(documents.c.id == doc_id)
    ).one_or_none()
    if current is None:
        raise NotFoundError(kind="Document", key=doc_id)
    target = moves.get(current.status)
    if target is None:
        raise DomainRuleError(
            detail=f"document {doc_id} is {current.status}; allowed only from {', '.join(moves)}"
        )
    changed = conn.execute(
        update(documents)
        .where(documents.c.id == doc_id, documents.c.status == current.status)
        .values(status=target, **values)
    ).rowcount
    if changed != 1:
        raise DomainRuleError(detail=f"document {doc_id} changed concurrently; reload and retry")
    return current.status, target, current.organisation_id
