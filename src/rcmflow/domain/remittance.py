"""The canonical remittance (X12 835): claim payments, service payments, adjustments, remarks.

The balancing rules of the 835 live here as plain functions over these records:
service line  charge - adjustments = paid             (SVC02 - CAS = SVC03)
claim         charge - all adjustments = paid         (CLP03 - CAS = CLP04)
remittance    payment = claim payments - PLB amounts  (BPR02 = sum CLP04 - sum PLB)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.money import total
from rcmflow.domain.parties import Contact, Party, Reference


class Adjustment(NamedTuple):
    """One CAS triplet: group (CO/PR/OA/PI/CR), claim adjustment reason code, amount, quantity."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


class Remark(NamedTuple):
    """A remittance advice remark (RARC) from LQ, MIA or MOA; qualifier HE (RARC) or RX (NCPDP)."""

    code: str
    qualifier: str = "HE"


class QualifiedAmount(NamedTuple):
    """AMT or QTY: qualifier and value."""

    qualifier: str
    value: Decimal


class QualifiedDate(NamedTuple):
    """DTM/DTP: qualifier and date (end date for a period, time for a DTP date-time "DT")."""

    qualifier: str
    value: date
    end: date | None = None
    time: str = ""  # HHMM when the date was sent with its time (DTP format DT), else ""


class Procedure(NamedTuple):
    """A composite procedure identifier: qualifier (HC, NU, ...), code, modifiers, description."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...] = ()
    description: str = ""


class ServicePayment(NamedTuple):
    """One SVC loop (2110): what the payer did with one billed service line."""

    procedure: Procedure
    charge: Decimal
    paid: Decimal
    revenue_code: str = ""
    units_paid: Decimal | None = None
    original_procedure: Procedure | None = None
    original_units: Decimal | None = None
    dates: tuple[QualifiedDate, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    line_item_control_number: str = ""
    references: tuple[Reference, ...] = ()
    amounts: tuple[QualifiedAmount, ...] = ()
    quantities: tuple[QualifiedAmount, ...] = ()
    remarks: tuple[Remark, ...] = ()

    def amount(self, qualifier: str) -> Decimal | None:
        """The AMT value with this qualifier (B6 = allowed), if any."""
        for item in self.amounts:
            if item.qualifier == qualifier:
                return item.value
        return None

    @property
    def service_date(self) -> date | None:
        """The line's date of service (DTM*472, or the start of 150/151)."""
        for item in self.dates:
            if item.qualifier in ("472", "150"):
                return item.value
        return None


class ClaimPayment(NamedTuple):
    """One CLP loop (2100): the payer's adjudication of one claim."""

    patient_control_number: str
    status: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal | None = None
    filing_indicator: str = ""
    payer_claim_control_number: str = ""
    facility_type: str = ""
    frequency: str = ""
    drg_code: str = ""
    drg_weight: Decimal | None = None
    discharge_fraction: Decimal | None = None
    group_number: str = ""  # LX01 of the header group the claim sits in
    entities: tuple[Party, ...] = ()  # NM1 QC, IL, 74, 82, TT, PR, GB
    inpatient: tuple[str, ...] = ()  # MIA elements, as sent
    outpatient: tuple[str, ...] = ()  # MOA elements, as sent
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[Remark, ...] = ()
    references: tuple[Reference, ...] = ()
    dates: tuple[QualifiedDate, ...] = ()
    contacts: tuple[Contact, ...] = ()
    amounts: tuple[QualifiedAmount, ...] = ()
    quantities: tuple[QualifiedAmount, ...] = ()
    service_payments: tuple[ServicePayment, ...] = ()

    def entity(self, role: str) -> Party | None:
        """The NM1 party with this role (QC patient, IL insured, 82 rendering, TT crossover...)."""
        for party in self.entities:
            if party.role == role:
                return party
        return None

    @property
    def is_reversal(self) -> bool:
        return self.status == "22"


class ProviderAdjustment(NamedTuple):
    """One PLB composite: a provider-level adjustment not tied to a claim (WO, L6, FB, 72, CS, J1...)."""

    provider_id: str
    fiscal_period_date: date
    reason: str
    reference: str
    amount: Decimal


class ClaimGroup(NamedTuple):
    """An LX header group with its optional provider summaries (TS3, TS2), kept as sent."""

    number: str
    provider_summary: tuple[str, ...] = ()
    supplemental_summary: tuple[str, ...] = ()


class Remittance(NamedTuple):
    """One 835 transaction set: the payment (BPR/TRN), the parties, the claims and PLB adjustments."""

    control_number: str
    transaction_handling: str
    payment_amount: Decimal
    credit_debit: str
    payment_method: str
    payment_date: date | None
    trace_type: str
    trace_number: str
    originator_id: str = ""
    originator_supplemental: str = ""
    payment_format: str = ""
    sender_bank: tuple[str, ...] = ()  # BPR06-BPR11 as sent
    receiver_bank: tuple[str, ...] = ()  # BPR12-BPR15 as sent
    receiver_id: str = ""  # REF*EV
    version_id: str = ""  # REF*F2
    production_date: date | None = None  # DTM*405
    payer: Party | None = None
    payee: Party | None = None
    groups: tuple[ClaimGroup, ...] = ()
    claims: tuple[ClaimPayment, ...] = ()
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()

    @property
    def claim_payment_total(self) -> Decimal:
        return total(claim.paid for claim in self.claims)

    @property
    def provider_adjustment_total(self) -> Decimal:
        return total(plb.amount for plb in self.provider_adjustments)

    @property
    def service_line_count(self) -> int:
        return sum(len(claim.service_payments) for claim in self.claims)



def service_imbalance(line: ServicePayment) -> Decimal:
    """SVC02 - CAS - SVC03; zero when the service line balances."""
    return line.charge - total(adj.amount for adj in line.adjustments) - line.paid


def claim_imbalance(claim: ClaimPayment) -> Decimal:
    """CLP03 - all CAS (claim and line level) - CLP04; zero when the claim balances."""
    adjusted = total(adj.amount for adj in claim.adjustments)
    for line in claim.service_payments:
        adjusted += total(adj.amount for adj in line.adjustments)
    return claim.charge - adjusted - claim.paid


def remittance_imbalance(remittance: Remittance) -> Decimal:
    """BPR02 - (sum CLP04 - sum PLB); zero when the transaction balances."""
    return remittance.payment_amount - (
        remittance.claim_payment_total - remittance.provider_adjustment_total
    )
