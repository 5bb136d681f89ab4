"""Posting rules for the 835: what a claim payment means for the claim, and the journal entries it makes.

Pure decisions, no I/O: ``classify`` reads one claim payment with all its CAS (claim and line level) and
says what happened (paid, partially paid, denied, reversal, no payment), which claim state follows, how the
money splits (contractual, patient responsibility by reason, other adjustments, denied) and the denial
category; ``claim_payment_entry`` turns that into one balanced journal entry; ``provider_adjustment_entry``
does the same for a PLB amount, against the account ``config/plb_accounts.yaml`` maps its reason to.
The accounting of every case is tabled in ``docs/design/posting.md``.

Charges were posted earlier (DR ar_insurance / CR patient_service_revenue), so every claim-payment line
moves money out of insurance A/R: to cash on its way to the bank, to the contractual allowance, to the
patient, to administrative adjustments. Denied amounts stay in insurance A/R: the denial work item decides
between an appeal and a write-off.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rcmflow.domain.carc import DENIAL_CATEGORIES, DENIAL_GROUPS, OTHER, PRICING_REASONS, denial_category, is_denial
from rcmflow.domain.codes import (
    ADJUSTMENT_GROUPS,
    CLAIM_STATUS_DENIED,
    CLAIM_STATUS_FORWARDED,
    CLAIM_STATUS_REVERSAL,
    PROVIDER_ADJUSTMENT_REASON,
)
from rcmflow.domain.ledger import ACCOUNT_KEY, Chart, JournalEntryDraft, JournalLine, credit, debit, load_chart
from rcmflow.domain.money import ZERO, format_amount, total
from rcmflow.domain.remittance import Adjustment, ClaimPayment
from rcmflow.errors import ConfigurationError, InputError

CLAIM_PAYMENT_SOURCE = "claim payment"
PROVIDER_ADJUSTMENT_SOURCE = "provider adjustment"
ERA_JOURNAL = "era"
CLAIM_STATUS_PREDETERMINATION = "25"

PATIENT_REASONS = {"1": "deductible", "2": "coinsurance", "3": "copay"}
PATIENT_BUCKETS = ("deductible", "coinsurance", "copay", "other")

# Line order of a claim-payment entry; fixed so that a reversal's entry mirrors the original's line by line.
_CASH, _CONTRACTUAL, _PATIENT, _OTHER, _AR = (
    "undeposited_funds", "contractual_allowances", "ar_patient", "administrative_adjustments", "ar_insurance")


class PaymentFacts(NamedTuple):
    """One stored claim payment with every CAS adjustment (claim- and line-level together)."""

    claim_payment_id: int
    remittance_id: int
    payer_id: str
    status: str  # CLP02
    patient_control_number: str
    charge: Decimal
    paid: Decimal
    adjustments: tuple[Adjustment, ...]
    posting_date: date
    crossover_payer: str | None = None  # NM1*TT id or name when present
    claim_id: int | None = None


class Outcome(NamedTuple):
    """What a claim payment did to the claim, and how its money splits."""

    kind: str  # "paid" | "partially paid" | "denied" | "reversal" | "no payment"
    claim_state: str | None  # "paid", "partially paid", "denied", "adjudicated" (reversal) or None: leave it
    contractual: Decimal  # CO, not a denial
    patient_responsibility: Decimal  # PR, every reason
    patient_by_reason: dict[str, Decimal]  # deductible, coinsurance, copay, other (always all four keys)
    other_adjustments: Decimal  # OA/PI/CR, not a denial
    denied: Decimal  # CO/OA/PI with a denial CARC: stays in insurance A/R for the denial specialist
    denial_reasons: tuple[str, ...]  # CARCs of the denial, in order of appearance, unique
    denial_category: str | None  # set exactly when a denial work item should open (denied, partially paid)
    forwarded: bool  # CLP02 19/20/21/23 or a crossover payer: the payer forwards to the next payer


def payment_facts(claim: ClaimPayment, *, claim_payment_id: int, remittance_id: int, payer_id: str,
                  posting_date: date, claim_id: int | None = None) -> PaymentFacts:
    """The facts of a parsed CLP loop: its claim-level and line-level CAS together, NM1*TT as the crossover."""
    adjustments = list(claim.adjustments)
    for line in claim.service_payments:
        adjustments.extend(line.adjustments)
    crossover = claim.entity("TT")
    return PaymentFacts(
        claim_payment_id=claim_payment_id, remittance_id=remittance_id, payer_id=payer_id, status=claim.status,
        patient_control_number=claim.patient_control_number, charge=claim.charge, paid=claim.paid,
        adjustments=tuple(adjustments), posting_date=posting_date,
        crossover_payer=(crossover.id or crossover.name or None) if crossover else None, claim_id=claim_id)


def _largest_category(items: Iterable[Adjustment]) -> str | None:
    """Category of the largest amount (ties: the first), summing a CARC's amounts across lines."""
    by_reason: dict[str, Decimal] = {}
    for adj in items:
        by_reason[adj.reason] = by_reason.get(adj.reason, ZERO) + adj.amount
    if not by_reason:
        return None
    best = max(by_reason, key=lambda reason: by_reason[reason])  # max keeps the first of equal keys
    return denial_category(best)


