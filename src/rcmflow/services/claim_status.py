"""Claim status follow-up: 276 inquiries about claims a payer has held too long, and what its 277 answers say.

A claim submitted (or accepted) more than a number of days ago with no 835 yet is asked about, one 276 per
trading partner. The 277 answer is matched to the claim by its trace (TRN02, the claim's patient control
number) and read by status category:

- finalized (F1 paid, F2 denied, F3 revised, F4 no payment): the claim moves to "adjudicated"; its 835 will
  post the money;
- a request for information (R*): a ``claim_edits`` work item with the codes, for someone to answer;
- pending (P*) or received (A*): nothing moves; the answer is kept in the claim's event log attributes only
  when the claim moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from rcmflow.adapters.store.control_numbers import StoredControlNumbers
from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, claims, submissions
from rcmflow.domain.claim_status import ClaimInquiry, ClaimStatusRequest, ClaimStatusResponse
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import QualifiedDate
from rcmflow.domain.scrub_facts import patient_party, service_period
from rcmflow.domain.trading_partners import TradingPartners
from rcmflow.formats.x12.ts276_write import FUNCTIONAL_ID, IMPLEMENTATION, write_276
from rcmflow.formats.x12.writing import FunctionalGroup, build_interchange
from rcmflow.formats.x12.writing import Party as InterchangeParty
from rcmflow.services.charge_claims import load_source_claims
from rcmflow.services.claims import CLAIM_OBJECT
from rcmflow.services.transitions import transition
from rcmflow.services.work_items import WorkItemSpec, open_items

WAITING_STATES = ("submitted", "accepted")
ACTIVITY_FINALIZED = "adjudication reported (277)"


@dataclass
class StatusResult:
    adjudicated: list[int] = field(default_factory=list)
    information_requested: list[int] = field(default_factory=list)
    pending: int = 0
    unmatched: int = 0

    def as_summary(self) -> dict[str, int]:
        return {"adjudicated": len(self.adjudicated), "information_requested": len(self.information_requested),
                "pending": self.pending, "unmatched": self.unmatched}


def overdue_claims(conn: Connection, *, older_than: timedelta, now: datetime,
                   organisation_id: str = DEFAULT_ORGANISATION) -> list[int]:
    """Claims with a payer (submitted or accepted) whose submission is older than ``older_than``."""
    return list(conn.execute(select(claims.c.id).join(submissions, submissions.c.id == claims.c.submission_id)
                             .where(claims.c.organisation_id == organisation_id,
                                    claims.c.state.in_(WAITING_STATES),
                                    submissions.c.created_at <= now - older_than)
                             .order_by(claims.c.id)).scalars())


def status_inquiries(conn: Connection, claim_ids: Sequence[int], partners: TradingPartners, *, now: datetime,
                     organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, str]:
    """One 276 interchange per trading partner asking about these claims: {partner id: X12 text}."""
    numbers_of = dict(conn.execute(select(claims.c.id, claims.c.payer_claim_number).where(
        claims.c.id.in_(list(claim_ids)))).all()) if claim_ids else {}
    by_partner: dict[str, list[ClaimInquiry]] = {}
    for claim_id, source in load_source_claims(conn, claim_ids):
        claim = source.claim
        partner = partners.for_payer(claim.payer.id)
        if partner is None:
            continue
        start, end = service_period(claim)
        person = patient_party(claim)
        by_partner.setdefault(partner.id, []).append(ClaimInquiry(
            claim.patient_control_number,
            Party("PR", claim.payer.name, entity_type="2", id_qualifier="PI", id=claim.payer.id),
            Party("41", partners.submitter.name, entity_type="2", id_qualifier="46", id=partners.submitter.id),
            Party("1P", claim.billing_provider.name, entity_type="2", id_qualifier="XX", id=claim.billing_provider.id),
            Party("IL", claim.subscriber.party.name, claim.subscriber.party.first_name, entity_type="1",
                  id_qualifier="MI", id=claim.subscriber.party.id),
            Party("QC", person.name, person.first_name, entity_type="1") if claim.patient is not None else None,
            numbers_of.get(claim_id) or "", (Reference("EJ", claim.patient_control_number),), claim.total_charge,
            (QualifiedDate("472", start, end if end != start else None),) if start else ()))
    texts = {}
    by_id = {partner.id: partner for partner in partners.partners}
    for partner_id, inquiries in by_partner.items():
        partner = by_id[partner_id]
        sender = partners.sender_of(partner)
        numbers = StoredControlNumbers(conn, sender.id, organisation_id)
        control = f"{numbers.next_transaction():04d}"
        request = ClaimStatusRequest(control, tuple(inquiries), reference=f"STATUS{now:%Y%m%d%H%M%S}",
                                     created=now.date(), created_time=now.strftime("%H%M"))
        texts[partner_id] = build_interchange(
            [FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, [write_276(request, control)])],
            InterchangeParty(sender.id, sender.qualifier), InterchangeParty(partner.receiver.id,
                                                                             partner.receiver.qualifier),
            numbers, usage=partner.usage, created=now)
    return texts


def apply_277(conn: Connection, responses: Sequence[ClaimStatusResponse], *, actor: str, now: datetime,
              organisation_id: str = DEFAULT_ORGANISATION) -> StatusResult:
    """Read 277 claim status answers (005010X212) into claim moves and work items."""
    result = StatusResult()
    for response in responses:
        for status in response.claims:
            row = conn.execute(select(claims.c.id, claims.c.state, claims.c.facility_id, claims.c.payer_id).where(
                claims.c.organisation_id == organisation_id,
                claims.c.patient_control_number == status.patient_control_number,
                claims.c.state.in_(WAITING_STATES)).order_by(claims.c.id.desc()).limit(1)).one_or_none()
            if row is None:
                result.unmatched += 1
                continue
            categories = [s.category for entry in status.statuses for s in entry.statuses]
            codes = [":".join(p for p in (s.category, s.code, s.entity) if p)
                     for entry in status.statuses for s in entry.statuses]
            if any(category.startswith("F") for category in categories):
                transition(conn, CLAIM_OBJECT, row.id, row.state, "adjudicated", activity=ACTIVITY_FINALIZED,
                           actor=actor, at=now, attributes={"stc": codes, "paid": str(status.paid or "")},
                           values={"payer_claim_number": status.payer_claim_control_number[:50]}
                           if status.payer_claim_control_number else None)
                result.adjudicated.append(row.id)
            elif any(category.startswith("R") for category in categories):
                open_items(conn, [WorkItemSpec(
                    queue="claim_edits", item_type="payer requests information", object_type=CLAIM_OBJECT,
                    object_id=str(row.id), title=f"Claim {status.patient_control_number}: the payer asks for "
                                                 f"information ({', '.join(codes)})"[:300],
                    exception_code=f"277:{codes[0]}"[:100], details={"stc": codes},
                    organisation_id=organisation_id, facility_id=row.facility_id, payer_id=row.payer_id)],
                    actor=actor, now=now)
                result.information_requested.append(row.id)
            else:
                result.pending += 1
    return result
