"""The KPI engine: every KPI of ``domain.kpis`` computed from the event log, the ledger and the workflow tables.

Set-based: one aggregate query per family of KPIs, grouped in the database by the slice asked for (facility,
payer, department, queue, exception type), each driven by an index on the organisation and the timestamp
that places a row in the window (migration 0017). No query returns a row per claim: the percentiles read
(duration in minutes, how many) pairs of their window, so even those stay small. Totals are the sums of the
groups (every counted object belongs to exactly one group), so a sliced report costs what a total one does, and
a daily snapshot groups each query by every dimension at once and adds the groups up per dimension here
(``compute_kpi_slices``).

Money is summed exactly (whole cents on SQLite, NUMERIC on PostgreSQL). The definitions, units and rounding
rules are in ``domain.kpis`` and ``docs/kpis.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from rcmflow.adapters.store.schema import (
    CLAIM_STATES,
    DEFAULT_ORGANISATION,
    WORK_ITEM_ACTIVE_STATES,
    approval_requests,
    claim_payments,
    claims,
    deposits,
    event_log,
    journal_entries,
    journal_lines,
    ledger_accounts,
    payment_adjustments,
    remittances,
    scrub_findings,
    work_item_links,
    work_items,
)
from rcmflow.adapters.store.sql import literal_in, summed_money
from rcmflow.domain.carc import DENIAL_CATEGORIES, DENIAL_GROUPS, OTHER, PRICING_REASONS
from rcmflow.domain.kpis import (
    AGING_BUCKETS,
    AGING_LIMITS,
    KPIS,
    NO_GROUP,
    check_dimension,
    quantize,
    rate,
    ratio,
    weighted_median,
    weighted_percentile,
)
from rcmflow.domain.money import format_amount
from rcmflow.errors import InputError
from rcmflow.services.acknowledgments import ACTIVITY_ACCEPT_277, ACTIVITY_REJECT_277, ACTIVITY_REJECT_999
from rcmflow.services.approvals import ACTIVITY_SUBMIT as ACTIVITY_SUBMIT_APPROVAL
from rcmflow.services.claims import CLAIM_OBJECT
from rcmflow.services.remittances import CLAIM_PAYMENT_OBJECT
from rcmflow.services.work_items import OBJECT_TYPE as WORK_ITEM_OBJECT

# A claim still needs the billing office until it is paid, closed, billed to the patient or voided.
CLAIM_DONE_STATES = ("paid", "closed", "patient billed", "voided")
CLAIM_OPEN_STATES = tuple(state for state in CLAIM_STATES if state not in CLAIM_DONE_STATES)
FRONT_END_ANSWERS = (ACTIVITY_ACCEPT_277, ACTIVITY_REJECT_277, ACTIVITY_REJECT_999)
REWORK_OBJECT_TYPES = (CLAIM_OBJECT, "remittance", CLAIM_PAYMENT_OBJECT, "bank deposit", WORK_ITEM_OBJECT,
                       "appeal", "supplier invoice")
OUTBOX_OBJECT = "outbox message"
OUTBOX_OUTCOMES = ("delivered", "failed", "dead")
OUTBOX_FAILURES = ("failed", "dead")
REVERSAL_STATUS = "22"  # CLP02: a reversal restates an earlier payment; it is neither a new payment nor a denial
DENIED_STATUS = "4"
MAX_WINDOW_DAYS = 3_660


class KpiInputError(InputError):
    """A KPI request that cannot be answered as asked (unknown dimension, empty window)."""


@dataclass(frozen=True)
class KpiValue:
    """One KPI's figure, in total (group None) or for one group of a slice."""

    key: str
    value: Decimal | None  # None when there is nothing to measure (zero denominator)
    numerator: Decimal | None
    denominator: Decimal | None
    group: str | None = None  # the dimension value when sliced; None is the total


@dataclass(frozen=True)
class AgingRow:
    """How many objects (and how much money) sit in one aging bucket."""

    subject: str  # "claims", "ar", "work_items"
    bucket: str  # one of AGING_BUCKETS
    count: int
    amount: Decimal  # 0 for work items
    group: str | None = None


