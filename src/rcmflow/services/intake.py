"""Intake of inbound files (X12, BAI2, lockbox CSV): keep the raw bytes first, then read, then store what the
file carries (835 remittances, 837 claims, bank deposits) and record the outcome on the document.

Re-running an ingest is safe: the same bytes map to the same document, and a document that was
already parsed is not parsed again. A failed parse keeps the document and its located errors; after
a fix, ``reprocess`` parses the stored bytes again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.charges import ChargeFile, SourceIssue
from rcmflow.domain.deposit import Deposit
from rcmflow.domain.money import ZERO, format_amount
from rcmflow.formats.bai2 import parse_bai2
from rcmflow.formats.bank_issues import BankIssue
from rcmflow.formats.charge_files import CHARGE_TYPES, detect_charge_type, read_charge_file
from rcmflow.formats.detect_bank import BAI2, LOCKBOX_CSV, detect_bank_type
from rcmflow.formats.lockbox_csv import parse_lockbox_csv
from rcmflow.formats.x12.detect import detect_type
from rcmflow.formats.x12.reading import gc_paused
from rcmflow.services.acknowledgments import apply_277ca, apply_999
from rcmflow.services.charge_claims import rescrub_claims, store_charge_claims
from rcmflow.services.claim_status import apply_277
from rcmflow.services.claims import store_claims
from rcmflow.services.deposits import store_deposits
from rcmflow.services.documents import get_document, mark_failed, mark_parsed, store_document
from rcmflow.services.eligibility import held_claims_of, store_eligibility
from rcmflow.services.payments_ahead import PaymentsAhead
from rcmflow.services.policies import configured_hl7_facilities
from rcmflow.services.posting import PostingResult, receive_and_post
from rcmflow.services.remittances import store_remittances
from rcmflow.services.scrubbing import configured_scrubber
from rcmflow.services.work_items import WorkItemSpec, open_item, open_items
from rcmflow.services.x12_reading import DocumentContents, read_x12

INTAKE_QUEUE = "intake_exceptions"

# Documents are named by id, never by file name: senders put patient names in file names.
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to one inbound file."""

    document_id: int
    created: bool  # False when these bytes were already stored
    detected_type: str
    status: str  # parsed, failed, reprocessed, or the earlier status of a repeat
    summary: dict[str, Any]  # the inspect summary (file, interchanges, transactions, errors, warnings)
    # The remittances this call stored, and what posting them did when they were posted at once (``post``).
    remittance_ids: tuple[int, ...] = field(default=(), repr=False, compare=False)
    posting: PostingResult | None = field(default=None, repr=False, compare=False)

    def as_json(self, file: object) -> dict[str, Any]:
        """The per-file result of ``rcmflow ingest --json`` and of an API upload."""
        summary = self.summary
        return {
            "file": str(file),
            "document_id": self.document_id,
            "type": self.detected_type,
            "status": self.status,
            "new": self.created,
            "transactions": summary.get("transactions", []),
            **{key: summary[key] for key in ("deposits", "deposit_total", "with_trace_number", "remittances",
                                             "claims_stored", "deposits_stored", "claims", "claims_captured",
                                             "acknowledged", "claim_acknowledgments", "eligibility",
                                             "claim_status")
               if key in summary},
            "errors": summary.get("errors", []),
            **({"warnings": summary["warnings"]} if summary.get("warnings") and "claims_captured" in summary
               else {}),
        }

    @property
    def error_count(self) -> int:
        return len(self.summary.get("errors", ()))


def detect(content: bytes) -> str:
    """The document type from the content: "bai2", "lockbox_csv", "fhir_bundle", "charge_csv", an X12 type
    ("835", "837P"...), or "not_x12" when nothing recognises it."""
    return detect_bank_type(content) or detect_charge_type(content) or detect_type(content)


def ingest_file(
    conn: Connection,
    content: bytes,
    *,
    filename: str,
    channel: str,
    organisation_id: str = "default",
    actor: str = "system",
    post: bool = False,
    now: datetime | None = None,
    contents: DocumentContents | None = None,
    ahead: PaymentsAhead | None = None,
) -> IngestResult:
    """Store then read one inbound file (X12, BAI2, lockbox CSV, charge file) in the caller's transaction.

    ``post``: post an 835's remittances in the same transaction as they are stored (``receive_and_post``);
    the caller makes sure no earlier remittance is still waiting to be posted. ``now``: the time of the
    business effects (default: the clock; a simulation passes its own day), which also dates the scrubber's
    "today" for timely filing. ``contents``: the file already read (``read_document`` of these bytes, e.g. by
    ``x12_reading.ReadAhead``), so it is not read again. ``ahead``: posting's building of claim payments ahead
    of their file (``payments_ahead``), when files are ingested one after another."""
    detected = detect(content)
    stored = store_document(conn, content, channel=channel, detected_type=detected, filename=filename,
                            organisation_id=organisation_id, actor=actor)
    if not stored.created:
        existing = get_document(conn, stored.id)
        if existing.status != "failed":
            summary = existing.summary or {"file": filename, "errors": existing.errors}
            return IngestResult(stored.id, False, existing.detected_type, existing.status, dict(summary))
    return _parse_and_record(conn, stored.id, content, filename, detected, stored.created, actor, organisation_id,
                             post, now, contents, ahead)


