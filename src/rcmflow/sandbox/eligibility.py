"""The payers' eligibility answers (271 to a 270), and the member coverage their adjudication agrees with.

A member's coverage depends only on (seed, payer id, member id): ``unknown_member_rate`` of members are not
on file (271 AAA 75; their claims are rejected at the front end, 277CA A7:33:IL), ``inactive_rate`` had
coverage that ended with the previous calendar year (271 EB*6; their claims are denied CO-27), the rest are
covered for the calendar year with the profile's copays, deductible (and what remains of it), coinsurance and
out-of-pocket maximum. Deductible accumulators are not tracked across claims: what remains is drawn per
member and year, so no answer depends on the order claims arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from rcmflow.domain.eligibility import (
    Benefit,
    EligibilityInquiry,
    EligibilityResponse,
    MemberEligibility,
    MemberInquiry,
    RequestError,
    Trace,
)
from rcmflow.domain.money import ZERO
from rcmflow.domain.parties import Contact, Party
from rcmflow.domain.remittance import QualifiedDate
from rcmflow.sandbox.profiles import PayerProfile, profile_for
from rcmflow.sandbox.seeding import digits, rng_for

ACTIVE, INACTIVE, UNKNOWN = "active", "inactive", "unknown"
PLAN_COVERAGE = "30"  # health benefit plan coverage
OFFICE_VISIT, EMERGENCY = "98", "86"
CALENDAR_YEAR, REMAINING, VISIT = "23", "29", "27"
SUBSCRIBER_LOOP = "2100C"
RESPONSE_TIME = "0800"


def member_status(seed: int, profile: PayerProfile, member_id: str) -> str:
    """ACTIVE, INACTIVE (coverage ended with the previous year) or UNKNOWN (not on file) for a member id."""
    if not member_id:
        return UNKNOWN
    roll = rng_for(seed, "member", profile.payer_id, member_id).random()
    if roll < profile.unknown_member_rate:
        return UNKNOWN
    if roll < profile.unknown_member_rate + profile.inactive_rate:
        return INACTIVE
    return ACTIVE


def deductible_remaining(seed: int, profile: PayerProfile, member_id: str, year: int) -> Decimal:
    """What remains of the member's deductible this year (drawn per member and year)."""
    cents = int(profile.deductible * 100)
    return Decimal(rng_for(seed, "deductible", profile.payer_id, member_id, year).randint(0, cents)).scaleb(-2)


def _benefits(seed: int, profile: PayerProfile, member_id: str, year: int) -> tuple[Benefit, ...]:
    benefits = [Benefit("1", "IND", (PLAN_COVERAGE,), profile.insurance_type, profile.plan_name)]
    if profile.copay:
        benefits.append(Benefit("B", "IND", (OFFICE_VISIT,), time_period=VISIT, amount=profile.copay, in_network="Y"))
    if profile.er_copay:
        benefits.append(Benefit("B", "IND", (EMERGENCY,), time_period=VISIT, amount=profile.er_copay, in_network="Y"))
    remaining = deductible_remaining(seed, profile, member_id, year)
    if profile.deductible:
        benefits += [Benefit("C", "IND", (PLAN_COVERAGE,), time_period=period, amount=amount, in_network="Y")
                     for period, amount in ((CALENDAR_YEAR, profile.deductible), (REMAINING, remaining))]
    if profile.coinsurance:
        benefits.append(Benefit("A", "IND", (PLAN_COVERAGE,), percent=profile.coinsurance, in_network="Y"))
    if profile.out_of_pocket:
        spent = profile.deductible - remaining
        benefits += [Benefit("G", "IND", (PLAN_COVERAGE,), time_period=period, amount=amount, in_network="Y")
                     for period, amount in ((CALENDAR_YEAR, profile.out_of_pocket),
                                            (REMAINING, max(ZERO, profile.out_of_pocket - spent)))]
    return tuple(benefits)


def _year(begin: int) -> tuple[QualifiedDate, QualifiedDate]:
    return QualifiedDate("346", date(begin, 1, 1)), QualifiedDate("347", date(begin, 12, 31))


def answer_member(inquiry: MemberInquiry, seed: int, day: date,
                  profiles: Mapping[str, PayerProfile] | None = None) -> MemberEligibility:
    """The payer's answer about one member on ``day`` (the inquiry's DTP*291 date when it gives one)."""
    profile = profile_for(inquiry.payer.id, inquiry.payer.name, profiles)
    member_id = inquiry.subscriber.id
    asked = next((item.value for item in inquiry.dates if item.qualifier == "291"), day)
    payer = Party("PR", profile.name, entity_type="2", id_qualifier="PI", id=profile.payer_id,
                  contacts=(Contact("IC", "PROVIDER SERVICES", (("TE", profile.phone),)),))
    traces = tuple(Trace("2", trace.number, trace.originator, trace.supplemental) for trace in inquiry.traces)
    person = inquiry.patient
    own = digits(10, seed, "trace", profile.payer_id, member_id, person.name, person.first_name, person.birth_date,
                 asked)
    traces += (Trace("1", f"{profile.payer_id}{own}", profile.originator),)
    answer = MemberEligibility(payer, inquiry.provider, inquiry.subscriber, inquiry.dependent, traces,
                               inquiry.provider_code, inquiry.insured)
    status = member_status(seed, profile, member_id)
    if not member_id:
        return answer._replace(errors=(RequestError(SUBSCRIBER_LOOP, "N", "72", "C"),))
    if status == UNKNOWN:
        return answer._replace(errors=(RequestError(SUBSCRIBER_LOOP, "Y", "75", "C"),))
    if status == INACTIVE:
        return answer._replace(dates=_year(asked.year - 1), benefits=(Benefit("6", "IND", (PLAN_COVERAGE,)),))
    return answer._replace(dates=_year(asked.year), benefits=_benefits(seed, profile, member_id, asked.year))


def answer(inquiry: EligibilityInquiry, seed: int, day: date,
           profiles: Mapping[str, PayerProfile] | None = None) -> EligibilityResponse:
    """The 271 answering a 270: one answer per member asked about, in the same order."""
    members = tuple(answer_member(member, seed, day, profiles) for member in inquiry.members)
    return EligibilityResponse(inquiry.control_number, members, reference=inquiry.reference, created=day,
                               created_time=RESPONSE_TIME)
