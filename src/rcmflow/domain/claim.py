"""The canonical claim (X12 837 professional and institutional): claims, service lines, other payers.

One ``ClaimBatch`` is one 837 transaction set. The 837's hierarchy (billing provider HL 20 >
subscriber HL 22 > patient HL 23 > claims) is flattened: each ``Claim`` carries its billing
provider, subscriber, payer and patient, so a claim can be handled on its own. Writers rebuild the
hierarchy by grouping consecutive claims that share those parties.

Segments the canonical model does not interpret (ambulance CR1, chiropractic CR2, certifications
CRC/CR3, attachments PWK, contract CN1, repricing HCP, K3, MEA, PS1, SV5, forms LQ/FRM) are kept as
sent in ``extra_segments`` so that nothing read is ever lost and a writer can put it back.
"""

from __future__ import annotations

import datetime
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.codes import (
    ADMITTING_DIAGNOSIS_QUALIFIERS,
    EXTERNAL_CAUSE_QUALIFIERS,
    OTHER_DIAGNOSIS_QUALIFIERS,
    PRINCIPAL_DIAGNOSIS_QUALIFIERS,
    PROCEDURE_CODE_QUALIFIERS,
    REASON_FOR_VISIT_QUALIFIERS,
)
from rcmflow.domain.money import ZERO, total
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import Adjustment, Procedure, QualifiedAmount, QualifiedDate

__all__ = [
    "Adjustment", "Claim", "ClaimBatch", "Drug", "ExtraSegment", "HealthCareCode", "LineAdjudication", "Note",
    "OtherPayer", "Patient", "Procedure", "QualifiedAmount", "QualifiedDate", "ServiceLine", "Subscriber",
    "assign_line_control_numbers", "claim_charge_difference", "duplicate_line_control_numbers",
    "unique_line_control_numbers",
]

DIAGNOSIS_QUALIFIERS = (
    PRINCIPAL_DIAGNOSIS_QUALIFIERS | ADMITTING_DIAGNOSIS_QUALIFIERS | REASON_FOR_VISIT_QUALIFIERS
    | EXTERNAL_CAUSE_QUALIFIERS | OTHER_DIAGNOSIS_QUALIFIERS
)


class ExtraSegment(NamedTuple):
    """A segment kept as sent: its id and elements; a composite element is a tuple of its components."""

    id: str
    elements: tuple[str | tuple[str, ...], ...] = ()


class Note(NamedTuple):
    """NTE: note reference code (ADD, CER, DCP, TPO, ALG...) and text."""

    code: str
    text: str


class HealthCareCode(NamedTuple):
    """One HI composite: a diagnosis, procedure, occurrence, value or condition code with its date/amount.

    ``date_format`` is D8 (``date``) or RD8 (``date`` to ``end_date``); ``amount`` carries value codes
    (BE); ``present_on_admission`` is the POA indicator (Y, N, U, W, 1) of institutional diagnoses.
    """

    qualifier: str  # ABK/BK principal dx, ABF/BF other dx, ABJ admitting, APR reason, ABN external, BBR/BR...
    code: str
    date_format: str = ""
    date: datetime.date | None = None  # ``datetime.date``: the field name shadows ``date`` in this class
    amount: Decimal | None = None
    present_on_admission: str = ""
    end_date: datetime.date | None = None

    @property
    def is_diagnosis(self) -> bool:
        return self.qualifier in DIAGNOSIS_QUALIFIERS


class Subscriber(NamedTuple):
    """SBR and the insured (NM1*IL) of loop 2000B/2010BA, or of an other-payer loop 2320/2330A."""

    payer_responsibility: str  # SBR01: P primary, S secondary, T tertiary, A-H further payers
    relationship: str = ""  # SBR02: 18 self when the subscriber is the patient
    group_number: str = ""  # SBR03
    group_name: str = ""  # SBR04
    insurance_type: str = ""  # SBR05 (Medicare secondary payer type, e.g. 12)
    filing_indicator: str = ""  # SBR09: MB, MA, CI, BL, HM, 12...
    party: Party = Party("IL")
    # PAT05-PAT09 sent in 2000B when the subscriber is the patient.
    death_date: date | None = None
    weight_unit: str = ""
    weight: Decimal | None = None
    pregnancy_indicator: str = ""