@dataclass(frozen=True)
class KpiReport:
    """Every KPI for one organisation (and facility scope) at ``as_of``, over the window since ``window_start``."""

    as_of: datetime
    window_start: datetime
    by: str | None
    values: list[KpiValue]
    aging: list[AgingRow]
    denials_by_category: list[tuple[str, int, Decimal]]  # (CARC category, count, dollars)

    def value(self, key: str, group: str | None = None) -> KpiValue | None:
        """The figure of ``key`` in total, or for ``group`` of the slice; None when not in the report."""
        return next((v for v in self.values if v.key == key and v.group == group), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: timestamps in ISO 8601, every Decimal as a string."""
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "as_of": self.as_of.isoformat(), "window_start": self.window_start.isoformat(),
            "window_days": (self.as_of - self.window_start).days, "by": self.by,
            "values": [{"key": v.key, "group": v.group, "value": text(v.value), "numerator": text(v.numerator),
                        "denominator": text(v.denominator)} for v in self.values],
            "aging": [{"subject": a.subject, "bucket": a.bucket, "group": a.group, "count": a.count,
                       "amount": format_amount(a.amount)} for a in self.aging],
            "denials_by_category": [{"category": category, "count": count, "amount": format_amount(amount)}
                                    for category, count, amount in self.denials_by_category],
        }


# ---- one computation: every KPI family once, grouped by every dimension asked for ------------------------------

Slice = tuple[str, str] | None  # (dimension, group value); None is the total


@dataclass
class _Grouping:
    """The group columns of one query: one per dimension asked for that the KPI supports."""

    dims: list[str]
    columns: list[Any]

    def slices(self, row: Any) -> list[Slice]:
        """The total and the group of each dimension a result row belongs to."""
        found: list[Slice] = [None]
        for dim in self.dims:
            value = row._mapping[f"g_{dim}"]
            found.append((dim, str(value) if value not in (None, "") else NO_GROUP))
        return found

    def of(self, subquery: Any) -> _Grouping:
        """The same groups, read from a subquery that selected them."""
        return _Grouping(self.dims, [subquery.c[f"g_{dim}"] for dim in self.dims])


@dataclass
class _Scope:
    conn: Connection
    organisation_id: str
    as_of: datetime
    start: datetime
    window_days: int
    dims: tuple[str, ...]
    facilities: tuple[str, ...] | None
    sums: dict[str, dict[Slice, list[Decimal]]] = field(default_factory=dict)
    pairs: dict[str, dict[Slice, dict[int, int]]] = field(default_factory=dict)
    aging: dict[tuple[str, Slice, str], list[Any]] = field(default_factory=dict)
    figures: dict[str, dict[Slice, KpiValue]] = field(default_factory=dict)

    @property
    def sqlite(self) -> bool:
        return self.conn.dialect.name == "sqlite"

    def grouping(self, key: str, columns: Mapping[str, Any]) -> _Grouping:
        dims = [dim for dim in self.dims if dim in KPIS[key].dimensions and dim in columns]
        return _Grouping(dims, [columns[dim].label(f"g_{dim}") for dim in dims])

    def facility(self, column: Any) -> list[Any]:
        """The facility-scope condition on ``column`` (nothing when every facility is in scope)."""
        return [] if self.facilities is None else [column.in_(list(self.facilities))]

    def window(self, column: Any) -> list[Any]:
        return [column > self.start, column <= self.as_of]

    def date_window(self, column: Any) -> list[Any]:
        return [column > self.start.date(), column <= self.as_of.date()]

    def cents(self, expression: Any) -> Any:
        """A money expression as SUM can add it exactly: whole cents on SQLite (NUMERIC is binary float there)."""
        return cast(func.round(expression * 100), Integer) if self.sqlite else expression

    def money_sum(self, expression: Any) -> Any:
        return func.coalesce(func.sum(self.cents(expression)), 0)

    def money(self, value: Any) -> Decimal:
        return summed_money(self.conn, value)

    def account(self, key: str) -> Any:
        """The id of the organisation's ledger account ``key``, as a subquery (so the lines' index on the
        organisation and account drives the query)."""
        a = ledger_accounts
        return (select(a.c.id).where(a.c.organisation_id == self.organisation_id, a.c.key == key)
                .scalar_subquery())

    def numeric_id(self, text: Any) -> Any:
        """A text column holding a table's integer id (journal entries' source_id) as that integer, so joins on
        it use the table's primary key. PostgreSQL would refuse to cast a non-numeric text: those are NULL."""
        if self.sqlite:
            return cast(text, Integer)
        return case((text.regexp_match("^[0-9]+$"), cast(text, BigInteger)))

    def minutes(self, start: Any, end: Any) -> Any:
        """Whole minutes from ``start`` to ``end`` (timestamps)."""
        if self.sqlite:
            return cast(func.round((func.julianday(end) - func.julianday(start)) * 1440), Integer)
        return cast(func.round(extract("epoch", end - start) / 60), Integer)

    def bucket(self, column: Any, *, dates: bool = False) -> Any:
        """The aging bucket of ``column`` at ``as_of``: age < 31 days is "0-30", and so on."""
        edge = self.as_of.date() if dates else self.as_of
        whens = [(column > edge - timedelta(days=limit + 1), bucket)
                 for limit, bucket in zip(AGING_LIMITS, AGING_BUCKETS, strict=False)]
        return case(*whens, else_=AGING_BUCKETS[-1]).label("bucket")

    # -- adding up: every row counts in the total and in its group of each dimension --

    def add(self, key: str, slices: Iterable[Slice], *amounts: Any) -> None:
        by_slice = self.sums.setdefault(key, {})
        for where in slices:
            sums = by_slice.setdefault(where, [Decimal(0)] * len(amounts))
            for index, amount in enumerate(amounts):
                sums[index] += Decimal(amount or 0)

    def add_duration(self, key: str, slices: Iterable[Slice], minutes: Any, count: Any) -> None:
        by_slice = self.pairs.setdefault(key, {})
        for where in slices:
            by_minute = by_slice.setdefault(where, {})
            by_minute[int(minutes)] = by_minute.get(int(minutes), 0) + int(count)

    def age(self, subject: str, slices: Iterable[Slice], bucket: str, count: int, amount: Decimal) -> None:
        for where in slices:
            cell = self.aging.setdefault((subject, where, bucket), [0, Decimal("0.00")])
            cell[0] += int(count)
            cell[1] += amount

    def totals(self, key: str, width: int) -> dict[Slice, list[Decimal]]:
        """The sums of ``key`` by slice, the total always there (zeros when no row was found)."""
        by_slice = self.sums.get(key, {})
        by_slice.setdefault(None, [Decimal(0)] * width)
        return by_slice

    def put(self, value: KpiValue, where: Slice) -> None:
        self.figures.setdefault(value.key, {})[where] = value

    def rates(self, key: str) -> None:
        """(numerator, denominator) sums -> the rate, in total and per group."""
        for where, (numerator, denominator) in self.totals(key, 2).items():
            self.put(KpiValue(key, rate(numerator, denominator), numerator, denominator, _group(where)), where)

    def counts(self, key: str) -> None:
        for where, (total,) in self.totals(key, 1).items():
            self.put(KpiValue(key, total, total, None, _group(where)), where)

    def durations(self, source: str, keys_and_p: Mapping[str, int | None]) -> None:
        """(minutes, how many) pairs of ``source`` -> hours at a percentile (None: the median)."""
        by_slice = self.pairs.get(source, {})
        by_slice.setdefault(None, {})
        for where, by_minute in by_slice.items():
            measured = list(by_minute.items())
            for key, p in keys_and_p.items():
                at = weighted_median(measured) if p is None else weighted_percentile(measured, p)
                hours = None if at is None else quantize(at / 60, "hours")
                self.put(KpiValue(key, hours, None, Decimal(sum(by_minute.values())), _group(where)), where)

    def unavailable(self, *keys: str) -> None:
        """KPIs with no facility to scope by: not shown to a caller limited to some facilities."""
        for key in keys:
            self.put(KpiValue(key, None, None, None), None)


