"""The KPIs of the control tower, each defined once: what it measures, from what, in which unit, and how it
can be sliced. Pure definitions and arithmetic; ``services.kpis`` computes them, ``docs/kpis.md`` explains
them (a test fails when the two disagree).

Conventions every KPI follows:

- Rates, latencies and durations cover a window of ``window_days`` ending at ``as_of``: a timestamp ``t`` is
  in it when ``as_of - window_days < t <= as_of``, a date ``d`` when ``(as_of - window_days).date() < d <=
  as_of.date()``. Backlogs and aging are the state at ``as_of``.
- A rate with nothing to measure (a zero denominator) is None, never 0 %: "no claims" is not "no clean
  claims".
- Percentages are 0-100 with two decimals; hours and days two decimals; money to the cent (exact, Decimal).
- Durations are measured to the minute. The median of an even number of values is the mean of the two middle
  ones; the 90th percentile is the nearest-rank value (the ceil(0.9 n)-th smallest).
- Aging buckets are whole days of age: 0-30, 31-60, 61-90, 91-120, 120+ (more than 120).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

DIMENSIONS = ("facility", "payer", "department", "queue", "exception_type")
AGING_BUCKETS = ("0-30", "31-60", "61-90", "91-120", "120+")
UNITS = ("percent", "count", "usd", "days", "hours")
DRILL_LISTS = ("claims", "work_items", "claim_payments", "remittances", "deposits", "approvals", "rework", "outbox")
# The figures that are the state at the as-of time (backlogs, balances): their lists are the state then, with no
# window; every other figure's list covers the figure's window (its drill-down passes the window and as-of time).
AS_OF_DRILLS = frozenset({"claims_backlog", "ar_balance", "days_in_ar", "work_items_backlog", "sla_breaches"})
# The upper bound (in whole days of age) of each bucket but the last.
AGING_LIMITS = (30, 60, 90, 120)
# The group of rows whose dimension has no value (a claim with no department, an unmatched payment).
NO_GROUP = "(none)"

_CLAIM_DIMS = ("facility", "payer", "department")
_WORK_DIMS = DIMENSIONS
_QUANTUM = {"percent": Decimal("0.01"), "usd": Decimal("0.01"), "days": Decimal("0.01"), "hours": Decimal("0.01"),
            "count": Decimal("1")}


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI: its key, how it is read, and the list of objects behind the figure."""

    key: str  # "clean_claim_rate"
    label: str  # "Clean-claim rate"
    unit: str  # one of UNITS
    formula: str  # one sentence a revenue-cycle lead understands
    source: str  # the tables and event-log activities it reads
    dimensions: tuple[str, ...]  # the DIMENSIONS it can be sliced by
    better: str  # "higher", "lower" or "neither"
    # The list behind the figure (one of DRILL_LISTS) and the filters that select exactly what the figure counts: a
    # backlog's objects, a rate's numerator or what falls short of it (the list the lead acts on), a duration's
    # measured objects, a sum's objects.
    drill: tuple[str, dict[str, str]]

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"KPI {self.key}: unit {self.unit!r} is not one of {UNITS}")
        if self.better not in ("higher", "lower", "neither"):
            raise ValueError(f"KPI {self.key}: better must be higher, lower or neither")
        if not set(self.dimensions) <= set(DIMENSIONS):
            raise ValueError(f"KPI {self.key}: unknown dimensions {sorted(set(self.dimensions) - set(DIMENSIONS))}")
        if self.drill[0] not in DRILL_LISTS:
            raise ValueError(f"KPI {self.key}: drill list {self.drill[0]!r} is not one of {DRILL_LISTS}")


