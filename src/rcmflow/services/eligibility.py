"""Eligibility on file: 271 answers stored per patient and payer, looked up by the scrubber, and 270 inquiries
built for the claims that lack one.

A 271 arriving through intake stores one row per member it answers (status, plan dates, copay, coinsurance,
deductible and out-of-pocket remaining, AAA reasons); then every claim held by the scrubber for that member
and payer is scrubbed again, so a claim that waited for eligibility goes on by itself once the payer answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from rcmflow.adapters.crypto import blind_index
from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, claims, eligibility_responses
from rcmflow.adapters.store.sql import bulk_insert, in_chunks
from rcmflow.domain.charges import SourceClaim
from rcmflow.domain.eligibility import (
    EligibilityInquiry,
    EligibilityResponse,
    EligibilitySummary,
    MemberInquiry,
    ServiceInquiry,
    Trace,
    summarise_member,
)
from rcmflow.domain.parties import Party
from rcmflow.domain.remittance import QualifiedDate
from rcmflow.domain.scrub_facts import EligibilityFact, patient_party, service_period
from rcmflow.domain.trading_partners import TradingPartners

HEALTH_PLAN_COVERAGE = "30"


def store_eligibility(conn: Connection, document_id: int | None, responses: Sequence[EligibilityResponse], *,
                      now: datetime, organisation_id: str = DEFAULT_ORGANISATION) -> list[tuple[str, str]]:
    """Store every member answer of these 271s; returns the (payer id, member id) pairs answered."""
    rows: list[dict[str, Any]] = []
    for response in responses:
        for member in response.members:
            member_id = member.subscriber.id
            payer_id = member.payer.id or member.payer.name
            if not member_id or not payer_id:
                continue  # an answer naming no member or payer cannot be matched to any claim
            summary = summarise_member(member)
            patient = member.patient
            rows.append({
                "organisation_id": organisation_id, "document_id": document_id, "payer_id": payer_id[:64],
                "member_id": member_id[:80], "member_id_index": blind_index(member_id[:80]),
                "last_name": (patient.name or None) and patient.name[:60],
                "first_name": (patient.first_name or None) and patient.first_name[:35],
                "birth_date": patient.birth_date, "status": summary.status, "plan_begin": summary.plan_begin,
                "plan_end": summary.plan_end, "copay": summary.copay, "coinsurance": summary.coinsurance,
                "deductible_remaining": summary.deductible_remaining,
                "out_of_pocket_remaining": summary.out_of_pocket_remaining,
                "reject_reasons": list(summary.reject_reasons) or None,
                "trace_number": next((trace.number[:50] for trace in member.traces), None),
                "responded_on": response.created, "created_at": now,
            })
    bulk_insert(conn, eligibility_responses, rows)
    return sorted({(row["payer_id"], row["member_id"]) for row in rows})


def eligibility_on_file(conn: Connection, sources: Sequence[SourceClaim],
                        organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, EligibilityFact]:
    """The newest stored 271 answer for each claim's payer, member and patient (by birth date when the answer
    names one), judged on the claim's first date of service."""
    keys = {(source.claim.payer.id, source.claim.subscriber.party.id) for source in sources
            if source.claim.payer.id and source.claim.subscriber.party.id}
    if not keys:
        return {}
    answers: dict[tuple[str, str], list[Any]] = {}
    # Found by blind index (the member id is encrypted), then compared exactly once decrypted.
    indexes = sorted({index for _, member in keys if (index := blind_index(member)) is not None})
    for condition in in_chunks(conn, eligibility_responses.c.member_id_index, indexes):
        for row in conn.execute(select(eligibility_responses).where(
                eligibility_responses.c.organisation_id == organisation_id, condition)
                .order_by(eligibility_responses.c.id.desc())):
            if (row.payer_id, row.member_id) in keys:
                answers.setdefault((row.payer_id, row.member_id), []).append(row)
    found: dict[str, EligibilityFact] = {}
    for source in sources:
        claim = source.claim
        rows = answers.get((claim.payer.id, claim.subscriber.party.id), [])
        birth = patient_party(claim).birth_date
        row = next((r for r in rows if r.birth_date is None or birth is None or r.birth_date == birth), None)
        if row is None:
            continue
        summary = EligibilitySummary(row.status, row.plan_begin, row.plan_end)
        start, _ = service_period(claim)
        found[source.source_id] = EligibilityFact(True, summary.active_on(start) if start else None, "271",
                                                  row.plan_begin, row.plan_end)
    return found


