"""Matching rules: which stored claim an 835 claim payment pays, and which billed line each service payment pays.

Pure functions over small keys; ``services.matching`` fetches the candidates set-based and calls them.

Claim payment to claim, first rule that finds one wins:

1. patient control number (CLP01 = CLM01), same payer;
2. payer claim control number (CLP07 = the claim's payer claim number), same payer;
3. a fuzzy score (``fuzzy_score``) over the same payer's candidates, kept only at or above a threshold and only
   when no other candidate has the same best score (an ambiguous match is a person's call).

Among claims that share a key (a replacement keeps the original's patient control number), voided claims never
match, a replacement (frequency 7) beats the claim it replaces, then the newest claim wins.

Service payment to billed line: the line item control number (REF*6R) first, then ever looser comparisons of
code, modifiers, date and charge; each billed line is paid at most once. See docs/design/matching.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from rapidfuzz.distance import Indel

from rcmflow.domain.money import ZERO

METHOD_PATIENT_CONTROL_NUMBER = "patient_control_number"
METHOD_PAYER_CLAIM_NUMBER = "payer_claim_number"
METHOD_FUZZY = "fuzzy"

EXACT = Decimal(1)
VOIDED_STATE = "voided"
FREQUENCY_REPLACEMENT = "7"
FREQUENCY_VOID = "8"

# Fuzzy weights (they sum to 1). The identifiers carry most of the weight, but a similar patient control
# number alone cannot reach the 0.90 default threshold: patients' visits often get sequential numbers
# ("A1001", "A1002"), so the same member, the same service dates and the same charge must agree as well.
WEIGHT_PATIENT_CONTROL_NUMBER = Decimal("0.35")
WEIGHT_MEMBER_ID = Decimal("0.25")
WEIGHT_SERVICE_DATES = Decimal("0.25")
WEIGHT_CHARGE = Decimal("0.15")
_SCORE_PLACES = Decimal("0.0001")  # claim_payments.match_confidence is NUMERIC(5, 4)


class PaymentKey(NamedTuple):
    """What an 835 claim payment says about the claim it pays."""

    claim_payment_id: int
    payer_id: str
    patient_control_number: str
    payer_claim_control_number: str | None
    member_id: str | None
    service_from: date | None
    service_to: date | None
    charge: Decimal


class ClaimKey(NamedTuple):
    """A stored claim as matching sees it."""

    claim_id: int
    payer_id: str
    patient_control_number: str
    payer_claim_number: str | None
    member_id: str | None
    service_from: date | None
    service_to: date | None
    total_charge: Decimal
    frequency: str  # 1 original, 7 replacement, 8 void
    state: str


class ClaimMatch(NamedTuple):
    """The claim a payment pays, how it was found, and how sure matching is (1 for an exact key)."""

    claim_id: int
    method: str  # "patient_control_number" | "payer_claim_number" | "fuzzy"
    confidence: Decimal


class LineKey(NamedTuple):
    """What an 835 service payment (SVC loop) says about the billed line it pays."""

    service_payment_id: int
    procedure_code: str | None
    modifiers: tuple[str, ...]
    revenue_code: str | None
    charge: Decimal
    service_date: date | None
    line_item_control_number: str | None


class BilledLine(NamedTuple):
    """A stored claim line as line pairing sees it."""

    claim_line_id: int
    procedure_code: str | None
    modifiers: tuple[str, ...]
    revenue_code: str | None
    charge: Decimal
    service_date: date | None
    line_item_control_number: str | None


# ---- claim payment to claim -------------------------------------------------------------------------------

def is_voided(claim: ClaimKey) -> bool:
    """True for a claim no payment may land on: voided, or itself a void request (frequency 8)."""
    return claim.state == VOIDED_STATE or claim.frequency == FREQUENCY_VOID


def preferred_claim(claims: Iterable[ClaimKey]) -> ClaimKey | None:
    """The claim a payment lands on among claims sharing a key: not voided, a replacement over the claim it
    replaces, then the newest (highest id)."""
    live = [claim for claim in claims if not is_voided(claim)]
    if not live:
        return None
    return max(live, key=lambda claim: (claim.frequency == FREQUENCY_REPLACEMENT, claim.claim_id))


def exact_match(payment: PaymentKey, claims: Iterable[ClaimKey], method: str) -> ClaimMatch | None:
    """Confidence-1 match among ``claims`` found by an exact key; another payer's claim never matches (a
    crossover 835 from the secondary payer belongs on the secondary claim)."""
    claim = preferred_claim(claim for claim in claims if claim.payer_id == payment.payer_id)
    return None if claim is None else ClaimMatch(claim.claim_id, method, EXACT)


def _normalised(text: str | None) -> str:
    # Payers echo identifiers with dashes, spaces or another case: only letters and digits are compared.
    return "".join(character for character in (text or "").upper() if character.isalnum())


def text_similarity(left: str | None, right: str | None) -> Decimal:
    """Normalised Indel similarity (rapidfuzz's ``fuzz.ratio`` / 100), exact; 0 when either side is missing."""
    a, b = _normalised(left), _normalised(right)
    if not a or not b:
        return ZERO
    length = len(a) + len(b)
    # Indel.distance is an integer: dividing in Decimal keeps the score exact and reproducible.
    return Decimal(length - Indel.distance(a, b)) / Decimal(length)


def date_similarity(payment: PaymentKey, claim: ClaimKey) -> Decimal:
    """1 / (1 + days between the start dates + days between the end dates); 0 when a start date is missing."""
    if payment.service_from is None or claim.service_from is None:
        return ZERO
    payment_to = payment.service_to or payment.service_from
    claim_to = claim.service_to or claim.service_from
    days = abs((payment.service_from - claim.service_from).days) + abs((payment_to - claim_to).days)
    return EXACT / (1 + days)


def fuzzy_score(payment: PaymentKey, claim: ClaimKey) -> Decimal:
    """Weighted similarity of a payment and a claim, 0..1 rounded to 4 places: patient control number 0.35,
    member id 0.25, service dates 0.25, equal charge 0.15. Missing data counts as disagreement."""
    score = (WEIGHT_PATIENT_CONTROL_NUMBER * text_similarity(payment.patient_control_number,
                                                             claim.patient_control_number)
             + WEIGHT_MEMBER_ID * text_similarity(payment.member_id, claim.member_id)
             + WEIGHT_SERVICE_DATES * date_similarity(payment, claim)
             + (WEIGHT_CHARGE if payment.charge == claim.total_charge else ZERO))
    return score.quantize(_SCORE_PLACES, rounding=ROUND_HALF_UP)


def scored_candidates(payment: PaymentKey, candidates: Iterable[ClaimKey]) -> list[ClaimMatch]:
    """Fuzzy matches with every eligible candidate, best first (ties by claim id): the same payer only, and of
    claims sharing a patient control number only the preferred one (an original and its replacement are one
    candidate, not a tie)."""
    groups: dict[str, list[ClaimKey]] = {}
    for claim in candidates:
        if claim.payer_id == payment.payer_id:
            groups.setdefault(claim.patient_control_number, []).append(claim)
    matches = [ClaimMatch(claim.claim_id, METHOD_FUZZY, fuzzy_score(payment, claim))
               for claim in map(preferred_claim, groups.values()) if claim is not None]
    return sorted(matches, key=lambda match: (-match.confidence, match.claim_id))


def best_claim(payment: PaymentKey, candidates: Sequence[ClaimKey], *, threshold: Decimal) -> ClaimMatch | None:
    """The fuzzy match scoring at least ``threshold``, or None when none does or two share the best score."""
    ranked = scored_candidates(payment, candidates)
    if not ranked or ranked[0].confidence < threshold:
        return None
    if len(ranked) > 1 and ranked[1].confidence == ranked[0].confidence:
        return None
    return ranked[0]


# ---- service payment to billed line -----------------------------------------------------------------------

def _revenue(code: str | None) -> str | None:
    # NUBC revenue codes are four digits; some payers drop the leading zero ("450" for "0450").
    return code.zfill(4) if code and code.isdigit() else code


def _same_service(paid: LineKey, billed: BilledLine) -> bool:
    if paid.procedure_code and billed.procedure_code:
        return paid.procedure_code == billed.procedure_code
    # Institutional lines may carry only a revenue code; an SVC01 qualified NU holds the revenue code as code.
    paid_code = _revenue(paid.revenue_code or paid.procedure_code)
    return paid_code is not None and paid_code == _revenue(billed.revenue_code or billed.procedure_code)


def _same_date(paid: LineKey, billed: BilledLine) -> bool:
    # A payer that reports dates only at claim level sends none per line: no date is no disagreement.
    return paid.service_date is None or billed.service_date is None or paid.service_date == billed.service_date


def _by_line_item(paid: LineKey, billed: BilledLine) -> bool:
    return bool(paid.line_item_control_number) and paid.line_item_control_number == billed.line_item_control_number


def _exact(paid: LineKey, billed: BilledLine) -> bool:
    return (_same_service(paid, billed) and sorted(paid.modifiers) == sorted(billed.modifiers)
            and _same_date(paid, billed) and paid.charge == billed.charge)


def _modifiers_dropped(paid: LineKey, billed: BilledLine) -> bool:
    return (_same_service(paid, billed) and set(paid.modifiers) <= set(billed.modifiers)
            and _same_date(paid, billed) and paid.charge == billed.charge)


def _charge_differs(paid: LineKey, billed: BilledLine) -> bool:
    return _same_service(paid, billed) and _same_date(paid, billed)


# Strictest first: a pass only sees the lines earlier passes left, so a loose rule cannot take a billed line
# an exact rule would have paired with another paid line.
_LINE_RULES: tuple[Callable[[LineKey, BilledLine], bool], ...] = (
    _by_line_item, _exact, _modifiers_dropped, _charge_differs,
)


def pair_lines(paid: Sequence[LineKey], billed: Sequence[BilledLine]) -> dict[int, int]:
    """Pair service payments with billed lines one-to-one: service_payment_id -> claim_line_id. Each paid line,
    in input order, takes the first free billed line of the strictest rule that has one; lines that pair with
    nothing are absent."""
    pairs: dict[int, int] = {}
    free = list(billed)
    for rule in _LINE_RULES:
        for line in paid:
            if line.service_payment_id in pairs:
                continue
            for index, candidate in enumerate(free):
                if rule(line, candidate):
                    pairs[line.service_payment_id] = candidate.claim_line_id
                    del free[index]
                    break
        if not free:
            break
    return {line.service_payment_id: pairs[line.service_payment_id] for line in paid
            if line.service_payment_id in pairs}


def pair_by_line_items(paid: Sequence[LineKey], billed: Sequence[tuple[int, str | None]]) -> dict[int, int] | None:
    """What ``pair_lines`` gives when every paid line pairs by its line item control number (its first rule),
    from the billed lines' ids and control numbers alone, in line order: each paid line takes the first free
    billed line with its number. None when a paid line finds none: then ``pair_lines`` must see the whole lines."""
    free = list(billed)
    pairs: dict[int, int] = {}
    for line in paid:
        if not line.line_item_control_number:
            return None
        for index, (claim_line_id, number) in enumerate(free):
            if number == line.line_item_control_number:
                pairs[line.service_payment_id] = claim_line_id
                del free[index]
                break
        else:
            return None
    return pairs
