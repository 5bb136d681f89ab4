"""A payer's decision on one claim, as pure functions: its 277CA status and, when accepted, its claim payment
(the 835 CLP loop), the day it is paid and what the payer will do about it later.

``adjudicate`` takes the canonical claim read from the 837, the payer's profile and contracts, a generator
seeded from (seed, payer id, patient control number) and what the payer knows about the claim's history;
nothing else. Its generator is split into one per aspect (front end, denials, pricing, timing, follow-ups),
so a change to one rate does not move the others' outcomes.

Denials, in order of precedence: an exact duplicate of a claim already adjudicated (CO-18), timely filing
missed (CO-29), coverage ended before the service (CO-27), then ``denial_rate`` of the rest from the
profile's mix (CO-16, CO-50, CO-197, PI-B7...). A line can be denied alone: a service that needs a prior
authorisation the claim does not carry (CO-197), or now and then a later line bundled into another (CO-97)
or not a benefit (PR-204, or CO-96 where the patient cannot be billed). The contractual difference is
always CO-45; a secondary claim shows the primary payer's payment as OA-23; Medicare's sequestration is
CO-253.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.claim import Claim, ServiceLine
from rcmflow.domain.claim_status import ClaimStatus
from rcmflow.domain.contracts import PayerContracts
from rcmflow.domain.money import ZERO, round_cents, total
from rcmflow.domain.parties import Party
from rcmflow.domain.remittance import (
    Adjustment,
    ClaimPayment,
    Procedure,
    QualifiedAmount,
    QualifiedDate,
    Remark,
    ServicePayment,
)
from rcmflow.domain.scrub_facts import patient_party, service_period
from rcmflow.sandbox.eligibility import ACTIVE, INACTIVE
from rcmflow.sandbox.followups import DOWN, UP, corrected
from rcmflow.sandbox.frontend import StatusParties, claim_status, rejection_for, weighted
from rcmflow.sandbox.pricing import NO_SHARE, PatientShare, allowed_amounts, distribute, patient_shares, underpriced
from rcmflow.sandbox.profiles import Denial, PayerProfile
from rcmflow.sandbox.seeding import business_day_on_or_after, chance, split

DUPLICATE = Denial("CO", "18", "M86")
TIMELY_FILING = Denial("CO", "29")
COVERAGE_ENDED = Denial("CO", "27", "N30")
BUNDLED = Denial("CO", "97", "M15")
NO_AUTHORIZATION = Denial("CO", "197", "M62")
PRIOR_PAYER = ("OA", "23")
CROSSED_OVER = "MA18"  # claim information forwarded to the patient's supplemental insurer
DENIED, PRIMARY, SECONDARY, TERTIARY, FORWARDED = "4", "1", "2", "3", "19"
LATER_PAYERS = frozenset("STABCDEFGH")  # SBR01 of a payer after the primary
MAX_CLAIM_REMARKS = 5  # MOA03-MOA07
FOLLOW_UP_CENTS = (250, 2500)  # a reprocessing difference
RECOUPMENT_CENTS = (500, 6000)


class History(NamedTuple):
    """What the payer knows about a claim before deciding: when it arrived, its claim number, the member's
    coverage ("active", "inactive", "unknown") and earlier receipts of the same claim."""

    received: date
    payer_claim_number: str
    parties: StatusParties
    member: str = ACTIVE
    first_receipt: bool = True  # False: sent again after a front-end rejection
    duplicate: bool = False  # an earlier receipt was taken into adjudication


class Reprocess(NamedTuple):
    """A later reversal of the payment with its corrected payment, due on a payment day."""

    due: date
    corrected: ClaimPayment


class Recoupment(NamedTuple):
    """A later overpayment recovery (PLB WO) against this claim, taken from a payment on or after ``due``."""

    due: date
    amount: Decimal


class Decision(NamedTuple):
    """The 277CA status; for an accepted claim its payment (None for a void) and pay day; the follow-ups."""

    status: ClaimStatus
    payment: ClaimPayment | None = None
    pay_on: date | None = None
    reprocess: Reprocess | None = None
    recoupment: Recoupment | None = None

    @property
    def accepted(self) -> bool:
        return not self.status.rejected


def adjudicate(claim: Claim, profile: PayerProfile, contracts: PayerContracts, rng: random.Random,
               history: History) -> Decision:
    """The payer's whole decision on one claim (see the module docstring)."""
    front, denials, pricing, timing, later = split(rng, 5)
    rejection = rejection_for(claim, profile, front, received=history.received, member=history.member,
                              first_receipt=history.first_receipt)
    status = claim_status(claim, history.parties, received=history.received,
                          payer_claim_number=history.payer_claim_number, rejection=rejection)
    if rejection is not None:
        return Decision(status)
    pay_on = _pay_day(profile, timing, history.received)
    if claim.frequency == "8":  # a void: nothing to price; the original's reversal goes out on the pay day
        return Decision(status, None, pay_on)
    payment = price(claim, profile, contracts, denials, pricing, history)
    reprocess, recoupment = _follow_ups(payment, profile, later, pay_on)
    return Decision(status, payment, pay_on, reprocess, recoupment)


