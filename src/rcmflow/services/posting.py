"""Payment posting: stored remittances become matched, posted claim payments with their journal entries.

For a batch of remittances in state "received", set-based and in the caller's transaction:
match each claim payment to its claim (then its service payments to the billed lines), compare the allowed
amount with the payer contract, classify the payer's decision (paid, denied, reversal...), post one journal
entry per claim payment and per PLB adjustment, move claim payments, claims and remittances through their
state machines, and open the work items people must act on: denials, underpayments, unapplied cash,
reversals whose original is unknown.

A claim paid more than once in a batch (a reversal and its correction in one 835) is processed in rounds:
round k takes every claim's k-th payment, so a correction always posts after the reversal before it.
Re-running is safe: only "received" (or "unapplied") claim payments are picked up, every state move is
guarded by the expected state, and every journal entry has an idempotency key.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    WORK_ITEM_ACTIVE_STATES,
    claim_payments,
    claims,
    provider_adjustments,
    remittances,
    service_payments,
    utc_now,
    work_items,
)
from rcmflow.adapters.store.sql import bulk_update, in_chunks
from rcmflow.adapters.store.write_behind import write_behind
from rcmflow.domain.carc import CARC_MEANINGS
from rcmflow.domain.contracts import ExpectedLine, PayerContracts, VarianceCalculator, actual_allowed
from rcmflow.domain.ledger import JournalEntryDraft
from rcmflow.domain.matching import ClaimMatch, PaymentKey
from rcmflow.domain.money import from_stored
from rcmflow.domain.posting import (
    Outcome,
    PaymentFacts,
    PlbAccounts,
    claim_payment_entry,
    classify,
    provider_adjustment_entry,
    unapplied_entry,
)
from rcmflow.domain.remittance import Remittance
from rcmflow.domain.states import CLAIM, CLAIM_PAYMENT
from rcmflow.formats.x12.reading import gc_paused
from rcmflow.services.claims import CLAIM_OBJECT
from rcmflow.services.events import Event, append_event_rows, append_events
from rcmflow.services.ledger import plan_entries, post_entries, posted_entry_ids, reverse_entries, write_entries
from rcmflow.services.matching import match_claim_payments, match_service_lines
from rcmflow.services.payments_ahead import PaymentsAhead
from rcmflow.services.policies import configured_payer_contracts, configured_plb_accounts
from rcmflow.services.posting_load import (
    ClaimInfo,
    Payment,
    closed_periods,
    load_claims,
    load_payments,
    new_payments,
    new_tuple,
    posting_date,
)
from rcmflow.services.remittances import (
    ACTIVITY_RECEIVE_CLAIM_PAYMENT,
    CLAIM_PAYMENT_OBJECT,
    REMITTANCE_OBJECT,
    StoreResult,
    insert_payment_rows,
    insert_provider_adjustments,
    register_remittances,
)
from rcmflow.services.transitions import checked_path, creation_event_rows, transition_known, transition_many
from rcmflow.services.work_items import WorkItemSpec, bulk_resolve, open_items
from rcmflow.settings import get_settings

ACTIVITY_MATCH = "match claim payment"
ACTIVITY_UNAPPLIED = "hold unapplied payment"
ACTIVITY_POST = "post claim payment"
ACTIVITY_REVERSE = "reverse claim payment"
ACTIVITY_MATCH_REMITTANCE = "match remittance"
ACTIVITY_POST_REMITTANCE = "post remittance"
ACTIVITY_ADJUDICATE = "record adjudication"
ACTIVITY_CROSSOVER = "record crossover to next payer"
_PAYMENT_COLUMNS = ("claim_id", "match_method", "match_confidence", "expected_allowed", "variance", "posted_at")
_NEW = "new"  # from_state of payments not stored yet (``receive_and_post``): inserted in their final state
_RECEIVE = (ACTIVITY_RECEIVE_CLAIM_PAYMENT, CLAIM_PAYMENT.initial)
_POSTED_PATH = checked_path(CLAIM_PAYMENT_OBJECT, (_RECEIVE, (ACTIVITY_MATCH, "matched"), (ACTIVITY_POST, "posted")))
_UNAPPLIED_PATH = checked_path(CLAIM_PAYMENT_OBJECT, (_RECEIVE, (ACTIVITY_UNAPPLIED, "unapplied")))


@dataclass
class PostingResult:
    """What a posting run did, for summaries and the CLI."""

    remittances: int = 0
    claim_payments: int = 0
    matched: int = 0
    unapplied: int = 0
    applied_later: int = 0
    denied: int = 0
    reversals: int = 0
    underpayments: int = 0
    entries: int = 0
    work_items: int = 0
    service_lines: int = 0
    # Seconds per stage (load, match, rules, journal, states): where a run's time goes, for benchmarks and logs.
    timings: dict[str, float] = field(default_factory=dict)

    def add(self, other: PostingResult) -> None:
        for name in self.__dataclass_fields__:
            if name == "timings":
                for stage, seconds in other.timings.items():
                    self.timings[stage] = self.timings.get(stage, 0.0) + seconds
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def timed(self, stage: str, started: float) -> float:
        """Add the time since ``started`` to ``stage``; return now (the next stage's start)."""
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - started
        return now


@dataclass
class _Round:
    """The drafts, moves and work items one round of posting produces before it writes them."""

    drafts: list[JournalEntryDraft] = field(default_factory=list)
    reversals: list[tuple[int, int]] = field(default_factory=list)  # (reversal claim payment, original's entry id)
    originals_reversed: list[int] = field(default_factory=list)
    updates: list[list[Any]] = field(default_factory=list)  # _PAYMENT_COLUMNS values, then the id
    line_updates: list[tuple[int, int]] = field(default_factory=list)  # (claim line id, service payment id)
    matched: list[int] = field(default_factory=list)
    unapplied: list[int] = field(default_factory=list)
    claim_targets: dict[int, tuple[str, int]] = field(default_factory=dict)  # claim -> (state, claim payment)
    specs: list[WorkItemSpec] = field(default_factory=list)
    payer_claim_numbers: dict[int, str] = field(default_factory=dict)
    crossovers: list[Event] = field(default_factory=list)  # claims the payer forwarded to the next payer


# ---- entry points ----------------------------------------------------------------------------------------

def post_pending(
    engine: Engine,
    *,
    actor: str = "system",
    now: datetime | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
    on_batch: Callable[[PostingResult], None] | None = None,
) -> PostingResult:
    """Post every received remittance, batch by batch, one transaction per batch; then retry unapplied
    payments against claims that arrived since. Safe to run again at any point (also after a crash)."""
    now = now or utc_now()
    contracts, plb_accounts = configured_payer_contracts(), configured_plb_accounts()
    result = PostingResult()
    while True:
        with engine.begin() as conn:
            batch = _next_batch(conn, organisation_id)
            if not batch:
                break
            done = post_remittances(conn, batch, actor=actor, now=now, organisation_id=organisation_id,
                                    contracts=contracts, plb_accounts=plb_accounts)
        result.add(done)
        if on_batch is not None:
            on_batch(done)
    with engine.begin() as conn:
        result.add(apply_unapplied(conn, actor=actor, now=now, organisation_id=organisation_id,
                                   contracts=contracts, plb_accounts=plb_accounts))
    return result


def _next_batch(conn: Connection, organisation_id: str) -> list[int]:
    """Received remittances, oldest first, up to about ``posting_batch_size`` claim payments (at least one
    remittance): large enough to be set-based, small enough that a crash loses little."""
    limit = get_settings().posting_batch_size
    rows = conn.execute(select(remittances.c.id, remittances.c.claim_count).where(
        remittances.c.organisation_id == organisation_id, remittances.c.state == "received",
    ).order_by(remittances.c.id).limit(5_000)).all()
    batch: list[int] = []
    count = 0
    for row in rows:
        if batch and count + row.claim_count > limit:
            break
        batch.append(row.id)
        count += row.claim_count
    return batch


# Posting a file builds hundreds of thousands of short-lived acyclic objects (rows, entries, events) while the
# parsed file stays alive: every collection of the cyclic GC rescanned all of it, a quarter of the posting time
# of a million lines. Reference counting frees them; the GC is paused for the call (see ``gc_paused``).
@gc_paused()
def post_remittances(
    conn: Connection,
    remittance_ids: Sequence[int],
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
    contracts: PayerContracts | None = None,
    plb_accounts: PlbAccounts | None = None,
) -> PostingResult:
    """Match and post the claim payments and PLB adjustments of received remittances (caller's transaction)."""
    contracts = contracts or configured_payer_contracts()
    plb_accounts = plb_accounts or configured_plb_accounts()
    result = PostingResult()
    moved = transition_many(conn, REMITTANCE_OBJECT, list(remittance_ids), "received", "matched",
                            activity=ACTIVITY_MATCH_REMITTANCE, actor=actor, at=now).moved
    if not moved:
        return result
    result.remittances = len(moved)
    started = time.perf_counter()
    closed = closed_periods(conn, organisation_id)
    dates = {row.id: posting_date(row.payment_date or row.production_date, now, closed)
             for row in conn.execute(select(remittances.c.id, remittances.c.payer_id, remittances.c.payment_date,
                                            remittances.c.production_date).where(remittances.c.id.in_(moved)))}
    payments = load_payments(conn, claim_payments.c.remittance_id, list(moved), "received", dates)
    result.timed("load", started)
    result.add(_post_payments(conn, payments, "received", actor=actor, now=now, organisation_id=organisation_id,
                              contracts=contracts))
    result.add(_post_provider_adjustments(conn, list(moved), dates, plb_accounts, actor=actor, now=now,
                                          organisation_id=organisation_id))
    return result


@gc_paused()
def receive_and_post(
    conn: Connection,
    document_id: int | None,
    items: Sequence[Remittance],
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
    contracts: PayerContracts | None = None,
    plb_accounts: PlbAccounts | None = None,
    digests: Sequence[str] = (),
    ahead: PaymentsAhead | None = None,
) -> tuple[StoreResult, PostingResult]:
    """Store new remittances and post them at once, in the caller's transaction: what ``store_remittances``
    then ``post_remittances`` do, but each claim payment row is written once, already in its final state
    (matched and posted, or unapplied) with the events of every step, instead of inserted "received" and
    updated three times. Duplicates and conflicts are handled as ``store_remittances`` does.

    Remittances post in arrival order: call this only when no earlier remittance is still "received" (post
    those first, ``post_pending``), or a reversal could post before the payment it reverses. ``ahead``: the
    claim payments of these remittances may have been built while the file before was written; this file's wait
    for its own rows builds the next file's (``payments_ahead``)."""
    contracts = contracts or configured_payer_contracts()
    plb_accounts = plb_accounts or configured_plb_accounts()
    registered, new = register_remittances(conn, document_id, items, actor=actor, now=now,
                                           organisation_id=organisation_id, digests=digests)
    result = PostingResult()
    if not new:
        return registered, result
    started = time.perf_counter()
    insert_provider_adjustments(conn, new, organisation_id)
    ids = [remittance_id for remittance_id, _ in new]
    transition_many(conn, REMITTANCE_OBJECT, ids, "received", "matched", activity=ACTIVITY_MATCH_REMITTANCE,
                    actor=actor, at=now)
    result.remittances = len(ids)
    closed = closed_periods(conn, organisation_id)
    dates = {remittance_id: posting_date(item.payment_date or item.production_date, now, closed)
             for remittance_id, item in new}
    payments = new_payments(conn, new, dates, organisation_id, ahead)
    result.timed("load", started)
    # The rows of the last round (payments, entries, events) are built and written last, after every read and
    # update, with their inserts on a writer thread: each table is written while the next one's rows are built.
    rows: list[Callable[[], PostingResult]] = []
    with write_behind(conn):
        result.add(_post_payments(conn, payments, _NEW, actor=actor, now=now, organisation_id=organisation_id,
                                  contracts=contracts, rows=rows))
        result.add(_post_provider_adjustments(conn, ids, dates, plb_accounts, actor=actor, now=now,
                                              organisation_id=organisation_id))
        for write in rows:
            result.add(write())
        if ahead is not None:  # while the writer inserts this file's rows
            started = time.perf_counter()
            ahead.build_next(closed=closed, now=now, organisation_id=organisation_id)
            result.timed("load", started)
        started = time.perf_counter()
    result.timed("store payments", started)  # waiting for the writer to finish
    return registered, result


def _post_provider_adjustments(conn: Connection, remittance_ids: list[int], dates: dict[int, date],
                               plb_accounts: PlbAccounts, *, actor: str, now: datetime,
                               organisation_id: str) -> PostingResult:
    """Post the PLB amounts of matched remittances, then move the remittances to "posted"."""
    result = PostingResult()
    started = time.perf_counter()
    plb_drafts = [draft for row in conn.execute(select(provider_adjustments).where(
        provider_adjustments.c.remittance_id.in_(remittance_ids)).order_by(provider_adjustments.c.id))
        if (draft := provider_adjustment_entry(row.id, row.remittance_id, row.reason_code, row.amount,
                                               row.reference, dates[row.remittance_id], plb_accounts)) is not None]
    result.entries += sum(ref.created for ref in post_entries(conn, plb_drafts, actor=actor, now=now,
                                                               organisation_id=organisation_id))
    transition_many(conn, REMITTANCE_OBJECT, remittance_ids, "matched", "posted", activity=ACTIVITY_POST_REMITTANCE,
                    actor=actor, at=now)
    result.timed("journal", started)
    return result


def apply_unapplied(
    conn: Connection,
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
    contracts: PayerContracts | None = None,
    plb_accounts: PlbAccounts | None = None,
) -> PostingResult:
    """Match unapplied payments again (their claims may have arrived since); post the ones that match, after
    reversing their unapplied-cash entry."""
    ids = list(conn.execute(select(claim_payments.c.id).where(
        claim_payments.c.organisation_id == organisation_id, claim_payments.c.state == "unapplied")).scalars())
    if not ids:
        return PostingResult()
    closed = closed_periods(conn, organisation_id)
    dates = {row.id: posting_date(row.payment_date or row.production_date, now, closed)
             for row in conn.execute(select(remittances.c.id, remittances.c.payment_date,
                                            remittances.c.production_date).where(
                 remittances.c.id.in_(select(claim_payments.c.remittance_id).where(
                     claim_payments.c.state == "unapplied", claim_payments.c.organisation_id == organisation_id))))}
    payments = load_payments(conn, claim_payments.c.id, ids, "unapplied", dates)
    return _post_payments(conn, payments, "unapplied", actor=actor, now=now, organisation_id=organisation_id,
                          contracts=contracts or configured_payer_contracts())


# ---- posting ---------------------------------------------------------------------------------------------

def _rounds(payments: Sequence[Payment], matches: dict[int, ClaimMatch]) -> list[list[Payment]]:
    """Round k holds every claim's k-th payment (unmatched payments all go in the first round)."""
    seen: dict[int, int] = defaultdict(int)
    rounds: list[list[Payment]] = []
    for payment in payments:
        match = matches.get(payment.id)
        k = 0
        if match is not None:
            k = seen[match.claim_id]
            seen[match.claim_id] += 1
        while len(rounds) <= k:
            rounds.append([])
        rounds[k].append(payment)
    return rounds


def _post_payments(conn: Connection, payments: list[Payment], from_state: str, *, actor: str, now: datetime,
                   organisation_id: str, contracts: PayerContracts,
                   rows: list[Callable[[], PostingResult]] | None = None) -> PostingResult:
    """Match, classify and post ``payments`` round by round. With ``rows``, the last round's row writing is
    appended to it for the caller to run after its own reads and updates (every earlier round's rows are
    written before the next round reads: a correction looks up the payment its reversal just posted)."""
    result = PostingResult()
    if not payments:
        return result
    started = time.perf_counter()
    matches = match_claim_payments(conn, [new_tuple(PaymentKey, (
        p.id, p.payer_id, p.row.patient_control_number, p.row.payer_claim_control_number, p.row.member_id,
        p.row.service_from, p.row.service_to, from_stored(p.row.charge))) for p in payments],
        organisation_id=organisation_id)
    if from_state == "unapplied":
        payments = [p for p in payments if p.id in matches]  # still no claim: they stay unapplied
        if not payments:
            return result
    claim_info = load_claims(conn, sorted({m.claim_id for m in matches.values()}))
    result.timed("match", started)
    pricing = VarianceCalculator(contracts)
    rounds = _rounds(payments, matches)
    for number, round_payments in enumerate(rounds, start=1):
        done, write_rows = _post_round(conn, round_payments, matches, claim_info, from_state, actor=actor, now=now,
                                       organisation_id=organisation_id, contracts=contracts, pricing=pricing)
        result.add(done)
        if rows is not None and number == len(rounds):
            rows.append(write_rows)
        else:
            result.add(write_rows())
    if from_state == "unapplied":
        result.applied_later = result.matched
    return result


def _post_round(conn: Connection, payments: list[Payment], matches: dict[int, ClaimMatch],
                claim_info: dict[int, ClaimInfo], from_state: str, *, actor: str, now: datetime, organisation_id: str,
                contracts: PayerContracts, pricing: VarianceCalculator,
                ) -> tuple[PostingResult, Callable[[], PostingResult]]:
    """Post one round; return what it did and the writing of its rows (``_write_round``), still to run."""
    result = PostingResult(claim_payments=len(payments))
    work = _Round()
    matched = [p for p in payments if p.id in matches]
    started = time.perf_counter()
    pairs = match_service_lines(conn, {matches[p.id].claim_id: p.lines for p in matched},
                                organisation_id=organisation_id) if matched else {}
    started = result.timed("match", started)
    originals = _originals(conn, [p for p in matched if p.row.status == "22"], matches, organisation_id)
    # Payments applied from unapplied cash: their unapplied entries, to reverse (one look-up for the round).
    unapplied_entries = (posted_entry_ids(conn, organisation_id, [f"unapplied:{p.id}" for p in matched])
                         if from_state == "unapplied" else {})
    for payment in payments:
        row = payment.row
        match = matches.get(payment.id)
        facts = new_tuple(PaymentFacts, (
            payment.id, row.remittance_id, payment.payer_id, row.status, row.patient_control_number,
            from_stored(row.charge), from_stored(row.paid), payment.adjustments, payment.posting_date,
            row.crossover_payer, match.claim_id if match else None))
        result.service_lines += len(payment.lines)
        if match is None:
            _hold_unapplied(work, payment, facts, organisation_id)
            continue
        outcome = classify(facts)
        claim = claim_info[match.claim_id]
        update_row: list[Any] = [match.claim_id, match.method, match.confidence, None, None, now, payment.id]
        work.matched.append(payment.id)
        if row.payer_claim_control_number and not claim.payer_claim_number:
            work.payer_claim_numbers[match.claim_id] = row.payer_claim_control_number
        if (entry := unapplied_entries.get(f"unapplied:{payment.id}")) is not None:
            work.reversals.append((payment.id, entry))
        if outcome.kind == "reversal":
            result.reversals += 1
            original = originals.get(payment.id)
            if original is not None:
                work.reversals.append((payment.id, original[1]))
                work.originals_reversed.append(original[0])
            else:
                if (draft := claim_payment_entry(facts, outcome)) is not None:
                    work.drafts.append(draft)
                work.specs.append(_spec(payment, organisation_id, "posting_exceptions", "reversal without original",
                                        row.patient_control_number, claim, f"Reversal of {row.patient_control_number}"
                                        " from payer " + payment.payer_id + " matches no posted payment", {}))
        else:
            if (draft := claim_payment_entry(facts, outcome)) is not None:
                work.drafts.append(draft)
            variance = _variance(pricing, payment, claim, outcome)
            if variance is not None:
                update_row[3:5] = [variance.expected_allowed, variance.difference]
                if variance.is_underpayment():
                    result.underpayments += 1
                    work.specs.append(_spec(payment, organisation_id, "underpayments", "underpayment", None, claim,
                                            f"Claim {row.patient_control_number} underpaid by "
                                            f"{variance.difference} against contract",
                                            {"expected_allowed": str(variance.expected_allowed),
                                             "actual_allowed": str(variance.actual_allowed),
                                             "difference": str(variance.difference),
                                             "rule_version": contracts.rule_version()}))
            if outcome.denial_category is not None:
                result.denied += outcome.kind == "denied"
                work.specs.append(_denial_spec(payment, organisation_id, claim, outcome))
        work.updates.append(update_row)
        if outcome.claim_state is not None:
            work.claim_targets[match.claim_id] = (outcome.claim_state, payment.id)
        if outcome.forwarded:
            # Secondary billing reads this: the payer sent the claim on (CLP02 19/20/21, NM1*TT), so no
            # secondary 837 is needed from us for it.
            work.crossovers.append(Event(
                CLAIM_OBJECT, str(match.claim_id), outcome.claim_state or claim.state, ACTIVITY_CROSSOVER, actor,
                from_state=outcome.claim_state or claim.state, occurred_at=now, organisation_id=organisation_id,
                facility_id=claim.facility_id, payer_id=claim.payer_id,
                attributes={"claim_payment_id": payment.id, "status": row.status,
                            "crossover_payer": row.crossover_payer}))
    work.line_updates = [(claim_line, line_id) for line_id, claim_line in pairs.items()]
    result.matched = len(work.matched)
    result.unapplied = len(work.unapplied)
    result.timed("rules", started)
    write_rows = _write_round(conn, payments, work, from_state, claim_info, result, actor=actor, now=now,
                              organisation_id=organisation_id)
    return result, write_rows


def _hold_unapplied(work: _Round, payment: Payment, facts: PaymentFacts, organisation_id: str) -> None:
    row = payment.row
    work.unapplied.append(payment.id)
    if (draft := unapplied_entry(payment.id, facts.paid, payment.posting_date, payment.payer_id,
                                 row.patient_control_number)) is not None:
        work.drafts.append(draft)
    work.specs.append(WorkItemSpec(
        queue="unapplied_cash", item_type="unmatched claim payment", object_type=CLAIM_PAYMENT_OBJECT,
        object_id=str(payment.id), title=f"Payment {facts.paid} for {row.patient_control_number} from payer "
                                         f"{payment.payer_id} matches no claim",
        exception_code="no_claim", organisation_id=organisation_id, payer_id=payment.payer_id,
        links=((REMITTANCE_OBJECT, str(row.remittance_id)),),
        details={"patient_control_number": row.patient_control_number, "paid": str(facts.paid),
                 "payer_claim_control_number": row.payer_claim_control_number},
    ))


def _spec(payment: Payment, organisation_id: str, queue: str, item_type: str, code: str | None, claim: Any,
          title: str, details: dict[str, Any]) -> WorkItemSpec:
    return WorkItemSpec(
        queue=queue, item_type=item_type, object_type=CLAIM_OBJECT, object_id=str(claim.id), title=title,
        exception_code=code, organisation_id=organisation_id, facility_id=claim.facility_id, payer_id=claim.payer_id,
        links=((CLAIM_PAYMENT_OBJECT, str(payment.id)), (REMITTANCE_OBJECT, str(payment.row.remittance_id))),
        details={"claim_payment_id": payment.id, **details},
    )


def _denial_spec(payment: Payment, organisation_id: str, claim: Any, outcome: Outcome) -> WorkItemSpec:
    reasons = outcome.denial_reasons
    rarc = [remark["code"] for remark in payment.row.remarks or ()]
    title = (f"Claim {payment.row.patient_control_number} {'denied' if outcome.kind == 'denied' else 'partly denied'}"
             f": CARC {', '.join(reasons)} ({outcome.denial_category})")
    return _spec(payment, organisation_id, "denials", "denial", reasons[0], claim, title, {
        "carc": list(reasons), "carc_meanings": {code: CARC_MEANINGS.get(code, "") for code in reasons},
        "category": outcome.denial_category, "rarc": rarc, "denied_amount": str(outcome.denied),
    })


def _variance(pricing: VarianceCalculator, payment: Payment, claim: Any, outcome: Outcome) -> Any:
    """The contract variance of a paid claim (denials are the denial queue's, not the contract's)."""
    if outcome.kind != "paid":
        return None
    units = payment.units
    lines = [new_tuple(ExpectedLine, (line.procedure_code, line.modifiers, line.revenue_code, line.charge,
                                      units.get(line.service_payment_id))) for line in payment.lines]
    if not lines:
        return None
    allowed = payment.allowed
    if allowed is None:
        # Allowed = charge - contractual reductions; sequestration (CO-253) cuts the payment, not the allowed.
        contractual = sum((adj.amount for adj in payment.adjustments if adj.group == "CO" and adj.reason != "253"),
                          Decimal(0))
        allowed = actual_allowed(from_stored(payment.row.charge), contractual)
    return pricing.variance(payer_id=payment.payer_id, claim_type=claim.claim_type,
                             service_date=payment.row.service_from or claim.service_from, lines=lines,
                             actual_allowed=allowed)


def _originals(conn: Connection, reversals: list[Payment], matches: dict[int, ClaimMatch],
               organisation_id: str) -> dict[int, tuple[int, int]]:
    """For each reversal, the posted payment it reverses (same claim, not itself a reversal, latest first,
    the same payer claim number when the reversal carries one) and that payment's journal entry."""
    if not reversals:
        return {}
    claim_ids = sorted({matches[p.id].claim_id for p in reversals})
    candidates: dict[int, list[Any]] = defaultdict(list)
    cp = claim_payments
    for condition in in_chunks(conn, cp.c.claim_id, claim_ids):
        for row in conn.execute(select(cp.c.id, cp.c.claim_id, cp.c.payer_claim_control_number, cp.c.organisation_id)
                                .where(condition, cp.c.state == "posted", cp.c.status != "22")
                                .order_by(cp.c.id.desc())):
            candidates[row.claim_id].append(row)
    entries = posted_entry_ids(conn, organisation_id,
                               [f"claim-payment:{row.id}" for rows in candidates.values() for row in rows])
    found: dict[int, tuple[int, int]] = {}
    used: set[int] = set()
    for payment in reversals:
        for row in candidates[matches[payment.id].claim_id]:
            entry = entries.get(f"claim-payment:{row.id}")
            if row.id in used or row.id >= payment.id or entry is None:
                continue
            number = payment.row.payer_claim_control_number
            if number and row.payer_claim_control_number and number != row.payer_claim_control_number:
                continue
            found[payment.id] = (row.id, entry)
            used.add(row.id)
            break
    return found


# ---- writing ---------------------------------------------------------------------------------------------

def _write_round(conn: Connection, payments: list[Payment], work: _Round, from_state: str,
                 claim_info: dict[int, ClaimInfo], result: PostingResult, *, actor: str, now: datetime,
                 organisation_id: str) -> Callable[[], PostingResult]:
    """Write one round's reversals, states and work items, and check its entries; return the writing of its rows
    (entries, and new payments complete with their events), which reads nothing: the caller runs it last."""
    started = time.perf_counter()
    plan = plan_entries(conn, work.drafts, actor=actor, now=now, organisation_id=organisation_id)
    if work.reversals:
        result.entries += len(reverse_entries(conn, [entry for _, entry in work.reversals],
                                              reason="payer reversal (CLP02 22) or unapplied payment applied",
                                              actor=actor, now=now, organisation_id=organisation_id))
    started = result.timed("journal", started)
    if work.originals_reversed:
        transition_many(conn, CLAIM_PAYMENT_OBJECT, work.originals_reversed, "posted", "reversed",
                        activity=ACTIVITY_REVERSE, actor=actor, at=now)
    if from_state != _NEW:  # new payments are inserted complete (``_insert_new``)
        bulk_update(conn, claim_payments, _PAYMENT_COLUMNS, work.updates)
        bulk_update(conn, service_payments, ("claim_line_id",), work.line_updates)
    append_events(conn, work.crossovers)
    if work.unapplied and from_state == "received":
        transition_many(conn, CLAIM_PAYMENT_OBJECT, work.unapplied, "received", "unapplied",
                        activity=ACTIVITY_UNAPPLIED, actor=actor, at=now)
    if work.matched and from_state != _NEW:
        transition_many(conn, CLAIM_PAYMENT_OBJECT, work.matched, from_state, "matched", activity=ACTIVITY_MATCH,
                        actor=actor, at=now)
        transition_many(conn, CLAIM_PAYMENT_OBJECT, work.matched, "matched", "posted", activity=ACTIVITY_POST,
                        actor=actor, at=now)
    # The work items first: opening them reads (duplicates), and the claim moves after them may be queued on the
    # writer thread (``transition_known``), where the next read would wait for them.
    if from_state == "unapplied" and work.matched:
        _resolve_unapplied_items(conn, work.matched, actor=actor, now=now)
    opened = open_items(conn, work.specs, actor=actor, now=now) if work.specs else []
    result.work_items = sum(ref.created for ref in opened)
    # The payer's claim numbers learned from this round, for claims that had none (matching's second key): set
    # with the claim's state move where it moves, by themselves where it does not.
    numbers = {claim_id: number[:50] for claim_id, number in work.payer_claim_numbers.items()}
    unset = _move_claims(conn, work.claim_targets, claim_info, numbers, actor=actor, now=now,
                         organisation_id=organisation_id)
    bulk_update(conn, claims, ("payer_claim_number",), [(numbers[claim_id], claim_id) for claim_id in unset])
    result.timed("states", started)

    def write_rows() -> PostingResult:
        # The work items, events and claim moves above are about these payments; one transaction holds them all.
        done = PostingResult()
        started = time.perf_counter()
        done.entries = sum(ref.created for ref in write_entries(conn, plan))
        started = done.timed("journal", started)
        if from_state == _NEW:
            _insert_new(conn, payments, work, actor=actor, now=now)
            done.timed("store payments", started)
        return done
    return write_rows


def _insert_new(conn: Connection, payments: list[Payment], work: _Round, *, actor: str, now: datetime) -> None:
    """Insert one round's new claim payments complete: match columns, billed lines and final state, with the
    events of every step from "received"."""
    updates = {row[-1]: row for row in work.updates}
    billed = {line_id: claim_line for claim_line, line_id in work.line_updates}
    rows = []
    events: list[tuple[Any, ...]] = []
    posted = creation_event_rows(CLAIM_PAYMENT_OBJECT, _POSTED_PATH, actor=actor, at=now, rows=events)
    unapplied = creation_event_rows(CLAIM_PAYMENT_OBJECT, _UNAPPLIED_PATH, actor=actor, at=now, rows=events)
    for payment in payments:
        item = payment.rows
        assert item is not None  # only new payments come here
        claim = item.claim
        update = updates.get(payment.id)
        if update is not None:
            claim.update(zip(_PAYMENT_COLUMNS, update[:-1], strict=True))
            claim["state"], path = "posted", posted
        else:
            claim["state"], path = "unapplied", unapplied
        if billed:  # the billed line goes last (SERVICE_PAYMENT_COLUMNS)
            item = item._replace(lines=[(*line[:-1], billed.get(line[0])) for line in item.lines])
        rows.append(item)
        path.add(payment.id, organisation_id=claim["organisation_id"], payer_id=payment.payer_id)
    insert_payment_rows(conn, rows)
    append_event_rows(conn, events)


def _resolve_unapplied_items(conn: Connection, payment_ids: list[int], *, actor: str, now: datetime) -> None:
    """The unapplied-cash items of payments that found their claim are done: resolve them."""
    ids: list[int] = []
    for condition in in_chunks(conn, work_items.c.object_id, [str(i) for i in payment_ids]):
        ids.extend(conn.execute(select(work_items.c.id).where(
            condition, work_items.c.object_type == CLAIM_PAYMENT_OBJECT, work_items.c.queue == "unapplied_cash",
            work_items.c.state.in_(WORK_ITEM_ACTIVE_STATES))).scalars())
    if ids:
        bulk_resolve(conn, ids, "matched", actor=actor, now=now,
                     note="The payment matched a claim that arrived later and was posted to it.")


def _path(current: str, target: str) -> list[str]:
    """The states a claim passes through from ``current`` to ``target`` (directly, or through
    "adjudicated" when a payment reopens a settled claim); [] when no declared path exists."""
    if current == target:
        return []
    if CLAIM.allows(current, target):
        return [target]
    if CLAIM.allows(current, "adjudicated") and CLAIM.allows("adjudicated", target):
        return ["adjudicated", target]
    return []


def _move_claims(conn: Connection, targets: dict[int, tuple[str, int]], claim_info: dict[int, ClaimInfo],
                 numbers: dict[int, str], *, actor: str, now: datetime, organisation_id: str) -> list[int]:
    """Move each claim to its new state, grouped by (from, to) so each group is one bulk transition; the first
    move of a claim also sets its learned payer claim number (``numbers``). Returns the claims in ``numbers``
    that did not move (their number is still to be set).

    ``claim_info`` was read in this transaction after its first write: on SQLite inside ``write_behind`` the
    moves are queued on the writer thread (``transition_known``), checked there to move every claim."""
    steps: dict[tuple[str, str], list[int]] = defaultdict(list)
    pending: dict[int, list[str]] = {}
    for claim_id, (target, _) in targets.items():
        current = claim_info[claim_id].state
        path = _path(current, target)
        if path:
            pending[claim_id] = [current, *path]
    moving = {claim_id: numbers[claim_id] for claim_id in pending if claim_id in numbers}
    unset = [claim_id for claim_id in numbers if claim_id not in moving]
    first = True
    while pending:
        steps.clear()
        for claim_id, path in pending.items():
            steps[(path[0], path[1])].append(claim_id)
        for (from_state, to_state), ids in steps.items():
            values_by_id = ("payer_claim_number", moving) if first else None
            moved = transition_known(conn, CLAIM_OBJECT, {claim_id: (
                organisation_id, claim_info[claim_id].facility_id, claim_info[claim_id].payer_id,
                claim_info[claim_id].department_id) for claim_id in ids}, from_state, to_state,
                activity=ACTIVITY_ADJUDICATE, actor=actor, at=now, values_by_id=values_by_id)
            if moved is None:
                moved = transition_many(conn, CLAIM_OBJECT, ids, from_state, to_state, activity=ACTIVITY_ADJUDICATE,
                                        actor=actor, at=now, values_by_id=values_by_id)
            if first:  # not in the expected state after all: the number is set by itself
                unset.extend(claim_id for claim_id in moved.not_moved if claim_id in moving)
        first = False
        pending = {claim_id: path[1:] for claim_id, path in pending.items() if len(path) > 2}
    for claim_id, (target, _) in targets.items():
        if _path(claim_info[claim_id].state, target):
            claim_info[claim_id].state = target
    return unset
