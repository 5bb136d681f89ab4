"""One payment of one payer to one payee on one day: the 835 transaction (BPR, TRN, parties, claims, PLB)
and the bank credits it becomes.

An EFT is an ACH CCD+ credit (BPR04 ACH, BPR05 CCP) whose addenda carry ``TRN*1*<TRN02>*<1 + payer TIN>``:
the bank reports it with that text, which is how rcmflow reassociates the deposit with its 835. A check
(BPR04 CHK, TRN02 the check number) is mailed and never appears as an EFT. A payment of zero is a
notification (BPR01 H, BPR04 NON). Some deposits arrive a business day late; some are split in two
credits with the same trace (reassociation rule 1c).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from rcmflow.domain.claim import Claim
from rcmflow.domain.deposit import CREDIT, Deposit
from rcmflow.domain.money import ZERO, round_cents, total
from rcmflow.domain.parties import Contact, Party, Reference
from rcmflow.domain.remittance import ClaimGroup, ClaimPayment, ProviderAdjustment, Remittance
from rcmflow.sandbox.profiles import BUSINESS_DAYS, PayerProfile
from rcmflow.sandbox.seeding import business_day_on_or_after, chance

ACH, CHECK, NONE = "ACH", "CHK", "NON"
PAYER_BANK = "011000015"
PAYEE_BANK = "021000021"  # where the payees bank: the BAI2 sender
ACH_CREDIT = "165"  # BAI type code: preauthorized ACH credit
DAYS_A_YEAR = Decimal(365)
HUNDRED = Decimal(100)


def payee_of(claim: Claim) -> Party:
    """N1*PE: the billing provider by NPI, with its address and tax id (REF*TJ)."""
    billing = claim.billing_provider
    tin = billing.reference("EI") or billing.reference("SY") or ""
    return Party("PE", billing.name, id_qualifier="XX", id=billing.id, address=billing.address,
                 references=(Reference("TJ", tin),) if tin else ())


def payee_account(payee: Party) -> str:
    """The payee's deposit account (derived from its NPI: one account per billing provider)."""
    return f"98{payee.id[-8:]:0>8}"


def interest(payment: ClaimPayment, received: date, paid_on: date, profile: PayerProfile) -> Decimal:
    """Prompt-pay interest on a claim paid after ``prompt_pay_days``: simple, per day, at the profile's rate."""
    late = (paid_on - received).days - profile.prompt_pay_days
    if late <= 0 or payment.paid <= 0:
        return ZERO
    return round_cents(payment.paid * profile.interest_percent / HUNDRED * late / DAYS_A_YEAR)


def trace_number(profile: PayerProfile, day: date, sequence: int, check: bool) -> str:
    """TRN02: a check number, or an EFT trace (payer id, date, sequence): unique per payer and stable."""
    if check:
        return f"{profile.payer_tin[-4:]}{sequence:06d}"
    return f"{profile.payer_id}{day:%y%m%d}{sequence:04d}"


def payer_party(profile: PayerProfile) -> Party:
    """N1*PR with its address and the technical contact (PER*BL) the 835 guide requires."""
    return Party("PR", profile.name, id_qualifier="XV", id=profile.payer_id, address=profile.address,
                 contacts=(Contact("BL", "PROVIDER SERVICES", (("TE", profile.phone),)),))


def remittance(profile: PayerProfile, payee: Party, day: date, claims: Sequence[ClaimPayment],
               adjustments: Sequence[ProviderAdjustment], trace: str, check: bool) -> Remittance:
    """The 835 transaction of one payment; its amount is what the claims and PLBs come to (never negative:
    the caller balances a negative net with a forward balance)."""
    amount = total(claim.paid for claim in claims) - total(plb.amount for plb in adjustments)
    if amount < 0:
        raise ValueError(f"payment {trace} would be negative ({amount}): carry a forward balance")
    method = NONE if amount == 0 else CHECK if check else ACH
    eft = method == ACH
    return Remittance(
        "0001", "H" if method == NONE else "C" if method == CHECK else "I", amount, "C", method, day, "1", trace,
        profile.originator, payment_format="CCP" if eft else "",
        sender_bank=("01", PAYER_BANK, "DA", f"8{profile.payer_tin}", profile.originator) if eft else (),
        receiver_bank=("01", PAYEE_BANK, "DA", payee_account(payee)) if eft else (),
        production_date=day - timedelta(days=1), payer=payer_party(profile), payee=payee,
        groups=(ClaimGroup("1"),) if claims else (), claims=tuple(claims), provider_adjustments=tuple(adjustments),
    )


def fiscal_period(day: date) -> date:
    """PLB02: the last day of the provider's fiscal year (calendar years here)."""
    return date(day.year, 12, 31)


def deposits(payment: Remittance, profile: PayerProfile, rng: random.Random) -> list[Deposit]:
    """The bank credits of an EFT: on its effective date or a business day late, whole or in two parts."""
    late = chance(rng, profile.deposit_late_rate)
    split = chance(rng, profile.deposit_split_rate)
    share = Decimal(rng.randint(30, 70)) / HUNDRED
    if payment.payment_method != ACH or payment.payment_amount <= 0 or payment.payment_date is None:
        return []
    day = payment.payment_date
    value_date = business_day_on_or_after(day + timedelta(days=1), BUSINESS_DAYS) if late else day
    amount = payment.payment_amount
    first = round_cents(amount * share)
    parts = [first, amount - first] if split and ZERO < first < amount else [amount]
    account = payment.receiver_bank[3]
    text = (f"ORIG CO NAME:{profile.name} ORIG ID:{profile.originator} CO ENTRY DESCR:HCCLAIMPMT "
            f"TRN*1*{payment.trace_number}*{profile.originator}\\")
    return [Deposit(account, part, value_date, CREDIT, ACH_CREDIT, f"{payment.trace_number[-10:]}{index}", "",
                    text, trace_number=payment.trace_number, originator_id=profile.originator, payer_name=profile.name,
                    bank=PAYEE_BANK, as_of_date=value_date)
            for index, part in enumerate(parts, start=1)]