def _pay_day(profile: PayerProfile, rng: random.Random, received: date) -> date:
    lag = rng.randint(*profile.lag_days)
    reviewed = chance(rng, profile.review_rate)
    review = rng.randint(*profile.review_days)
    return business_day_on_or_after(received + timedelta(days=lag + (review if reviewed else 0)),
                                    profile.payment_weekdays)


def _follow_ups(payment: ClaimPayment, profile: PayerProfile, rng: random.Random,
                pay_on: date) -> tuple[Reprocess | None, Recoupment | None]:
    reprocessed = chance(rng, profile.reversal_rate)
    reprocess_days = rng.randint(*profile.reversal_days)
    kind = rng.choice((UP, DOWN))
    change = Decimal(rng.randint(*FOLLOW_UP_CENTS)).scaleb(-2)
    recouped = chance(rng, profile.recoupment_rate)
    recoupment_days = rng.randint(*profile.recoupment_days)
    recovered = Decimal(rng.randint(*RECOUPMENT_CENTS)).scaleb(-2)
    if payment.status == DENIED or payment.paid <= 0:
        return None, None
    if reprocessed:
        number = payment.payer_claim_control_number[:-2] + "01"
        fixed = corrected(payment, kind, change, number) or corrected(payment, UP if kind == DOWN else DOWN,
                                                                      change, number)
        if fixed is not None:
            due = business_day_on_or_after(pay_on + timedelta(days=reprocess_days), profile.payment_weekdays)
            return Reprocess(due, fixed), None
    if recouped:
        due = business_day_on_or_after(pay_on + timedelta(days=recoupment_days), profile.payment_weekdays)
        return None, Recoupment(due, min(recovered, payment.paid))
    return None, None


# ---- pricing ----------------------------------------------------------------------------------------

def _claim_denial(profile: PayerProfile, rng: random.Random, history: History, start: date | None) -> Denial | None:
    rolled = chance(rng, profile.denial_rate)
    drawn = weighted(rng, profile.denials, [item.weight for item in profile.denials]) if profile.denials else None
    if history.duplicate:
        return DUPLICATE
    if start is not None and (history.received - start).days > profile.timely_filing_days:
        return TIMELY_FILING
    if history.member == INACTIVE:
        return COVERAGE_ENDED
    return drawn if rolled else None


def _line_denials(claim: Claim, profile: PayerProfile, rng: random.Random) -> list[Denial | None]:
    """Per line: a denial of that line alone, or None. The first line is never bundled or non-covered (a claim
    whose every service is refused is a claim denial, drawn above)."""
    denials: list[Denial | None] = []
    authorised = claim.prior_authorization is not None
    for index, line in enumerate(claim.service_lines):
        bundled = chance(rng, profile.bundling_rate)
        noncovered = chance(rng, profile.noncovered_rate)
        code = line.procedure.code if line.procedure is not None else ""
        if code in profile.prior_auth_codes and not authorised:
            denials.append(NO_AUTHORIZATION)
        elif index and bundled:
            denials.append(BUNDLED)
        elif index and noncovered:
            denials.append(profile.noncovered)
        else:
            denials.append(None)
    return denials


def _prior_payments(claim: Claim) -> list[Decimal]:
    """What earlier payers paid on each line: their line adjudications (SVD), else their claim payments (AMT*D)
    spread over the lines by charge."""
    if any(line.adjudications for line in claim.service_lines):
        return [total(item.paid for item in line.adjudications) for line in claim.service_lines]
    paid = total(other.paid or ZERO for other in claim.other_payers)
    return distribute(paid, [line.charge for line in claim.service_lines])


def _line_dates(line: ServiceLine, start: date | None) -> tuple[QualifiedDate, ...]:
    """DTM*472 for a day, DTM*150/151 for a period (an 835 date carries no end)."""
    for item in line.dates:
        if item.qualifier == "472":
            if item.end is not None and item.end != item.value:
                return QualifiedDate("150", item.value), QualifiedDate("151", item.end)
            return (QualifiedDate("472", item.value),)
    return (QualifiedDate("472", start),) if start is not None else ()


def _service(line: ServiceLine, start: date | None, adjustments: list[Adjustment], paid: Decimal,
             allowed: Decimal | None, remark: str) -> ServicePayment:
    procedure = line.procedure or Procedure("NU", line.revenue_code)
    revenue_code = line.revenue_code if line.procedure is not None else ""  # SVC04 only beside a HCPCS code
    return ServicePayment(
        procedure, line.charge, paid, revenue_code, line.units, dates=_line_dates(line, start),
        adjustments=tuple(adj for adj in adjustments if adj.amount != 0),
        line_item_control_number=line.line_item_control_number,
        amounts=(QualifiedAmount("B6", allowed),) if allowed is not None else (),
        remarks=(Remark(remark),) if remark else ())