def held_claims_of(conn: Connection, members: Sequence[tuple[str, str]],
                   organisation_id: str = DEFAULT_ORGANISATION) -> list[int]:
    """Claims held by the scrubber (state "scrubbed") for these (payer id, member id) pairs."""
    wanted = set(members)
    found = []
    indexes = sorted({index for _, member in wanted if (index := blind_index(member)) is not None})
    for condition in in_chunks(conn, claims.c.member_id_index, indexes):
        for row in conn.execute(select(claims.c.id, claims.c.payer_id, claims.c.member_id).where(
                claims.c.organisation_id == organisation_id, claims.c.state == "scrubbed", condition)):
            if (row.payer_id, row.member_id) in wanted:
                found.append(row.id)
    return sorted(found)


def inquiry_for(sources: Sequence[SourceClaim], *, control_number: str, reference: str, today: date) -> \
        EligibilityInquiry:
    """A 270 asking each claim's payer about its patient's health plan coverage on the first date of service
    (one request per patient and payer; the claim's billing provider asks)."""
    members: dict[tuple[str, str, str], MemberInquiry] = {}
    for source in sources:
        claim = source.claim
        subscriber = claim.subscriber.party
        key = (claim.payer.id, subscriber.id, patient_party(claim).name + str(patient_party(claim).birth_date))
        if key in members or not claim.payer.id or not subscriber.id:
            continue
        start, _ = service_period(claim)
        payer = Party("PR", claim.payer.name, entity_type="2", id_qualifier="PI", id=claim.payer.id)
        provider = claim.billing_provider._replace(role="1P", address=None, references=(), contacts=(),
                                                  taxonomy="")
        dependent = None
        if claim.patient is not None:
            person = claim.patient.party
            dependent = Party("03", person.name, person.first_name, entity_type="1", birth_date=person.birth_date,
                              gender=person.gender)
        members[key] = MemberInquiry(
            payer, provider,
            Party("IL", subscriber.name, subscriber.first_name, entity_type="1", id_qualifier="MI", id=subscriber.id,
                  birth_date=subscriber.birth_date if dependent is None else None,
                  gender=subscriber.gender if dependent is None else ""),
            dependent, traces=(Trace("1", f"{reference}-{len(members) + 1}"[:50], "9RCMFLOW00"),),
            dates=(QualifiedDate("291", start or today),),
            services=(ServiceInquiry((HEALTH_PLAN_COVERAGE,)),))
    return EligibilityInquiry(control_number, tuple(members.values()), reference=reference[:50], created=today)


def write_inquiries(conn: Connection, sources: Sequence[SourceClaim], partners: TradingPartners, *,
                    now: datetime, organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, str]:
    """One 270 interchange per trading partner for these claims' patients: {partner id: X12 text}. Control
    numbers come from the store, as for claims."""
    from rcmflow.adapters.store.control_numbers import StoredControlNumbers
    from rcmflow.formats.x12.ts270_write import FUNCTIONAL_ID, IMPLEMENTATION, write_270
    from rcmflow.formats.x12.writing import FunctionalGroup, build_interchange
    from rcmflow.formats.x12.writing import Party as InterchangeParty

    by_partner: dict[str, list[SourceClaim]] = {}
    for source in sources:
        partner = partners.for_payer(source.claim.payer.id)
        if partner is not None:
            by_partner.setdefault(partner.id, []).append(source)
    texts = {}
    for partner in partners.partners:
        chosen = by_partner.get(partner.id)
        if not chosen:
            continue
        sender = partners.sender_of(partner)
        numbers = StoredControlNumbers(conn, sender.id, organisation_id)
        control = f"{numbers.next_transaction():04d}"
        inquiry = inquiry_for(chosen, control_number=control, reference=f"ELIG{now:%Y%m%d%H%M%S}", today=now.date())
        texts[partner.id] = build_interchange(
            [FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, [write_270(inquiry, control)])],
            InterchangeParty(sender.id, sender.qualifier),
            InterchangeParty(partner.receiver.id, partner.receiver.qualifier), numbers, usage=partner.usage,
            created=now)
    return texts