class Patient(NamedTuple):
    """The patient (2000C PAT, 2010CA NM1*QC) when the patient is not the subscriber."""

    relationship: str  # PAT01 individual relationship code: 01 spouse, 19 child, 20 employee, G8 other...
    party: Party = Party("QC")
    death_date: date | None = None
    weight_unit: str = ""
    weight: Decimal | None = None
    pregnancy_indicator: str = ""


class OtherPayer(NamedTuple):
    """One 2320 loop: another payer of this claim, what it paid and adjusted (COB)."""

    subscriber: Subscriber  # SBR of 2320 and the other insured (2330A NM1*IL)
    payer: Party = Party("PR")  # 2330B, its REFs (payer claim control number F8, prior auth G1...)
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    amounts: tuple[QualifiedAmount, ...] = ()  # AMT D payer paid, A8 non-covered, EAF remaining patient liability
    benefits_assignment: str = ""  # OI03
    patient_signature_source: str = ""  # OI04
    release_of_information: str = ""  # OI06
    inpatient: tuple[str, ...] = ()  # MIA elements as sent (institutional)
    outpatient: tuple[str, ...] = ()  # MOA elements as sent
    adjudication_date: date | None = None  # 2330B DTP*573
    providers: tuple[Party, ...] = ()  # 2330C.. other payer provider identifiers

    def amount(self, qualifier: str) -> Decimal | None:
        """The AMT value with this qualifier, if any."""
        for item in self.amounts:
            if item.qualifier == qualifier:
                return item.value
        return None

    @property
    def paid(self) -> Decimal | None:
        """What this payer paid on the claim (AMT*D)."""
        return self.amount("D")


class Drug(NamedTuple):
    """Loop 2410: the drug of a service line (LIN NDC, CTP quantity and unit, REF prescription/link)."""

    qualifier: str  # LIN02: N4 (NDC 5-4-2), EN, EO, HI, ON, UK, UP
    code: str  # LIN03
    quantity: Decimal | None = None  # CTP04
    unit: str = ""  # CTP05-1: F2 international unit, GR, ME, ML, UN
    references: tuple[Reference, ...] = ()  # REF XZ prescription number, VY link sequence number


class LineAdjudication(NamedTuple):
    """Loop 2430: how another payer adjudicated this line (SVD, CAS, DTP*573, AMT*EAF)."""

    payer_id: str  # SVD01: the other payer's id (as in 2330B NM109)
    paid: Decimal  # SVD02
    procedure: Procedure | None = None  # SVD03
    revenue_code: str = ""  # SVD04 (institutional)
    units: Decimal | None = None  # SVD05
    bundled_line_number: str = ""  # SVD06: the LX this line was bundled into
    adjustments: tuple[Adjustment, ...] = ()
    dates: tuple[QualifiedDate, ...] = ()  # DTP*573 adjudication or payment date
    amounts: tuple[QualifiedAmount, ...] = ()  # AMT*EAF remaining patient liability

    @property
    def adjudication_date(self) -> date | None:
        for item in self.dates:
            if item.qualifier == "573":
                return item.value
        return None


class ServiceLine(NamedTuple):
    """Loop 2400: one billed service (SV1 professional, SV2 institutional) with its loops."""

    line_number: int  # LX01
    charge: Decimal  # SV102 / SV203
    procedure: Procedure | None = None  # SV101 / SV202 (None for a revenue-code-only SV2)
    revenue_code: str = ""  # SV201
    unit_basis: str = ""  # SV103 / SV204: UN unit, MJ minutes, DA days
    units: Decimal | None = None  # SV104 / SV205
    place_of_service: str = ""  # SV105
    diagnosis_pointers: tuple[str, ...] = ()  # SV107 composite: positions in the claim's diagnoses
    emergency: str = ""  # SV109
    epsdt: str = ""  # SV111
    family_planning: str = ""  # SV112
    copay_status: str = ""  # SV115
    unit_rate: Decimal | None = None  # SV206
    non_covered_charge: Decimal | None = None  # SV207
    dates: tuple[QualifiedDate, ...] = ()  # DTP 472 service date (D8 or RD8), 471 prescription...
    line_item_control_number: str = ""  # REF*6R, echoed back by payers in the 835 SVC loop
    references: tuple[Reference, ...] = ()
    amounts: tuple[QualifiedAmount, ...] = ()  # AMT T sales tax, F4 postage, GT/N8 institutional taxes
    quantities: tuple[QualifiedAmount, ...] = ()  # QTY PT/FL ambulance patient count, anesthesia units
    notes: tuple[Note, ...] = ()
    drug: Drug | None = None
    providers: tuple[Party, ...] = ()  # 2420: 82 rendering, DK ordering, DN referring, 77 facility...
    adjudications: tuple[LineAdjudication, ...] = ()
    extra_segments: tuple[ExtraSegment, ...] = ()

    @property
    def service_date(self) -> date | None:
        """The date of service (DTP*472, start of a range)."""
        for item in self.dates:
            if item.qualifier == "472":
                return item.value
        return None

    def amount(self, qualifier: str) -> Decimal | None:
        """The AMT value with this qualifier, if any."""
        for item in self.amounts:
            if item.qualifier == qualifier:
                return item.value
        return None


