"""Eligibility and benefits: the 270 inquiry and the 271 answer (005010X279A1).

The HL hierarchy (information source, receiver, subscriber, dependent) is flattened to one record
per person asked about: ``MemberInquiry`` in a 270, ``MemberEligibility`` in a 271, each carrying
the payer and provider above it. A 271 answers with ``Benefit``s (EB loops) and, when it cannot
answer, with ``RequestError``s (AAA) at whichever level the request failed.

``coverage_on`` / ``is_active_on`` answer the question the front desk asks: is this person covered
for this kind of service on this day? Active codes (EB01 1-5) and inactive codes (6-8) are weighed
against the plan and eligibility dates (DTP) of the benefit, or of the member when the benefit has
none.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedAmount, QualifiedDate

# AAA03: reject reason codes.
REJECT_REASON = {
    "04": "Authorized quantity exceeded",
    "15": "Required application data missing",
    "33": "Input errors",
    "35": "Out of network",
    "41": "Authorization/access restrictions",
    "42": "Unable to respond at current time",
    "43": "Invalid/missing provider identification",
    "44": "Invalid/missing provider name",
    "45": "Invalid/missing provider specialty",
    "46": "Invalid/missing provider phone number",
    "47": "Invalid/missing provider state",
    "48": "Invalid/missing referring provider identification number",
    "49": "Provider is not primary care physician",
    "50": "Provider ineligible for inquiries",
    "51": "Provider not on file",
    "52": "Service dates not within provider plan enrollment",
    "53": "Inquired benefit inconsistent with provider type",
    "54": "Inappropriate product/service ID qualifier",
    "55": "Inappropriate product/service ID",
    "56": "Inappropriate date",
    "57": "Invalid/missing date(s) of service",
    "58": "Invalid/missing date-of-birth",
    "60": "Date of birth follows date(s) of service",
    "61": "Date of death precedes date(s) of service",
    "62": "Date of service not within allowable inquiry period",
    "63": "Date of service in future",
    "64": "Invalid/missing patient ID",
    "65": "Invalid/missing patient name",
    "66": "Invalid/missing patient gender code",
    "67": "Patient not found",
    "68": "Duplicate patient ID number",
    "69": "Inconsistent with patient's age",
    "70": "Inconsistent with patient's gender",
    "71": "Patient birth date does not match that for the patient on the database",
    "72": "Invalid/missing subscriber/insured ID",
    "73": "Invalid/missing subscriber/insured name",
    "74": "Invalid/missing subscriber/insured gender code",
    "75": "Subscriber/insured not found",
    "76": "Duplicate subscriber/insured ID number",
    "77": "Subscriber found, patient not found",
    "78": "Subscriber/insured not in group/plan identified",
    "79": "Invalid participant identification",
    "80": "No response received - transaction terminated",
    "97": "Invalid or missing provider address",
    "AA": "Authorization number not found",
    "AE": "Requires primary care physician authorization",
    "AF": "Invalid/missing diagnosis code(s)",
    "AG": "Invalid/missing procedure code(s)",
    "AO": "Additional patient condition information required",
    "CI": "Certification information does not match patient",
    "E8": "Requires medical review",
    "IA": "Invalid authorization number format",
    "MA": "Missing authorization number",
    "T4": "Payer name or identifier missing",
}

# AAA04: follow-up action codes.
FOLLOW_UP_ACTION = {
    "C": "Please correct and resubmit",
    "N": "Resubmission not allowed",
    "P": "Please resubmit original transaction",
    "R": "Resubmission allowed",
    "S": "Do not resubmit; inquiry initiated to a third party",
    "W": "Please wait 30 days and resubmit",
    "X": "Please wait 10 days and resubmit",
    "Y": "Do not resubmit; we will hand deliver or mail",
}

# EB01: eligibility or benefit information codes.
BENEFIT_INFORMATION = {
    "1": "Active coverage",
    "2": "Active - full risk capitation",
    "3": "Active - services capitated",
    "4": "Active - services capitated to primary care physician",
    "5": "Active - pending investigation",
    "6": "Inactive",
    "7": "Inactive - pending eligibility update",
    "8": "Inactive - pending investigation",
    "A": "Co-insurance",
    "B": "Co-payment",
    "C": "Deductible",
    "CB": "Coverage basis",
    "D": "Benefit description",
    "E": "Exclusions",
    "F": "Limitations",
    "G": "Out of pocket (stop loss)",
    "H": "Unlimited",
    "I": "Non-covered",
    "J": "Cost containment",
    "K": "Reserve",
    "L": "Primary care provider",
    "M": "Pre-existing condition",
    "MC": "Managed care coordinator",
    "N": "Services restricted to following provider",
    "O": "Not deemed a medical necessity",
    "P": "Benefit disclaimer",
    "Q": "Second surgical opinion required",
    "R": "Other or additional payor",
    "S": "Prior year(s) history",
    "T": "Card(s) reported lost/stolen",
    "U": "Contact following entity for eligibility or benefit information",
    "V": "Cannot process",
    "W": "Other source of data",
    "X": "Health care facility",
    "Y": "Spend down",
}
ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})

# EB02: coverage level codes.
COVERAGE_LEVEL = {
    "CHD": "Children only",
    "DEP": "Dependents only",
    "ECH": "Employee and children",
    "EMP": "Employee only",
    "ESP": "Employee and spouse",
    "FAM": "Family",
    "IND": "Individual",
    "SPC": "Spouse and children",
    "SPO": "Spouse only",
}

# EQ01 / EB03: the service type codes a front desk meets most (code list 1365 has ~200).
SERVICE_TYPE = {
    "1": "Medical care",
    "2": "Surgical",
    "4": "Diagnostic x-ray",
    "5": "Diagnostic lab",
    "6": "Radiation therapy",
    "7": "Anesthesia",
    "8": "Surgical assistance",
    "12": "Durable medical equipment purchase",
    "18": "Durable medical equipment rental",
    "30": "Health benefit plan coverage",
    "33": "Chiropractic",
    "35": "Dental care",
    "42": "Home health care",
    "45": "Hospice",
    "47": "Hospital",
    "48": "Hospital - inpatient",
    "50": "Hospital - outpatient",
    "51": "Hospital - emergency accident",
    "52": "Hospital - emergency medical",
    "53": "Hospital - ambulatory surgical",
    "86": "Emergency services",
    "88": "Pharmacy",
    "98": "Professional (physician) visit - office",
    "A4": "Psychiatric",
    "AD": "Occupational therapy",
    "AE": "Physical medicine",
    "AL": "Vision (optometry)",
    "BG": "Cardiac rehabilitation",
    "MH": "Mental health",
    "PT": "Physical therapy",
    "UC": "Urgent care",
}
HEALTH_BENEFIT_PLAN_COVERAGE = "30"

# DTP qualifiers that open or close coverage, or give it as a period.
BEGIN_QUALIFIERS = frozenset({"346", "356", "340", "539"})  # plan, eligibility, COBRA, policy begin
END_QUALIFIERS = frozenset({"347", "357", "341", "540"})  # plan, eligibility, COBRA, policy end
PERIOD_QUALIFIERS = frozenset({"291", "292", "307"})  # plan, benefit, eligibility (D8 or RD8)


class Trace(NamedTuple):
    """A TRN trace: type (1 current transaction, 2 referenced), number, originator, supplemental id."""

    type: str
    number: str
    originator: str = ""
    supplemental: str = ""


class RequestError(NamedTuple):
    """An AAA segment: why a request (or part of it) could not be answered."""

    loop: str  # where it was found: 2000A, 2100A, 2100B, 2100C, 2110C, 2100D, 2110D
    valid: str  # AAA01: Y the request was valid, N it was not
    reason: str  # AAA03: reject reason code
    follow_up: str = ""  # AAA04: follow-up action code
    party: Party | None = None  # the party of the level it concerns (payer, provider, member)

    @property
    def meaning(self) -> str:
        return REJECT_REASON.get(self.reason, f"reject reason {self.reason}")

    @property
    def follow_up_meaning(self) -> str:
        return FOLLOW_UP_ACTION.get(self.follow_up, self.follow_up)


class ServiceInquiry(NamedTuple):
    """An EQ loop (2110C/2110D): what kind of benefit is asked about."""

    service_types: tuple[str, ...] = ()  # EQ01 repetitions
    procedure: Procedure | None = None  # EQ02
    coverage_level: str = ""  # EQ03
    diagnosis_pointers: tuple[str, ...] = ()  # EQ05 components
    amounts: tuple[QualifiedAmount, ...] = ()  # AMT*R spend down, AMT*PB billed
    facility: tuple[str, ...] = ()  # III elements (place of service)
    references: tuple[Reference, ...] = ()  # REF*9F referral, REF*G1 prior authorization
    dates: tuple[QualifiedDate, ...] = ()  # DTP*291


class Benefit(NamedTuple):
    """An EB loop (2110C/2110D) of a 271: one fact about the member's coverage or benefits."""

    information: str  # EB01: 1 active, 6 inactive, A co-insurance, B co-payment, C deductible, ...
    coverage_level: str = ""  # EB02
    service_types: tuple[str, ...] = ()  # EB03 repetitions
    insurance_type: str = ""  # EB04: HM HMO, PR PPO, MA Medicare part A, ...
    plan_description: str = ""  # EB05
    time_period: str = ""  # EB06: 23 calendar year, 27 visit, 29 remaining, ...
    amount: Decimal | None = None  # EB07
    percent: Decimal | None = None  # EB08: 0.2 means 20 %
    quantity_qualifier: str = ""  # EB09
    quantity: Decimal | None = None  # EB10
    authorization_required: str = ""  # EB11: Y, N, U
    in_network: str = ""  # EB12: Y in plan network, N out of network, W not applicable, U unknown
    procedure: Procedure | None = None  # EB13
    diagnosis_pointers: tuple[str, ...] = ()  # EB14 components
    deliveries: tuple[tuple[str, ...], ...] = ()  # HSD elements, as sent
    references: tuple[Reference, ...] = ()
    dates: tuple[QualifiedDate, ...] = ()  # DTP
    errors: tuple[RequestError, ...] = ()  # AAA in 2110
    messages: tuple[str, ...] = ()  # MSG01
    additional: tuple[tuple[str, ...], ...] = ()  # III elements (2115), as sent
    entities: tuple[Party, ...] = ()  # LS/LE 2120 benefit related entities (PCP, other payer...)

    @property
    def meaning(self) -> str:
        return BENEFIT_INFORMATION.get(self.information, f"benefit information {self.information}")

    @property
    def active(self) -> bool:
        return self.information in ACTIVE_CODES

    @property
    def inactive(self) -> bool:
        return self.information in INACTIVE_CODES

    def covers(self, service_type: str) -> bool:
        """True when this benefit names the service type, or names none at all (applies to every one)."""
        return not self.service_types or service_type in self.service_types


