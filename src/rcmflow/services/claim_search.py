"""The claims list of the web UI: ``claim_views.list_claims`` with what the control tower's drill-downs ask for
besides (several states at once, the open ones, an age window, the insurance A/R balance, the clean-claim,
first-pass, rework and denial-category populations), the facility of each claim, and the scrub counts computed
for the page's claims only, so a page costs the same on a million claims as on ten.

Every drill-down filter selects with the conditions ``services.kpis`` counts with (its population functions),
so a list opened from a figure holds exactly the claims the figure counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, func, null, select

from rcmflow.adapters.store.schema import (
    CLAIM_STATES,
    claim_payments,
    claims,
    event_log,
    payment_adjustments,
    remittances,
    scrub_findings,
)
from rcmflow.adapters.store.sql import keyset_page
from rcmflow.domain.carc import CATEGORIES
from rcmflow.domain.kpis import AGING_BUCKETS, age_window
from rcmflow.errors import InputError
from rcmflow.services.claim_views import CLAIM_SORTS
from rcmflow.services.claims import CLAIM_OBJECT
from rcmflow.services.kpis import (  # "open" as the control tower's backlog counts it
    CLAIM_OPEN_STATES,
    KpiScope,
    ar_bucket,
    ar_claim_balances,
    denial_adjustment,
    denial_category,
    ehr_claims_in_window,
    first_answer_times,
    first_pass_accepted,
    found_at_first_scrub,
    front_end_answers,
    kpi_scope,
    received_payments,
    reentered_state,
    state_changes,
)

_COLUMNS = (claims.c.id, claims.c.source_id, claims.c.patient_control_number, claims.c.claim_type,
            claims.c.payer_id, claims.c.payer_name, claims.c.facility_id, claims.c.filing_order, claims.c.service_from,
            claims.c.service_to, claims.c.total_charge, claims.c.state, claims.c.frequency, claims.c.created_at)
FIRST_SCRUB = ("clean", "findings")
FRONT_END = ("answered", "accepted", "rejected")
DEFAULT_WINDOW_DAYS = 30  # the control tower's


def states_for(state: str | None) -> tuple[str, ...] | None:
    """The claim states a ``state`` filter means: one state, "open" (every state not yet done), or None: all."""
    if not state or state == "all":
        return None
    if state == "open":
        return CLAIM_OPEN_STATES
    if state not in CLAIM_STATES:
        raise InputError(detail=f"claim state is one of open, {', '.join(CLAIM_STATES)}")
    return (state,)


@dataclass(frozen=True)
class ClaimFilters:
    """What the claims list selects by; None or False: not filtered by it."""

    as_of: datetime  # the list's "now": ages and A/R balances are at this time, windows end at it
    states: tuple[str, ...] | None = None
    payer_id: str | None = None
    facilities: tuple[str, ...] | None = None  # None: every facility
    created_by_as_of: bool = False  # only claims created by ``as_of`` (a list asked for as of a past time)
    age: str | None = None  # an aging bucket at ``as_of``: of the claim's creation, with ``balance`` of its charges
    balance: bool = False  # a non-zero insurance A/R balance at ``as_of`` (``ar_balance``)
    captured: bool = False  # captured from the EHRs; with a window, in it (``clean_claim_rate``)
    first_scrub: str | None = None  # "clean" or "findings" at the first scrub
    front_end: str | None = None  # first front-end answer in the window: "answered", "accepted" first pass, "rejected"
    rework: bool = False  # changed state in the window, re-entering a state it had been in (``rework_rate``)
    category: str | None = None  # denied for a CARC of this category on a payment received in the window
    window_days: int | None = None  # the window of the filters above that look at a period

    def __post_init__(self) -> None:
        if self.age is not None and self.age not in AGING_BUCKETS:
            raise InputError(detail=f"age is one of {', '.join(AGING_BUCKETS)} (days since the claim was created, "
                                    "or since its charges were posted with balance=open)")
        if self.first_scrub is not None and self.first_scrub not in FIRST_SCRUB:
            raise InputError(detail=f"first_scrub is one of {', '.join(FIRST_SCRUB)}")
        if self.front_end is not None and self.front_end not in FRONT_END:
            raise InputError(detail=f"front_end is one of {', '.join(FRONT_END)}")
        if self.category is not None and self.category not in CATEGORIES:
            raise InputError(detail=f"category is a CARC category: one of {', '.join(CATEGORIES)}")
        if self.window_days is not None and not (self.captured or self.windowed):
            raise InputError(detail="window applies to captured, front_end, rework and category: give one of them")

    @property
    def windowed(self) -> bool:
        """Whether a filter looks at a period (the window, 30 days unless given)."""
        return bool(self.front_end or self.rework or self.category)


def _population(conn: Connection, organisation_id: str, f: ClaimFilters) -> tuple[Any, list[Any], Any]:
    """(from clause, conditions, the A/R balance column or NULL) of the claims ``f`` selects."""
    s: KpiScope = kpi_scope(conn, as_of=f.as_of, window_days=f.window_days or DEFAULT_WINDOW_DAYS,
                            facilities=f.facilities, organisation_id=organisation_id)
    c = claims
    source: Any = c
    balance: Any = null()
    where: list[Any] = [c.c.organisation_id == organisation_id, *s.facility(c.c.facility_id)]
    if f.states is not None:
        where.append(c.c.state.in_(list(f.states)))
    if f.payer_id is not None:
        where.append(c.c.payer_id == f.payer_id)
    if f.created_by_as_of:
        where.append(c.c.created_at <= f.as_of)
    if f.balance:
        per_claim = ar_claim_balances(s)
        source = c.join(per_claim, per_claim.c.claim_id == c.c.id)
        balance = per_claim.c.balance
        where.append(per_claim.c.balance != 0)
        if f.age is not None:
            where.append(ar_bucket(s, per_claim) == f.age)
    elif f.age is not None:
        created_after, created_until = age_window(f.age, f.as_of)
        where += [c.c.created_at > created_after] if created_after is not None else []
        where += [c.c.created_at <= created_until] if created_until is not None else []
    if f.captured:
        where += ehr_claims_in_window(s, c) if f.window_days is not None else [c.c.source_id.is_not(None)]
    if f.first_scrub is not None:
        where.append(found_at_first_scrub(c) if f.first_scrub == "findings" else ~found_at_first_scrub(c))
    if f.front_end is not None:
        ev = event_log.alias("ev")
        accepted, rejected = first_answer_times(ev)
        answers = (select(s.numeric_id(ev.c.object_id)).where(*front_end_answers(s, ev), *s.facility(ev.c.facility_id))
                   .group_by(ev.c.object_id))
        if f.front_end != "answered":
            passed = first_pass_accepted(accepted, rejected)
            answers = answers.having(passed if f.front_end == "accepted" else ~passed)
        where.append(c.c.id.in_(answers))
    if f.rework:
        ev = event_log.alias("ev")
        where.append(c.c.id.in_(select(s.numeric_id(ev.c.object_id)).where(
            *state_changes(s, ev), ev.c.object_type == CLAIM_OBJECT, *s.facility(ev.c.facility_id),
            reentered_state(ev))))
    if f.category is not None:
        cp, r, pa = claim_payments, remittances, payment_adjustments
        where.append(c.c.id.in_(
            select(cp.c.claim_id).select_from(cp.join(r, r.c.id == cp.c.remittance_id)
                                              .join(pa, pa.c.claim_payment_id == cp.c.id))
            .where(*received_payments(s, cp, r), cp.c.claim_id.is_not(None), denial_adjustment(cp, pa),
                   denial_category(pa) == f.category)))
    return source, where, balance


def search_claims(conn: Connection, organisation_id: str, filters: ClaimFilters, *, sort: str = "-id",
                  after: tuple[Any, int] | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Claims of the organisation ``filters`` selects, in ``sort`` order (a column of ``CLAIM_SORTS``, "-" for
    descending), continued after ``after`` = (sort value, id); each with its latest scrub's error and warning
    counts and, with ``balance``, its insurance A/R balance."""
    column = sort.lstrip("-")
    if column not in CLAIM_SORTS:
        raise InputError(detail=f"claims sort by one of {', '.join(CLAIM_SORTS)} (prefix - for descending)")
    source, where, balance = _population(conn, organisation_id, filters)
    query = select(*_COLUMNS, balance.label("ar_balance")).select_from(source).where(*where)
    query = keyset_page(query, claims.c[column], claims.c.id, descending=sort.startswith("-"), after=after,
                        limit=limit)
    rows = [dict(row._mapping) for row in conn.execute(query)]
    counts = _scrub_counts(conn, [row["id"] for row in rows])
    sqlite = conn.dialect.name == "sqlite"
    return [{**row, "total_charge": str(row["total_charge"]),
             "ar_balance": None if row["ar_balance"] is None else _money(row["ar_balance"], sqlite),
             **counts.get(row["id"], {"errors": 0, "warnings": 0})}
            for row in rows]


