"""The payer's front end: does a claim enter adjudication (277CA A2 with the payer's claim number) or is it
rejected (A3/A7 with the STC codes a real payer would send)?

Data that is wrong whatever the payer (a billing NPI failing its check digit, no member id, a total that is
not the sum of the lines, a date of service in the future or before birth, a member the payer has never
heard of) is rejected every time it is sent. Beside those, ``rejection_rate`` of the claims a payer receives
for the first time are rejected for a reason from its ``rejections`` mix, as if its enrollment files
disagreed with the claim; the same claim sent again after a rejection is taken (the submitter fixed it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple, TypeVar

from rcmflow.domain.claim import Claim, ClaimBatch, claim_charge_difference
from rcmflow.domain.claim_status import ClaimStatus, LevelStatus, Status, StatusEntry
from rcmflow.domain.identifiers import is_valid_npi
from rcmflow.domain.money import ZERO, total
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import QualifiedAmount, QualifiedDate
from rcmflow.domain.scrub_facts import patient_party, service_period
from rcmflow.sandbox.eligibility import UNKNOWN
from rcmflow.sandbox.profiles import PayerProfile, Rejection
from rcmflow.sandbox.seeding import chance

T = TypeVar("T")

ACCEPTED = Status("A2", "20", "PR")  # accepted into adjudication
RECEIVED = Status("A1", "19", "PR")  # the payer acknowledges receipt (batch and provider levels)
ACCEPT_ACTION, REJECT_ACTION = "WQ", "U"

INVALID_NPI = Rejection(("A7:562:85",), "BILLING PROVIDER NPI INVALID")
MISSING_MEMBER_ID = Rejection(("A3:164:IL",), "SUBSCRIBER PRIMARY IDENTIFIER MISSING")
OUT_OF_BALANCE = Rejection(("A7:400",), "TOTAL CHARGE DOES NOT EQUAL THE SUM OF THE LINE CHARGES")
NO_SERVICE_DATE = Rejection(("A7:187",), "DATE OF SERVICE MISSING")
FUTURE_SERVICE = Rejection(("A7:187",), "DATE OF SERVICE IS AFTER THE DATE RECEIVED")
BORN_AFTER_SERVICE = Rejection(("A7:158:QC",), "PATIENT BIRTH DATE IS AFTER THE DATE OF SERVICE")
MEMBER_NOT_FOUND = Rejection(("A7:33:IL",), "SUBSCRIBER AND SUBSCRIBER ID NOT FOUND")


class StatusParties(NamedTuple):
    """The 277CA's levels above a claim: the payer (information source) and the submitter (receiver)."""

    payer: Party
    receiver: Party


def weighted(rng: random.Random, items: Sequence[T], weights: Sequence[int]) -> T:
    """One item, drawn with the given weights (one draw, whatever the weights)."""
    roll = rng.random() * sum(weights)
    for item, weight in zip(items, weights, strict=True):
        roll -= weight
        if roll < 0:
            return item
    return items[-1]


def rejection_for(claim: Claim, profile: PayerProfile, rng: random.Random, *, received: date, member: str,
                  first_receipt: bool) -> Rejection | None:
    """Why the front end refuses the claim, or None when it goes on to adjudication."""
    rolled = chance(rng, profile.rejection_rate)
    drawn = weighted(rng, profile.rejections, [item.weight for item in profile.rejections]) \
        if profile.rejections else None
    start, end = service_period(claim)
    birth = patient_party(claim).birth_date
    if not is_valid_npi(claim.billing_provider.id):
        return INVALID_NPI
    if not claim.subscriber.party.id:
        return MISSING_MEMBER_ID
    if claim_charge_difference(claim) != 0:
        return OUT_OF_BALANCE
    if start is None:
        return NO_SERVICE_DATE
    if (end or start) > received:
        return FUTURE_SERVICE
    if birth is not None and birth > start:
        return BORN_AFTER_SERVICE
    if member == UNKNOWN:
        return MEMBER_NOT_FOUND
    if first_receipt and rolled and drawn is not None:
        return drawn
    return None


