"""Claim status: the 276 inquiry, and the 277 / 277CA answers flattened to one record per claim.

The X12 hierarchy (information source, receiver, provider, subscriber, dependent) is a means of
transport: a billing team asks "what happened to claim X", so every ``ClaimStatus`` carries its
parties and its own status entries. Statuses a payer reports above the claim (a whole batch
rejected for a bad submitter id, a provider not on file) are ``LevelStatus`` records, kept apart
because a 277CA rejects at those levels too.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedAmount, QualifiedDate

# STC01-1: health care claim status category codes (X12 code list 507).
STATUS_CATEGORY = {
    "A0": "Acknowledgement/Forwarded",
    "A1": "Acknowledgement/Receipt",
    "A2": "Acknowledgement/Acceptance into adjudication system",
    "A3": "Acknowledgement/Returned as unprocessable claim",
    "A4": "Acknowledgement/Not found",
    "A5": "Acknowledgement/Split claim",
    "A6": "Acknowledgement/Rejected for missing information",
    "A7": "Acknowledgement/Rejected for invalid information",
    "A8": "Acknowledgement/Rejected for relational field in error",
    "D0": "Data reporting acknowledgement",
    "DR01": "Data reporting/Acknowledgement",
    "E0": "Response not possible - error on submitted request data",
    "E1": "Response not possible - system status",
    "E2": "Information holder is not responding; resubmit at a later time",
    "E3": "Correction required - relational fields in error",
    "E4": "Trading partner agreement specific requirement not met",
    "F0": "Finalized",
    "F1": "Finalized/Payment - the claim/line has been paid",
    "F2": "Finalized/Denial - the claim/line has been denied",
    "F3": "Finalized/Revised - adjudication information has been changed",
    "F3F": "Finalized/Forwarded - processing complete, forwarded to another entity",
    "F3N": "Finalized/Not forwarded - processing complete, not forwarded",
    "F4": "Finalized/Adjudication complete - no payment forthcoming",
    "P0": "Pending: adjudication/details",
    "P1": "Pending/In process",
    "P2": "Pending/Payer review",
    "P3": "Pending/Provider requested information",
    "P4": "Pending/Patient requested information",
    "P5": "Pending/Payer administrative/system hold",
    "R0": "Requests for additional information/General requests",
    "R1": "Requests for additional information/Entity requests",
    "R3": "Requests for additional information/Claim/line",
    "R4": "Requests for additional information/Documentation requests",
    "R5": "Request for additional information/More specific detail",
    "R6": "Requests for additional information/Regulatory requirements",
    "R7": "Requests for additional information/Confirm care is consistent with health plan policy",
    "R8": "Requests for additional information/Confirm care is consistent with practice guidelines",
    "R9": "Requests for additional information/Authorization/certification",
    "R10": "Requests for additional information/Investigation",
    "R11": "Requests for additional information/Liability",
    "R12": "Requests for additional information/Related to other payer",
    "R13": "Requests for additional information/General information",
    "R14": "Requests for additional information/Legal",
    "R15": "Requests for additional information/Trading partner",
    "R16": "Requests for additional information/Supplemental information",
}
REJECTED_CATEGORIES = frozenset({"A3", "A6", "A7", "A8", "E0", "E3", "E4"})
ACCEPTED_CATEGORIES = frozenset({"A1", "A2", "A5"})
PENDING_PREFIX = "P"
FINALIZED_PREFIX = "F"


class Status(NamedTuple):
    """One health care claim status composite (STC01, STC10 or STC11)."""

    category: str  # -1: category code (A2, F1, P3, ...)
    code: str = ""  # -2: status code (code list 508)
    entity: str = ""  # -3: entity identifier the status concerns (QC patient, 85 billing provider...)
    code_list: str = ""  # -4: code list qualifier (RX: NCPDP reject/payment codes)

    @property
    def category_meaning(self) -> str:
        return STATUS_CATEGORY.get(self.category, f"status category {self.category}")


class StatusEntry(NamedTuple):
    """One STC segment: up to three statuses with their date, action and amounts."""

    statuses: tuple[Status, ...]  # STC01, then STC10 and STC11 when sent
    effective_date: date | None = None  # STC02
    action: str = ""  # STC03: 277CA WQ accept, U reject
    charge: Decimal | None = None  # STC04: total claim (or line) charge
    paid: Decimal | None = None  # STC05: claim payment amount
    adjudication_date: date | None = None  # STC06
    payment_method: str = ""  # STC07
    check_date: date | None = None  # STC08
    check_number: str = ""  # STC09: check or EFT trace number
    message: str = ""  # STC12: free-form message text

    @property
    def category(self) -> str:
        return self.statuses[0].category if self.statuses else ""

    @property
    def rejected(self) -> bool:
        """The payer or clearinghouse refused the claim or request (A3/A6/A7/A8, E0/E3/E4, STC03 U)."""
        return self.action == "U" or any(s.category in REJECTED_CATEGORIES for s in self.statuses)

    @property
    def accepted(self) -> bool:
        """Receipt or acceptance into adjudication, without a rejection beside it."""
        return not self.rejected and any(s.category in ACCEPTED_CATEGORIES for s in self.statuses)

    @property
    def finalized(self) -> bool:
        return self.category.startswith(FINALIZED_PREFIX)

    @property
    def pending(self) -> bool:
        return self.category.startswith(PENDING_PREFIX)


class ServiceLineStatus(NamedTuple):
    """One service line in a 276 (2210) or 277 (2220): the line and, in a 277, its statuses."""

    procedure: Procedure
    charge: Decimal
    paid: Decimal | None = None  # SVC03 (277 only)
    revenue_code: str = ""  # SVC04
    units: Decimal | None = None  # SVC07
    statuses: tuple[StatusEntry, ...] = ()
    line_item_control_number: str = ""  # REF*FJ
    references: tuple[Reference, ...] = ()  # other REFs on the line
    dates: tuple[QualifiedDate, ...] = ()  # DTP*472

    @property
    def service_date(self) -> date | None:
        return self.dates[0].value if self.dates else None


class ClaimStatus(NamedTuple):
    """The status of one claim (277 / 277CA loop 2200D or 2200E) with every party above it."""

    patient_control_number: str  # TRN02: the submitter's claim id (CLM01)
    statuses: tuple[StatusEntry, ...] = ()
    payer_claim_control_number: str = ""  # REF*1K
    payer: Party | None = None  # information source (2100A)
    receiver: Party | None = None  # information receiver (2100B)
    provider: Party | None = None  # billing / service provider (2100C)
    subscriber: Party | None = None  # 2100D (277); None in a 277CA
    patient: Party | None = None  # dependent (277 2100E) or patient (277CA 2100D); None when subscriber
    references: tuple[Reference, ...] = ()  # every claim-level REF except 1K (BLT, EJ, D9, XZ, ...)
    dates: tuple[QualifiedDate, ...] = ()  # DTP*472 claim service date or period
    lines: tuple[ServiceLineStatus, ...] = ()
    trace_type: str = "2"  # TRN01

    @property
    def member(self) -> Party | None:
        """The person the claim is for: the dependent or patient when named, else the subscriber."""
        return self.patient or self.subscriber

    @property
    def service_period(self) -> tuple[date, date | None] | None:
        """(first, last) date of service from DTP*472; last is None for a single day."""
        for item in self.dates:
            if item.qualifier == "472":
                return item.value, item.end
        return None

    @property
    def charge(self) -> Decimal | None:
        """Total claim charge (STC04 of the first entry that has one)."""
        return next((entry.charge for entry in self.statuses if entry.charge is not None), None)

    @property
    def paid(self) -> Decimal | None:
        """Claim payment amount (STC05 of the first entry that has one)."""
        return next((entry.paid for entry in self.statuses if entry.paid is not None), None)

    @property
    def rejected(self) -> bool:
        return any(entry.rejected for entry in self.statuses)

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and not self.rejected and any(entry.accepted for entry in self.statuses)

    def reference(self, qualifier: str) -> str | None:
        """The first claim-level REF with this qualifier."""
        for ref in self.references:
            if ref.qualifier == qualifier:
                return ref.value
        return None


class LevelStatus(NamedTuple):
    """A status above the claims: the information receiver (2200B) or provider (2200C) level."""

    level: str  # HL03: 20 information source, 21 information receiver, 19 provider
    party: Party | None
    trace_number: str = ""  # TRN02
    statuses: tuple[StatusEntry, ...] = ()
    references: tuple[Reference, ...] = ()
    dates: tuple[QualifiedDate, ...] = ()  # 277CA 2200A DTP*050 received, *009 processed
    quantities: tuple[QualifiedAmount, ...] = ()  # 277CA QTY*90 accepted, *AA rejected
    amounts: tuple[QualifiedAmount, ...] = ()  # 277CA AMT*YU accepted, *YY rejected
    payer: Party | None = None  # the information source above this level
    trace_type: str = ""  # TRN01

    @property
    def rejected(self) -> bool:
        return any(entry.rejected for entry in self.statuses)


class ClaimStatusResponse(NamedTuple):
    """One 277 (005010X212) or 277CA (005010X214) transaction set."""

    control_number: str
    implementation: str  # 005010X212 or 005010X214
    purpose: str = ""  # BHT02: 08 status, 06 confirmation
    reference: str = ""  # BHT03
    created: date | None = None  # BHT04
    created_time: str = ""  # BHT05
    transaction_type: str = ""  # BHT06: DG response, TH receipt acknowledgment
    levels: tuple[LevelStatus, ...] = ()
    claims: tuple[ClaimStatus, ...] = ()

    @property
    def is_claim_acknowledgment(self) -> bool:
        return self.implementation.startswith("005010X214")

    @property
    def rejected_claims(self) -> tuple[ClaimStatus, ...]:
        return tuple(claim for claim in self.claims if claim.rejected)

    @property
    def accepted_claims(self) -> tuple[ClaimStatus, ...]:
        return tuple(claim for claim in self.claims if claim.accepted)

    def claim(self, patient_control_number: str) -> ClaimStatus | None:
        """The status of the claim with this patient control number (TRN02), if present."""
        for claim in self.claims:
            if claim.patient_control_number == patient_control_number:
                return claim
        return None


class ClaimInquiry(NamedTuple):
    """One claim asked about in a 276 (loop 2200D or 2200E) with every party above it."""

    trace_number: str  # TRN02: the inquirer's trace, echoed in the 277
    payer: Party
    receiver: Party
    provider: Party
    subscriber: Party
    patient: Party | None = None  # the dependent (2100E); None when the subscriber is the patient
    payer_claim_control_number: str = ""  # REF*1K
    references: tuple[Reference, ...] = ()  # BLT bill type, EJ patient account, XZ Rx number, D9, ...
    charge: Decimal | None = None  # AMT*T3
    dates: tuple[QualifiedDate, ...] = ()  # DTP*472 service date or period
    lines: tuple[ServiceLineStatus, ...] = ()

    @property
    def member(self) -> Party:
        return self.patient or self.subscriber

    @property
    def patient_account_number(self) -> str | None:
        """REF*EJ: the provider's patient control number (CLM01)."""
        for ref in self.references:
            if ref.qualifier == "EJ":
                return ref.value
        return None

    @property
    def service_period(self) -> tuple[date, date | None] | None:
        for item in self.dates:
            if item.qualifier == "472":
                return item.value, item.end
        return None


class ClaimStatusRequest(NamedTuple):
    """One 276 (005010X212) transaction set: the claims a provider asks about."""

    control_number: str
    claims: tuple[ClaimInquiry, ...] = ()
    purpose: str = "13"  # BHT02: 13 request
    reference: str = ""  # BHT03: echoed by the 277
    created: date | None = None  # BHT04
    created_time: str = ""  # BHT05
    implementation: str = "005010X212"
