"""How each simulated payer behaves, as data: what it allows, what the patient owes, how often it rejects,
denies, pays late, reverses and recoups, how it pays and how its money reaches the bank.

Allowed amounts come from the payer contracts rcmflow checks variance against (``payer_contracts.yaml``),
so ordinary payments sit inside tolerance; ``underpayment_rate`` prices a few claims below contract on
purpose. ``default_percent`` prices a claim no contract covers. Rates are probabilities per claim (or per
line, per payment run, per deposit where said); amounts are exact decimals.

The demo payers are the ids of ``services.demo_data``; any other payer id gets ``DEFAULT_PROFILE`` under its
own id and name (``profile_for``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.parties import Address

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = range(5)
BUSINESS_DAYS = (MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY)


class Denial(NamedTuple):
    """One way a payer refuses to pay: CAS group and reason (CARC), the remark (RARC) it sends, its weight."""

    group: str
    reason: str
    remark: str = ""
    weight: int = 1


class Rejection(NamedTuple):
    """One front-end rejection (277CA): STC composites ("A7:21:IL"), the message (STC12), its weight."""

    statuses: tuple[str, ...]
    message: str
    weight: int = 1


# Front-end rejections payers send for claims whose data they cannot take into adjudication.
SUBSCRIBER_ID_INVALID = Rejection(("A7:21:IL",), "SUBSCRIBER ID INVALID FOR THIS PAYER", 3)
MEMBER_NUMBER_NOT_ON_FILE = Rejection(("A3:164:IL",), "SUBSCRIBER CONTRACT NUMBER NOT ON FILE", 2)
BILLING_NPI_NOT_ON_FILE = Rejection(("A7:562:85",), "BILLING PROVIDER NPI NOT ENROLLED WITH PAYER", 2)

MISSING_PROCEDURE_INFO = Denial("CO", "16", "M51", 2)  # missing/incomplete/invalid procedure code
MISSING_RENDERING_ID = Denial("CO", "16", "N290", 2)  # missing/incomplete/invalid rendering provider id
PRECERT_ABSENT = Denial("CO", "197", "M62", 2)  # missing/invalid treatment authorization code
NOT_MEDICALLY_NECESSARY = Denial("CO", "50", "", 1)


@dataclass(frozen=True)
class PayerProfile:
    """One payer's habits. See the module docstring for units."""

    payer_id: str
    name: str
    filing_indicator: str  # CLP06 when the claim's SBR09 gives none
    tin: str = ""  # TRN03 / BPR10 are "1" + TIN; "" = the payer id zero-filled to nine digits
    address: Address = Address("PO BOX 1000", "", "DENVER", "CO", "80201")
    phone: str = "8005551234"
    default_percent: Decimal = Decimal("60")  # of charge, when no contract prices the claim
    # What the patient owes (PR): copay per office visit / ER visit, coinsurance share of the rest of the
    # allowed, the annual deductible and the share of claims that meet part of it.
    copay: Decimal = Decimal("0")
    er_copay: Decimal = Decimal("0")
    coinsurance: Decimal = Decimal("0")
    deductible: Decimal = Decimal("0")
    deductible_rate: float = 0.0
    out_of_pocket: Decimal = Decimal("0")
    # The front end (277CA) and adjudication.
    rejection_rate: float = 0.04
    rejections: tuple[Rejection, ...] = (SUBSCRIBER_ID_INVALID, MEMBER_NUMBER_NOT_ON_FILE, BILLING_NPI_NOT_ON_FILE)
    denial_rate: float = 0.07
    denials: tuple[Denial, ...] = (MISSING_PROCEDURE_INFO, PRECERT_ABSENT, NOT_MEDICALLY_NECESSARY)
    bundling_rate: float = 0.03  # per line after the first: CO-97 bundled into another service
    noncovered_rate: float = 0.02  # per line after the first: not a benefit of the plan
    noncovered: Denial = Denial("PR", "204", "N130")
    underpayment_rate: float = 0.02
    underpayment_factor: Decimal = Decimal("0.85")  # of the contract's allowed
    timely_filing_days: int = 180
    prior_auth_codes: frozenset[str] = frozenset({"70551", "70553", "72148", "73721", "74177", "78815"})
    sequestration: Decimal = Decimal("0")  # CO-253 share of the payment (Medicare: 2 %)
    crossover: bool = False  # forwards claims to the secondary payer named on them (CLP02 19, NM1*TT)
    remarks: tuple[str, ...] = ()  # claim remarks (MOA) on every paid claim
    # When it pays: lag in days after receipt, then the next payment-cycle weekday; some claims pend for
    # review and are paid with prompt-pay interest (PLB L6) past ``prompt_pay_days``.
    lag_days: tuple[int, int] = (14, 21)
    payment_weekdays: tuple[int, ...] = (THURSDAY,)
    review_rate: float = 0.03
    review_days: tuple[int, int] = (20, 40)
    prompt_pay_days: int = 30
    interest_percent: Decimal = Decimal("10")  # a year
    # How money moves: checks instead of EFT (per payment run), reprocessing (reversal and corrected
    # payment), overpayment recovery (PLB WO), and the bank's habits (per EFT).
    check_rate: float = 0.05
    reversal_rate: float = 0.02
    reversal_days: tuple[int, int] = (14, 35)
    recoupment_rate: float = 0.02
    recoupment_days: tuple[int, int] = (21, 45)
    deposit_split_rate: float = 0.03
    deposit_late_rate: float = 0.10
    # Eligibility (271): the plan, and the share of members inactive or not on file at all.
    plan_name: str = "COMMERCIAL PLAN"
    insurance_type: str = "C1"  # EB04
    inactive_rate: float = 0.03
    unknown_member_rate: float = 0.02

    @property
    def payer_tin(self) -> str:
        if self.tin:
            return self.tin
        digits = "".join(char for char in self.payer_id if char.isdigit())
        return f"{digits[-9:]:0>9}"

    @property
    def originator(self) -> str:
        """TRN03 and BPR10: "1" followed by the payer's TIN (CORE reassociation)."""
        return "1" + self.payer_tin