_DEFINITIONS = (
    KpiDefinition(
        "claims_backlog", "Open claims", "count",
        "Claims created by the as-of time that are not yet paid, closed, billed to the patient or voided.",
        "claims (state, created_at)", _CLAIM_DIMS, "lower", ("claims", {"state": "open"})),
    KpiDefinition(
        "ar_balance", "Insurance A/R", "usd",
        "Insurance accounts receivable at the as-of date: charges posted to claims minus what payers' claim "
        "payments moved out of insurance A/R, summed over claims.",
        "ledger: journal_lines on account ar_insurance of charge and claim-payment entries; claims, claim_payments",
        _CLAIM_DIMS, "lower", ("claims", {"balance": "open"})),
    KpiDefinition(
        "days_in_ar", "Days in A/R", "days",
        "Insurance A/R at the as-of date divided by the average charges posted per day over the window.",
        "ledger: journal_lines on account ar_insurance (balance; charge entries dated in the window)",
        _CLAIM_DIMS, "lower", ("claims", {"balance": "open"})),
    KpiDefinition(
        "clean_claim_rate", "Clean-claim rate", "percent",
        "Share of the claims captured from the EHRs in the window that had no scrubber finding at their first "
        "scrub.",
        "claims (source_id, created_at), scrub_findings (scrub_number 1)", _CLAIM_DIMS, "higher",
        ("claims", {"captured": "ehr", "first_scrub": "findings"})),
    KpiDefinition(
        "first_pass_acceptance_rate", "First-pass acceptance rate", "percent",
        "Share of the claims whose first front-end answer came in the window that were accepted (277CA) and "
        "never rejected at the front end (999 or 277CA).",
        "event_log: 'accept into adjudication (277CA)', 'reject at front end (277CA)', "
        "'reject at front end (999)'", _CLAIM_DIMS, "higher", ("claims", {"front_end": "rejected"})),
    KpiDefinition(
        "denial_rate", "Denial rate", "percent",
        "Share of the claim payments (reversals excluded) on remittances received in the window that denied the "
        "claim in full or in part.",
        "claim_payments (CLP02), payment_adjustments (CO/OA/PI with a denial CARC), remittances (created_at)",
        _CLAIM_DIMS, "lower", ("claim_payments", {"reversal": "false", "denied": "true"})),
    KpiDefinition(
        "denial_rate_dollars", "Denial rate (dollars)", "percent",
        "Denied dollars (CO/OA/PI adjustments with a denial CARC) as a share of the dollars charged on the claim "
        "payments of remittances received in the window.",
        "claim_payments (charge), payment_adjustments, remittances (created_at)", _CLAIM_DIMS, "lower",
        ("claim_payments", {"reversal": "false", "denied": "true"})),
    KpiDefinition(
        "straight_through_posting_rate", "Straight-through posting rate", "percent",
        "Share of the claim payments posted in the window (reversals excluded) that no work item was ever about "
        "or linked to.",
        "claim_payments (posted_at), work_items, work_item_links", _CLAIM_DIMS, "higher",
        ("claim_payments", {"dated": "posted", "reversal": "false", "touched": "true"})),
    KpiDefinition(
        "posting_latency_hours", "Posting latency (median)", "hours",
        "Median hours from receiving the ERA to posting its claim payment, over the claim payments posted in the "
        "window.",
        "claim_payments (posted_at), remittances (created_at)", _CLAIM_DIMS, "lower",
        ("claim_payments", {"dated": "posted", "reversal": "false"})),
    KpiDefinition(
        "work_items_backlog", "Open work items", "count",
        "Work items open, in progress, waiting or escalated at the as-of time.",
        "work_items (state, created_at, resolved_at)", _WORK_DIMS, "lower", ("work_items", {"state": "active"})),
    KpiDefinition(
        "sla_breaches", "SLA breaches", "count",
        "Active work items whose SLA due time had passed at the as-of time.",
        "work_items (state, due_at)", _WORK_DIMS, "lower", ("work_items", {"state": "overdue"})),
    KpiDefinition(
        "sla_breach_rate", "SLA breach rate", "percent",
        "Share of the work items resolved in the window that were resolved after their due time or escalated.",
        "work_items (resolved_at, due_at, escalation_level)", _WORK_DIMS, "lower",
        ("work_items", {"state": "resolved", "breached": "true"})),
    KpiDefinition(
        "exception_resolution_hours_median", "Exception resolution time (median)", "hours",
        "Median hours from opening a work item to resolving it, over the items resolved in the window.",
        "work_items (created_at, resolved_at)", _WORK_DIMS, "lower", ("work_items", {"state": "resolved"})),
    KpiDefinition(
        "exception_resolution_hours_p90", "Exception resolution time (p90)", "hours",
        "90th percentile of the hours from opening a work item to resolving it, over the items resolved in the "
        "window.",
        "work_items (created_at, resolved_at)", _WORK_DIMS, "lower", ("work_items", {"state": "resolved"})),
    KpiDefinition(
        "approval_cycle_hours", "Approval cycle time (median)", "hours",
        "Median hours from submitting an approval request to its final approval or rejection, over the requests "
        "decided in the window.",
        "approval_requests (created_at, decided_at), event_log 'submit for approval' (facility, payer, department)",
        _CLAIM_DIMS, "lower", ("approvals", {"state": "decided"})),
    KpiDefinition(
        "rework_rate", "Rework rate", "percent",
        "Share of the business objects that changed state in the window that re-entered a state they had been "
        "in before.",
        "event_log (state changes of claims, remittances, claim payments, bank deposits, work items, appeals)",
        _CLAIM_DIMS, "lower", ("rework", {"reworked": "true"})),
    KpiDefinition(
        "integration_failure_rate", "Integration failure rate", "percent",
        "Share of the outbound delivery attempts in the window that failed or were dead-lettered.",
        "event_log: outbox message 'deliver outbox message', 'fail outbox delivery', "
        "'dead-letter outbox message'", (), "lower", ("outbox", {})),
    KpiDefinition(
        "cash_posted", "Cash posted", "usd",
        "Net cash posted from ERAs (claim payments, unapplied payments and provider-level adjustments) dated in "
        "the window.",
        "ledger: journal_lines on account undeposited_funds of the era journal", (), "neither",
        ("remittances", {"cash": "posted"})),
    KpiDefinition(
        "cash_deposited", "Cash deposited", "usd",
        "Net bank deposits (credits minus debits) with a value date in the window.",
        "deposits (amount, direction, value_date)", (), "neither", ("deposits", {})),
    KpiDefinition(
        "cash_gap", "Cash posted minus deposited", "usd",
        "Cash posted from ERAs minus cash deposited in the bank over the window: money posted that the bank has "
        "not shown, or deposits not yet explained by an ERA when negative.",
        "ledger (undeposited_funds, era journal), deposits", (), "neither", ("deposits", {})),
)