class Claim(NamedTuple):
    """Loop 2300: one claim with the parties of the HL levels above it."""

    claim_type: str  # codes.ClaimType: "P" professional, "I" institutional
    patient_control_number: str  # CLM01
    total_charge: Decimal  # CLM02
    facility_code: str = ""  # CLM05-1: place of service (P) or facility type (I)
    facility_qualifier: str = ""  # CLM05-2: B place of service, A UB bill type
    frequency: str = ""  # CLM05-3: 1 original, 7 replacement, 8 void
    provider_signature: str = ""  # CLM06
    assignment: str = ""  # CLM07 provider accepts assignment: A, B, C
    benefits_assignment: str = ""  # CLM08: Y, N, W
    release_of_information: str = ""  # CLM09: I, Y
    patient_signature_source: str = ""  # CLM10
    related_causes: tuple[str, ...] = ()  # CLM11-1..3: AA auto accident, EM employment, OA other accident
    accident_state: str = ""  # CLM11-4
    accident_country: str = ""  # CLM11-5
    special_program: str = ""  # CLM12
    delay_reason: str = ""  # CLM20
    billing_provider: Party = Party("85")  # 2010AA with PRV*BI taxonomy and REF*EI tax id
    pay_to: Party | None = None  # 2010AB
    pay_to_plan: Party | None = None  # 2010AC
    currency: str = ""  # 2000A CUR02
    subscriber: Subscriber = Subscriber("P")
    payer: Party = Party("PR")  # 2010BB
    patient: Patient | None = None  # 2000C; None when the subscriber is the patient
    dates: tuple[QualifiedDate, ...] = ()  # DTP 431 onset, 434 statement, 435 admission, 439 accident...
    discharge_hour: str = ""  # DTP*096*TM (institutional)
    admission_type: str = ""  # CL101
    admission_source: str = ""  # CL102
    patient_status: str = ""  # CL103
    references: tuple[Reference, ...] = ()  # REF G1, 9F, F8, EA, D9, 9A...
    amounts: tuple[QualifiedAmount, ...] = ()  # AMT F5 patient paid (P), F3 patient estimated due (I)
    notes: tuple[Note, ...] = ()
    health_care_codes: tuple[HealthCareCode, ...] = ()  # every HI composite, in order
    providers: tuple[Party, ...] = ()  # 2310 loops: DN, P3, 82, 77, DQ, PW, 45 (P); 71, 72, ZZ, 82, 77, DN (I)
    other_payers: tuple[OtherPayer, ...] = ()
    service_lines: tuple[ServiceLine, ...] = ()
    extra_segments: tuple[ExtraSegment, ...] = ()

    def reference(self, qualifier: str) -> str | None:
        """The first claim-level REF value with this qualifier, if any."""
        for ref in self.references:
            if ref.qualifier == qualifier:
                return ref.value
        return None

    def amount(self, qualifier: str) -> Decimal | None:
        """The claim-level AMT value with this qualifier, if any."""
        for item in self.amounts:
            if item.qualifier == qualifier:
                return item.value
        return None

    def date(self, qualifier: str) -> QualifiedDate | None:
        """The claim-level DTP with this qualifier, if any."""
        for item in self.dates:
            if item.qualifier == qualifier:
                return item
        return None

    def provider(self, role: str) -> Party | None:
        """The claim-level provider with this entity code (82 rendering, 71 attending, DN referring...)."""
        for party in self.providers:
            if party.role == role:
                return party
        return None

    def codes(self, qualifiers: frozenset[str]) -> tuple[HealthCareCode, ...]:
        """The HI codes whose qualifier is one of ``qualifiers``, in order."""
        return tuple(code for code in self.health_care_codes if code.qualifier in qualifiers)

    @property
    def diagnoses(self) -> tuple[HealthCareCode, ...]:
        """Diagnosis codes in order; SV107 pointers (1-based) index into them."""
        return self.codes(DIAGNOSIS_QUALIFIERS)

    @property
    def principal_diagnosis(self) -> HealthCareCode | None:
        for code in self.health_care_codes:
            if code.qualifier in PRINCIPAL_DIAGNOSIS_QUALIFIERS:
                return code
        return None

    @property
    def procedures(self) -> tuple[HealthCareCode, ...]:
        """Institutional ICD procedure codes (principal BBR/BR first as sent, then others)."""
        return self.codes(PROCEDURE_CODE_QUALIFIERS)

    @property
    def prior_authorization(self) -> str | None:
        return self.reference("G1")

    @property
    def referral_number(self) -> str | None:
        return self.reference("9F")

    @property
    def payer_claim_control_number(self) -> str | None:
        """The payer's number of the claim a replacement (7) or void (8) refers to (REF*F8)."""
        return self.reference("F8")

    @property
    def medical_record_number(self) -> str | None:
        return self.reference("EA")

    @property
    def line_charge_total(self) -> Decimal:
        return total(line.charge for line in self.service_lines)

    def diagnosis_for_pointer(self, pointer: str) -> HealthCareCode | None:
        """The diagnosis an SV107 pointer ("1".."12") designates, if it exists."""
        diagnoses = self.diagnoses
        if pointer.isdigit() and 1 <= int(pointer) <= len(diagnoses):
            return diagnoses[int(pointer) - 1]
        return None