def classify(facts: PaymentFacts) -> Outcome:
    """Decide what a claim payment means: kind, next claim state, the money split and the denial category."""
    contractual = patient = other = denied = ZERO
    by_reason = dict.fromkeys(PATIENT_BUCKETS, ZERO)
    denials: list[Adjustment] = []
    status_denied = facts.status == CLAIM_STATUS_DENIED
    for adj in facts.adjustments:
        group = adj.group.strip().upper()
        if group not in ADJUSTMENT_GROUPS:
            raise InputError(f"claim payment {facts.claim_payment_id}: unknown CAS group {adj.group!r} "
                             f"(reason {adj.reason}, amount {format_amount(adj.amount)})")
        # On a denied claim (status 4) a CO/OA/PI amount with an unclassified CARC is part of the denial too:
        # posting it as an allowance would write the denied charge off before anyone looked at it.
        not_pricing = adj.reason.strip().upper() not in PRICING_REASONS
        if is_denial(group, adj.reason) or (status_denied and group in DENIAL_GROUPS and not_pricing):
            denied += adj.amount
            denials.append(adj)
        elif group == "CO":
            contractual += adj.amount
        elif group == "PR":
            patient += adj.amount
            bucket = PATIENT_REASONS.get(adj.reason.strip(), "other")
            by_reason[bucket] += adj.amount
        else:  # OA, PI, CR without a denial reason
            other += adj.amount
    reasons = tuple(dict.fromkeys(adj.reason for adj in denials))
    category: str | None = None
    forwarded = facts.status in CLAIM_STATUS_FORWARDED or bool(facts.crossover_payer)

    if facts.status == CLAIM_STATUS_REVERSAL:
        # The reversal takes back an earlier posting; the corrected claim payment that follows decides the
        # claim's fate, so no denial work and no secondary billing start from the reversal itself.
        kind, state, forwarded = "reversal", "adjudicated", False
    elif status_denied or (facts.paid == 0 and denials):
        kind, state = "denied", "denied"
        if not denials:
            # Status 4 with no CO/OA/PI denial (e.g. only PR-204): the claim is still denied and its work item
            # needs a category, taken from the categorised CARCs of any group (else "other", with every CARC
            # sent recorded as the reasons).
            categorised = [adj for adj in facts.adjustments if adj.reason.strip().upper() in DENIAL_CATEGORIES]
            reasons = tuple(dict.fromkeys(adj.reason for adj in categorised or facts.adjustments))
            category = _largest_category(categorised) or OTHER
        else:
            category = _largest_category(denials)
    elif facts.paid == 0:
        kind = "no payment"
        # Processed with nothing to pay (all to the deductible, or the prior payer paid it all): the payer has
        # settled the claim when the non-denial adjustments account for the whole charge. A predetermination
        # (status 25) never adjudicates a real claim.
        settled = contractual + patient + other == facts.charge
        state = "paid" if settled and facts.status != CLAIM_STATUS_PREDETERMINATION else None
    elif denied > 0:
        kind, state = "partially paid", "partially paid"
        category = _largest_category(denials)
    else:
        kind, state = "paid", "paid"
    # tuple.__new__ with every field in order: one Outcome per claim payment, without NamedTuple's Python __new__.
    return tuple.__new__(Outcome, (kind, state, contractual, patient, by_reason, other, denied, reasons, category,
                                   forwarded))