def status_party(party: Party) -> Party:
    """A party as a 277 names it: NM1 alone (no address, references or demographics)."""
    return Party(party.role, party.name, party.first_name, party.middle_name, party.suffix, party.entity_type,
                 party.id_qualifier, party.id)


def patient_of(claim: Claim) -> Party:
    """The 277CA patient (2100D, NM1*QC): the patient named on the claim, with the member id."""
    person = patient_party(claim)
    return Party("QC", person.name, person.first_name, person.middle_name, person.suffix, "1", "MI",
                 claim.subscriber.party.id)


def _status(code: str) -> Status:
    parts = code.split(":")
    return Status(*parts[:3])


def claim_status(claim: Claim, parties: StatusParties, *, received: date, payer_claim_number: str,
                 rejection: Rejection | None) -> ClaimStatus:
    """The 277CA record of one claim: accepted (A2, REF*1K) or rejected (STC03 U, with the codes and message)."""
    if rejection is None:
        entry = StatusEntry((ACCEPTED,), received, ACCEPT_ACTION, claim.total_charge)
    else:
        entry = StatusEntry(tuple(_status(code) for code in rejection.statuses[:3]), received, REJECT_ACTION,
                            claim.total_charge, message=rejection.message)
    start, end = service_period(claim)
    dates = (QualifiedDate("472", start, end if end and end != start else None),) if start else ()
    references = (Reference("BLT", claim.facility_code + (claim.frequency or "1")),) \
        if claim.claim_type == "I" and claim.facility_code else ()
    return ClaimStatus(
        claim.patient_control_number, (entry,), payer_claim_number if rejection is None else "",
        payer=parties.payer, receiver=parties.receiver, provider=status_party(claim.billing_provider),
        patient=patient_of(claim), references=references, dates=dates,
    )


def _counts(statuses: Sequence[ClaimStatus]) -> tuple[tuple[QualifiedAmount, ...], tuple[QualifiedAmount, ...]]:
    """QTY*90/AA (claims accepted/rejected) and AMT*YU/YY (their charges), each only when there are some."""
    accepted = [status for status in statuses if not status.rejected]
    rejected = [status for status in statuses if status.rejected]
    quantities, amounts = [], []
    for claims, quantity, amount in ((accepted, "90", "YU"), (rejected, "AA", "YY")):
        if claims:
            quantities.append(QualifiedAmount(quantity, Decimal(len(claims))))
            amounts.append(QualifiedAmount(amount, total(status.charge or ZERO for status in claims)))
    return tuple(quantities), tuple(amounts)


def level_statuses(batch: ClaimBatch, statuses: Sequence[ClaimStatus], *, received: date) -> tuple[LevelStatus, ...]:
    """The batch (20), submitter (21) and billing provider (19) levels of one payer's claims of a batch, with
    how many of them were accepted and rejected; ``statuses`` are in claim order, grouped by provider."""
    payer = statuses[0].payer
    receiver = statuses[0].receiver
    assert payer is not None and receiver is not None  # claim_status always names them
    reference = batch.reference or batch.control_number
    charge = total(status.charge or ZERO for status in statuses)
    quantities, amounts = _counts(statuses)
    levels = [
        LevelStatus("20", payer, reference, trace_type="1",
                    dates=(QualifiedDate("050", received), QualifiedDate("009", received))),
        LevelStatus("21", receiver, reference, (StatusEntry((RECEIVED,), received, ACCEPT_ACTION, charge),),
                    quantities=quantities, amounts=amounts, payer=payer, trace_type="2"),
    ]
    providers: dict[Party, list[ClaimStatus]] = {}
    for status in statuses:
        assert status.provider is not None
        providers.setdefault(status.provider, []).append(status)
    for provider, claims in providers.items():
        quantities, amounts = _counts(claims)
        levels.append(LevelStatus(
            "19", provider, f"{reference}-{provider.id}"[:50],
            (StatusEntry((RECEIVED,), received, ACCEPT_ACTION, total(status.charge or ZERO for status in claims)),),
            quantities=quantities, amounts=amounts, payer=payer, trace_type="1"))
    return tuple(levels)