def _group(where: Slice) -> str | None:
    return None if where is None else where[1]


def _by_name(labelled: Any) -> Any:
    """GROUP BY a computed column by its name: PostgreSQL sees an expression's bound parameters in the select
    list and in GROUP BY as different parameters, so it would not recognise the expression as grouped."""
    return literal_column(labelled.name)


def _claim_columns(c: Any) -> dict[str, Any]:
    return {"facility": c.c.facility_id, "payer": c.c.payer_id, "department": c.c.department_id}


def _event_columns(e: Any) -> dict[str, Any]:
    return {"facility": e.c.facility_id, "payer": e.c.payer_id, "department": e.c.department_id}


def _work_columns(w: Any) -> dict[str, Any]:
    return {"facility": w.c.facility_id, "payer": w.c.payer_id, "department": w.c.department_id,
            "queue": w.c.queue, "exception_type": w.c.item_type}


# ---- the KPIs, family by family -------------------------------------------------------------------------

def _claims_backlog(s: _Scope) -> None:
    c = claims
    g = s.grouping("claims_backlog", _claim_columns(c))
    bucket = s.bucket(c.c.created_at)
    for row in s.conn.execute(
            select(bucket, func.count().label("n"), s.money_sum(c.c.total_charge).label("amount"), *g.columns)
            .where(*open_claims(s, c), *s.facility(c.c.facility_id))
            .group_by(_by_name(bucket), *g.columns)):
        s.add("claims_backlog", g.slices(row), row.n)
        s.age("claims", g.slices(row), row.bucket, row.n, s.money(row.amount))
    s.counts("claims_backlog")


def _accounts_receivable(s: _Scope) -> None:
    """Insurance A/R per claim from the ledger (charges and claim payments on ar_insurance), aged from the
    charges' posting date (the date of service); then days in A/R against the window's charges."""
    e, line, c = journal_entries, journal_lines, claims
    ar_lines = line.join(e, e.c.id == line.c.entry_id)
    source = s.numeric_id(e.c.source_id)
    per_claim = ar_claim_balances(s)
    g = s.grouping("ar_balance", _claim_columns(c))
    bucket = ar_bucket(s, per_claim)
    for row in s.conn.execute(
            select(bucket, func.count().label("n"), func.coalesce(func.sum(per_claim.c.balance), 0).label("balance"),
                   *g.columns)
            .select_from(per_claim.join(c, c.c.id == per_claim.c.claim_id))
            .where(per_claim.c.balance != 0, *s.facility(c.c.facility_id))
            .group_by(_by_name(bucket), *g.columns)):
        balance = s.money(row.balance)
        s.add("ar_balance", g.slices(row), balance)
        s.age("ar", g.slices(row), row.bucket, row.n, balance)
    for where, (balance,) in s.totals("ar_balance", 1).items():
        s.put(KpiValue("ar_balance", balance.quantize(Decimal("0.01")), balance.quantize(Decimal("0.01")), None,
                       _group(where)), where)

    g = s.grouping("days_in_ar", _claim_columns(c))
    for row in s.conn.execute(
            select(s.money_sum(line.c.debit - line.c.credit).label("charged"), *g.columns)
            .select_from(ar_lines.join(c, c.c.id == source))
            .where(line.c.organisation_id == s.organisation_id, line.c.account_id == s.account("ar_insurance"),
                   e.c.source_type == CLAIM_OBJECT, *s.date_window(e.c.posting_date), *s.facility(c.c.facility_id))
            .group_by(*g.columns)):
        s.add("days_in_ar", g.slices(row), s.money(row.charged))
    balances = s.totals("ar_balance", 1)
    charges = s.totals("days_in_ar", 1)
    for where in [None, *sorted(w for w in set(balances) | set(charges) if w is not None)]:
        balance = balances.get(where, [Decimal(0)])[0].quantize(Decimal("0.01"))
        charged = charges.get(where, [Decimal(0)])[0]
        daily = quantize(charged / s.window_days, "usd") if charged else Decimal("0.00")
        s.put(KpiValue("days_in_ar", ratio(balance * s.window_days, charged, "days"), balance, daily,
                       _group(where)), where)


def _clean_claims(s: _Scope) -> None:
    c = claims
    g = s.grouping("clean_claim_rate", _claim_columns(c))
    for row in s.conn.execute(
            select(func.sum(case((found_at_first_scrub(c), 0), else_=1)).label("clean"), func.count().label("n"),
                   *g.columns)
            .where(*ehr_claims_in_window(s, c), *s.facility(c.c.facility_id))
            .group_by(*g.columns)):
        s.add("clean_claim_rate", g.slices(row), row.clean, row.n)
    s.rates("clean_claim_rate")


