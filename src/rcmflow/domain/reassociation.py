"""Reassociation of bank deposits to 835 remittances (CAQH CORE 370), as a pure algorithm.

CORE 370 reassociates an EFT with its ERA by the trace number: the 835's TRN02 travels in the CCD+
addenda of the ACH credit (``TRN*1*<TRN02>*<TRN03>``), and TRN03 is the originator (``1`` + payer TIN).
The rules, in order (each deposit and remittance takes part in at most one rule per call):

1. Trace: a deposit key equal to a remittance's trace number (and, when both are known, the same
   originator ignoring a leading ``1``).
   a. One remittance for the deposit's open amount: a full match ("trace_number", confidence 1).
   b. Several remittances of one payer with that trace whose open amounts add up to the deposit (split
      835s for one EFT): one full match per remittance.
   c. Several deposits with that trace whose open amounts add up to one remittance (partial payments):
      one full match per deposit.
   d. Otherwise the amounts differ: match the smaller open amount ("trace_number_partial", 0.9); the
      difference stays open for a person.
2. No trace match: the same open amount, the deposit's value date within ``date_window_days`` on or
   after the remittance's payment date, and exactly one candidate each way ("amount_date", 0.8).
   Anything ambiguous stays unmatched.

Amounts are exact ``Decimal``; ids are ordered, so the same input always gives the same matches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from itertools import combinations
from typing import NamedTuple

from rcmflow.domain.money import ZERO, total

TRACE = "trace_number"
TRACE_PARTIAL = "trace_number_partial"
AMOUNT_DATE = "amount_date"
TRACE_CONFIDENCE = Decimal("1")
PARTIAL_CONFIDENCE = Decimal("0.9")
AMOUNT_DATE_CONFIDENCE = Decimal("0.8")
# Subset search for split and partial payments: 2**12 sums at most per trace; real splits are a handful.
MAX_COMBINATION = 12


class OpenRemittance(NamedTuple):
    """A posted remittance whose payment the bank has not fully accounted for yet."""

    remittance_id: int
    payer_id: str
    trace_number: str
    originator_id: str | None
    open_amount: Decimal
    payment_date: date | None


class OpenDeposit(NamedTuple):
    """A bank credit not yet fully matched to remittances."""

    deposit_id: int
    keys: tuple[str, ...]  # candidate trace numbers, best first (``Deposit.reassociation_keys``)
    originator_id: str | None
    open_amount: Decimal
    value_date: date | None


class Reassociation(NamedTuple):
    """One deposit paying (part of) one remittance."""

    deposit_id: int
    remittance_id: int
    amount: Decimal
    method: str
    confidence: Decimal


def same_originator(first: str | None, second: str | None) -> bool:
    """True unless both originator ids are known and differ (ignoring a leading "1" on either: TRN03 is
    "1" + TIN, while banks often report the bare TIN)."""
    a, b = (first or "").strip(), (second or "").strip()
    if not a or not b:
        return True
    return a == b or a == "1" + b or "1" + a == b


def combination(items: Sequence[tuple[int, Decimal]], target: Decimal) -> tuple[int, ...] | None:
    """Ids of at least two items whose amounts add up to ``target``: all of them, else the one subset of the
    largest size that does (None when none does, when two subsets of that size do, or when too many)."""
    if len(items) < 2:
        return None
    if total(amount for _, amount in items) == target:
        return tuple(item_id for item_id, _ in items)
    if len(items) > MAX_COMBINATION:
        return None
    for size in range(len(items) - 1, 1, -1):
        found = [combo for combo in combinations(items, size) if total(amount for _, amount in combo) == target]
        if len(found) == 1:
            return tuple(item_id for item_id, _ in found[0])
        if found:
            return None  # two different ways to make the amount: a person decides
    return None


class _Ledger:
    """Open amounts as the matches of one call consume them."""

    def __init__(self, remittances: Sequence[OpenRemittance], deposits: Sequence[OpenDeposit]) -> None:
        self.remittance = {r.remittance_id: r.open_amount for r in remittances}
        self.deposit = {d.deposit_id: d.open_amount for d in deposits}
        self.matches: list[Reassociation] = []

    def match(self, deposit_id: int, remittance_id: int, amount: Decimal, method: str, confidence: Decimal) -> None:
        self.deposit[deposit_id] -= amount
        self.remittance[remittance_id] -= amount
        self.matches.append(Reassociation(deposit_id, remittance_id, amount, method, confidence))


def reassociate(
    remittances: Sequence[OpenRemittance],
    deposits: Sequence[OpenDeposit],
    *,
    date_window_days: int = 5,
) -> list[Reassociation]:
    """Match open deposits to open remittances by trace number, then by amount and date (see module doc)."""
    open_remittances = sorted((r for r in remittances if r.open_amount > ZERO), key=lambda r: r.remittance_id)
    open_deposits = sorted((d for d in deposits if d.open_amount > ZERO), key=lambda d: d.deposit_id)
    book = _Ledger(open_remittances, open_deposits)

    by_trace: dict[str, list[OpenRemittance]] = defaultdict(list)
    for remittance in open_remittances:
        if remittance.trace_number.strip():
            by_trace[remittance.trace_number.strip()].append(remittance)

    # Each deposit takes the first of its keys that names a remittance of a compatible originator.
    candidates: dict[int, list[OpenRemittance]] = {}
    groups: dict[str, list[OpenDeposit]] = defaultdict(list)
    for deposit in open_deposits:
        for key in deposit.keys:
            found = [r for r in by_trace.get(key.strip(), ())
                     if same_originator(deposit.originator_id, r.originator_id)]
            if found:
                candidates[deposit.deposit_id] = found
                groups[key.strip()].append(deposit)
                break
    for group in groups.values():
        _match_trace_group(book, group, candidates)

    in_trace_groups = {r.remittance_id for found in candidates.values() for r in found}
    _match_amount_date(
        book,
        [r for r in open_remittances if r.remittance_id not in in_trace_groups],
        [d for d in open_deposits if d.deposit_id not in candidates],
        date_window_days,
    )
    return book.matches


def _match_trace_group(book: _Ledger, deposits: list[OpenDeposit], candidates: dict[int, list[OpenRemittance]]) -> None:
    """Rule 1 for the deposits that share one trace number."""
    # Trace numbers are unique per payer, not across payers (a lockbox check number can repeat): a deposit
    # whose trace names remittances of several payers matches only on an unambiguous equal amount.
    several_payers = {d.deposit_id for d in deposits if len({r.payer_id for r in candidates[d.deposit_id]}) > 1}

    # a. equal amounts
    for deposit in deposits:
        equal = [r for r in candidates[deposit.deposit_id]
                 if book.remittance[r.remittance_id] == book.deposit[deposit.deposit_id]]
        if equal and (len(equal) == 1 or deposit.deposit_id not in several_payers):
            book.match(deposit.deposit_id, equal[0].remittance_id, deposit.open_amount, TRACE, TRACE_CONFIDENCE)

    # b. one deposit, split 835s of one payer
    for deposit in deposits:
        if deposit.deposit_id in several_payers or book.deposit[deposit.deposit_id] != deposit.open_amount:
            continue
        untouched = [(r.remittance_id, r.open_amount) for r in candidates[deposit.deposit_id]
                     if book.remittance[r.remittance_id] == r.open_amount]
        subset = combination(untouched, deposit.open_amount) or ()
        for remittance_id, amount in untouched:
            if remittance_id in subset:
                book.match(deposit.deposit_id, remittance_id, amount, TRACE, TRACE_CONFIDENCE)

    # c. one remittance, several deposits
    remittances = {r.remittance_id: r for d in deposits for r in candidates[d.deposit_id]}
    for remittance_id in sorted(remittances):
        remittance = remittances[remittance_id]
        if book.remittance[remittance_id] != remittance.open_amount:
            continue
        paying = [(d.deposit_id, d.open_amount) for d in deposits
                  if d.deposit_id not in several_payers and book.deposit[d.deposit_id] == d.open_amount
                  and any(r.remittance_id == remittance_id for r in candidates[d.deposit_id])]
        subset = combination(paying, remittance.open_amount) or ()
        for deposit_id, amount in paying:
            if deposit_id in subset:
                book.match(deposit_id, remittance_id, amount, TRACE, TRACE_CONFIDENCE)

    # d. amounts differ: the smaller open amount, remittance by remittance
    for deposit in deposits:
        if deposit.deposit_id in several_payers:
            continue
        for remittance in candidates[deposit.deposit_id]:
            amount = min(book.deposit[deposit.deposit_id], book.remittance[remittance.remittance_id])
            if amount > ZERO:
                book.match(deposit.deposit_id, remittance.remittance_id, amount, TRACE_PARTIAL, PARTIAL_CONFIDENCE)


def _match_amount_date(book: _Ledger, remittances: list[OpenRemittance], deposits: list[OpenDeposit],
                       window_days: int) -> None:
    """Rule 2: equal amount and a value date in [payment date, payment date + window], one-to-one only."""
    window = timedelta(days=window_days)
    by_amount: dict[Decimal, list[OpenRemittance]] = defaultdict(list)
    for remittance in remittances:
        if remittance.payment_date is not None:
            by_amount[remittance.open_amount].append(remittance)
    pairs: dict[int, list[int]] = {}
    deposits_of: dict[int, list[int]] = defaultdict(list)
    for deposit in deposits:
        if deposit.value_date is None:
            continue
        found = [r.remittance_id for r in by_amount.get(deposit.open_amount, ())
                 if r.payment_date is not None and r.payment_date <= deposit.value_date <= r.payment_date + window
                 and same_originator(deposit.originator_id, r.originator_id)]
        pairs[deposit.deposit_id] = found
        for remittance_id in found:
            deposits_of[remittance_id].append(deposit.deposit_id)
    for deposit in deposits:
        found = pairs.get(deposit.deposit_id, [])
        if len(found) == 1 and len(deposits_of[found[0]]) == 1:
            book.match(deposit.deposit_id, found[0], deposit.open_amount, AMOUNT_DATE, AMOUNT_DATE_CONFIDENCE)
