"""ERA-to-bank reconciliation: reassociate bank deposits with posted remittances (CAQH CORE 370), post the
cash, and queue what does not reconcile.

One ``reconcile`` run, in the caller's transaction:

1. Load the open credits (deposit state received, matched or unmatched, amount not fully matched) and the
   open posted remittances (payment not fully reconciled), and run ``domain.reassociation.reassociate``.
2. Insert the matches (unique per deposit and remittance, conflicts ignored), recompute the deposits'
   matched amounts and the remittances' reconciled amounts from the match rows, and move the states:
   deposit received/unmatched -> matched on any match, matched -> reconciled once fully matched;
   remittance posted -> reconciled once fully reconciled (a zero-amount remittance, BPR02 0, needs no
   deposit and is reconciled as it is).
3. Post one "bank" journal entry per new match: DR bank, CR undeposited funds, dated the deposit's value
   date (today when that period is closed), keyed ``deposit-match:<id>``.
4. Resolve the reconciliation work items of what reconciled, and open work items (queue "reconciliation")
   for deposits and remittances still open after ``age_days`` and for partial matches with a difference.

Every step is driven by stored state, so a second run finds nothing to match, move, post or open.
Runs of one organisation are serialised (a transaction-level advisory lock on PostgreSQL; SQLite has one
writer at a time), so two workers cannot both spend the same open amount.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select, text, update

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    WORK_ITEM_ACTIVE_STATES,
    deposit_matches,
    deposits,
    fiscal_periods,
    remittances,
    work_items,
)
from rcmflow.adapters.store.sql import in_chunks, insert_ignoring_conflicts, sum_money, summed_money
from rcmflow.domain.deposit import CREDIT, Deposit
from rcmflow.domain.ledger import JournalEntryDraft, credit, debit, period_of
from rcmflow.domain.money import ZERO, format_amount, from_stored
from rcmflow.domain.reassociation import TRACE_PARTIAL, OpenDeposit, OpenRemittance, Reassociation, reassociate
from rcmflow.errors import InputError
from rcmflow.services.deposits import DEPOSIT_OBJECT
from rcmflow.services.ledger import post_entries
from rcmflow.services.remittances import REMITTANCE_OBJECT
from rcmflow.services.transitions import transition_many
from rcmflow.services.work_items import WorkItemSpec, bulk_resolve, open_items
from rcmflow.settings import get_settings

RECONCILIATION_QUEUE = "reconciliation"
BANK_JOURNAL = "bank"
MATCH_SOURCE = "deposit match"
UNMATCHED_DEPOSIT = "unmatched deposit"
UNRECONCILED_REMITTANCE = "unreconciled remittance"
AMOUNT_MISMATCH = "deposit amount mismatch"
ACTIVITY_MATCH = "match bank deposit"
ACTIVITY_RECONCILE_DEPOSIT = "reconcile bank deposit"
ACTIVITY_FLAG_UNMATCHED = "flag unmatched bank deposit"
ACTIVITY_RECONCILE_REMITTANCE = "reconcile remittance"
RESOLUTION = "reconciled"
OPEN_DEPOSIT_STATES = ("received", "matched", "unmatched")
UNMATCHED_STATES = ("received", "unmatched")  # open and matched to nothing yet
_LOCK_PREFIX = "rcmflow.reconcile:"


@dataclass(frozen=True, slots=True)
class ReconciliationResult:
    """What one run did (all zero when run again on unchanged data)."""

    matches: int
    deposits_reconciled: int
    remittances_reconciled: int
    work_items_opened: int
    entries_posted: int


def reconcile(
    conn: Connection,
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
    age_days: int | None = None,
) -> ReconciliationResult:
    """Reassociate open deposits with posted remittances, post the cash, and queue what stays open after
    ``age_days`` (default: the ``reconciliation_age_days`` setting)."""
    if now.utcoffset() is None:
        raise InputError("reconcile: now must be timezone-aware")
    age = get_settings().reconciliation_age_days if age_days is None else age_days
    if age < 0:
        raise InputError(f"reconcile: age_days must be 0 or more, got {age}")
    _serialise(conn, organisation_id)

    open_deposits = _open_deposits(conn, organisation_id)
    open_remittances, zero_paid = _open_remittances(conn, organisation_id)
    found = reassociate(list(open_remittances.values()), list(open_deposits.values()))
    new = _insert_matches(conn, found, actor, now, organisation_id)

    deposit_ids = sorted({match.deposit_id for _, match in new})
    remittance_ids = sorted({match.remittance_id for _, match in new})
    _refresh_totals(conn, deposits, "matched_amount", deposit_matches.c.deposit_id, deposit_ids)
    _refresh_totals(conn, remittances, "reconciled_amount", deposit_matches.c.remittance_id, remittance_ids)
    reconciled_deposits = _move_deposits(conn, deposit_ids, actor, now)
    reconciled_remittances = _move_remittances(conn, remittance_ids, zero_paid, actor, now)

    refs = post_entries(conn, _drafts(conn, new, open_deposits, open_remittances, now, organisation_id),
                        actor=actor, now=now, organisation_id=organisation_id)
    _resolve_items(conn, organisation_id, reconciled_deposits, reconciled_remittances, actor, now)
    specs = (_unmatched_deposits(conn, organisation_id, now, age, actor)
             + _unreconciled_remittances(conn, organisation_id, now, age)
             + _amount_mismatches(conn, organisation_id))
    opened = open_items(conn, specs, actor=actor, now=now)
    return ReconciliationResult(
        matches=len(new), deposits_reconciled=len(reconciled_deposits),
        remittances_reconciled=len(reconciled_remittances), work_items_opened=sum(ref.created for ref in opened),
        entries_posted=sum(ref.created for ref in refs))


# ---- loading and matching ------------------------------------------------------------------------------

def _serialise(conn: Connection, organisation_id: str) -> None:
    """Wait for any other run of this organisation to commit (PostgreSQL); its matches are then visible."""
    if conn.dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"{_LOCK_PREFIX}{organisation_id}".encode()).digest()
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest[:8], "big", signed=True)})


def _open_deposits(conn: Connection, organisation_id: str) -> dict[int, OpenDeposit]:
    d = deposits.c
    query = select(d.id, d.amount, d.matched_amount, d.value_date, d.trace_number, d.customer_reference,
                   d.check_number, d.originator_id, d.account).where(
        d.organisation_id == organisation_id, d.state.in_(OPEN_DEPOSIT_STATES), d.direction == CREDIT,
        d.amount > d.matched_amount)
    found: dict[int, OpenDeposit] = {}
    for row in conn.execute(query):
        open_amount = from_stored(row.amount) - from_stored(row.matched_amount)
        if open_amount <= ZERO:
            continue
        # The keys come from the domain's own rule (parsed TRN02, then the references).
        keys = Deposit(account=row.account, amount=open_amount, value_date=row.value_date, direction=CREDIT,
                       customer_reference=row.customer_reference or "", trace_number=row.trace_number or "",
                       check_number=row.check_number or "").reassociation_keys()
        found[row.id] = OpenDeposit(row.id, keys, row.originator_id, open_amount, row.value_date)
    return found


def _open_remittances(conn: Connection, organisation_id: str) -> tuple[dict[int, OpenRemittance], list[int]]:
    """Posted credit remittances with an open amount, and the posted zero-amount ones (nothing to deposit)."""
    r = remittances.c
    query = select(r.id, r.payer_id, r.trace_number, r.originator_id, r.payment_amount, r.reconciled_amount,
                   r.payment_date, r.credit_debit).where(
        r.organisation_id == organisation_id, r.state == "posted",
        or_(r.payment_amount > r.reconciled_amount, r.payment_amount == 0))
    found: dict[int, OpenRemittance] = {}
    zero_paid: list[int] = []
    for row in conn.execute(query):
        if from_stored(row.payment_amount) == ZERO:
            zero_paid.append(row.id)
            continue
        open_amount = from_stored(row.payment_amount) - from_stored(row.reconciled_amount)
        # BPR03 "D": the payer takes money back; only credits reconcile against deposits.
        if open_amount > ZERO and row.credit_debit == "C":
            found[row.id] = OpenRemittance(row.id, row.payer_id, row.trace_number, row.originator_id, open_amount,
                                           row.payment_date)
    return found, zero_paid


def _insert_matches(conn: Connection, found: Sequence[Reassociation], actor: str, now: datetime,
                    organisation_id: str) -> list[tuple[int, Reassociation]]:
    """Insert the matches; return (match id, match) of those inserted now (a pair stored before is skipped)."""
    if not found:
        return []
    statement = insert_ignoring_conflicts(conn, deposit_matches, "deposit_id", "remittance_id").returning(
        deposit_matches.c.id, deposit_matches.c.deposit_id, deposit_matches.c.remittance_id)
    inserted = {(row.deposit_id, row.remittance_id): row.id for row in conn.execute(statement, [{
        "organisation_id": organisation_id, "deposit_id": match.deposit_id, "remittance_id": match.remittance_id,
        "amount": match.amount, "method": match.method, "confidence": match.confidence, "created_at": now,
        "actor": actor} for match in found])}
    return [(inserted[(m.deposit_id, m.remittance_id)], m) for m in found
            if (m.deposit_id, m.remittance_id) in inserted]


def _refresh_totals(conn: Connection, table: Any, column: str, match_key: Any, ids: Sequence[int]) -> None:
    """Set ``column`` to the sum of the object's matches: one UPDATE (per 5,000 ids on SQLite), and a value
    that is right whatever ran before."""
    if not ids:
        return
    matched = (select(func.coalesce(func.sum(deposit_matches.c.amount), 0))
               .where(match_key == table.c.id).scalar_subquery())
    for condition in in_chunks(conn, table.c.id, ids):
        conn.execute(update(table).where(condition).values({column: func.round(matched, 2)}))


def _amounts(conn: Connection, table: Any, amount: str, covered: str, ids: Sequence[int]) -> list[Any]:
    rows: list[Any] = []
    for condition in in_chunks(conn, table.c.id, ids):
        rows.extend(conn.execute(select(table.c.id, table.c.state, table.c[amount], table.c[covered]).where(condition)))
    return rows


def _move_deposits(conn: Connection, ids: Sequence[int], actor: str, now: datetime) -> list[int]:
    """Matched deposits to "matched", fully matched ones on to "reconciled"; return the reconciled ids."""
    if not ids:
        return []
    rows = _amounts(conn, deposits, "amount", "matched_amount", ids)
    for state in UNMATCHED_STATES:
        moving = [row.id for row in rows if row.state == state]
        if moving:
            transition_many(conn, DEPOSIT_OBJECT, moving, state, "matched", activity=ACTIVITY_MATCH, actor=actor,
                            at=now)
    full = [row.id for row in rows if from_stored(row.matched_amount) >= from_stored(row.amount)]
    if not full:
        return []
    return list(transition_many(conn, DEPOSIT_OBJECT, full, "matched", "reconciled",
                                activity=ACTIVITY_RECONCILE_DEPOSIT, actor=actor, at=now).moved)


def _move_remittances(conn: Connection, ids: Sequence[int], zero_paid: Sequence[int], actor: str,
                      now: datetime) -> list[int]:
    """Fully reconciled (and zero-amount) posted remittances to "reconciled"; return their ids."""
    rows = _amounts(conn, remittances, "payment_amount", "reconciled_amount", ids) if ids else []
    full = [row.id for row in rows if from_stored(row.reconciled_amount) >= from_stored(row.payment_amount)]
    full.extend(zero_paid)
    if not full:
        return []
    return list(transition_many(conn, REMITTANCE_OBJECT, full, "posted", "reconciled",
                                activity=ACTIVITY_RECONCILE_REMITTANCE, actor=actor, at=now).moved)


# ---- ledger ----------------------------------------------------------------------------------------------

def _drafts(conn: Connection, new: Sequence[tuple[int, Reassociation]], open_deposits: dict[int, OpenDeposit],
            open_remittances: dict[int, OpenRemittance], now: datetime,
            organisation_id: str) -> list[JournalEntryDraft]:
    """DR bank / CR undeposited funds per new match: the posted payment has reached the bank."""
    if not new:
        return []
    today = now.date()
    wanted = {match_id: open_deposits[match.deposit_id].value_date or today for match_id, match in new}
    closed = set(conn.execute(select(fiscal_periods.c.period).where(
        fiscal_periods.c.organisation_id == organisation_id, fiscal_periods.c.state == "closed",
        fiscal_periods.c.period.in_(sorted({period_of(day) for day in wanted.values()})))).scalars())
    drafts = []
    for match_id, match in new:
        # A value date in a closed month is recorded today rather than refusing the whole run.
        day = today if period_of(wanted[match_id]) in closed else wanted[match_id]
        trace = open_remittances[match.remittance_id].trace_number
        drafts.append(JournalEntryDraft(
            journal=BANK_JOURNAL, posting_date=day,
            description=f"Deposit {match.deposit_id} reassociated to remittance {trace} ({match.method})",
            source_type=MATCH_SOURCE, source_id=str(match_id), idempotency_key=f"deposit-match:{match_id}",
            lines=(debit("bank", match.amount), credit("undeposited_funds", match.amount))))
    return drafts


# ---- work items ------------------------------------------------------------------------------------------

def _resolve_items(conn: Connection, organisation_id: str, deposit_ids: Sequence[int],
                   remittance_ids: Sequence[int], actor: str, now: datetime) -> None:
    """Resolve the active reconciliation items of objects that reconciled in this run."""
    w = work_items.c
    item_ids: list[int] = []
    for object_type, ids in ((DEPOSIT_OBJECT, deposit_ids), (REMITTANCE_OBJECT, remittance_ids)):
        if not ids:
            continue
        for condition in in_chunks(conn, w.object_id, [str(i) for i in ids]):
            item_ids.extend(conn.execute(select(w.id).where(
                w.organisation_id == organisation_id, w.queue == RECONCILIATION_QUEUE, w.object_type == object_type,
                w.state.in_(WORK_ITEM_ACTIVE_STATES), condition)).scalars())
    if item_ids:
        bulk_resolve(conn, item_ids, RESOLUTION, actor=actor, now=now)


def _older_than(date_column: Any, created_at: Any, cutoff: date) -> Any:
    """The object's date (its creation day when it has none) is before ``cutoff``."""
    return or_(date_column < cutoff,
               and_(date_column.is_(None), created_at < datetime.combine(cutoff, time.min, tzinfo=UTC)))