def _first_pass_acceptance(s: _Scope) -> None:
    ev = event_log.alias("ev")
    g = s.grouping("first_pass_acceptance_rate", _event_columns(ev))
    per_claim = (
        select(ev.c.object_id, *g.columns, *first_answer_times(ev))
        .where(*front_end_answers(s, ev), *s.facility(ev.c.facility_id))
        .group_by(ev.c.object_id, *g.columns).subquery("answers"))
    first_accepted = first_pass_accepted(per_claim.c.accepted, per_claim.c.rejected)
    outer = g.of(per_claim)
    for row in s.conn.execute(
            select(func.sum(case((first_accepted, 1), else_=0)).label("passed"), func.count().label("n"),
                   *outer.columns).select_from(per_claim).group_by(*outer.columns)):
        s.add("first_pass_acceptance_rate", outer.slices(row), row.passed, row.n)
    s.rates("first_pass_acceptance_rate")


def _denial_condition(cp: Any, pa: Any) -> Any:
    """The adjustments posting counts as denied (``domain.posting.classify``): CO/OA/PI with a denial CARC, or
    with any non-pricing CARC on a claim the payer denied outright (CLP02 4)."""
    return and_(pa.c.group_code.in_(sorted(DENIAL_GROUPS)),
                or_(pa.c.reason_code.in_(sorted(DENIAL_CATEGORIES)),
                    and_(cp.c.status == DENIED_STATUS, pa.c.reason_code.not_in(sorted(PRICING_REASONS)))))


Denials = list[tuple[str, int, Decimal]]  # (CARC category, claim payments, denied dollars), most dollars first


def _by_dollars(found: Mapping[str, tuple[int, Decimal]]) -> Denials:
    return sorted(((name, count, amount) for name, (count, amount) in found.items()),
                  key=lambda item: (-item[2], -item[1], item[0]))


def _denials(s: _Scope) -> tuple[Denials, dict[str, Denials]]:
    cp, r, c, pa = claim_payments, remittances, claims, payment_adjustments

    def received(cp: Any, r: Any) -> list[Any]:
        return received_payments(s, cp, r)

    payments = cp.join(r, r.c.id == cp.c.remittance_id).outerjoin(c, c.c.id == cp.c.claim_id)
    cp2, r2, pa2 = claim_payments.alias("cp2"), remittances.alias("r2"), payment_adjustments.alias("pa2")
    denied = (select(pa2.c.claim_payment_id.label("claim_payment_id"), s.money_sum(pa2.c.amount).label("amount"))
              .select_from(pa2.join(cp2, cp2.c.id == pa2.c.claim_payment_id).join(r2, r2.c.id == cp2.c.remittance_id))
              .where(*received(cp2, r2), _denial_condition(cp2, pa2)).group_by(pa2.c.claim_payment_id)
              .subquery("denied"))
    columns = {"facility": c.c.facility_id, "payer": r.c.payer_id, "department": c.c.department_id}
    g = s.grouping("denial_rate", columns)
    was_denied = or_(cp.c.status == DENIED_STATUS, denied.c.claim_payment_id.is_not(None))
    for row in s.conn.execute(
            select(func.count().label("n"), s.money_sum(cp.c.charge).label("charged"),
                   func.sum(case((was_denied, 1), else_=0)).label("denied"),
                   func.coalesce(func.sum(denied.c.amount), 0).label("denied_amount"), *g.columns)
            .select_from(payments.outerjoin(denied, denied.c.claim_payment_id == cp.c.id))
            .where(*received(cp, r), *s.facility(c.c.facility_id)).group_by(*g.columns)):
        s.add("denial_rate", g.slices(row), row.denied, row.n)
        s.add("denial_rate_dollars", g.slices(row), s.money(row.denied_amount), s.money(row.charged))
    s.rates("denial_rate")
    s.rates("denial_rate_dollars")
    category = denial_category(pa).label("category")
    # By facility too when sliced by it: a claim payment has one facility (its claim's), so each facility's
    # distinct payments add up to the category's.
    facility = [c.c.facility_id.label("g_facility")] if "facility" in s.dims else []
    totals: dict[str, tuple[int, Decimal]] = {}
    by_facility: dict[str, dict[str, tuple[int, Decimal]]] = {}
    for row in s.conn.execute(
            select(category, func.count(func.distinct(pa.c.claim_payment_id)).label("n"),
                   s.money_sum(pa.c.amount).label("amount"), *facility)
            .select_from(payments.join(pa, pa.c.claim_payment_id == cp.c.id))
            .where(*received(cp, r), _denial_condition(cp, pa), *s.facility(c.c.facility_id))
            .group_by(_by_name(category), *facility)):
        count, amount = int(row.n), s.money(row.amount)
        before = totals.get(row.category, (0, Decimal("0.00")))
        totals[row.category] = (before[0] + count, before[1] + amount)
        if facility:
            by_facility.setdefault(row.g_facility or NO_GROUP, {})[row.category] = (count, amount)
    return _by_dollars(totals), {name: _by_dollars(found) for name, found in by_facility.items()}


