"""Rendering a page: the Jinja2 environment, the filters that format money, rates and times, and the context
every page gets (the person, the navigation they may use, the form token)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from rcmflow.domain.access import Principal
from rcmflow.entrypoints.web.assets import PLOTLY_PATH, STATIC_PREFIX
from rcmflow.entrypoints.web.forms import csrf_token
from rcmflow.entrypoints.web.links import DRILL_NOTES, list_url, object_url

# (label, path, permission): the navigation, shown only where the person may go.
NAVIGATION = (
    ("Control tower", "/ui/tower", "reports:read"),
    ("Work queues", "/ui/work", "work_items:read"),
    ("Approvals", "/ui/approvals", "approvals:read"),
    ("Claims", "/ui/claims", "claims:read"),
    ("Remittances", "/ui/remittances", "remittances:read"),
    ("Claim payments", "/ui/claim-payments", "remittances:read"),
    ("Deposits", "/ui/deposits", "deposits:read"),
    ("Process map", "/ui/process", "reports:read"),
    ("Audit", "/ui/audit", "audit:read"),
)


def money(value: Decimal | str | int | None) -> str:
    """1234.5 -> "1,234.50"; None -> an en dash."""
    if value is None or value == "":
        return "–"
    return f"{Decimal(value):,.2f}"


def percent(value: Decimal | str | None, places: int = 1) -> str:
    """A rate stored as a percentage (e.g. 93.4) with its sign."""
    if value is None:
        return "–"
    return f"{Decimal(value):.{places}f} %"


def when(value: datetime | date | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def duration(value: timedelta | Decimal | float | None, unit: str = "hours") -> str:
    """A duration in hours (or a timedelta) in the unit a person reads best."""
    if value is None:
        return "–"
    hours = Decimal(value.total_seconds()) / 3600 if isinstance(value, timedelta) else Decimal(value)
    if unit == "days":
        hours *= 24
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def kpi_value(value: Decimal | str | None, unit: str) -> str:
    """A KPI figure in its unit (units from ``domain.kpis``)."""
    if value is None:
        return "–"
    if unit == "percent":
        return percent(value)
    if unit == "usd":
        return money(value)
    if unit == "count":
        return f"{Decimal(value):,.0f}"
    if unit in ("hours", "days"):
        return duration(Decimal(value), unit)
    return str(value)


def query(filters: Mapping[str, Any]) -> str:
    """The filters set (empty ones left out) as a query string: what a list's links keep."""
    return urlencode({key: value for key, value in filters.items() if value not in (None, "")})


def to_json(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block: ``</`` escaped so the data cannot end the
    script element."""
    text = json.dumps(value, default=str, separators=(",", ":")).replace("</", "<\\/")
    return Markup(text)  # noqa: S704 - JSON with "</" escaped, only ever inside a JSON script block


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("rcmflow.entrypoints.web", "templates"),
                      autoescape=select_autoescape(("html",)), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=money, percent=percent, when=when, duration=duration, kpi_value=kpi_value,
                       to_json=to_json, query=query)
    env.globals.update(inf=float("inf"), STATIC=STATIC_PREFIX, PLOTLY=PLOTLY_PATH, object_url=object_url,
                       list_url=list_url, drill_notes=DRILL_NOTES)
    return env


templates = Jinja2Templates(env=_environment())


def now(request: Request) -> datetime:
    """The UI's "now": the wall clock, or the simulated date of a demo network (``create_app(clock=...)``)."""
    return request.app.state.clock()


def page(request: Request, template: str, principal: Principal | None, *, status_code: int = 200,
         title: str = "", **context: Any) -> HTMLResponse:
    """Render ``template`` with what every page needs."""
    navigation = [(label, path) for label, path, permission in NAVIGATION
                  if principal is not None and principal.may(permission)]
    return templates.TemplateResponse(request, template, {
        "principal": principal, "navigation": navigation, "csrf": csrf_token(request), "title": title,
        "current_path": request.url.path, **context}, status_code=status_code)