def reprocess(conn: Connection, document_id: int, *, actor: str = "system") -> IngestResult:
    """Parse a stored document again (after a fix), from its verbatim bytes."""
    document = get_document(conn, document_id)
    name = document.filename or f"document-{document_id}"
    return _parse_and_record(conn, document_id, document.content, name, document.detected_type, False, actor,
                             document.organisation_id)


def _open_exception(conn: Connection, document_id: int, detected: str, errors: list[dict[str, Any]],
                    actor: str, now: datetime | None = None) -> None:
    """A file that cannot be read is a person's task: one intake-exception item per document and first
    error code (a reprocess that fails the same way finds the item already open)."""
    first = errors[0]
    if first.get("location") is not None:  # charge files are located by entry or row
        where = str(first["location"])
    elif first.get("line") is not None:  # bank files are located by line and record
        where = f"line {first['line']}" + (f" record {first['record']}" if first.get("record") else "")
    else:
        where = f"segment {first['segment_index']}" + (f" {first['segment_id']}" if first.get("segment_id") else "")
    open_item(
        conn, queue=INTAKE_QUEUE, item_type="unreadable file", object_type="document", object_id=str(document_id),
        title=f"{detected} document {document_id}: {first['code']} at {where}", exception_code=str(first["code"]),
        # Codes and positions only: messages can quote element values, i.e. PHI.
        details={"error_count": len(errors), "codes": sorted({str(e["code"]) for e in errors})[:10]},
        actor=actor, now=now,
    )


def _open_claim_exceptions(conn: Connection, document_id: int, charge_file: ChargeFile, actor: str,
                           organisation_id: str, now: datetime) -> None:
    """A claim a reader had to leave out is a person's task, one per document and claim: nothing is dropped
    silently, and the raw document holds what the source sent."""
    first_issue: dict[str, SourceIssue] = {}
    for item in charge_file.issues:
        if item.source_id:
            first_issue.setdefault(item.source_id, item)
    open_items(conn, [WorkItemSpec(
        queue=INTAKE_QUEUE, item_type="unreadable claim", object_type="document", object_id=str(document_id),
        title=f"{charge_file.format} document {document_id}: claim {source_id} unreadable at {item.location}"[:300],
        exception_code=f"claim:{source_id}"[:100],
        # Field names only: messages can quote values, i.e. PHI.
        details={"source_id": source_id, "location": item.location, "field": item.field},
        organisation_id=organisation_id) for source_id, item in first_issue.items()], actor=actor, now=now)


def _bank_summary(filename: str, kind: str, deposits: Sequence[Deposit], issues: Sequence[BankIssue],
                  accounts: int | None = None) -> dict[str, Any]:
    credits = [deposit for deposit in deposits if deposit.is_credit]
    summary: dict[str, Any] = {
        "file": filename, "type": kind, "deposits": len(credits),
        "deposit_total": format_amount(sum((deposit.amount for deposit in credits), ZERO)),
        "with_trace_number": sum(1 for deposit in credits if deposit.trace_number),
        "errors": [issue.to_dict() for issue in issues if issue.severity == "error"],
        "warnings": [issue.to_dict() for issue in issues if issue.severity != "error"],
    }
    if accounts is not None:
        summary["accounts"] = accounts
    return summary


def _charge_summary(filename: str, kind: str, charge_file: ChargeFile) -> dict[str, Any]:
    def issue(item: SourceIssue, code: str) -> dict[str, Any]:
        return {"code": code, "source_id": item.source_id, "location": item.location, "field": item.field,
                "message": item.message}

    return {"file": filename, "type": kind, "claims": len(charge_file.claims),
            "service_lines": sum(len(source.claim.service_lines) for source in charge_file.claims),
            "errors": [issue(item, "unreadable_charge_file") for item in charge_file.file_issues],
            "warnings": [issue(item, "unreadable_claim") for item in charge_file.issues if item.source_id]}


def summarise(filename: str, detected: str, content: bytes) -> dict[str, Any]:
    """Read a document by its detected type into its summary (with located errors and warnings)."""
    return read_document(filename, detected, content).summary


