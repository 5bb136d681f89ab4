"""X12 intake: keep the raw bytes first, then parse, then record the outcome on the document.

Re-running an ingest is safe: the same bytes map to the same document, and a document that was
already parsed is not parsed again. A failed parse keeps the document and its located errors; after
a fix, ``reprocess`` parses the stored bytes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from rcmflow.formats.x12.detect import detect_type
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.summary import document_summary
from rcmflow.services.documents import get_document, mark_failed, mark_parsed, store_document
from rcmflow.services.work_items import open_item

INTAKE_QUEUE = "intake_exceptions"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to one inbound file."""

    document_id: int
    created: bool  # False when these bytes were already stored
    detected_type: str
    status: str  # parsed, failed, reprocessed, or the earlier status of a repeat
    summary: dict[str, Any]  # the inspect summary (file, interchanges, transactions, errors, warnings)

    @property
    def error_count(self) -> int:
        return len(self.summary.get("errors", ()))


def ingest_x12(
    conn: Connection,
    content: bytes,
    *,
    filename: str,
    channel: str,
    organisation_id: str = "default",
    actor: str = "system",
) -> IngestResult:
    """Store then parse one X12 file in the caller's transaction."""
    detected = detect_type(content)
    stored = store_document(conn, content, channel=channel, detected_type=detected, filename=filename,
                            organisation_id=organisation_id, actor=actor)
    if not stored.created:
        existing = get_document(conn, stored.id)
        if existing.status != "failed":
            summary = existing.summary or {"file": filename, "errors": existing.errors}
            return IngestResult(stored.id, False, existing.detected_type, existing.status, dict(summary))
    return _parse_and_record(conn, stored.id, content, filename, detected, stored.created, actor)


def reprocess(conn: Connection, document_id: int, *, actor: str = "system") -> IngestResult:
    """Parse a stored document again (after a fix), from its verbatim bytes."""
    document = get_document(conn, document_id)
    name = document.filename or f"document-{document_id}"
    return _parse_and_record(conn, document_id, document.content, name, document.detected_type, False, actor)


def _open_exception(conn: Connection, document_id: int, detected: str, errors: list[dict[str, Any]],
                    actor: str) -> None:
    """A file that cannot be read is a person's task: one intake-exception item per document and first
    error code (a reprocess that fails the same way finds the item already open)."""
    first = errors[0]
    where = f"segment {first['segment_index']}" + (f" {first['segment_id']}" if first.get("segment_id") else "")
    open_item(
        conn, queue=INTAKE_QUEUE, item_type="unreadable file", object_type="document", object_id=str(document_id),
        title=f"{detected} document {document_id}: {first['code']} at {where}", exception_code=str(first["code"]),
        # Codes and positions only: messages can quote element values, i.e. PHI.
        details={"error_count": len(errors), "codes": sorted({str(e["code"]) for e in errors})[:10]},
        actor=actor,
    )


def _parse_and_record(conn: Connection, document_id: int, content: bytes, filename: str, detected: str,
                      created: bool, actor: str) -> IngestResult:
    summary = document_summary(filename, parse(content))
    if summary["errors"]:
        errors = [{**issue, "severity": "error"} for issue in summary["errors"]]
        mark_failed(conn, document_id, errors, actor=actor)
        status = "failed"
        _open_exception(conn, document_id, detected, errors, actor)
    else:
        warnings = [{**issue, "severity": "warning"} for issue in summary["warnings"]]
        status = mark_parsed(conn, document_id, summary, warnings=warnings, actor=actor)
    return IngestResult(document_id, created, detected, status, summary)