# Journal lines made, by (account, amount, memo). A line is immutable and checked when made, and the same few
# amounts and memos recur on most claims of a remittance (fee schedules, copays, the same contractual cut): each
# is made once and shared, as the X12 reader shares repeated adjustments. Bounded; equal amounts written with
# other digits (12.5, 12.50) make the same line, as the line keeps the amount to the cent.
_LINES: dict[tuple[str, Decimal, str], JournalLine] = {}
_LINES_LIMIT = 16_384


def _line(account: str, amount: Decimal, memo: str) -> JournalLine:
    """A debit for a positive amount, a credit for a negative one (a reversal flips the side)."""
    key = (account, amount, memo)
    line = _LINES.get(key) if amount.is_finite() else None  # NaN is refused by the line itself, uncached
    if line is None:
        line = debit(account, amount, memo) if amount > 0 else credit(account, -amount, memo)
        if len(_LINES) >= _LINES_LIMIT:
            _LINES.clear()
        _LINES[key] = line
    return line


def _entry(lines: list[JournalLine], *, description: str, source_type: str, source_id: str, key: str,
           posting_date: date) -> JournalEntryDraft | None:
    if not lines:
        return None
    return JournalEntryDraft(journal=ERA_JOURNAL, posting_date=posting_date, description=description[:300],
                             source_type=source_type, source_id=source_id, idempotency_key=key,
                             lines=tuple(lines))


def claim_payment_entry(facts: PaymentFacts, outcome: Outcome) -> JournalEntryDraft | None:
    """The ERA journal entry of a claim payment: one net line per account; None when nothing moves."""
    components = ((_CASH, facts.paid, "payment"),
                  (_CONTRACTUAL, outcome.contractual, "contractual adjustment"),
                  (_PATIENT, outcome.patient_responsibility, "patient responsibility"),
                  (_OTHER, outcome.other_adjustments, "other adjustments"))
    lines = [_line(account, amount, memo) for account, amount, memo in components if amount != 0]
    moved = total(amount for _, amount, _ in components)
    if moved != 0:
        memo = ", ".join(memo for _, amount, memo in components if amount != 0)
        lines.append(_line(_AR, -moved, memo))
    # When the components cancel out in insurance A/R (+10 payment, -10 other adjustment) the other lines
    # still balance each other, and insurance A/R gets no line.
    description = (f"{outcome.kind.capitalize()}: claim {facts.patient_control_number} from payer {facts.payer_id}"
                   f" (claim payment {facts.claim_payment_id})")
    return _entry(lines, description=description, source_type=CLAIM_PAYMENT_SOURCE,
                  source_id=str(facts.claim_payment_id), key=f"claim-payment:{facts.claim_payment_id}",
                  posting_date=facts.posting_date)


def unapplied_entry(claim_payment_id: int, paid: Decimal, posting_date: date, payer_id: str,
                    pcn: str) -> JournalEntryDraft | None:
    """A payment that matched no claim: DR undeposited funds / CR unapplied cash (sides flip when negative).

    Once the payment is matched, reverse this entry and post ``claim_payment_entry``: the unapplied cash
    clears and the claim's accounts get the full split, with no separate "apply" entry to keep in step.
    """
    if paid == 0:
        return None
    lines = [_line(_CASH, paid, "payment"), _line("unapplied_cash", -paid, "payment matching no claim")]
    return _entry(lines, description=f"Unapplied: claim {pcn} from payer {payer_id} matches no claim "
                                     f"(claim payment {claim_payment_id})",
                  source_type=CLAIM_PAYMENT_SOURCE, source_id=str(claim_payment_id),
                  key=f"unapplied:{claim_payment_id}", posting_date=posting_date)


# ---- provider-level adjustments (PLB) --------------------------------------------------------------------

DEFAULT_PLB_PACKAGE = "rcmflow.config"
DEFAULT_PLB_FILE = "plb_accounts.yaml"
DEFAULT_PLB_ACCOUNT = "provider_adjustment_clearing"
_PLB_COUNTER = "undeposited_funds"  # the other side of every PLB line; a mapping to it would post nothing


