"""Response shapes of the API, as the OpenAPI document publishes them. Amounts are decimal strings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel


class ClaimSummary(BaseModel):
    id: int
    source_id: str | None
    patient_control_number: str
    claim_type: str
    payer_id: str
    payer_name: str | None
    service_from: date | None
    service_to: date | None
    total_charge: str
    state: str
    frequency: str
    created_at: datetime
    errors: int
    warnings: int


class ClaimPage(BaseModel):
    items: list[ClaimSummary]
    next_cursor: str | None


class ClaimDetail(BaseModel):
    claim: dict[str, Any]
    lines: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    events: list[dict[str, Any]]


class WorkItemOut(BaseModel):
    id: int
    facility_id: str | None
    payer_id: str | None
    queue: str
    item_type: str
    state: str
    priority: int
    owner: str | None
    role: str | None
    object_type: str
    object_id: str
    title: str
    created_at: datetime
    due_at: datetime | None
    escalation_level: int
    resolved_at: datetime | None
    resolution_code: str | None


class Link(BaseModel):
    object_type: str
    object_id: str


class Note(BaseModel):
    id: int
    author: str
    created_at: datetime
    text: str


class WorkItemDetail(WorkItemOut):
    details: dict[str, Any] | None
    links: list[Link]
    notes: list[Note]


class WorkItemPage(BaseModel):
    items: list[WorkItemOut]
    next_cursor: str | None


class Health(BaseModel):
    status: str
    database: str | None = None
    schema_revision: str | None = None
    expected_revision: str | None = None


class KpiValueOut(BaseModel):
    key: str
    group: str | None  # the dimension value when sliced; None is the total
    value: str | None  # a decimal string; None when there is nothing to measure
    numerator: str | None
    denominator: str | None


class AgingRowOut(BaseModel):
    subject: str  # claims, ar, work_items
    bucket: str  # 0-30, 31-60, 61-90, 91-120, 120+
    group: str | None
    count: int
    amount: str


class DenialCategoryOut(BaseModel):
    category: str
    count: int
    amount: str


class KpiReportOut(BaseModel):
    """The KPIs of ``docs/kpis.md`` at ``as_of`` over the window since ``window_start``."""

    as_of: datetime
    window_start: datetime
    window_days: int
    by: str | None
    values: list[KpiValueOut]
    aging: list[AgingRowOut]
    denials_by_category: list[DenialCategoryOut]