def _posting(s: _Scope) -> None:
    cp, r, c = claim_payments, remittances, claims
    touched = touched_payment(cp)
    source = cp.join(r, r.c.id == cp.c.remittance_id).outerjoin(c, c.c.id == cp.c.claim_id)
    posted = [*posted_payments(s, cp), *s.facility(c.c.facility_id)]
    columns = {"facility": c.c.facility_id, "payer": r.c.payer_id, "department": c.c.department_id}
    g = s.grouping("straight_through_posting_rate", columns)
    for row in s.conn.execute(
            select(func.sum(case((touched, 0), else_=1)).label("untouched"), func.count().label("n"), *g.columns)
            .select_from(source).where(*posted).group_by(*g.columns)):
        s.add("straight_through_posting_rate", g.slices(row), row.untouched, row.n)
    s.rates("straight_through_posting_rate")
    minutes = s.minutes(r.c.created_at, cp.c.posted_at).label("minutes")
    g = s.grouping("posting_latency_hours", columns)
    for row in s.conn.execute(
            select(minutes, func.count().label("n"), *g.columns).select_from(source).where(*posted)
            .group_by(_by_name(minutes), *g.columns)):
        s.add_duration("posting_latency_hours", g.slices(row), row.minutes, row.n)
    s.durations("posting_latency_hours", {"posting_latency_hours": None})


def _work_items(s: _Scope) -> None:
    w = work_items
    columns = [w.c.created_at, w.c.due_at, w.c.facility_id, w.c.payer_id, w.c.department_id, w.c.queue, w.c.item_type]
    # Active at as_of: active now, or resolved since (both sets found through their indexes).
    now_active, resolved_since = active_work_items(s, w)
    active = union_all(select(*columns).where(*now_active, *s.facility(w.c.facility_id)),
                       select(*columns).where(*resolved_since, *s.facility(w.c.facility_id))).subquery("active")
    g = s.grouping("work_items_backlog", _work_columns(active))
    bucket = s.bucket(active.c.created_at)
    overdue = overdue_at(active.c.due_at, s.as_of)
    for row in s.conn.execute(
            select(bucket, func.count().label("n"), func.sum(case((overdue, 1), else_=0)).label("late"), *g.columns)
            .group_by(_by_name(bucket), *g.columns)):
        s.add("work_items_backlog", g.slices(row), row.n)
        s.add("sla_breaches", g.slices(row), row.late)
        s.age("work_items", g.slices(row), row.bucket, row.n, Decimal("0.00"))
    s.counts("work_items_backlog")
    s.counts("sla_breaches")

    resolved = [*resolved_in_window(s, w), *s.facility(w.c.facility_id)]
    g = s.grouping("sla_breach_rate", _work_columns(w))
    breached = breached_item(w)
    for row in s.conn.execute(
            select(func.sum(case((breached, 1), else_=0)).label("breached"), func.count().label("n"), *g.columns)
            .where(*resolved).group_by(*g.columns)):
        s.add("sla_breach_rate", g.slices(row), row.breached, row.n)
    s.rates("sla_breach_rate")
    minutes = s.minutes(w.c.created_at, w.c.resolved_at).label("minutes")
    for row in s.conn.execute(
            select(minutes, func.count().label("n"), *g.columns).where(*resolved)
            .group_by(_by_name(minutes), *g.columns)):
        s.add_duration("exception_resolution", g.slices(row), row.minutes, row.n)
    s.durations("exception_resolution", {"exception_resolution_hours_median": None,
                                         "exception_resolution_hours_p90": 90})


def _approvals(s: _Scope) -> None:
    a, ev = approval_requests, event_log.alias("submitted")
    submitted = approval_submission(a, ev)
    g = s.grouping("approval_cycle_hours", _event_columns(ev))
    minutes = s.minutes(a.c.created_at, a.c.decided_at).label("minutes")
    for row in s.conn.execute(
            select(minutes, func.count().label("n"), *g.columns).select_from(a.outerjoin(ev, submitted))
            .where(*decided_in_window(s, a), *s.facility(ev.c.facility_id))
            .group_by(_by_name(minutes), *g.columns)):
        s.add_duration("approval_cycle_hours", g.slices(row), row.minutes, row.n)
    s.durations("approval_cycle_hours", {"approval_cycle_hours": None})


def _rework(s: _Scope) -> None:
    ev = event_log.alias("ev")
    g = s.grouping("rework_rate", _event_columns(ev))
    per_object = (
        select(ev.c.object_type, ev.c.object_id, *g.columns,
               func.max(case((reentered_state(ev), 1), else_=0)).label("reentered"))
        .where(*state_changes(s, ev), *s.facility(ev.c.facility_id))
        .group_by(ev.c.object_type, ev.c.object_id, *g.columns).subquery("moved"))
    outer = g.of(per_object)
    for row in s.conn.execute(
            select(func.sum(per_object.c.reentered).label("reentered"), func.count().label("n"), *outer.columns)
            .select_from(per_object).group_by(*outer.columns)):
        s.add("rework_rate", outer.slices(row), row.reentered, row.n)
    s.rates("rework_rate")


def _integrations(s: _Scope) -> None:
    if s.facilities is not None:
        s.unavailable("integration_failure_rate")
        return
    ev = event_log
    failed, attempts = s.conn.execute(
        select(func.sum(case((ev.c.to_state.in_(OUTBOX_FAILURES), 1), else_=0)), func.count())
        .where(ev.c.organisation_id == s.organisation_id, ev.c.object_type == OUTBOX_OBJECT,
               ev.c.to_state.in_(OUTBOX_OUTCOMES), *s.window(ev.c.occurred_at))).one()
    s.add("integration_failure_rate", [None], failed, attempts)
    s.rates("integration_failure_rate")