class MemberInquiry(NamedTuple):
    """A 270 request about one subscriber or dependent."""

    payer: Party  # information source (2100A)
    provider: Party  # information receiver (2100B)
    subscriber: Party  # 2100C
    dependent: Party | None = None  # 2100D; None when the subscriber is the patient
    traces: tuple[Trace, ...] = ()
    provider_code: str = ""  # 2100B PRV01: BI billing, PE performing, ...
    insured: tuple[str, ...] = ()  # INS elements of the patient level, as sent
    diagnoses: tuple[tuple[str, str], ...] = ()  # HI (qualifier, code)
    dates: tuple[QualifiedDate, ...] = ()  # DTP*291 plan date, 307, 472, ...
    services: tuple[ServiceInquiry, ...] = ()

    @property
    def patient(self) -> Party:
        return self.dependent or self.subscriber

    @property
    def service_types(self) -> tuple[str, ...]:
        """Every service type asked about, in order, without repeats."""
        return tuple(dict.fromkeys(code for service in self.services for code in service.service_types))


class EligibilityInquiry(NamedTuple):
    """One 270 transaction set."""

    control_number: str
    members: tuple[MemberInquiry, ...] = ()
    purpose: str = "13"  # BHT02: 13 request
    reference: str = ""  # BHT03: echoed in the 271
    created: date | None = None  # BHT04
    created_time: str = ""  # BHT05
    transaction_type: str = ""  # BHT06: RT real time (270 only)
    implementation: str = "005010X279A1"