def _priced_line(line: ServiceLine, start: date | None, allowed: Decimal, prior: Decimal, share: PatientShare,
                 sequestration: Decimal) -> ServicePayment:
    """A paid line: charge = CO-45 + CO-253 + OA-23 + PR-1/2/3 + paid."""
    covered = min(prior, allowed)
    due = allowed - covered - share.total
    withheld = round_cents(due * sequestration)
    adjustments = [Adjustment("CO", "45", line.charge - allowed), Adjustment("CO", "253", withheld),
                   Adjustment(*PRIOR_PAYER, covered), Adjustment("PR", "1", share.deductible),
                   Adjustment("PR", "2", share.coinsurance), Adjustment("PR", "3", share.copay)]
    return _service(line, start, adjustments, due - withheld, allowed, "")


def price(claim: Claim, profile: PayerProfile, contracts: PayerContracts, denial_rng: random.Random,
          pricing_rng: random.Random, history: History) -> ClaimPayment:
    """The claim payment (CLP loop with its SVC loops) of an accepted claim."""
    start, end = service_period(claim)
    claim_denial = _claim_denial(profile, denial_rng, history, start)
    line_denials = _line_denials(claim, profile, denial_rng)
    allowed = allowed_amounts(claim, profile, contracts, start)
    if chance(pricing_rng, profile.underpayment_rate):
        allowed = underpriced(allowed, profile.underpayment_factor)
    later_payer = claim.subscriber.payer_responsibility in LATER_PAYERS
    priced = [None if claim_denial or denial else amount for amount, denial in zip(allowed, line_denials, strict=True)]
    shares = patient_shares(claim, priced, profile, pricing_rng)
    priors = _prior_payments(claim) if later_payer else [ZERO] * len(claim.service_lines)
    if later_payer:  # the secondary covers what the primary left, up to its own allowed: no new patient share
        shares = [NO_SHARE] * len(shares)
    lines = []
    for line, amount, denial, share, prior in zip(claim.service_lines, priced, line_denials, shares, priors,
                                                  strict=True):
        refused = claim_denial or denial
        if amount is None and refused is not None:
            lines.append(_service(line, start, [Adjustment(refused.group, refused.reason, line.charge)], ZERO,
                                  None, "" if claim_denial else refused.remark))
        else:
            assert amount is not None
            lines.append(_priced_line(line, start, amount, prior, share, profile.sequestration))
    paid = total(line.paid for line in lines)
    status, remarks, entities = _outcome(claim, profile, claim_denial, lines, later_payer)
    dates = [QualifiedDate("050", history.received)]
    if claim.claim_type == "I" and start is not None:
        dates += [QualifiedDate("232", start), QualifiedDate("233", end or start)]
    patient = total(adj.amount for line in lines for adj in line.adjustments if adj.group == "PR")
    return ClaimPayment(
        claim.patient_control_number, status, claim.total_charge, paid, patient,
        claim.subscriber.filing_indicator or profile.filing_indicator, history.payer_claim_number,
        claim.facility_code, claim.frequency or "1", group_number="1", entities=entities,
        remarks=tuple(Remark(code) for code in remarks[:MAX_CLAIM_REMARKS]), dates=tuple(dates),
        service_payments=tuple(lines))


def _outcome(claim: Claim, profile: PayerProfile, claim_denial: Denial | None, lines: list[ServicePayment],
             later_payer: bool) -> tuple[str, list[str], tuple[Party, ...]]:
    """CLP02, the claim remarks (MOA) and the NM1 parties (patient QC, insured IL, crossover carrier TT)."""
    person = patient_party(claim)
    member_id = claim.subscriber.party.id
    entities = [Party("QC", person.name, person.first_name, person.middle_name, person.suffix, "1", "MI", member_id)]
    if claim.patient is not None:
        insured = claim.subscriber.party
        entities.append(Party("IL", insured.name, insured.first_name, insured.middle_name, insured.suffix, "1", "MI",
                              member_id))
    refused = all(line.paid == 0 and any(adj.group != "PR" and adj.amount == line.charge for adj in line.adjustments)
                  for line in lines)
    if claim_denial is not None or refused:
        remarks = [claim_denial.remark] if claim_denial is not None and claim_denial.remark else []
        return DENIED, remarks, tuple(entities)
    remarks = list(profile.remarks)
    if later_payer:
        return (SECONDARY if claim.subscriber.payer_responsibility == "S" else TERTIARY), remarks, tuple(entities)
    supplemental = next((other for other in claim.other_payers
                         if other.subscriber.payer_responsibility in LATER_PAYERS), None)
    if profile.crossover and supplemental is not None:
        carrier = supplemental.payer
        entities.append(Party("TT", carrier.name, entity_type="2", id_qualifier="PI" if carrier.id else "",
                              id=carrier.id))
        return FORWARDED, [*remarks, CROSSED_OVER], tuple(entities)
    return PRIMARY, remarks, tuple(entities)