def _cash(s: _Scope) -> None:
    if s.facilities is not None:
        s.unavailable("cash_posted", "cash_deposited", "cash_gap")
        return
    e, line, d = journal_entries, journal_lines, deposits
    posted = s.money(s.conn.execute(
        select(s.money_sum(line.c.debit - line.c.credit))
        .select_from(line.join(e, e.c.id == line.c.entry_id))
        .where(*era_cash_lines(s, e, line))
    ).scalar_one())
    signed = signed_deposit(d)
    dated = deposit_dated(s, d)
    deposited = s.money(s.conn.execute(
        select(s.money_sum(signed)).where(d.c.organisation_id == s.organisation_id, dated)).scalar_one())
    s.put(KpiValue("cash_posted", posted, posted, None), None)
    s.put(KpiValue("cash_deposited", deposited, deposited, None), None)
    s.put(KpiValue("cash_gap", posted - deposited, posted, deposited), None)


@dataclass(frozen=True)
class KpiSlices:
    """Every KPI in total and per group of several dimensions at once (what a daily snapshot stores)."""

    as_of: datetime
    window_start: datetime
    figures: dict[str, dict[Slice, KpiValue]]  # by KPI, then (dimension, group) or None for the total
    aging: dict[tuple[str, Slice, str], tuple[int, Decimal]]  # (subject, slice, bucket) -> (count, amount)
    denials_by_category: list[tuple[str, int, Decimal]]
    # Each facility's own denials by category, when sliced by facility: what a person limited to that facility
    # sees (the stored tower report serves them from it).
    denials_by_facility: dict[str, list[tuple[str, int, Decimal]]] = field(default_factory=dict)


def compute_kpi_slices(conn: Connection, *, as_of: datetime, window_days: int = 30,
                       dimensions: Sequence[str] = (), facilities: tuple[str, ...] | None = None,
                       organisation_id: str = DEFAULT_ORGANISATION) -> KpiSlices:
    """Every KPI at ``as_of`` over the ``window_days`` before it, in total and per group of each of
    ``dimensions``: each family of KPIs is one query grouped by all of them, added up per dimension here."""
    for dimension in dimensions:
        try:
            check_dimension(dimension)
        except ValueError as exc:
            raise KpiInputError(detail=str(exc)) from None
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise KpiInputError(detail=f"the KPI window is 1 to {MAX_WINDOW_DAYS} days, not {window_days}")
    if as_of.utcoffset() is None:
        raise KpiInputError(detail="as_of must be timezone-aware")
    start = as_of - timedelta(days=window_days)
    scope = _Scope(conn, organisation_id, as_of, start, window_days, tuple(dict.fromkeys(dimensions)),
                   None if facilities is None else tuple(facilities))
    _claims_backlog(scope)
    _accounts_receivable(scope)
    _clean_claims(scope)
    _first_pass_acceptance(scope)
    categories, categories_by_facility = _denials(scope)
    _posting(scope)
    _work_items(scope)
    _approvals(scope)
    _rework(scope)
    _integrations(scope)
    _cash(scope)
    for key in KPIS:
        scope.figures.setdefault(key, {}).setdefault(None, KpiValue(key, None, None, None))
    return KpiSlices(as_of, start, scope.figures,
                     {where: (count, amount) for where, (count, amount) in scope.aging.items()}, categories,
                     categories_by_facility)


def compute_kpis(conn: Connection, *, as_of: datetime, window_days: int = 30, by: str | None = None,
                 facilities: tuple[str, ...] | None = None,
                 organisation_id: str = DEFAULT_ORGANISATION) -> KpiReport:
    """Every KPI at ``as_of`` over the ``window_days`` before it, in total and, with ``by``, per group of that
    dimension; ``facilities`` limits every figure to those facilities (None: every facility)."""
    found = compute_kpi_slices(conn, as_of=as_of, window_days=window_days, dimensions=() if by is None else (by,),
                               facilities=facilities, organisation_id=organisation_id)
    values: list[KpiValue] = []
    for key in KPIS:
        by_slice = found.figures[key]
        values.append(by_slice[None])
        values.extend(by_slice[where] for where in sorted(w for w in by_slice if w is not None))
    return KpiReport(as_of=as_of, window_start=found.window_start, by=by, values=values,
                     aging=_aging_rows(found.aging), denials_by_category=found.denials_by_category)


def nothing_counted(key: str) -> KpiValue:
    """What the engine reports for ``key`` over a scope in which no row counts (a facility with no claims, work
    items or events in the window): what a facility's own figures are when its slice has no group.
    ``tests/services/test_kpi_reports.py`` holds it to the engine's answer for every KPI."""
    zero, cents = Decimal(0), Decimal("0.00")
    unit = KPIS[key].unit
    if unit == "count":
        return KpiValue(key, zero, zero, None)
    if unit == "percent":
        return KpiValue(key, None, zero, zero)
    if unit == "hours":
        return KpiValue(key, None, None, zero)
    if unit == "days":  # days in A/R: a zero balance over no charges
        return KpiValue(key, None, cents, cents)
    return KpiValue(key, cents, cents, None)  # usd: insurance A/R


def _aging_rows(cells: Mapping[tuple[str, Slice, str], tuple[int, Decimal]]) -> list[AgingRow]:
    """Totals of every subject and bucket (zeros included, for charts), then the groups' non-empty buckets."""
    order = {bucket: index for index, bucket in enumerate(AGING_BUCKETS)}
    rows = [AgingRow(subject, bucket, *cells.get((subject, None, bucket), (0, Decimal("0.00"))))
            for subject in ("claims", "ar", "work_items") for bucket in AGING_BUCKETS]
    grouped = sorted(((subject, where, bucket) for subject, where, bucket in cells if where is not None),
                     key=lambda item: (item[0], item[1], order[item[2]]))
    rows += [AgingRow(subject, bucket, *cells[(subject, where, bucket)], group=where[1])
             for subject, where, bucket in grouped if where is not None]
    return rows