def _plb_account(value: str) -> str:
    if not ACCOUNT_KEY.match(value):
        raise ValueError(f"account key {value!r} must be lower_snake_case starting with a letter")
    if value == _PLB_COUNTER:
        raise ValueError(f"{value} is the other side of every PLB line; map the reason to the account it settles")
    return value


class PlbAccounts(BaseModel):
    """PLB reason code -> account key, and the account for every reason without a mapping."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    default: str = DEFAULT_PLB_ACCOUNT
    reasons: dict[str, str] = Field(default_factory=dict)

    @field_validator("default")
    @classmethod
    def _default_key(cls, value: str) -> str:
        return _plb_account(value)

    @field_validator("reasons")
    @classmethod
    def _reason_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for reason, account in value.items():
            if reason not in PROVIDER_ADJUSTMENT_REASON:
                raise ValueError(f"{reason!r} is not a PLB adjustment reason code")
            try:
                _plb_account(account)
            except ValueError as exc:
                raise ValueError(f"{reason}: {exc}") from None
        return value

    def account_for(self, reason: str) -> str:
        """The account a PLB amount with this reason posts against."""
        return self.reasons.get(reason.strip().upper(), self.default)

    def check_against(self, chart: Chart, *, source: str = "") -> None:
        """Refuse a mapping that names an account the chart does not have (``ConfigurationError``)."""
        keys = {account.key for account in chart.accounts}
        missing = sorted({f"{where}: {key}" for where, key in (("default", self.default), *self.reasons.items())
                          if key not in keys})
        if missing:
            where = f"PLB accounts {source}" if source else "PLB accounts"
            raise ConfigurationError(detail=f"{where}: accounts missing from chart {chart.chart_id}: "
                                            f"{'; '.join(missing)}")


def parse_plb_accounts(text: str, *, source: str = "<text>", chart: Chart | None = None) -> PlbAccounts:
    """Parse and validate a PLB mapping from YAML; ``ConfigurationError`` says what is wrong and where."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(detail=f"PLB accounts {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(detail=f"PLB accounts {source} must be a mapping with version, default and reasons")
    try:
        accounts = PlbAccounts.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'PLB accounts'}: "
            f"{'unknown field' if e['type'] == 'extra_forbidden' else e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False))
        raise ConfigurationError(detail=f"PLB accounts {source}: {problems}") from exc
    accounts.check_against(chart or load_chart(), source=source)
    return accounts


def load_plb_accounts(path: str | Path | None = None, *, chart: Chart | None = None) -> PlbAccounts:
    """Load the PLB mapping at ``path`` (or the shipped default), checked against ``chart`` (default chart)."""
    if path is None:
        text = files(DEFAULT_PLB_PACKAGE).joinpath(DEFAULT_PLB_FILE).read_text(encoding="utf-8")
        return parse_plb_accounts(text, source=f"(default) {DEFAULT_PLB_FILE}", chart=chart)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(detail=f"PLB accounts {path} cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(detail=f"PLB accounts {path} is not UTF-8 text") from exc
    return parse_plb_accounts(text, source=str(path), chart=chart)


def provider_adjustment_entry(plb_id: int, remittance_id: int, reason: str, amount: Decimal, reference: str | None,
                              posting_date: date, accounts: PlbAccounts) -> JournalEntryDraft | None:
    """The ERA journal entry of one PLB amount; None when the amount is zero.

    835 sign convention: a positive PLB amount reduces the payment (the payer withholds or takes money back):
    DR <account> / CR undeposited funds. A negative one increases it (L6 interest -12.34): DR undeposited
    funds / CR <account>.
    """
    if amount == 0:
        return None
    code = reason.strip().upper()
    account = accounts.account_for(code)
    meaning = PROVIDER_ADJUSTMENT_REASON.get(code, "unknown reason")
    memo = f"PLB {code} {meaning}" + (f" ref {reference}" if reference else "")
    lines = [_line(account, amount, memo), _line(_PLB_COUNTER, -amount, memo)]
    return _entry(lines, description=f"{memo} on remittance {remittance_id}", source_type=PROVIDER_ADJUSTMENT_SOURCE,
                  source_id=str(plb_id), key=f"plb:{plb_id}", posting_date=posting_date)
