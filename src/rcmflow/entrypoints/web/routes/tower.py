"""The control tower: every KPI as a tile with its trend and a link to the list behind it, backlog aging,
denials by category, daily throughput, SLA breaches per queue and integration health, optionally sliced by
a dimension. KPIs come from ``services.kpi_reports`` (computed live over the window, or the stored report of
the window when that would be slow) and trends from the daily snapshots (``services.kpi_snapshots``); nothing
here defines a figure."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rcmflow.domain.access import Principal
from rcmflow.domain.kpis import AGING_BUCKETS, DIMENSIONS, KPIS
from rcmflow.entrypoints.api.deps import ReadConn
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import facility_filter, require
from rcmflow.entrypoints.web.charts import Chart, bar_chart, line_chart, sparkline
from rcmflow.entrypoints.web.links import LIST_PERMISSIONS, denial_category_url, kpi_drill_url, list_url
from rcmflow.entrypoints.web.render import now, page

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=OneHopRoute)
WINDOWS = (7, 30, 90)
TREND_DAYS = 14
AGING_SUBJECTS = {"claims": "Open claims", "ar": "Insurance A/R (claims)", "work_items": "Open work items"}
AGING_LISTS = {"claims": ("claims", {"state": "open"}), "ar": ("claims", {"balance": "open"}),
               "work_items": ("work_items", {"state": "active"})}


def _trend_scope(principal: Principal) -> tuple[str | None, str | None] | None:
    """Which snapshot series a person may see: the totals when they see every facility, their facility's
    when they see one; none when they see several (no snapshot adds up exactly their facilities)."""
    if principal.every_facility:
        return None, None
    if len(principal.facilities) == 1:
        return "facility", principal.facilities[0]
    return None


@router.get("/tower")
def tower(request: Request, conn: ReadConn, principal: Annotated[Principal, Depends(require("reports:read"))],
          window: Annotated[int, Query(ge=1, le=365)] = 30,
          by: Annotated[str | None, Query(max_length=32)] = None) -> Response:
    from rcmflow.services.kpi_reports import tower_report
    from rcmflow.services.kpi_snapshots import kpi_trends
    from rcmflow.services.outbox import outbox_status
    from rcmflow.services.work_items import queue_summary

    at = now(request)
    facilities = facility_filter(principal)
    by = by or None
    figures = tower_report(conn, as_of=at, window_days=window, by=by, facilities=facilities,
                           organisation_id=principal.organisation_id)
    queues = queue_summary(conn, at, organisation_id=principal.organisation_id, facilities=facilities)
    report = _with_live_work(figures.report, queues)
    scope = _trend_scope(principal)
    trends: dict[str, list[tuple[Any, Any]]] = {}
    if scope is not None:
        dimension, group = scope
        trends = kpi_trends(conn, days=TREND_DAYS, until=at.date(), dimension=dimension, group=group,
                            organisation_id=principal.organisation_id)
    tiles = []
    for key, kpi in KPIS.items():
        total = report.value(key)
        trend = trends.get(key, [])
        known = [value for _, value in trend if value is not None]
        tiles.append({"kpi": kpi, "value": total.value if total else None,
                      "drill": kpi_drill_url(kpi, as_of=at, window=window, facilities=facilities)
                      if principal.may(LIST_PERMISSIONS[kpi.drill[0]]) else None,
                      "previous": known[-2] if len(known) >= 2 else None,
                      "spark": sparkline(f"spark-{key}", [(day.isoformat(), None if v is None else float(v))
                                                          for day, v in trend]) if len(known) >= 2 else None})
    charts = [_aging_chart(report), _denials_chart(report), _throughput_chart(figures.throughput),
              _sla_chart(queues)]
    outbox = outbox_status(conn, now=at)  # organisation-wide: deliveries belong to no facility
    sliced = _sliced(report, by) if by else None
    return page(request, "tower.html", principal, title="Control tower", tiles=tiles, charts=charts, outbox=outbox,
                at=at, window=window, windows=WINDOWS, by=by, dimensions=DIMENSIONS, sliced=sliced,
                figures=figures, scoped=facilities is not None)


def _with_live_work(report: Any, queues: list[Any]) -> Any:
    """The report with the open-work and SLA-breach totals of this moment: the queue summary the page reads
    anyway gives them (indexed, milliseconds), so a resolved item shows at once even when the rest of the
    figures come from a stored report."""
    live = {"work_items_backlog": sum(q.open for q in queues), "sla_breaches": sum(q.overdue for q in queues)}
    values = [replace(v, value=Decimal(live[v.key]), numerator=Decimal(live[v.key]))
              if v.key in live and v.group is None else v for v in report.values]
    return replace(report, values=values)


def _sliced(report: Any, by: str) -> dict[str, Any]:
    """The KPIs that can be sliced by ``by``, one row per group."""
    kpis = [kpi for kpi in KPIS.values() if by in kpi.dimensions]
    groups = sorted({value.group for value in report.values if value.group is not None})
    rows = [(group, [report.value(kpi.key, group) for kpi in kpis]) for group in groups]
    return {"kpis": kpis, "rows": rows}


def _aging_chart(report: Any) -> Chart:
    counts = {subject: [0] * len(AGING_BUCKETS) for subject in AGING_SUBJECTS}
    for row in report.aging:
        if row.group is None and row.subject in counts:
            counts[row.subject][AGING_BUCKETS.index(row.bucket)] = row.count
    links = {AGING_SUBJECTS[s]: [list_url(AGING_LISTS[s][0], AGING_LISTS[s][1], age=b) for b in AGING_BUCKETS]
             for s in AGING_SUBJECTS}
    return bar_chart("chart-aging", "Backlog aging (days)", [f"{b} d" for b in AGING_BUCKETS],
                     {AGING_SUBJECTS[s]: counts[s] for s in AGING_SUBJECTS}, links=links, y_title="count",
                     description="How long open claims, unpaid insurance claims and open work items have waited.")


def _denials_chart(report: Any) -> Chart:
    rows = sorted(report.denials_by_category, key=lambda row: row[2], reverse=True)
    categories = [row[0] for row in rows]
    return bar_chart("chart-denials", "Denials by CARC category", categories,
                     {"Denied claims": [row[1] for row in rows]},
                     links={"Denied claims": [denial_category_url(report, c) for c in categories]},
                     y_title="claims",
                     description="Denied claim payments in the window by the category of their denial reason code.")


def _throughput_chart(series: dict[str, list[tuple[Any, int]]]) -> Chart:
    days = [day.isoformat() for day, _ in next(iter(series.values()), [])]
    return line_chart("chart-throughput", "Throughput per day", days,
                      {label: [count for _, count in points] for label, points in series.items()}, y_title="events",
                      description="Claims submitted and adjudicated, payments posted, exceptions opened and resolved.")


def _sla_chart(queues: list[Any]) -> Chart:
    names = [q.queue for q in queues]
    return bar_chart("chart-sla", "Open work and SLA breaches by queue", names,
                     {"Within SLA": [q.open - q.overdue for q in queues], "Overdue": [q.overdue for q in queues]},
                     links={"Within SLA": [list_url("work_items", queue=n, overdue="0") for n in names],
                            "Overdue": [list_url("work_items", {"state": "overdue"}, queue=n) for n in names]},
                     stacked=True, y_title="items",
                     description="Active work items per queue; the overdue part has passed its SLA due time.")