def _unmatched_deposits(conn: Connection, organisation_id: str, now: datetime, age: int,
                        actor: str) -> list[WorkItemSpec]:
    """Credits matched to nothing ``age`` days after their value date: received -> unmatched, one item each."""
    d = deposits.c
    cutoff = now.date() - timedelta(days=age)
    rows = list(conn.execute(
        select(d.id, d.state, d.amount, d.value_date, d.trace_number, d.payer_name).where(
            d.organisation_id == organisation_id, d.direction == CREDIT, d.state.in_(UNMATCHED_STATES),
            d.amount > d.matched_amount, _older_than(d.value_date, d.created_at, cutoff)).order_by(d.id)))
    received = [row.id for row in rows if row.state == "received"]
    if received:
        transition_many(conn, DEPOSIT_OBJECT, received, "received", "unmatched", activity=ACTIVITY_FLAG_UNMATCHED,
                        actor=actor, reason=f"no remittance after {age} days", at=now)
    return [WorkItemSpec(
        queue=RECONCILIATION_QUEUE, item_type=UNMATCHED_DEPOSIT, object_type=DEPOSIT_OBJECT, object_id=str(row.id),
        title=f"Deposit of {format_amount(from_stored(row.amount))} on {_day(row.value_date)} matches no remittance",
        organisation_id=organisation_id,
        details={"amount": format_amount(from_stored(row.amount)), "value_date": _day(row.value_date),
                 "trace_number": row.trace_number, "payer_name": row.payer_name, "age_days": age},
    ) for row in rows]


