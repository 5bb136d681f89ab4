"""Where each kind of business object is shown in the UI (None: it has no page of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from rcmflow.domain.kpis import AS_OF_DRILLS, KpiDefinition

_PAGES = {
    "claim": "/ui/claims/{}",
    "remittance": "/ui/remittances/{}",
    "bank deposit": "/ui/deposits/{}",
    "approval request": "/ui/approvals/{}",
    "work item": "/ui/work/{}",
}

# The lists a figure drills down to (``KpiDefinition.drill`` names one of these).
LISTS = {
    "claims": "/ui/claims",
    "work_items": "/ui/work",
    "claim_payments": "/ui/claim-payments",
    "remittances": "/ui/remittances",
    "deposits": "/ui/deposits",
    "approvals": "/ui/approvals",
    "rework": "/ui/rework",
    "outbox": "/ui/tower",
}


# The permission each list needs: a figure links to its list only for those who may open it.
LIST_PERMISSIONS = {
    "claims": "claims:read",
    "work_items": "work_items:read",
    "claim_payments": "remittances:read",
    "remittances": "remittances:read",
    "deposits": "deposits:read",
    "approvals": "approvals:read",
    "rework": "reports:read",
    "outbox": "reports:read",
}

# What each figure's list shows (its tile's link says it): the list is exactly what the figure counts.
DRILL_NOTES = {
    "claims_backlog": "the open claims",
    "ar_balance": "the claims with an insurance A/R balance, which add up to this figure",
    "days_in_ar": "the claims with an insurance A/R balance (the numerator)",
    "clean_claim_rate": "the claims captured in the window that were not clean at their first scrub",
    "first_pass_acceptance_rate": "the claims first answered in the window that were rejected at the front end",
    "denial_rate": "the claim payments of the window that denied the claim",
    "denial_rate_dollars": "the claim payments of the window that denied the claim, with their denied dollars",
    "straight_through_posting_rate": "the claim payments posted in the window that people worked on",
    "posting_latency_hours": "the claim payments posted in the window, each with its latency",
    "work_items_backlog": "the open work items",
    "sla_breaches": "the active work items past their SLA due time",
    "sla_breach_rate": "the work items resolved in the window late or escalated",
    "exception_resolution_hours_median": "the work items resolved in the window",
    "exception_resolution_hours_p90": "the work items resolved in the window",
    "approval_cycle_hours": "the approval requests decided in the window",
    "rework_rate": "the objects that re-entered a state in the window",
    "integration_failure_rate": "the integration health of each destination",
    "cash_posted": "the remittances whose ERA cash was posted in the window",
    "cash_deposited": "the bank deposits of the window",
    "cash_gap": "the bank deposits of the window (the cash deposited)",
}


def object_url(object_type: str, object_id: str | int) -> str | None:
    pattern = _PAGES.get(object_type)
    return pattern.format(object_id) if pattern and str(object_id).isdigit() else None


def list_url(name: str, filters: dict[str, str] | None = None, **more: str | None) -> str:
    """The list page ``name`` filtered by ``filters`` and ``more`` (None values dropped)."""
    query = {key: value for key, value in {**(filters or {}), **more}.items() if value not in (None, "")}
    base = LISTS.get(name, "/ui/tower")
    return f"{base}?{urlencode(query)}" if query else base


def kpi_drill_url(kpi: KpiDefinition, *, as_of: datetime, window: int,
                  facilities: Sequence[str] | None = None) -> str | None:
    """The list behind ``kpi``'s figure at ``as_of`` over ``window`` days (None: no list can show it, e.g. an
    organisation-wide figure for a person limited to some facilities)."""
    name, filters = kpi.drill
    if facilities is not None and not kpi.dimensions:
        return None
    if name == "outbox":  # no list of its own: the tower's integration health section
        return f"{LISTS[name]}?{urlencode({'window': window})}#integration-title"
    if kpi.key in AS_OF_DRILLS:
        return list_url(name, filters)
    return list_url(name, filters, window=str(window), as_of=as_of.isoformat())


def denial_category_url(report: Any, category: str) -> str:
    """The claim payments behind one bar of the denials-by-category chart of ``report`` (a ``KpiReport``)."""
    window = (report.as_of - report.window_start).days
    return list_url("claim_payments", {"reversal": "false", "category": category}, window=str(window),
                    as_of=report.as_of.isoformat())