def day_end(day: date) -> datetime:
    """The last instant of ``day`` (UTC): the as-of time of a day's figures."""
    return datetime.combine(day, time.max, tzinfo=UTC)


# ---- populations: the objects behind each figure, shared by the KPI queries above and the lists the control tower
# drills down to (``services.claim_search``, ``claim_payment_search``, ``work_items``, ...), so that a list shows
# exactly what its figure counts. Each returns conditions or expressions; the caller adds its facility scope.

KpiScope = _Scope


def kpi_scope(conn: Connection, *, as_of: datetime, window_days: int = 30, facilities: Sequence[str] | None = None,
              organisation_id: str = DEFAULT_ORGANISATION) -> KpiScope:
    """The as-of time, window and facility scope a KPI is computed in, for a list that selects its population."""
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise KpiInputError(detail=f"the window is 1 to {MAX_WINDOW_DAYS} days, not {window_days}")
    if as_of.utcoffset() is None:
        raise KpiInputError(detail="as_of must be timezone-aware")
    return _Scope(conn, organisation_id, as_of, as_of - timedelta(days=window_days), window_days, (),
                  None if facilities is None else tuple(facilities))


def open_claims(s: KpiScope, c: Any = claims) -> list[Any]:
    """Claims open at the as-of time (``claims_backlog``, the claims' aging)."""
    return [c.c.organisation_id == s.organisation_id, c.c.state.in_(CLAIM_OPEN_STATES), c.c.created_at <= s.as_of]


def ar_claim_balances(s: KpiScope) -> Any:
    """Subquery ``ar_claims`` (claim_id, balance, charged_on): each claim's insurance A/R balance at the as-of date
    from the ledger (its charges minus what claim payments moved out, in cents on SQLite) and the posting date of
    its charges (``ar_balance``, ``days_in_ar``, the A/R aging); claims with a zero balance are in it too."""
    e, line, cp = journal_entries, journal_lines, claim_payments
    ar_lines = line.join(e, e.c.id == line.c.entry_id)
    common = [line.c.organisation_id == s.organisation_id, line.c.account_id == s.account("ar_insurance"),
              e.c.posting_date <= s.as_of.date()]
    amount = s.cents(line.c.debit - line.c.credit).label("amount")
    source = s.numeric_id(e.c.source_id)
    charged = select(source.label("claim_id"), amount, e.c.posting_date.label("charged_on")).select_from(
        ar_lines).where(*common, e.c.source_type == CLAIM_OBJECT)
    paid = (select(cp.c.claim_id.label("claim_id"), amount, null().label("charged_on"))
            .select_from(ar_lines.join(cp, cp.c.id == source))
            .where(*common, e.c.source_type == CLAIM_PAYMENT_OBJECT))
    moves = union_all(charged, paid).subquery("ar_moves")
    return (select(moves.c.claim_id, func.sum(moves.c.amount).label("balance"),
                   func.min(moves.c.charged_on).label("charged_on"))
            .group_by(moves.c.claim_id).subquery("ar_claims"))


def ar_bucket(s: KpiScope, per_claim: Any) -> Any:
    """The aging bucket of a claim of ``ar_claim_balances``: from its charges' posting date."""
    return s.bucket(func.coalesce(per_claim.c.charged_on, s.as_of.date()), dates=True)


def ehr_claims_in_window(s: KpiScope, c: Any = claims) -> list[Any]:
    """Claims captured from the EHRs in the window (``clean_claim_rate``'s denominator)."""
    return [c.c.organisation_id == s.organisation_id, c.c.source_id.is_not(None), *s.window(c.c.created_at)]


def found_at_first_scrub(c: Any = claims) -> Any:
    """The claim had a scrubber finding at its first scrub (not clean)."""
    sf = scrub_findings
    return exists().where(sf.c.claim_id == c.c.id, sf.c.scrub_number == 1)


def front_end_answers(s: KpiScope, ev: Any) -> list[Any]:
    """Front-end answers (999, 277CA) in the window to claims that had none before it (``first_pass_acceptance_rate``:
    group them by claim)."""
    prior = event_log.alias("prior")
    answered_before = exists().where(
        prior.c.object_type == CLAIM_OBJECT, prior.c.object_id == ev.c.object_id,
        prior.c.activity.in_(FRONT_END_ANSWERS), prior.c.occurred_at <= s.start)
    return [ev.c.organisation_id == s.organisation_id, ev.c.object_type == CLAIM_OBJECT,
            ev.c.activity.in_(FRONT_END_ANSWERS), *s.window(ev.c.occurred_at), ~answered_before]


def first_answer_times(ev: Any) -> tuple[Any, Any]:
    """Per claim of ``front_end_answers``: when it was first accepted and first rejected (aggregates)."""
    return (func.min(case((ev.c.activity == ACTIVITY_ACCEPT_277, ev.c.occurred_at))).label("accepted"),
            func.min(case((ev.c.activity != ACTIVITY_ACCEPT_277, ev.c.occurred_at))).label("rejected"))


def first_pass_accepted(accepted: Any, rejected: Any) -> Any:
    """Accepted and never rejected at the front end in the window: a clearinghouse's acceptance (A1) followed by
    the payer's rejection (A3) is no first-pass acceptance."""
    return and_(accepted.is_not(None), rejected.is_(None))


def not_reversal(cp: Any) -> Any:
    """The claim payment is no reversal (CLP02 22): a reversal restates an earlier payment."""
    return cp.c.status != REVERSAL_STATUS


def remittance_received(s: KpiScope, r: Any) -> list[Any]:
    """Remittances received in the window."""
    return [r.c.organisation_id == s.organisation_id, *s.window(r.c.created_at)]