def _unreconciled_remittances(conn: Connection, organisation_id: str, now: datetime, age: int) -> list[WorkItemSpec]:
    """Posted remittances not fully found in the bank ``age`` days after their payment date, one item each."""
    r = remittances.c
    cutoff = now.date() - timedelta(days=age)
    specs = []
    for row in conn.execute(select(r.id, r.payer_id, r.trace_number, r.payment_amount, r.reconciled_amount,
                                   r.payment_date).where(
            r.organisation_id == organisation_id, r.state == "posted", r.payment_amount > r.reconciled_amount,
            _older_than(r.payment_date, r.created_at, cutoff)).order_by(r.id)):
        open_amount = from_stored(row.payment_amount) - from_stored(row.reconciled_amount)
        if open_amount <= ZERO:
            continue
        specs.append(WorkItemSpec(
            queue=RECONCILIATION_QUEUE, item_type=UNRECONCILED_REMITTANCE, object_type=REMITTANCE_OBJECT,
            object_id=str(row.id), payer_id=row.payer_id, organisation_id=organisation_id,
            title=f"Remittance {row.trace_number} of {format_amount(from_stored(row.payment_amount))}: "
                  f"{format_amount(open_amount)} not found in a bank deposit",
            details={"trace_number": row.trace_number, "payment_amount": format_amount(from_stored(row.payment_amount)),
                     "open_amount": format_amount(open_amount), "payment_date": _day(row.payment_date),
                     "age_days": age}))
    return specs


