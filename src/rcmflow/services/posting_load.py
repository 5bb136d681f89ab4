"""What payment posting reads: claim payments with their adjustments and lines, the claims they match, and
the date each remittance posts on. Volume reads: raw driver values converted once, amounts cached."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, select

from rcmflow.adapters.store.schema import (
    claim_payments,
    claims,
    fiscal_periods,
    payment_adjustments,
    remittances,
    service_payments,
)
from rcmflow.adapters.store.sql import as_date, in_chunks, raw
from rcmflow.domain.ledger import period_of
from rcmflow.domain.matching import LineKey
from rcmflow.domain.money import from_stored
from rcmflow.domain.remittance import Adjustment, Remittance
from rcmflow.services.remittances import PaymentRows, build_payment_rows, reserve_payment_ids

if TYPE_CHECKING:
    from rcmflow.services.payments_ahead import PaymentsAhead

# NamedTuples built with every field given, skipping their Python-level ``__new__`` (as the X12 reader does):
# volume paths build one per claim payment, line and adjustment.
new_tuple = tuple.__new__


class PaymentRow(NamedTuple):
    """The claim payment columns posting reads, from the database or from what intake just stored."""

    id: int
    remittance_id: int
    patient_control_number: str
    status: str
    charge: Decimal
    paid: Decimal
    payer_claim_control_number: str | None
    member_id: str | None
    service_from: date | None
    service_to: date | None
    crossover_payer: str | None
    remarks: list[dict[str, str]] | None


@dataclass(frozen=True, slots=True)
class Payment:
    """One claim payment as posting sees it: its stored row, adjustments and lines."""

    id: int
    row: PaymentRow
    adjustments: tuple[Adjustment, ...]
    lines: tuple[LineKey, ...]
    payer_id: str
    posting_date: date
    units: dict[int, Decimal | None]  # units paid (SVC05) by service payment id, for fee schedules
    allowed: Decimal | None  # the payer's allowed amount (sum of AMT*B6) when every line reports one
    # A payment not stored yet (``new_payments``): the rows posting completes and inserts, in their final state.
    rows: PaymentRows | None = None


@dataclass
class ClaimInfo:
    """What posting reads of a matched claim; ``state`` follows the moves this run makes."""

    id: int
    state: str
    claim_type: str
    facility_id: str | None
    payer_id: str
    payer_claim_number: str | None
    service_from: date | None
    department_id: str | None = None


def closed_periods(conn: Connection, organisation_id: str) -> set[str]:
    return set(conn.execute(select(fiscal_periods.c.period).where(
        fiscal_periods.c.organisation_id == organisation_id, fiscal_periods.c.state == "closed")).scalars())


def posting_date(day: date | None, now: datetime, closed: set[str]) -> date:
    """The payment date (BPR16), unless its period is closed: then today, as a late posting."""
    if day is None or period_of(day) in closed:
        return now.date()
    return day


def load_payments(conn: Connection, column: Any, keys: list[int], state: str,
                   dates: dict[int, date]) -> list[Payment]:
    cp, r = claim_payments, remittances
    found: list[tuple[PaymentRow, str]] = []
    for condition in in_chunks(conn, column, keys):
        found.extend((PaymentRow(row_id, remittance_id, pcn, status, from_stored(charge), from_stored(paid), number,
                                 member, as_date(start), as_date(end), crossover, remarks), payer)
                     for (row_id, remittance_id, pcn, status, charge, paid, number, member, start, end, crossover,
                          remarks, payer) in conn.execute(select(
                         cp.c.id, cp.c.remittance_id, cp.c.patient_control_number, cp.c.status, raw(cp.c.charge),
                         raw(cp.c.paid), cp.c.payer_claim_control_number, cp.c.member_id, raw(cp.c.service_from),
                         raw(cp.c.service_to), cp.c.crossover_payer, cp.c.remarks, r.c.payer_id)
                         .join(r, r.c.id == cp.c.remittance_id).where(condition, cp.c.state == state)).all())
    found.sort(key=lambda pair: pair[0].id)
    ids = [row.id for row, _ in found]
    adjustments: dict[int, list[Adjustment]] = defaultdict(list)
    lines: dict[int, list[LineKey]] = defaultdict(list)
    units: dict[int, dict[int, Decimal | None]] = defaultdict(dict)
    allowed: dict[int, list[Decimal | None]] = defaultdict(list)
    pa = payment_adjustments
    for condition in in_chunks(conn, pa.c.claim_payment_id, ids):
        for payment_id, group, reason, amount, quantity in conn.execute(
                select(pa.c.claim_payment_id, pa.c.group_code, pa.c.reason_code, raw(pa.c.amount), raw(pa.c.quantity))
                .where(condition).order_by(pa.c.id)).all():
            adjustments[payment_id].append(Adjustment(group, reason, from_stored(amount),
                                                      None if quantity is None else exact_units(quantity)))
    sp = service_payments
    for condition in in_chunks(conn, sp.c.claim_payment_id, ids):
        for (line_id, payment_id, code, modifiers, revenue, charge, day, licn, line_units,
             line_allowed) in conn.execute(select(
                sp.c.id, sp.c.claim_payment_id, sp.c.procedure_code, sp.c.modifiers, sp.c.revenue_code,
                raw(sp.c.charge), raw(sp.c.service_date), sp.c.line_item_control_number, raw(sp.c.units),
                raw(sp.c.allowed))
                .where(condition).order_by(sp.c.id)).all():
            units[payment_id][line_id] = exact_units(line_units) if line_units is not None else None
            allowed[payment_id].append(from_stored(line_allowed) if line_allowed is not None else None)
            lines[payment_id].append(LineKey(line_id, code, tuple(modifiers.split(":")) if modifiers else (),
                                             revenue, from_stored(charge), as_date(day), licn))
    return [Payment(row.id, row, tuple(adjustments[row.id]), tuple(lines[row.id]), payer,
                    dates[row.remittance_id], units[row.id], _all_or_none(allowed[row.id])) for row, payer in found]


def new_payments(conn: Connection, new: Sequence[tuple[int, Remittance]], dates: dict[int, date],
                 organisation_id: str, ahead: PaymentsAhead | None = None) -> list[Payment]:
    """The claim payments of remittances just registered, not stored yet, as posting sees them, with the rows
    (ids reserved) that posting completes (claim, match, state, billed lines) and inserts once. With ``ahead``:
    what it built of them while the file before was written, when built from these very inputs."""
    claim_ids, line_ids = reserve_payment_ids(conn, new)
    if ahead is not None:
        built = ahead.take(new, dates, organisation_id, claim_ids, line_ids)
        if built is not None:
            return built
    return build_new_payments(new, dates, organisation_id, claim_ids, line_ids)


def build_new_payments(new: Sequence[tuple[int, Remittance]], dates: dict[int, date], organisation_id: str,
                       claim_ids: Sequence[int], line_ids: Sequence[int]) -> list[Payment]:
    """``new_payments`` with the ids given: reads nothing, a function of its arguments alone."""
    payments: list[Payment] = []
    # Amounts as ``load_payments`` reads them back (two places). The parser hands out one object per distinct
    # CAS text, so an adjustment is converted once per file, not once per line (an equal one with other digits,
    # 12.5 for 12.50, is not the same object and is converted by itself).
    converted: dict[Adjustment, tuple[Adjustment, Adjustment]] = {}

    def stored_amounts(adjustment: Adjustment) -> Adjustment:
        entry = converted.get(adjustment)
        if entry is None or entry[0] is not adjustment:
            entry = converted[adjustment] = (adjustment, new_tuple(Adjustment, (
                adjustment.group, adjustment.reason, from_stored(adjustment.amount), adjustment.quantity)))
        return entry[1]

    for payer, claim, rows in build_payment_rows(new, organisation_id, claim_ids, line_ids):
        adjustments = [stored_amounts(a) for a in claim.adjustments]
        lines: list[LineKey] = []
        units: dict[int, Decimal | None] = {}
        allowed: list[Decimal | None] = []
        for (line_id, _, _, _, code, _, revenue, charge, _, b6, line_units, day, licn, _, _), line in zip(
                rows.lines, claim.service_payments, strict=True):
            if line.adjustments:
                adjustments += [stored_amounts(a) for a in line.adjustments]
            lines.append(new_tuple(LineKey, (line_id, code, line.procedure.modifiers, revenue, from_stored(charge),
                                             day, licn)))
            units[line_id] = line_units
            allowed.append(from_stored(b6) if b6 is not None else None)
        row = rows.claim
        payment_row = new_tuple(PaymentRow, (
            row["id"], row["remittance_id"], row["patient_control_number"], row["status"], from_stored(row["charge"]),
            from_stored(row["paid"]), row["payer_claim_control_number"], row["member_id"], row["service_from"],
            row["service_to"], row["crossover_payer"], row["remarks"]))
        payments.append(Payment(row["id"], payment_row, tuple(adjustments), tuple(lines), payer,
                                dates[row["remittance_id"]], units, _all_or_none(allowed), rows))
    return payments


def _all_or_none(amounts: list[Decimal | None]) -> Decimal | None:
    if not amounts or any(amount is None for amount in amounts):
        return None
    return sum((amount for amount in amounts if amount is not None), Decimal("0.00"))


@lru_cache(maxsize=1_024)
def exact_units(value: Any) -> Decimal:
    return Decimal(str(value))


def load_claims(conn: Connection, ids: list[int]) -> dict[int, ClaimInfo]:
    found: dict[int, ClaimInfo] = {}
    for condition in in_chunks(conn, claims.c.id, ids):
        # Selected in ClaimInfo's field order, so each row is its arguments as they come.
        found.update((row[0], ClaimInfo(*row)) for row in conn.execute(select(
            claims.c.id, claims.c.state, claims.c.claim_type, claims.c.facility_id, claims.c.payer_id,
            claims.c.payer_claim_number, claims.c.service_from, claims.c.department_id).where(condition)))
    return found
