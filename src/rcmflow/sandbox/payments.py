"""Payment runs: on each day up to "today", each payer pays each payee what has come due, in one 835 per payer
and day (one transaction set, one payment, per payee), and the bank reports the EFTs.

What comes due on a day: claims whose pay day it is (with the reversal of the earlier payment a
replacement or void takes back), and reprocessings (reversal and corrected payment) of claims paid in
earlier runs. Claims paid past the prompt-pay limit earn interest (PLB L6). Overpayment recoveries
(PLB WO) wait for a payment large enough to take them from. When the reversals of a run exceed what it
pays, the payer pays nothing and carries the difference forward (PLB FB, negative), taking it back from
the payee's next payments (PLB FB, positive). Days are handled in order, so every reversal and recovery
refers to a claim paid in an earlier run.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.deposit import Deposit
from rcmflow.domain.money import ZERO, total
from rcmflow.domain.remittance import ClaimPayment, ProviderAdjustment, Remittance
from rcmflow.formats.bai2_write import AccountActivity, BankGroup, write_bai2
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.sandbox.adjudicate import DENIED
from rcmflow.sandbox.followups import reversal
from rcmflow.sandbox.remit import PAYEE_BANK, deposits, fiscal_period, interest, remittance, trace_number
from rcmflow.sandbox.seeding import chance, rng_for
from rcmflow.sandbox.session import Session
from rcmflow.sandbox.state import ClaimRecord, Route

PAYMENT_TIME = time(5, 0)  # 835s are produced before the day's payments settle
BANK_TIME = time(6, 30)
BANK_CUSTOMER = "RCMFLOWCLINIC"  # the BAI2 receiver: the payees' bank customer id
PAY, REPROCESS = "pay", "reprocess"


class RunKey(NamedTuple):
    """One payment: a payer paying a payee on a day, answered to one submitter."""

    day: date
    payer_id: str
    route: Route
    payee_id: str


class Event(NamedTuple):
    """Something due in a payment run: a claim's payment, or a reprocessing of an earlier one."""

    kind: str
    position: int  # of the claim record in the state


def _due(session: Session) -> dict[RunKey, list[Event]]:
    """Every payment and reprocessing due on or before the run's last day, by payment run."""
    runs: dict[RunKey, list[Event]] = defaultdict(list)
    for position, record in enumerate(session.state.claims):
        if record.rejected:
            continue
        if (record.payment is not None or record.reverses) and not record.paid_trace and record.pay_on \
                and record.pay_on <= session.limit:
            runs[_key(record, record.pay_on)].append(Event(PAY, position))
        if record.reprocess is not None and not record.reprocessed_trace and record.reprocess.due <= session.limit:
            runs[_key(record, record.reprocess.due)].append(Event(REPROCESS, position))
    return runs


def _key(record: ClaimRecord, day: date) -> RunKey:
    return RunKey(day, record.payer_id, record.route, record.payee.id)


def pay(session: Session) -> None:
    """Write every payment run that has come due (see the module docstring)."""
    runs = _due(session)
    recoupments = [position for position, record in enumerate(session.state.claims)
                   if record.recoupment is not None and not record.recouped_trace]
    files: dict[tuple[date, str, Route], list[Remittance]] = defaultdict(list)
    for key in sorted(runs, key=lambda run: (run.day, run.payer_id, run.route, run.payee_id)):
        payment = _payment(session, key, runs[key], recoupments)
        files[(key.day, key.payer_id, key.route)].append(payment)
    numbers = session.state.numbers
    for (day, payer_id, route), payments in files.items():
        text = write_835_interchange(payments, route.ours, route.theirs, numbers, usage=route.usage,
                                     created=datetime.combine(day, PAYMENT_TIME), require_balanced=True)
        session.emit(f"835-{payer_id or 'UNKNOWN'}-{day:%Y%m%d}-{numbers.interchange:09d}.835", "835", text)