def _amount_mismatches(conn: Connection, organisation_id: str) -> list[WorkItemSpec]:
    """Partial trace matches whose deposit or remittance still has a difference: one item on that side."""
    m, d, r = deposit_matches.c, deposits.c, remittances.c
    deposit_open = and_(d.state.in_(OPEN_DEPOSIT_STATES), d.amount > d.matched_amount)
    remittance_open = and_(r.state == "posted", r.payment_amount > r.reconciled_amount)
    query = (select(m.deposit_id, m.remittance_id, d.amount, d.matched_amount, r.trace_number, r.payer_id,
                    r.payment_amount, r.reconciled_amount,
                    deposit_open.label("deposit_open"), remittance_open.label("remittance_open"))
             .select_from(deposit_matches.join(deposits, d.id == m.deposit_id)
                          .join(remittances, r.id == m.remittance_id))
             .where(m.organisation_id == organisation_id, m.method == TRACE_PARTIAL, or_(deposit_open, remittance_open))
             .order_by(m.id))
    on_deposit: dict[int, list[Any]] = defaultdict(list)
    on_remittance: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(query):
        if row.deposit_open and from_stored(row.amount) > from_stored(row.matched_amount):
            on_deposit[row.deposit_id].append(row)
        if row.remittance_open and from_stored(row.payment_amount) > from_stored(row.reconciled_amount):
            on_remittance[row.remittance_id].append(row)
    specs = []
    for deposit_id, rows in on_deposit.items():
        first = rows[0]
        difference = from_stored(first.amount) - from_stored(first.matched_amount)
        specs.append(WorkItemSpec(
            queue=RECONCILIATION_QUEUE, item_type=AMOUNT_MISMATCH, object_type=DEPOSIT_OBJECT,
            object_id=str(deposit_id), organisation_id=organisation_id,
            title=f"Deposit of {format_amount(from_stored(first.amount))} exceeds remittance {first.trace_number} "
                  f"by {format_amount(difference)}",
            links=tuple((REMITTANCE_OBJECT, str(row.remittance_id)) for row in rows),
            details={"amount": format_amount(from_stored(first.amount)),
                     "matched_amount": format_amount(from_stored(first.matched_amount)),
                     "difference": format_amount(difference), "trace_number": first.trace_number}))
    for remittance_id, rows in on_remittance.items():
        first = rows[0]
        difference = from_stored(first.payment_amount) - from_stored(first.reconciled_amount)
        specs.append(WorkItemSpec(
            queue=RECONCILIATION_QUEUE, item_type=AMOUNT_MISMATCH, object_type=REMITTANCE_OBJECT,
            object_id=str(remittance_id), organisation_id=organisation_id, payer_id=first.payer_id,
            title=f"Remittance {first.trace_number} of {format_amount(from_stored(first.payment_amount))} exceeds its "
                  f"deposits by {format_amount(difference)}",
            links=tuple((DEPOSIT_OBJECT, str(row.deposit_id)) for row in rows),
            details={"payment_amount": format_amount(from_stored(first.payment_amount)),
                     "reconciled_amount": format_amount(from_stored(first.reconciled_amount)),
                     "difference": format_amount(difference), "trace_number": first.trace_number}))
    return specs


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


