"""Claims as billed: 837 claims stored with their lines, as the open items remittances are matched against.

An 837 arriving through intake (a file another system submitted, or one rcmflow wrote) becomes claims in
state "submitted", each with its charge journal entry (DR insurance A/R, CR gross revenue): the A/R that
posting later relieves. A claim is identified by its content: the same file, or the same claim in another
file, is stored once; a corrected claim (frequency 7) differs, so it is a new row with the same patient
control number, and matching prefers it.

Storage is set-based: one statement per table per call (COPY on PostgreSQL), whatever the claim count.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from rcmflow.adapters.crypto import blind_index
from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, claim_lines, claims
from rcmflow.adapters.store.sql import analyze_after_bulk_load, bulk_insert
from rcmflow.domain.claim import Claim, ClaimBatch
from rcmflow.domain.ledger import JournalEntryDraft, credit, debit
from rcmflow.domain.scrub_facts import service_period
from rcmflow.services.events import append_events
from rcmflow.services.ledger import in_chunks, post_entries
from rcmflow.services.transitions import StateTable, checked_path, creation_events, register_state_table

CLAIM_OBJECT = "claim"
ACTIVITY_IMPORT = "import submitted claim"
IMPORTED_STATE = "submitted"
_ID_LENGTH = 64  # claims.payer_id / facility_id

register_state_table(CLAIM_OBJECT, StateTable(claims))


@dataclass(frozen=True, slots=True)
class ClaimStoreResult:
    """Ids of the claims this call stored, and how many were already stored."""

    stored: tuple[int, ...]
    duplicates: int


def claim_payer_key(claim: Claim) -> str:
    """The payer a claim is billed to, keyed as remittances key theirs: identifier, else name."""
    return (claim.payer.id or claim.payer.name or "")[:_ID_LENGTH]


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot render {type(value).__name__} in a claim digest")


def claim_digest(claim: Claim) -> str:
    """SHA-256 of the claim's content (NamedTuples render as JSON arrays in field order)."""
    text = json.dumps(claim, default=_canonical, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_claims(
    conn: Connection,
    document_id: int | None,
    batches: Sequence[ClaimBatch],
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> ClaimStoreResult:
    """Store the claims of 837 batches as submitted, with their lines, events and charge entries, in the
    caller's transaction; claims already stored (same content) are skipped."""
    candidates: dict[str, Claim] = {}
    total = 0
    for batch in batches:
        for claim in batch.claims:
            total += 1
            candidates.setdefault(claim_digest(claim), claim)
    if not candidates:
        return ClaimStoreResult((), 0)
    digests = list(candidates)
    known: set[str] = set()
    for condition in in_chunks(conn, claims.c.content_digest, digests):
        known.update(conn.execute(select(claims.c.content_digest).where(
            claims.c.organisation_id == organisation_id, condition)).scalars())
    new = [(digest, candidates[digest]) for digest in digests if digest not in known]
    if not new:
        return ClaimStoreResult((), total)

    rows = [claim_row(claim, digest, document_id=document_id, state=IMPORTED_STATE, now=now,
                      organisation_id=organisation_id) for digest, claim in new]
    # Two intakes storing the same claim at once: the unique digest makes the second transaction fail and
    # roll back whole; its retry then finds the claim stored. Nothing is stored twice either way.
    ids = bulk_insert(conn, claims, rows, with_ids=True)
    bulk_insert(conn, claim_lines, [line for claim_id, (_, claim) in zip(ids, new, strict=True)
                                    for line in line_rows(claim_id, claim, organisation_id)])
    analyze_after_bulk_load(conn, len(rows), claims, claim_lines)  # payments are matched against them next
    # Checked by the workflow core: "submitted" is an entry state of the claim machine for claims that arrive
    # already submitted.
    path = checked_path(CLAIM_OBJECT, ((ACTIVITY_IMPORT, IMPORTED_STATE),))
    append_events(conn, [
        event
        for claim_id, row in zip(ids, rows, strict=True)
        for event in creation_events(CLAIM_OBJECT, claim_id, path, actor=actor, at=now,
                                     organisation_id=organisation_id, facility_id=row["facility_id"],
                                     payer_id=row["payer_id"],
                                     attributes={"document_id": document_id, "charge": str(row["total_charge"])})
    ])
    post_entries(conn, [charge_entry(claim_id, row["patient_control_number"], row["total_charge"],
                                     row["service_from"] or now.date())
                        for claim_id, row in zip(ids, rows, strict=True) if row["total_charge"] > 0],
                 actor=actor, now=now, organisation_id=organisation_id)
    return ClaimStoreResult(tuple(ids), total - len(new))


def claim_row(claim: Claim, digest: str, *, document_id: int | None, state: str, now: datetime,
              organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, Any]:
    """The claims row of one canonical claim."""
    start, end = service_period(claim)
    member_id = claim.subscriber.party.id or None
    return {
        "organisation_id": organisation_id, "facility_id": (claim.billing_provider.id or None),
        "payer_id": claim_payer_key(claim), "payer_name": claim.payer.name or None, "document_id": document_id,
        "claim_type": claim.claim_type, "patient_control_number": claim.patient_control_number,
        "frequency": claim.frequency or "1", "payer_claim_number": None,
        "filing_order": (claim.subscriber.payer_responsibility or "P")[:1],
        "member_id": member_id, "member_id_index": blind_index(member_id), "service_from": start, "service_to": end,
        "total_charge": claim.total_charge, "line_count": len(claim.service_lines), "state": state,
        "content_digest": digest, "created_at": now, "secondary_billing": None, "primary_claim_id": None,
    }


def line_rows(claim_id: int, claim: Claim, organisation_id: str = DEFAULT_ORGANISATION) -> list[dict[str, Any]]:
    """The claim_lines rows of one stored claim."""
    rows = []
    for line in claim.service_lines:
        procedure = line.procedure
        rows.append({
            "organisation_id": organisation_id, "claim_id": claim_id, "line_number": line.line_number,
            "procedure_qualifier": procedure.qualifier or None if procedure else None,
            "procedure_code": procedure.code or None if procedure else None,
            "modifiers": ":".join(procedure.modifiers) or None if procedure else None,
            "revenue_code": line.revenue_code or None, "charge": line.charge, "units": line.units,
            "service_date": line.service_date, "line_item_control_number": line.line_item_control_number or None,
        })
    return rows


def charge_entry(claim_id: int, patient_control_number: str, charge: Decimal, service_date: date) -> JournalEntryDraft:
    """The claim's charges as insurance A/R and gross revenue, dated on the date of service."""
    return JournalEntryDraft(
        journal="charges", posting_date=service_date, description=f"Charges, claim {patient_control_number}",
        source_type=CLAIM_OBJECT, source_id=str(claim_id), idempotency_key=f"charge:{claim_id}",
        lines=(debit("ar_insurance", charge), credit("patient_service_revenue", charge)),
    )