def read_document(filename: str, detected: str, content: bytes) -> DocumentContents:
    """The summary, and the 835 remittances, 837 claims or bank deposits the document carries (read once)."""
    if detected == BAI2:
        bai = parse_bai2(content)
        return DocumentContents(_bank_summary(filename, detected, bai.deposits, bai.issues, len(bai.accounts)), [],
                                list(bai.deposits), [])
    if detected in CHARGE_TYPES:
        charge_file = read_charge_file(content, filename=filename, hl7_facilities=configured_hl7_facilities())
        return DocumentContents(_charge_summary(filename, detected, charge_file), [], [], [], (), charge_file)
    if detected == LOCKBOX_CSV:
        lockbox = parse_lockbox_csv(content)
        return DocumentContents(_bank_summary(filename, detected, lockbox.deposits, lockbox.issues), [],
                                list(lockbox.deposits), [])
    return read_x12(filename, content)


# Reading, storing and posting a file is volume work on acyclic objects: the cyclic GC is paused for it, as for
# posting (``services.posting``), or each collection rescans the whole parsed file.
@gc_paused()
def _parse_and_record(conn: Connection, document_id: int, content: bytes, filename: str, detected: str,
                      created: bool, actor: str, organisation_id: str, post: bool = False,
                      now: datetime | None = None, contents: DocumentContents | None = None,
                      ahead: PaymentsAhead | None = None) -> IngestResult:
    if contents is None:
        contents = read_document(filename, detected, content)
    summary = contents.summary
    if summary["errors"]:
        errors = [{**issue, "severity": "error"} for issue in summary["errors"]]
        mark_failed(conn, document_id, errors, actor=actor)
        _open_exception(conn, document_id, detected, errors, actor, now)
        log.warning("document %s (%s) failed with %d error(s)", document_id, detected, len(errors))
        for error in errors:  # messages may quote the input: the log redaction scrubs them
            log.debug("document %s error: %s", document_id, error)
        return IngestResult(document_id, created, detected, "failed", summary)
    # Same transaction: a document is parsed with its remittances, claims or deposits stored, or none of it.
    now = now or utc_now()
    remittance_ids: tuple[int, ...] = ()
    posting: PostingResult | None = None
    if contents.remittances:
        if post:
            stored, posting = receive_and_post(conn, document_id, contents.remittances, actor=actor, now=now,
                                               organisation_id=organisation_id, digests=contents.digests,
                                               ahead=ahead)
        else:
            stored = store_remittances(conn, document_id, contents.remittances, actor=actor, now=now,
                                       organisation_id=organisation_id, digests=contents.digests)
        summary["remittances"] = {"stored": len(stored.stored), "duplicate": len(stored.duplicates),
                                  "conflict": len(stored.conflicts)}
        remittance_ids = stored.stored
    if contents.claim_batches:
        claims = store_claims(conn, document_id, contents.claim_batches, actor=actor, now=now,
                              organisation_id=organisation_id)
        summary["claims_stored"] = {"stored": len(claims.stored), "duplicate": claims.duplicates}
    if contents.charge_file is not None and contents.charge_file.claims:
        captured = store_charge_claims(conn, document_id, contents.charge_file.claims,
                                       scrubber=configured_scrubber(), today=now.date(), actor=actor, now=now,
                                       organisation_id=organisation_id)
        summary["claims_captured"] = captured.as_summary()
    if contents.charge_file is not None:
        _open_claim_exceptions(conn, document_id, contents.charge_file, actor, organisation_id, now)
    if contents.acknowledgments:
        summary["acknowledged"] = apply_999(conn, contents.acknowledgments, actor=actor, now=now,
                                            organisation_id=organisation_id).as_summary()
    if contents.claim_statuses:
        summary["claim_acknowledgments"] = apply_277ca(conn, contents.claim_statuses, actor=actor, now=now,
                                                       organisation_id=organisation_id).as_summary()
    if contents.status_answers:
        summary["claim_status"] = apply_277(conn, contents.status_answers, actor=actor, now=now,
                                            organisation_id=organisation_id).as_summary()
    if contents.eligibility:
        members = store_eligibility(conn, document_id, contents.eligibility, now=now,
                                    organisation_id=organisation_id)
        # Claims that waited for eligibility go on by themselves once the payer answers.
        rescrubbed = rescrub_claims(conn, held_claims_of(conn, members, organisation_id),
                                    scrubber=configured_scrubber(), today=now.date(), actor=actor, now=now,
                                    organisation_id=organisation_id)
        summary["eligibility"] = {"members": len(members), **rescrubbed.as_summary()}
    if contents.deposits:
        deposits = store_deposits(conn, document_id, contents.deposits, actor=actor, now=now,
                                  organisation_id=organisation_id)
        summary["deposits_stored"] = {"stored": len(deposits.stored), "duplicate": deposits.duplicates}
    warnings = [{**issue, "severity": "warning"} for issue in summary["warnings"]]
    status = mark_parsed(conn, document_id, summary, warnings=warnings, actor=actor)
    log.debug("document %s (%s) %s with %d warning(s)", document_id, detected, status, len(warnings))
    for warning in warnings:
        log.debug("document %s warning: %s", document_id, warning)
    return IngestResult(document_id, created, detected, status, summary, remittance_ids, posting)
