"""What payment posting reads: claim payments with their adjustments and lines, the claims they match, and
the date each remittance posts on. Volume reads: raw driver values converted once, amounts cached."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

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
from rcmflow.domain.remittance import Adjustment


@dataclass(frozen=True, slots=True)
class Payment:
    """One claim payment as posting sees it: its stored row, adjustments and lines."""

    id: int
    row: Any
    adjustments: tuple[Adjustment, ...]
    lines: tuple[LineKey, ...]
    payer_id: str
    posting_date: date
    units: dict[int, Decimal | None]  # units paid (SVC05) by service payment id, for fee schedules
    allowed: Decimal | None  # the payer's allowed amount (sum of AMT*B6) when every line reports one


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
    rows: list[Any] = []
    for condition in in_chunks(conn, column, keys):
        rows.extend(conn.execute(select(cp, r.c.payer_id.label("payer_id")).join(r, r.c.id == cp.c.remittance_id)
                                 .where(condition, cp.c.state == state)).all())
    rows.sort(key=lambda row: row.id)
    ids = [row.id for row in rows]
    adjustments: dict[int, list[Adjustment]] = defaultdict(list)
    lines: dict[int, list[LineKey]] = defaultdict(list)
    units: dict[int, dict[int, Decimal | None]] = defaultdict(dict)
    allowed: dict[int, list[Decimal | None]] = defaultdict(list)
    pa = payment_adjustments
    for condition in in_chunks(conn, pa.c.claim_payment_id, ids):
        for payment_id, group, reason, amount, quantity in conn.execute(
                select(pa.c.claim_payment_id, pa.c.group_code, pa.c.reason_code, raw(pa.c.amount), raw(pa.c.quantity))
                .where(condition).order_by(pa.c.id)).all():
            adjustments[payment_id].append(Adjustment(group, reason, exact(amount),
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
            allowed[payment_id].append(exact(line_allowed) if line_allowed is not None else None)
            lines[payment_id].append(LineKey(line_id, code, tuple(modifiers.split(":")) if modifiers else (),
                                             revenue, exact(charge), as_date(day), licn))
    return [Payment(row.id, row, tuple(adjustments[row.id]), tuple(lines[row.id]), row.payer_id,
                     dates[row.remittance_id], units[row.id], _all_or_none(allowed[row.id])) for row in rows]


def _all_or_none(amounts: list[Decimal | None]) -> Decimal | None:
    if not amounts or any(amount is None for amount in amounts):
        return None
    return sum((amount for amount in amounts if amount is not None), Decimal("0.00"))


@lru_cache(maxsize=65_536)
def exact(value: Any) -> Decimal:
    # SQLite hands NUMERIC back as float: exact cents again at the read boundary. Cached: amounts repeat (the
    # same fee, the same copay) across a batch's hundreds of thousands of rows.
    return Decimal(str(value)).quantize(Decimal("0.01"))


@lru_cache(maxsize=1_024)
def exact_units(value: Any) -> Decimal:
    return Decimal(str(value))


def load_claims(conn: Connection, ids: list[int]) -> dict[int, ClaimInfo]:
    found: dict[int, ClaimInfo] = {}
    for condition in in_chunks(conn, claims.c.id, ids):
        found.update((row.id, ClaimInfo(**row._mapping)) for row in conn.execute(select(
            claims.c.id, claims.c.state, claims.c.claim_type, claims.c.facility_id, claims.c.payer_id,
            claims.c.payer_claim_number, claims.c.service_from).where(condition)))
    return found