class MemberEligibility(NamedTuple):
    """A 271 answer about one subscriber or dependent."""

    payer: Party
    provider: Party
    subscriber: Party
    dependent: Party | None = None
    traces: tuple[Trace, ...] = ()
    provider_code: str = ""
    insured: tuple[str, ...] = ()  # INS elements of the patient level (INS*N*19: dependent is a child)
    diagnoses: tuple[tuple[str, str], ...] = ()
    dates: tuple[QualifiedDate, ...] = ()  # DTP*346 plan begin, 356 eligibility begin, ...
    military: tuple[str, ...] = ()  # MPI elements, as sent
    errors: tuple[RequestError, ...] = ()  # AAA in 2100C/2100D
    benefits: tuple[Benefit, ...] = ()

    @property
    def patient(self) -> Party:
        return self.dependent or self.subscriber

    @property
    def all_errors(self) -> tuple[RequestError, ...]:
        return self.errors + tuple(error for benefit in self.benefits for error in benefit.errors)


class EligibilityResponse(NamedTuple):
    """One 271 transaction set."""

    control_number: str
    members: tuple[MemberEligibility, ...] = ()
    errors: tuple[RequestError, ...] = ()  # AAA at the information source and receiver levels
    purpose: str = "11"  # BHT02: 11 response
    reference: str = ""  # BHT03
    created: date | None = None
    created_time: str = ""
    transaction_type: str = ""
    implementation: str = "005010X279A1"

    @property
    def all_errors(self) -> tuple[RequestError, ...]:
        """Every AAA of the transaction, source and receiver levels first."""
        return self.errors + tuple(error for member in self.members for error in member.all_errors)