ACME = PayerProfile(
    "60054", "ACME HEALTH PLAN", "CI", copay=Decimal("25.00"), er_copay=Decimal("150.00"),
    coinsurance=Decimal("0.20"), deductible=Decimal("1500.00"), deductible_rate=0.30, out_of_pocket=Decimal("6000.00"),
    denials=(MISSING_PROCEDURE_INFO, MISSING_RENDERING_ID, PRECERT_ABSENT, NOT_MEDICALLY_NECESSARY),
    bundling_rate=0.04, underpayment_rate=0.03, timely_filing_days=90, lag_days=(10, 18),
    payment_weekdays=(TUESDAY, FRIDAY), review_rate=0.04, interest_percent=Decimal("12"),
    plan_name="ACME CHOICE PPO", insurance_type="PR",
)

BLUE_RIVER = PayerProfile(
    "00590", "BLUE RIVER BCBS", "BL", copay=Decimal("30.00"), er_copay=Decimal("200.00"),
    coinsurance=Decimal("0.10"), deductible=Decimal("2000.00"), deductible_rate=0.35, out_of_pocket=Decimal("7000.00"),
    rejection_rate=0.03, denial_rate=0.06,
    denials=(MISSING_PROCEDURE_INFO._replace(weight=1), MISSING_RENDERING_ID._replace(weight=1),
             PRECERT_ABSENT._replace(weight=3), NOT_MEDICALLY_NECESSARY),
    timely_filing_days=180, lag_days=(12, 20), payment_weekdays=(WEDNESDAY,), check_rate=0.0,
    deposit_split_rate=0.05, deposit_late_rate=0.05, plan_name="BLUE RIVER PPO", insurance_type="PR",
)

MEDICARE = PayerProfile(
    "04412", "MEDICARE PART B", "MB", coinsurance=Decimal("0.20"), deductible=Decimal("257.00"),
    deductible_rate=0.15, rejection_rate=0.05,
    rejections=(SUBSCRIBER_ID_INVALID._replace(message="MEDICARE BENEFICIARY IDENTIFIER INVALID"),
                MEMBER_NUMBER_NOT_ON_FILE._replace(weight=1), BILLING_NPI_NOT_ON_FILE),
    denial_rate=0.06,
    denials=(Denial("CO", "50", "N115", 3), Denial("CO", "16", "MA130", 2), MISSING_PROCEDURE_INFO._replace(weight=1)),
    bundling_rate=0.05, timely_filing_days=365, prior_auth_codes=frozenset(), sequestration=Decimal("0.02"),
    crossover=True, remarks=("MA01",), lag_days=(14, 16), payment_weekdays=BUSINESS_DAYS,
    interest_percent=Decimal("4.75"), check_rate=0.0, reversal_rate=0.03, deposit_split_rate=0.02,
    deposit_late_rate=0.05, plan_name="MEDICARE PART B", insurance_type="MB", inactive_rate=0.02,
)

SUNRISE_MEDICAID = PayerProfile(
    "77001", "SUNRISE MEDICAID", "MC", rejection_rate=0.06,
    rejections=(SUBSCRIBER_ID_INVALID._replace(message="RECIPIENT ID INVALID"), MEMBER_NUMBER_NOT_ON_FILE,
                BILLING_NPI_NOT_ON_FILE),
    denial_rate=0.10,
    denials=(MISSING_RENDERING_ID, PRECERT_ABSENT, Denial("PI", "B7", "N95", 1), NOT_MEDICALLY_NECESSARY,
             MISSING_PROCEDURE_INFO._replace(weight=1)),
    bundling_rate=0.04, noncovered_rate=0.03, noncovered=Denial("CO", "96", "N130"), underpayment_rate=0.04,
    lag_days=(21, 35), review_rate=0.06, prompt_pay_days=45, interest_percent=Decimal("9"), check_rate=0.15,
    reversal_rate=0.03, recoupment_rate=0.03, deposit_late_rate=0.20, plan_name="SUNRISE MEDICAID",
    insurance_type="MC", inactive_rate=0.05, unknown_member_rate=0.03,
)

DEFAULT_PROFILE = PayerProfile(
    "", "", "CI", copay=Decimal("20.00"), er_copay=Decimal("100.00"), coinsurance=Decimal("0.20"),
    deductible=Decimal("1000.00"), deductible_rate=0.25, out_of_pocket=Decimal("5000.00"), check_rate=0.10,
)

PROFILES: dict[str, PayerProfile] = {profile.payer_id: profile for profile in
                                     (ACME, BLUE_RIVER, MEDICARE, SUNRISE_MEDICAID)}


def profile_for(payer_id: str, name: str = "", profiles: Mapping[str, PayerProfile] | None = None) -> PayerProfile:
    """The profile of a payer id; an unknown id gets the default profile under its own id and name."""
    known = (PROFILES if profiles is None else profiles).get(payer_id)
    if known is not None:
        return known
    fallback = f"PAYER {payer_id}" if payer_id else "UNKNOWN PAYER"
    return replace(DEFAULT_PROFILE, payer_id=payer_id, name=(name or fallback).upper())
