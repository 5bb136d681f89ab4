"""Receiving one 837 file: the 999 of each interchange, the 277CA of the file, and each claim's decision
remembered for the payment runs to come.

A claim sent again is recognised by payer and patient control number: after a front-end rejection it is a
resubmission (decided afresh, past the random rejections); after an acceptance it is an exact duplicate
(CO-18) unless it is a replacement (CLM05-3 7) or a void (8) naming the earlier payer claim number in
REF*F8, whose earlier payment the payer then reverses on the new claim's pay day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from rcmflow.domain.claim import Claim, ClaimBatch
from rcmflow.domain.claim_status import ClaimStatus, ClaimStatusResponse
from rcmflow.domain.parties import Party
from rcmflow.formats.x12.envelope import GroupSummary
from rcmflow.formats.x12.parser import X12Document
from rcmflow.formats.x12.ts277_write import IMPLEMENTATION_277CA, write_277_interchange
from rcmflow.formats.x12.ts999_write import grouped, write_999
from rcmflow.formats.x12.writing import Party as EnvelopeParty
from rcmflow.sandbox.adjudicate import Decision, History, adjudicate
from rcmflow.sandbox.eligibility import member_status
from rcmflow.sandbox.frontend import StatusParties, level_statuses
from rcmflow.sandbox.profiles import PayerProfile
from rcmflow.sandbox.remit import payee_of
from rcmflow.sandbox.seeding import business_day_on_or_after, payer_claim_number, rng_for
from rcmflow.sandbox.session import Session
from rcmflow.sandbox.state import ClaimRecord, Route

ACK_TIME = time(6, 0)  # the 999 goes out early on the day of receipt
STATUS_TIME = time(7, 0)  # the 277CA an hour later
CLAIM_TYPES = ("837P", "837I")
REPLACEMENT, VOID = "7", "8"


def route_of(group: GroupSummary) -> Route:
    """How to answer a functional group: back to its ISA sender, from its ISA receiver, with its usage."""
    return Route(EnvelopeParty(group.interchange_sender_id, group.interchange_sender_qualifier or "ZZ",
                               group.sender_id),
                 EnvelopeParty(group.interchange_receiver_id, group.interchange_receiver_qualifier or "ZZ",
                               group.receiver_id),
                 group.usage or "P")


def receive_claims(session: Session, stem: str, source: str, document: X12Document, received: date) -> None:
    """Answer the 837 transaction sets of a cleanly parsed document (see the module docstring)."""
    numbers = session.state.numbers
    session.emit(f"{stem}.999", "999", write_999(document, control_numbers=numbers,
                                                 created=datetime.combine(received, ACK_TIME)))
    responses: list[ClaimStatusResponse] = []
    first_route: Route | None = None
    for group, transactions in grouped(document):
        route = route_of(group)
        first_route = first_route or route
        for transaction in transactions:
            if transaction.type in CLAIM_TYPES and transaction.content is not None and transaction.content.claims:
                responses.append(_acknowledge(session, transaction.content, route, source, received))
    if responses and first_route is not None:
        session.emit(f"{stem}.277ca", "277CA", write_277_interchange(
            responses, first_route.ours, first_route.theirs, numbers, usage=first_route.usage,
            created=datetime.combine(received, STATUS_TIME)))


def _acknowledge(session: Session, batch: ClaimBatch, route: Route, source: str,
                 received: date) -> ClaimStatusResponse:
    """Decide every claim of a batch; the 277CA of the batch, its claims grouped by payer and provider."""
    receiver = Party("41", batch.submitter.name, entity_type="2", id_qualifier="46", id=batch.submitter.id)
    by_payer: dict[str, list[ClaimStatus]] = {}
    for claim in batch.claims:
        profile = session.profile(claim.payer.id, claim.payer.name)
        payer = Party("PR", profile.name, entity_type="2", id_qualifier="PI", id=profile.payer_id)
        decision = _decide(session, claim, profile, StatusParties(payer, receiver), route, source, received)
        by_payer.setdefault(profile.payer_id, []).append(decision.status)
    levels, statuses = [], []
    for payer_statuses in by_payer.values():
        order = _provider_order(payer_statuses)
        ordered = sorted(payer_statuses, key=lambda status: order[status.provider])
        levels.extend(level_statuses(batch, ordered, received=received))
        statuses.extend(ordered)
    return ClaimStatusResponse("0001", IMPLEMENTATION_277CA, "08", (batch.reference or batch.control_number)[:50],
                               received, STATUS_TIME.strftime("%H%M"), "TH", tuple(levels), tuple(statuses))


def _provider_order(statuses: list[ClaimStatus]) -> dict[Party | None, int]:
    order: dict[Party | None, int] = {}
    for status in statuses:
        order.setdefault(status.provider, len(order))
    return order


def _decide(session: Session, claim: Claim, profile: PayerProfile, parties: StatusParties, route: Route,
            source: str, received: date) -> Decision:
    payer_id, pcn = profile.payer_id, claim.patient_control_number
    earlier = session.receipts(payer_id, pcn)
    receipt = len(earlier) + 1
    number = payer_claim_number(payer_id, pcn, receipt, received)
    rng = rng_for(session.seed, payer_id, pcn) if receipt == 1 else rng_for(session.seed, payer_id, pcn, receipt)
    history = History(
        received, number, parties, member_status(session.seed, profile, claim.subscriber.party.id),
        first_receipt=not earlier,
        duplicate=claim.frequency not in (REPLACEMENT, VOID) and any(record.accepted for _, record in earlier))
    decision = adjudicate(claim, profile, session.contracts, rng, history)
    if decision.accepted:
        session.run.claims_accepted += 1
    else:
        session.run.claims_rejected += 1
    record = ClaimRecord(payer_id, claim.payer.name, pcn, receipt, number, received, source, route, payee_of(claim),
                         not decision.accepted, claim.frequency or "1", decision.payment, decision.pay_on,
                         reprocess=decision.reprocess, recoupment=decision.recoupment)
    if decision.accepted and claim.frequency in (REPLACEMENT, VOID):
        record = _link_original(session, claim, profile, record)
    session.add(record)
    return decision


def _link_original(session: Session, claim: Claim, profile: PayerProfile, record: ClaimRecord) -> ClaimRecord:
    """Point a replacement or void at the payment it takes back (REF*F8), if the payer paid one and nothing
    took it back yet. The original's unsent follow-ups are dropped; the new claim is paid after the original."""
    wanted = claim.payer_claim_control_number or ""
    taken = {other.reverses for other in session.state.claims if other.reverses}
    for position, original in session.receipts(profile.payer_id, claim.patient_control_number):
        numbers = {original.payer_claim_number}
        if original.reprocess is not None:
            numbers.add(original.reprocess.corrected.payer_claim_control_number)
        if original.payment is None or not wanted or wanted not in numbers \
                or original.payer_claim_number in taken or original.pay_on is None or record.pay_on is None:
            continue
        session.replace(position, reprocess=original.reprocess if original.reprocessed_trace else None,
                        recoupment=original.recoupment if original.recouped_trace else None)
        pay_on = max(record.pay_on, business_day_on_or_after(original.pay_on + timedelta(days=1),
                                                             profile.payment_weekdays))
        return record._replace(reverses=original.payer_claim_number, pay_on=pay_on)
    return record