# ---- status ----------------------------------------------------------------------------------------------

def reconciliation_status(conn: Connection, *, organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, Any]:
    """Counts and amounts (two-place strings) of deposits by state, of posted remittances by reconciliation
    (unreconciled, partial, reconciled), and of matches by method."""
    d, r, m = deposits.c, remittances.c, deposit_matches.c
    by_state: dict[str, dict[str, Any]] = {}
    debit_count, debit_total = 0, ZERO
    for row in conn.execute(select(d.state, d.direction, func.count().label("n"),
                                   sum_money(conn, d.amount).label("amount"),
                                   sum_money(conn, d.matched_amount).label("matched"))
                            .where(d.organisation_id == organisation_id).group_by(d.state, d.direction)):
        amount, matched = summed_money(conn, row.amount), summed_money(conn, row.matched)
        if row.direction != CREDIT:  # bank debits (checks paid, fees) are reported, never reconciled here
            debit_count, debit_total = debit_count + row.n, debit_total + amount
            continue
        by_state[row.state] = {"count": row.n, "amount": format_amount(amount),
                               "matched_amount": format_amount(matched), "open_amount": format_amount(amount - matched)}

    status = case((r.state == "reconciled", "reconciled"), (r.reconciled_amount > 0, "partial"),
                  else_="unreconciled").label("status")
    by_status = dict.fromkeys(("unreconciled", "partial", "reconciled"), (0, ZERO, ZERO))
    for row in conn.execute(select(status, func.count().label("n"),
                                   sum_money(conn, r.payment_amount).label("amount"),
                                   sum_money(conn, r.reconciled_amount).label("reconciled"))
                            .where(r.organisation_id == organisation_id, r.state.in_(("posted", "reconciled")))
                            .group_by(status)):
        by_status[row.status] = (row.n, summed_money(conn, row.amount), summed_money(conn, row.reconciled))
    methods = {row.method: {"count": row.n, "amount": format_amount(summed_money(conn, row.amount))}
               for row in conn.execute(
                   select(m.method, func.count().label("n"), sum_money(conn, m.amount).label("amount"))
                   .where(m.organisation_id == organisation_id).group_by(m.method))}
    return {
        "deposits": {"by_state": by_state, "debits": {"count": debit_count, "amount": format_amount(debit_total)}},
        "remittances": {name: {"count": n, "amount": format_amount(amount), "reconciled_amount": format_amount(done),
                               "open_amount": format_amount(amount - done)}
                        for name, (n, amount, done) in by_status.items()},
        "matches": methods,
    }