class ClaimBatch(NamedTuple):
    """One 837 transaction set: BHT, submitter (1000A), receiver (1000B) and its claims."""

    control_number: str  # ST02
    claim_type: str  # "P" or "I"
    implementation: str  # ST03 as read (005010X222A1, 005010X223A2...)
    purpose: str  # BHT02: 00 original, 18 reissue
    reference: str  # BHT03: originator's batch id
    created: date | None  # BHT04
    created_time: str = ""  # BHT05 as sent (HHMM[SS[dd]])
    transaction_type: str = ""  # BHT06: CH chargeable, RP reporting (encounters)
    submitter: Party = Party("41")
    receiver: Party = Party("40")
    claims: tuple[Claim, ...] = ()

    @property
    def total_charge(self) -> Decimal:
        return total(claim.total_charge for claim in self.claims)

    @property
    def service_line_count(self) -> int:
        return sum(len(claim.service_lines) for claim in self.claims)


def claim_charge_difference(claim: Claim) -> Decimal:
    """CLM02 minus the sum of line charges; zero when the claim total matches its lines."""
    return claim.total_charge - claim.line_charge_total


def duplicate_line_control_numbers(claim: Claim) -> tuple[str, ...]:
    """Line item control numbers (REF*6R) used by more than one line of the claim, sorted."""
    counts = Counter(line.line_item_control_number for line in claim.service_lines if line.line_item_control_number)
    return tuple(sorted(number for number, count in counts.items() if count > 1))


def unique_line_control_numbers(claim: Claim) -> bool:
    """True when every line has a line item control number and no two lines share one.

    Payers echo REF*6R in the 835 (SVC loop REF*6R); only unique numbers let a payment be posted to
    the right line.
    """
    return all(line.line_item_control_number for line in claim.service_lines) and not (
        duplicate_line_control_numbers(claim)
    )


def assign_line_control_numbers(claim: Claim) -> Claim:
    """The claim with a line item control number on every line: kept where present, else
    "<patient control number>-<line number>" (with a suffix if that is already taken)."""
    if all(line.line_item_control_number for line in claim.service_lines):
        return claim
    taken = {line.line_item_control_number for line in claim.service_lines}
    lines = []
    for line in claim.service_lines:
        if not line.line_item_control_number:
            base = f"{claim.patient_control_number}-{line.line_number}"
            number, suffix = base, 1
            while number in taken:
                suffix += 1
                number = f"{base}-{suffix}"
            taken.add(number)
            line = line._replace(line_item_control_number=number)
        lines.append(line)
    return claim._replace(service_lines=tuple(lines))


def paid_by_other_payers(claim: Claim) -> Decimal:
    """Sum of AMT*D over the claim's other payers (what earlier payers paid)."""
    result = ZERO
    for other in claim.other_payers:
        paid = other.paid
        if paid is not None:
            result += paid
    return result