def _window(dates: tuple[QualifiedDate, ...]) -> tuple[bool, date | None, date | None]:
    """(any coverage date given, first covered day, last covered day) from DTP qualifiers."""
    begin: date | None = None
    end: date | None = None
    found = False
    for item in dates:
        if item.qualifier in BEGIN_QUALIFIERS:
            found, begin = True, max(begin, item.value) if begin else item.value
        elif item.qualifier in END_QUALIFIERS:
            found, end = True, min(end, item.value) if end else item.value
        elif item.qualifier in PERIOD_QUALIFIERS and item.end is not None:
            found = True
            begin = max(begin, item.value) if begin else item.value
            end = min(end, item.end) if end else item.end
    return found, begin, end


def _in_effect(benefit: Benefit, member: MemberEligibility, day: date) -> bool:
    found, begin, end = _window(benefit.dates)
    if not found:  # the benefit has no dates of its own: the member's dates apply
        _, begin, end = _window(member.dates)
    return (begin is None or begin <= day) and (end is None or day <= end)


def coverage_on(member: MemberEligibility, day: date, service_type: str = HEALTH_BENEFIT_PLAN_COVERAGE) -> str:
    """"active", "inactive" or "unknown": the member's coverage for a service type on a day.

    An inactive benefit in effect wins over an active one (the conservative answer); an active
    benefit whose dates exclude the day counts as inactive; no active or inactive benefit for the
    service type, or only request errors, is "unknown".
    """
    statuses = [b for b in member.benefits if (b.active or b.inactive) and b.covers(service_type)]
    if not statuses:
        return "unknown"
    if any(b.inactive and _in_effect(b, member, day) for b in statuses):
        return "inactive"
    if any(b.active and _in_effect(b, member, day) for b in statuses):
        return "active"
    return "inactive"


def is_active_on(subject: EligibilityResponse | MemberEligibility, day: date,
                 service_type: str = HEALTH_BENEFIT_PLAN_COVERAGE) -> bool:
    """True when the member (or, for a whole 271, any member in it) has active coverage on ``day``."""
    members = subject.members if isinstance(subject, EligibilityResponse) else (subject,)
    return any(coverage_on(member, day, service_type) == "active" for member in members)


class EligibilitySummary(NamedTuple):
    """What a 271 says about one member, reduced to what billing acts on (stored per patient and payer)."""

    status: str  # "active", "inactive" or "unknown" for health benefit plan coverage (service type 30)
    plan_begin: date | None = None
    plan_end: date | None = None
    copay: Decimal | None = None  # EB*B
    coinsurance: Decimal | None = None  # EB*A percent (0.2 = 20 %)
    deductible_remaining: Decimal | None = None  # EB*C with time period 29 (remaining)
    out_of_pocket_remaining: Decimal | None = None  # EB*G with time period 29
    reject_reasons: tuple[str, ...] = ()  # AAA03 codes

    def active_on(self, day: date) -> bool | None:
        """True or False on a date of service; None when the payer did not say."""
        if self.status == "unknown":
            return None
        if self.status == "inactive":
            return False
        return (self.plan_begin is None or self.plan_begin <= day) and (self.plan_end is None or day <= self.plan_end)


PROFESSIONAL_OFFICE_VISIT = "98"


def _first_amount(member: MemberEligibility, information: str, *, remaining: bool = False,
                  percent: bool = False) -> Decimal | None:
    """The first in-network amount (or percent) of this kind for an office visit or the plan as a whole."""
    for benefit in member.benefits:
        if benefit.information != information or not (
                benefit.covers(HEALTH_BENEFIT_PLAN_COVERAGE) or benefit.covers(PROFESSIONAL_OFFICE_VISIT)):
            continue
        if remaining and benefit.time_period != "29":
            continue
        if benefit.in_network == "N":  # out-of-network amounts are not what the visit is billed under
            continue
        value = benefit.percent if percent else benefit.amount
        if value is not None:
            return value
    return None


def summarise_member(member: MemberEligibility) -> EligibilitySummary:
    """The member's coverage status and plan dates, copay, coinsurance and what remains of the deductible and
    out-of-pocket maximum (in-network, health benefit plan coverage)."""
    statuses = [b for b in member.benefits if (b.active or b.inactive) and b.covers(HEALTH_BENEFIT_PLAN_COVERAGE)]
    if any(b.inactive for b in statuses):
        status = "inactive"
    elif statuses:
        status = "active"
    else:
        status = "unknown"
    _, begin, end = _window(member.dates)
    for benefit in statuses:
        found, b_begin, b_end = _window(benefit.dates)
        if found and benefit.active:
            begin, end = b_begin or begin, b_end or end
    return EligibilitySummary(
        status, begin, end, _first_amount(member, "B"), _first_amount(member, "A", percent=True),
        _first_amount(member, "C", remaining=True), _first_amount(member, "G", remaining=True),
        tuple(error.reason for error in member.all_errors))