def _payment(session: Session, key: RunKey, events: list[Event], recoupments: list[int]) -> Remittance:
    """One payee's payment: its claims, then interest, recoveries and forward balances as PLBs."""
    state, run = session.state, session.run
    first = state.claims[events[0].position]
    profile = session.profile(key.payer_id, first.payer_name)
    check = chance(rng_for(session.seed, "check", key.payer_id, key.payee_id, key.day), profile.check_rate)
    trace = trace_number(profile, key.day, state.next_payment(key.payer_id), check)
    claims: list[ClaimPayment] = []
    plbs: list[ProviderAdjustment] = []
    period = fiscal_period(key.day)
    for event in events:
        record = state.claims[event.position]
        if event.kind == REPROCESS:
            assert record.reprocess is not None and record.payment is not None
            claims += [reversal(record.payment), record.reprocess.corrected]
            run.claims_reversed += 1
            continue
        if record.reverses:
            claims.append(reversal(_taken_back(session, record)))
            run.claims_reversed += 1
        if record.payment is not None:
            claims.append(record.payment)
            if record.payment.status == DENIED:
                run.claims_denied += 1
            else:
                run.claims_paid += 1
            owed = interest(record.payment, record.received, key.day, profile)
            if owed:
                plbs.append(ProviderAdjustment(key.payee_id, period, "L6", record.payer_claim_number, -owed))
    net = total(claim.paid for claim in claims) - total(plb.amount for plb in plbs)
    recovered, net, recouped = _recoveries(session, key, net, period, recoupments)
    plbs += recovered
    plbs += _forward_balance(session, key, net, period, trace)
    payment = remittance(profile, first.payee, key.day, claims, plbs, trace, check)
    _mark(session, events, recouped, trace)
    run.total_paid += payment.payment_amount
    state.deposits.extend(deposits(payment, profile, rng_for(session.seed, "deposit", trace)))
    return payment


def _taken_back(session: Session, record: ClaimRecord) -> ClaimPayment:
    """What stands paid on the claim a replacement or void takes back."""
    for original in session.state.claims:
        if original.payer_id == record.payer_id and original.payer_claim_number == record.reverses:
            payment = original.current_payment
            assert payment is not None  # linked only to paid claims
            return payment
    raise LookupError(f"payer claim {record.reverses} to take back is not on record")


def _recoveries(session: Session, key: RunKey, net: Decimal, period: date,
                pending: list[int]) -> tuple[list[ProviderAdjustment], Decimal, list[int]]:
    """Overpayment recoveries (PLB WO) due for this payee that this payment can bear (``pending``: positions
    of the claims with a recovery not taken yet), with the net left and the positions recovered from."""
    plbs, positions = [], []
    for position in pending:
        record = session.state.claims[position]
        recoupment = record.recoupment
        if recoupment is None or record.recouped_trace or not record.paid_trace or recoupment.due > key.day \
                or _key(record, key.day) != key or recoupment.amount > net:
            continue
        plbs.append(ProviderAdjustment(key.payee_id, period, "WO", record.payer_claim_number, recoupment.amount))
        net -= recoupment.amount
        positions.append(position)
    return plbs, net, positions


def _forward_balance(session: Session, key: RunKey, net: Decimal, period: date,
                     trace: str) -> list[ProviderAdjustment]:
    """Take back what the payee owes from earlier runs; carry forward what this run cannot pay (PLB FB)."""
    balances = session.state.forward_balances
    owner = f"{key.payer_id}|{key.payee_id}"
    owed = balances.get(owner, ZERO)
    plbs = []
    taken = min(owed, max(net, ZERO))
    if taken > 0:
        plbs.append(ProviderAdjustment(key.payee_id, period, "FB", trace, taken))
        owed -= taken
        net -= taken
    if net < 0:
        plbs.append(ProviderAdjustment(key.payee_id, period, "FB", trace, net))
        owed -= net
    if owed:
        balances[owner] = owed
    else:
        balances.pop(owner, None)
    return plbs


def _mark(session: Session, events: list[Event], recouped: list[int], trace: str) -> None:
    for event in events:
        field = "paid_trace" if event.kind == PAY else "reprocessed_trace"
        session.replace(event.position, **{field: trace})
    for position in recouped:
        session.replace(position, recouped_trace=trace)


def bank(session: Session) -> None:
    """One BAI2 file per value date that has come: the EFT credits of that day, by account."""
    state = session.state
    ready = [deposit for deposit in state.deposits if deposit.value_date and deposit.value_date <= session.limit]
    state.deposits = [deposit for deposit in state.deposits if not (deposit.value_date and
                                                                    deposit.value_date <= session.limit)]
    by_day: dict[date, dict[str, list[Deposit]]] = defaultdict(lambda: defaultdict(list))
    for deposit in ready:
        assert deposit.value_date is not None
        by_day[deposit.value_date][deposit.account].append(deposit)
    for day in sorted(by_day):
        state.bank_files += 1
        accounts = tuple(AccountActivity(account, tuple(sorted(items, key=lambda d: (d.trace_number,
                                                                                     d.bank_reference))))
                         for account, items in sorted(by_day[day].items()))
        content = write_bai2(PAYEE_BANK, BANK_CUSTOMER, f"{day:%y%m%d}{state.bank_files:04d}",
                             datetime.combine(day, BANK_TIME), [BankGroup(PAYEE_BANK, day, accounts)])
        session.emit(f"bai2-{day:%Y%m%d}-{state.bank_files:04d}.bai", "BAI2", content.decode("ascii"))
        session.run.total_deposited += total(deposit.amount for items in by_day[day].values() for deposit in items)