KPIS: dict[str, KpiDefinition] = {kpi.key: kpi for kpi in _DEFINITIONS}


class UnknownDimensionError(ValueError):
    """A KPI slice was asked for by a dimension that does not exist."""


def check_dimension(by: str | None) -> None:
    """Raise ``UnknownDimensionError`` naming the allowed dimensions unless ``by`` is one (or None)."""
    if by is not None and by not in DIMENSIONS:
        raise UnknownDimensionError(f"unknown KPI dimension {by!r}: slice by one of {', '.join(DIMENSIONS)}")


def aging_bucket(days: float) -> str:
    """The aging bucket of an age in days (fractions of a day count as the whole days before them)."""
    whole = math.floor(days)
    for limit, bucket in zip(AGING_LIMITS, AGING_BUCKETS, strict=False):
        if whole <= limit:
            return bucket
    return AGING_BUCKETS[-1]


def quantize(value: Decimal | int | None, unit: str) -> Decimal | None:
    """``value`` rounded half up to the precision of ``unit`` (None stays None)."""
    if value is None:
        return None
    return Decimal(value).quantize(_QUANTUM[unit], rounding=ROUND_HALF_UP)


def rate(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """``numerator / denominator`` as a percentage with two decimals; None for a zero denominator."""
    if not denominator:
        return None
    return quantize(Decimal(numerator) * 100 / Decimal(denominator), "percent")


def ratio(numerator: Decimal | int, denominator: Decimal | int, unit: str) -> Decimal | None:
    """``numerator / denominator`` in the precision of ``unit``; None for a zero denominator."""
    if not denominator:
        return None
    return quantize(Decimal(numerator) / Decimal(denominator), unit)


def median(values: Sequence[Decimal | int]) -> Decimal | None:
    """The median of sorted ``values`` (the mean of the two middle ones for an even count); None when empty."""
    n = len(values)
    if n == 0:
        return None
    middle = n // 2
    if n % 2:
        return Decimal(values[middle])
    return (Decimal(values[middle - 1]) + Decimal(values[middle])) / 2


def percentile(values: Sequence[Decimal | int], p: int) -> Decimal | None:
    """The nearest-rank ``p``-th percentile of sorted ``values`` (the ceil(p/100 n)-th smallest); None when empty."""
    if not values:
        return None
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    rank = math.ceil(p * len(values) / 100)
    return Decimal(values[max(rank, 1) - 1])


def _value_at(pairs: Sequence[tuple[Decimal | int, int]], position: int) -> Decimal:
    """The ``position``-th smallest (1-based) of the values ``pairs`` (sorted (value, count)) stand for."""
    seen = 0
    for value, count in pairs:
        seen += count
        if seen >= position:
            return Decimal(value)
    raise IndexError(position)


def weighted_median(pairs: Iterable[tuple[Decimal | int, int]]) -> Decimal | None:
    """``median`` of the values ``(value, count)`` pairs stand for, without expanding them."""
    ordered = sorted((value, count) for value, count in pairs if count > 0)
    n = sum(count for _, count in ordered)
    if n == 0:
        return None
    if n % 2:
        return _value_at(ordered, n // 2 + 1)
    return (_value_at(ordered, n // 2) + _value_at(ordered, n // 2 + 1)) / 2


def weighted_percentile(pairs: Iterable[tuple[Decimal | int, int]], p: int) -> Decimal | None:
    """``percentile`` of the values ``(value, count)`` pairs stand for, without expanding them."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    ordered = sorted((value, count) for value, count in pairs if count > 0)
    n = sum(count for _, count in ordered)
    if n == 0:
        return None
    return _value_at(ordered, max(math.ceil(p * n / 100), 1))


def age_window(bucket: str, as_of: datetime) -> tuple[datetime | None, datetime | None]:
    """The creation times ``(after, until]`` of the objects ``aging_bucket`` puts in ``bucket`` at ``as_of``
    (a drill-down from an aging bar to its list)."""
    if bucket not in AGING_BUCKETS:
        raise ValueError(f"unknown aging bucket {bucket!r}: one of {', '.join(AGING_BUCKETS)}")
    index = AGING_BUCKETS.index(bucket)
    low = 0 if index == 0 else AGING_LIMITS[index - 1] + 1  # whole days of age, inclusive
    until = as_of - timedelta(days=low) if low else None
    after = as_of - timedelta(days=AGING_LIMITS[index] + 1) if index < len(AGING_LIMITS) else None
    return after, until
