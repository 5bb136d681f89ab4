"""The claim-payments list of the web UI: the 835 claim payments (CLP loops), each with its remittance and matched
claim, filtered by state, payer, whether it denied the claim, whether a person touched it, the CARC category of its
denials and a window on the ERA's receipt or on the posting; in keyset pages, newest first.

This is the list behind the control tower's denial, straight-through posting and posting latency figures: every
filter selects with the conditions ``services.kpis`` counts with, and the facility scope is the matched claim's
facility, as the KPIs scope them (a person limited to some facilities sees no unmatched payment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, case, exists, func, select

from rcmflow.adapters.store.schema import (
    CLAIM_PAYMENT_STATES,
    claim_payments,
    claims,
    payment_adjustments,
    remittances,
)
from rcmflow.adapters.store.sql import keyset_page
from rcmflow.domain.carc import CATEGORIES
from rcmflow.errors import InputError
from rcmflow.services.kpis import (
    KpiScope,
    denial_adjustment,
    denial_category,
    denied_payment,
    kpi_scope,
    not_reversal,
    payment_posted,
    remittance_received,
    touched_payment,
)

DATED = ("received", "posted")  # what the window looks at: the ERA's receipt, or the payment's posting


@dataclass(frozen=True)
class PaymentFilters:
    """What the claim-payments list selects by; None: not filtered by it."""

    as_of: datetime  # the end of the window
    window_days: int | None = None  # claim payments ``dated`` in the window ending at ``as_of``
    dated: str = "received"
    states: tuple[str, ...] | None = None
    payer_id: str | None = None  # the remittance's payer
    facilities: tuple[str, ...] | None = None  # the matched claim's facility; None: every facility
    reversal: bool | None = None  # a reversal (CLP02 22) or not
    denied: bool | None = None  # denied the claim in full or in part (``denial_rate``)
    touched: bool | None = None  # a work item was about it or linked to it (``straight_through_posting_rate``)
    category: str | None = None  # has a denial adjustment of this CARC category

    def __post_init__(self) -> None:
        if self.dated not in DATED:
            raise InputError(detail=f"dated is one of {', '.join(DATED)} (what the window looks at)")
        if self.states is not None and not set(self.states) <= set(CLAIM_PAYMENT_STATES):
            raise InputError(detail=f"claim payment state is one of {', '.join(CLAIM_PAYMENT_STATES)}")
        if self.category is not None and self.category not in CATEGORIES:
            raise InputError(detail=f"category is a CARC category: one of {', '.join(CATEGORIES)}")


def _scope(conn: Connection, organisation_id: str, f: PaymentFilters) -> KpiScope:
    return kpi_scope(conn, as_of=f.as_of, window_days=f.window_days or 1, facilities=f.facilities,
                     organisation_id=organisation_id)


def _selection(s: KpiScope, f: PaymentFilters) -> tuple[Any, list[Any]]:
    """(from clause, conditions) of the claim payments ``f`` selects."""
    cp, r, c = claim_payments, remittances, claims
    source = cp.join(r, r.c.id == cp.c.remittance_id).outerjoin(c, c.c.id == cp.c.claim_id)
    where: list[Any] = [cp.c.organisation_id == s.organisation_id, *s.facility(c.c.facility_id)]
    if f.window_days is not None:
        where += remittance_received(s, r) if f.dated == "received" else payment_posted(s, cp)
    if f.states is not None:
        where.append(cp.c.state.in_(list(f.states)))
    if f.payer_id is not None:
        where.append(r.c.payer_id == f.payer_id)
    for wanted, condition in ((f.reversal, ~not_reversal(cp)), (f.denied, denied_payment(cp)),
                              (f.touched, touched_payment(cp))):
        if wanted is not None:
            where.append(condition if wanted else ~condition)
    if f.category is not None:
        pa = payment_adjustments.alias("categorised")
        where.append(exists().where(pa.c.claim_payment_id == cp.c.id, denial_adjustment(cp, pa),
                                    denial_category(pa) == f.category))
    return source, where


def _denied_dollars(cp: Any) -> Any:
    """The claim payment's denied dollars: its denial adjustments (cents on SQLite, as the KPIs add them)."""
    pa = payment_adjustments.alias("denied_dollars")
    return (select(func.coalesce(func.sum(pa.c.amount), 0)).where(pa.c.claim_payment_id == cp.c.id,
                                                                  denial_adjustment(cp, pa)).scalar_subquery())


def search_claim_payments(conn: Connection, organisation_id: str, filters: PaymentFilters, *,
                          after: tuple[Any, int] | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Claim payments ``filters`` selects, newest first, continued after ``after`` = (id, id); each with its
    remittance (trace number, payer, receipt), claim (facility), whether it denied and was touched, its denied
    dollars and the minutes from the ERA's receipt to its posting."""
    s = _scope(conn, organisation_id, filters)
    cp, r, c = claim_payments, remittances, claims
    source, where = _selection(s, filters)
    query = (select(cp.c.id, cp.c.remittance_id, cp.c.patient_control_number, cp.c.status, cp.c.charge, cp.c.paid,
                    cp.c.patient_responsibility, cp.c.state, cp.c.claim_id, cp.c.posted_at, cp.c.variance,
                    r.c.trace_number, r.c.payer_id, r.c.payer_name, r.c.created_at.label("received_at"),
                    c.c.facility_id, case((denied_payment(cp), True), else_=False).label("denied"),
                    case((touched_payment(cp), True), else_=False).label("touched"),
                    _denied_dollars(cp).label("denied_amount"),
                    s.minutes(r.c.created_at, cp.c.posted_at).label("latency_minutes"))
             .select_from(source).where(*where))
    rows = conn.execute(keyset_page(query, cp.c.id, cp.c.id, descending=True, after=after, limit=limit))
    found = []
    for row in rows:
        item = dict(row._mapping)
        item.update(charge=str(item["charge"]), paid=str(item["paid"]), denied=bool(item["denied"]),
                    touched=bool(item["touched"]), denied_amount=_plain_money(item["denied_amount"]))
        found.append(item)
    return found


def claim_payment_totals(conn: Connection, organisation_id: str, filters: PaymentFilters) -> dict[str, Any]:
    """How many claim payments ``filters`` selects; their charges, payments and denied dollars; how many of them
    denied and how many people touched."""
    s = _scope(conn, organisation_id, filters)
    cp, pa = claim_payments, payment_adjustments
    source, where = _selection(s, filters)
    row = conn.execute(
        select(func.count().label("n"), s.money_sum(cp.c.charge).label("charged"),
               s.money_sum(cp.c.paid).label("paid"),
               func.coalesce(func.sum(case((denied_payment(cp), 1), else_=0)), 0).label("denied"),
               func.coalesce(func.sum(case((touched_payment(cp), 1), else_=0)), 0).label("touched"))
        .select_from(source).where(*where)).one()
    denied_amount = conn.execute(
        select(s.money_sum(pa.c.amount)).select_from(source.join(pa, pa.c.claim_payment_id == cp.c.id))
        .where(*where, denial_adjustment(cp, pa))).scalar_one()
    return {"count": int(row.n), "charge": s.money(row.charged), "paid": s.money(row.paid),
            "denied": int(row.denied), "touched": int(row.touched), "denied_amount": s.money(denied_amount)}


def _plain_money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))