def payment_posted(s: KpiScope, cp: Any) -> list[Any]:
    """Claim payments posted in the window."""
    return [cp.c.organisation_id == s.organisation_id, *s.window(cp.c.posted_at)]


def received_payments(s: KpiScope, cp: Any, r: Any) -> list[Any]:
    """Claim payments (reversals excluded) of remittances received in the window (``denial_rate``)."""
    return [*remittance_received(s, r), not_reversal(cp)]


def posted_payments(s: KpiScope, cp: Any) -> list[Any]:
    """Claim payments (reversals excluded) posted in the window (``straight_through_posting_rate``, latency)."""
    return [*payment_posted(s, cp), not_reversal(cp)]


def denied_payment(cp: Any) -> Any:
    """The claim payment denied the claim in full (CLP02 4) or in part (a denial adjustment)."""
    pa = payment_adjustments.alias("denial")
    return or_(cp.c.status == DENIED_STATUS,
               exists().where(pa.c.claim_payment_id == cp.c.id, _denial_condition(cp, pa)))


def denial_adjustment(cp: Any, pa: Any) -> Any:
    """The adjustment ``pa`` of ``cp`` is a denial (what denied dollars and denial categories add up)."""
    return _denial_condition(cp, pa)


def denial_category(pa: Any) -> Any:
    """The CARC category of an adjustment's reason code."""
    return case(dict(DENIAL_CATEGORIES), value=pa.c.reason_code, else_=OTHER)


def touched_payment(cp: Any) -> Any:
    """A work item was ever about the claim payment or linked to it (no straight-through posting)."""
    w, wl = work_items, work_item_links
    key = cast(cp.c.id, String)
    return or_(exists().where(w.c.object_type == CLAIM_PAYMENT_OBJECT, w.c.object_id == key),
               exists().where(wl.c.object_type == CLAIM_PAYMENT_OBJECT, wl.c.object_id == key))


def active_work_items(s: KpiScope, w: Any = work_items) -> tuple[list[Any], list[Any]]:
    """Work items active at the as-of time, as two sets each found through its index: active now, and resolved
    since (``work_items_backlog``, the work items' aging)."""
    scope = [w.c.organisation_id == s.organisation_id, w.c.created_at <= s.as_of]
    return [*scope, literal_in(w.c.state, WORK_ITEM_ACTIVE_STATES)], [*scope, w.c.resolved_at > s.as_of]


def overdue_at(due_at: Any, at: datetime) -> Any:
    """Past its SLA due time at ``at`` (``sla_breaches``)."""
    return and_(due_at.is_not(None), due_at < at)


def resolved_in_window(s: KpiScope, w: Any = work_items) -> list[Any]:
    """Work items resolved in the window (``sla_breach_rate``, exception resolution time)."""
    return [w.c.organisation_id == s.organisation_id, w.c.state == "resolved", *s.window(w.c.resolved_at)]


def breached_item(w: Any = work_items) -> Any:
    """A resolved work item escalated or resolved after its due time."""
    return or_(w.c.escalation_level > 0, and_(w.c.due_at.is_not(None), w.c.resolved_at > w.c.due_at))


def decided_in_window(s: KpiScope, a: Any = approval_requests) -> list[Any]:
    """Approval requests approved or rejected in the window (``approval_cycle_hours``)."""
    return [a.c.organisation_id == s.organisation_id, a.c.state.in_(("approved", "rejected")),
            *s.window(a.c.decided_at)]


def approval_submission(a: Any, ev: Any) -> Any:
    """The join of a request to its "submit for approval" event (facility, payer, department)."""
    return and_(ev.c.object_type == "approval request", ev.c.object_id == cast(a.c.id, String),
                ev.c.activity == ACTIVITY_SUBMIT_APPROVAL)


def state_changes(s: KpiScope, ev: Any) -> list[Any]:
    """State changes in the window of the business objects ``rework_rate`` follows (group them by object)."""
    return [ev.c.organisation_id == s.organisation_id, ev.c.object_type.in_(REWORK_OBJECT_TYPES),
            or_(ev.c.from_state.is_(None), ev.c.from_state != ev.c.to_state), *s.window(ev.c.occurred_at)]


def reentered_state(ev: Any) -> Any:
    """The change ``ev`` re-entered a state its object had been in before."""
    prior = event_log.alias("prior")
    earlier = or_(prior.c.occurred_at < ev.c.occurred_at,
                  and_(prior.c.occurred_at == ev.c.occurred_at, prior.c.id < ev.c.id))
    return exists().where(prior.c.object_type == ev.c.object_type, prior.c.object_id == ev.c.object_id,
                          prior.c.to_state == ev.c.to_state, earlier)


def era_cash_lines(s: KpiScope, e: Any, line: Any) -> list[Any]:
    """Lines on undeposited funds of ERA journal entries dated in the window (``cash_posted``: debit - credit)."""
    return [line.c.organisation_id == s.organisation_id, line.c.account_id == s.account("undeposited_funds"),
            e.c.journal == "era", *s.date_window(e.c.posting_date)]


def deposit_dated(s: KpiScope, d: Any = deposits) -> Any:
    """A bank deposit with a value date in the window (its arrival when the bank gave none): ``cash_deposited``."""
    return or_(and_(*s.date_window(d.c.value_date)), and_(d.c.value_date.is_(None), *s.window(d.c.created_at)))


def signed_deposit(d: Any = deposits) -> Any:
    """A deposit's amount, negative for a debit."""
    return case((d.c.direction == "credit", d.c.amount), else_=-d.c.amount)