def claim_totals(conn: Connection, organisation_id: str, filters: ClaimFilters) -> dict[str, Any]:
    """How many claims ``filters`` selects, their charges and (with ``balance``) their insurance A/R balance."""
    s = kpi_scope(conn, as_of=filters.as_of, organisation_id=organisation_id)
    source, where, balance = _population(conn, organisation_id, filters)
    count, charged, owed = conn.execute(
        select(func.count(), s.money_sum(claims.c.total_charge),
               func.sum(balance) if filters.balance else null()).select_from(source).where(*where)).one()
    return {"count": int(count), "total_charge": s.money(charged),
            "ar_balance": s.money(owed) if filters.balance else None}


def _money(value: Any, sqlite: bool) -> Decimal:
    """A balance of ``ar_claim_balances`` (whole cents on SQLite) as money."""
    return (Decimal(int(value)) / 100 if sqlite else Decimal(value)).quantize(Decimal("0.01"))


def _scrub_counts(conn: Connection, claim_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    if not claim_ids:
        return {}
    f = scrub_findings.c
    latest = (select(f.claim_id, func.max(f.scrub_number).label("number"))
              .where(f.claim_id.in_(list(claim_ids))).group_by(f.claim_id).subquery())
    query = (select(f.claim_id, func.sum(case((f.severity == "error", 1), else_=0)).label("errors"),
                    func.sum(case((f.severity == "warning", 1), else_=0)).label("warnings"))
             .join(latest, and_(latest.c.claim_id == f.claim_id, latest.c.number == f.scrub_number))
             .group_by(f.claim_id))
    return {row.claim_id: {"errors": int(row.errors), "warnings": int(row.warnings)} for row in conn.execute(query)}
