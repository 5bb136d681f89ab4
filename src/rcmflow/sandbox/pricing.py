"""What a payer allows for each line of a claim, and what of it the patient owes.

The allowed amounts are the payer contract's (``domain.contracts``), line by line as rcmflow's variance
check prices them, so a claim paid this way has no contract variance. Where no contract prices a line the
profile's ``default_percent`` of its charge is allowed. A payer never allows more than was charged ("lesser
of" pricing): that is the only place a fee schedule above the charge and the sandbox disagree.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.claim import Claim, ServiceLine
from rcmflow.domain.contracts import HUNDRED, ExpectedLine, PayerContracts
from rcmflow.domain.money import ZERO, round_cents, total
from rcmflow.sandbox.profiles import PayerProfile
from rcmflow.sandbox.seeding import chance

OFFICE_VISITS = range(99202, 99216)  # office/outpatient E/M visits: the copay applies to them
CONSULTATIONS = range(99241, 99246)
EMERGENCY_REVENUE_PREFIX = "045"  # institutional emergency room revenue codes 0450-0459
DEDUCTIBLE_CENTS = (2500, 40000)  # what one claim meets of the deductible, when it meets any


class PatientShare(NamedTuple):
    """What the patient owes on one line: deductible (PR-1), coinsurance (PR-2), copay (PR-3)."""

    deductible: Decimal = ZERO
    coinsurance: Decimal = ZERO
    copay: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.deductible + self.coinsurance + self.copay


NO_SHARE = PatientShare()


def expected_line(line: ServiceLine) -> ExpectedLine:
    """A billed line as a contract prices it."""
    procedure = line.procedure
    return ExpectedLine(procedure.code if procedure else None, procedure.modifiers if procedure else (),
                        line.revenue_code or None, line.charge, line.units)


def allowed_amounts(claim: Claim, profile: PayerProfile, contracts: PayerContracts,
                    service_date: date | None) -> tuple[Decimal, ...]:
    """The allowed amount of each line: the contract's, else the default percent of charge; never above the charge."""
    contract = contracts.contract_for(profile.payer_id, claim.claim_type, service_date)
    lines = [expected_line(line) for line in claim.service_lines]
    amounts: list[Decimal]
    if contract is not None and contract.method == "per_visit":
        visit = contract.expected_allowed(lines)
        amounts = distribute(visit, [line.charge for line in lines]) if visit is not None else \
            [_default(line.charge, profile) for line in lines]
    else:
        amounts = []
        for line in lines:
            priced = contract.expected_allowed([line]) if contract is not None else None
            amounts.append(_default(line.charge, profile) if priced is None else priced)
    return tuple(max(ZERO, min(amount, line.charge)) for amount, line in zip(amounts, lines, strict=True))


def _default(charge: Decimal, profile: PayerProfile) -> Decimal:
    return round_cents(charge * profile.default_percent / HUNDRED)


def distribute(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` split in proportion to ``weights`` to the cent; the last share takes the rounding."""
    if not weights:
        return []
    whole = total(weights)
    shares = [round_cents(amount * weight / whole) if whole else ZERO for weight in weights[:-1]]
    return [*shares, amount - total(shares)]


def underpriced(amounts: Sequence[Decimal], factor: Decimal) -> tuple[Decimal, ...]:
    """The allowed amounts of a claim the payer prices below its contract."""
    return tuple(round_cents(amount * factor) for amount in amounts)


def copay_for(line: ServiceLine, claim: Claim, profile: PayerProfile) -> Decimal:
    """The copay the plan charges for this kind of line (an office visit, an ER visit), zero for others."""
    code = line.procedure.code if line.procedure is not None else ""
    if claim.claim_type == "P" and code.isdigit() and (int(code) in OFFICE_VISITS or int(code) in CONSULTATIONS):
        return profile.copay
    if claim.claim_type == "I" and line.revenue_code.startswith(EMERGENCY_REVENUE_PREFIX):
        return profile.er_copay
    return ZERO


def patient_shares(claim: Claim, allowed: Sequence[Decimal | None], profile: PayerProfile,
                   rng: random.Random) -> list[PatientShare]:
    """The patient's share of each priced line (``None`` marks a line that is not priced).

    One copay per claim, on its first visit line; part of the deductible on some claims, taken line by line;
    coinsurance on what is left of lines without a copay. Every draw is made whatever the outcome, so the
    draws after it do not depend on the rates.
    """
    meets_deductible = chance(rng, profile.deductible_rate)
    deductible_roll = Decimal(rng.randint(*DEDUCTIBLE_CENTS)).scaleb(-2)
    deductible_left = min(deductible_roll, profile.deductible) if meets_deductible else ZERO
    copay_taken = False
    shares: list[PatientShare] = []
    for line, amount in zip(claim.service_lines, allowed, strict=True):
        if amount is None:
            shares.append(NO_SHARE)
            continue
        copay = ZERO
        if not copay_taken:
            copay = min(copay_for(line, claim, profile), amount)
            copay_taken = copay > 0
        deductible = min(deductible_left, amount - copay)
        deductible_left -= deductible
        coinsurance = ZERO if copay else round_cents((amount - deductible) * profile.coinsurance)
        shares.append(PatientShare(deductible, coinsurance, copay))
    return shares
