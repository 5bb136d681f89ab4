"""Every figure of the control tower drills down to the list behind it, and that list holds exactly what the
figure counts: over a small demo network (its days through the real pipeline, plus approvals decided around
the window), each tile's link is followed from the rendered tower and the list's reported rows (and money) are
compared with the KPI engine's figure, its numerator or its denominator; so are the bars of the aging, denial
and SLA charts. A person limited to one facility gets the same agreement within it. Then the new filters one by
one, and a filter no list understands refused with a 422 page."""

from __future__ import annotations

import html
import io
import json
import re
import textwrap
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import claim_payments, claims, event_log, payment_adjustments
from rcmflow.demo.serve import simulated_now
from rcmflow.domain.approval_policy import parse_approval_policy
from rcmflow.domain.carc import DENIAL_CATEGORIES
from rcmflow.domain.kpis import AGING_BUCKETS, AS_OF_DRILLS, KPIS
from rcmflow.entrypoints.web.routes import claim_payments as claim_payments_route
from rcmflow.services.approvals import approve, reject, submit
from rcmflow.services.demo import run_demo
from rcmflow.services.kpis import KpiReport, compute_kpis
from tests.entrypoints.web.browser import Clock
from tests.entrypoints.web.page_text import rows_of
from tests.entrypoints.web.revenue_story import CLINIC_NPI, Story

Person = Callable[..., TestClient]
VALUE, NUMERATOR, DENOMINATOR, SHORT = "value", "numerator", "denominator", "short"  # short: denominator - numerator
POLICY = parse_approval_policy(textwrap.dedent("""\
    policy_id: ap
    version: "1"
    effective_from: 2026-01-01
    rules:
      - id: invoice
        queue: ap_approvals
        when: {object_type: supplier invoice, min_amount: "1000.00"}
        chain: [{role: approver, sla_hours: 8}]
    """))

# For each KPI: what the list its tile links to reports (list figure -> part of the KPI's value), and for a rate
# the filter that narrows the denominator to what the tile lists: (name, value for the rest of the denominator,
# value listing the whole denominator or None to drop it), with what the whole denominator's list reports.
DRILLS: dict[str, tuple[dict[str, str], tuple[str, str, str | None] | None, dict[str, str]]] = {
    "claims_backlog": ({"count": VALUE}, None, {}),
    "ar_balance": ({"amount": VALUE}, None, {}),
    "days_in_ar": ({"amount": NUMERATOR}, None, {}),
    "clean_claim_rate": ({"count": SHORT}, ("first_scrub", "clean", None), {"count": DENOMINATOR}),
    "first_pass_acceptance_rate": ({"count": SHORT}, ("front_end", "accepted", "answered"), {"count": DENOMINATOR}),
    "denial_rate": ({"count": NUMERATOR, "denied": NUMERATOR}, ("denied", "false", None),
                    {"count": DENOMINATOR, "denied": NUMERATOR}),
    "denial_rate_dollars": ({"amount": NUMERATOR}, ("denied", "false", None),
                            {"charges": DENOMINATOR, "amount": NUMERATOR}),
    "straight_through_posting_rate": ({"count": SHORT, "touched": SHORT}, ("touched", "false", None),
                                      {"count": DENOMINATOR, "touched": SHORT}),
    "posting_latency_hours": ({"count": DENOMINATOR}, None, {}),
    "work_items_backlog": ({"count": VALUE}, None, {}),
    "sla_breaches": ({"count": VALUE}, None, {}),
    "sla_breach_rate": ({"count": NUMERATOR}, ("breached", "false", None), {"count": DENOMINATOR}),
    "exception_resolution_hours_median": ({"count": DENOMINATOR}, None, {}),
    "exception_resolution_hours_p90": ({"count": DENOMINATOR}, None, {}),
    "approval_cycle_hours": ({"count": DENOMINATOR}, None, {}),
    "rework_rate": ({"count": NUMERATOR, "reentered": NUMERATOR}, ("reworked", "false", None),
                    {"count": DENOMINATOR, "reentered": NUMERATOR}),
    "cash_posted": ({"amount": VALUE}, None, {}),
    "cash_deposited": ({"amount": VALUE}, None, {}),
    "cash_gap": ({"amount": DENOMINATOR}, None, {}),
}
NO_LIST = {"integration_failure_rate"}  # outbound deliveries: the tower's own integration health section


def _figure(page: str, name: str) -> Decimal:
    match = re.search(rf'data-testid="list-{name}">([^<]+)<', page)
    assert match is not None, f"the list reports no {name}"
    return Decimal(match.group(1).replace(",", ""))


def _part(report: KpiReport, key: str, part: str) -> Decimal:
    value = report.value(key)
    assert value is not None
    if part == SHORT:
        return (value.denominator or 0) - (value.numerator or 0)
    found = getattr(value, part)
    return Decimal(0) if found is None else found


def _with(url: str, name: str, value: str | None) -> str:
    """``url`` with the parameter ``name`` set to ``value`` (dropped when None)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name] + ([(name, value)] if value else [])
    return f"{parts.path}?{urlencode(query)}"


def _get(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}: {response.text[-500:]}"
    return response.text


def _charts(tower: str) -> dict[str, dict[str, Any]]:
    return {chart_id: json.loads(html.unescape(spec)) for chart_id, spec in re.findall(
        r'<script type="application/json" id="(chart-[a-z]+)">(.*?)</script>', tower, re.S)}


@pytest.fixture
def network(engine: Engine, tmp_path: Path, ui_clock: Clock) -> datetime:
    """A demo network's days through the real pipeline, and approval requests decided in and before the KPI
    window; the UI's clock is set to its simulated end, which this returns."""
    run_demo(Console(file=io.StringIO(), width=160), engine, tmp_path / "demo", claims=150, days=3, seed=5)
    at = ui_clock.now = simulated_now(engine)
    with engine.begin() as conn:
        facility = _busiest_facility(conn)
        for number, (days_ago, other_facility, decision) in enumerate(
                [(2, False, "approve"), (5, True, "reject"), (9, False, "approve"), (45, False, "approve"),
                 (1, False, None)]):
            decided = at - timedelta(days=days_ago)
            ref = submit(conn, POLICY, object_type="supplier invoice", object_id=f"INV-{number}", maker="user:maker",
                         amount=Decimal("2500.00"), attributes={"facility": "9999999995" if other_facility else
                                                                 facility},
                         actor="user:maker", now=decided - timedelta(hours=6))
            assert ref is not None
            if decision == "approve":
                approve(conn, ref.id, "user:checker", {"approver"}, now=decided)
            elif decision == "reject":
                reject(conn, ref.id, "user:checker", {"approver"}, reason="no purchase order", now=decided)
    return at


def _busiest_facility(conn: Any) -> str:
    return conn.execute(select(claims.c.facility_id).group_by(claims.c.facility_id)
                        .order_by(func.count().desc(), claims.c.facility_id).limit(1)).scalar_one()


def _check_every_figure(client: TestClient, report: KpiReport, *, scoped: bool) -> int:
    """Follow every tile's and chart bar's link of the tower ``client`` sees and compare the list with ``report``;
    how many of the compared figures were not zero."""
    tower = _get(client, "/ui/tower")
    tiles = dict(re.findall(r'data-kpi="([a-z0-9_]+)">\s*(?:<a href="([^"]*)")?', tower))
    assert set(tiles) == set(KPIS) and set(DRILLS) | NO_LIST == set(KPIS)
    nonzero = 0
    for key, (on_link, narrowing, on_whole) in DRILLS.items():
        href = html.unescape(tiles[key])
        if scoped and not KPIS[key].dimensions:
            assert href == "", f"{key}: an organisation-wide figure has no list for one facility"
            continue
        assert href.startswith("/ui/"), f"{key} has no list"
        query = dict(parse_qsl(urlsplit(href).query))
        period = {"window": "30", "as_of": report.as_of.isoformat()}
        assert {k: query.get(k) for k in period} == ({"window": None, "as_of": None} if key in AS_OF_DRILLS
                                                     else period), f"{key}: the list covers the figure's period"
        page = _get(client, href)
        for figure, part in on_link.items():
            assert _figure(page, figure) == _part(report, key, part), f"{key}: {figure} of {href}"
            nonzero += _part(report, key, part) != 0
        if narrowing is not None:
            name, rest, whole = narrowing
            whole_page = _get(client, _with(href, name, whole))
            for figure, part in on_whole.items():
                assert _figure(whole_page, figure) == _part(report, key, part), f"{key}: whole denominator's {figure}"
            rest_page = _get(client, _with(href, name, rest))
            assert _figure(page, "count") + _figure(rest_page, "count") == _figure(whole_page, "count"), key
    integration = tiles["integration_failure_rate"]
    assert integration == ("" if scoped else "/ui/tower?window=30#integration-title")

    charts = _charts(tower)
    for trace in charts["chart-aging"]["data"] + charts["chart-denials"]["data"] + charts["chart-sla"]["data"]:
        for bar, link in zip(trace["y"], trace["customdata"], strict=True):
            assert _figure(_get(client, link), "count") == bar, f"{trace['name']}: {link}"
            nonzero += bar != 0
    ar = {row.bucket: row for row in report.aging if row.subject == "ar" and row.group is None}
    for bucket in AGING_BUCKETS:
        assert _figure(_get(client, f"/ui/claims?balance=open&age={bucket.replace('+', '%2B')}"), "amount") \
            == ar[bucket].amount
    denials = charts["chart-denials"]["data"][0]
    for (category, count, amount), link in zip(report.denials_by_category, denials["customdata"], strict=True):
        page = _get(client, link)
        assert (_figure(page, "count"), _figure(page, "amount")) == (count, amount), category
    return nonzero


def test_every_figure_of_the_tower_lists_exactly_what_it_counts(network: datetime, person: Person,
                                                                engine: Engine) -> None:
    with engine.connect() as conn:
        everything = compute_kpis(conn, as_of=network, window_days=30)
        facility = _busiest_facility(conn)
        one_facility = compute_kpis(conn, as_of=network, window_days=30, facilities=(facility,))
    assert _check_every_figure(person("admin"), everything, scoped=False) >= 25  # a network with real figures
    assert everything.value("approval_cycle_hours").denominator == 3  # two in the facility, one elsewhere
    assert everything.value("rework_rate").numerator > 0 and everything.value("denial_rate").numerator > 0
    assert _check_every_figure(person("admin", facilities=[facility]), one_facility, scoped=True) >= 10
    assert one_facility.value("approval_cycle_hours").denominator == 2


# ---- the new filters, one by one, over the revenue story ----------------------------------------------------


def _story_end(engine: Engine) -> str:
    """The as-of time of the story's last step (its clock runs weeks past the UI's)."""
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(event_log.c.occurred_at))
                              .where(event_log.c.object_type == "claim")).scalar_one()
    return latest.isoformat()


def _denial_category(engine: Engine, story: Story) -> str:
    with engine.connect() as conn:
        reasons = conn.execute(select(payment_adjustments.c.reason_code).join(
            claim_payments, claim_payments.c.id == payment_adjustments.c.claim_payment_id)
            .where(claim_payments.c.claim_id == story.denied)).scalars().all()
    return next(DENIAL_CATEGORIES[reason] for reason in reasons if reason in DENIAL_CATEGORIES)


def test_the_claim_payments_list_filters_and_links_each_payment_to_its_claim_and_remittance(
        revenue_story: Story, person: Person, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    poster = person("payment_poster")
    period = {"window": "90", "as_of": _story_end(engine), "reversal": "false"}
    denied = _get(poster, "/ui/claim-payments?" + urlencode({**period, "denied": "true"}))
    [row] = rows_of(denied, "claim-payments")
    assert "VISITD" in row and "denied" in row and _figure(denied, "count") == 1
    assert f'href="/ui/claims/{revenue_story.denied}"' in denied
    assert f'href="/ui/remittances/{revenue_story.denied_remittance}"' in denied
    assert "that denied the claim in full or in part" in denied
    paid = _get(poster, "/ui/claim-payments?" + urlencode({**period, "denied": "false"}))
    [row] = rows_of(paid, "claim-payments")
    assert "VISITP" in row and f'href="/ui/remittances/{revenue_story.paid_remittance}"' in paid

    category = _denial_category(engine, revenue_story)
    assert "VISITD" in _get(poster, "/ui/claim-payments?" + urlencode({**period, "category": category}))
    other = next(c for c in ("coding", "eligibility", "duplicate") if c != category)
    assert _figure(_get(poster, "/ui/claim-payments?" + urlencode({**period, "category": other})), "count") == 0
    # People worked on the denial (a denials work item) and on the underpayment (variance review).
    touched = _get(poster, "/ui/claim-payments?" + urlencode({**period, "touched": "true", "dated": "posted"}))
    untouched = _get(poster, "/ui/claim-payments?" + urlencode({**period, "touched": "false", "dated": "posted"}))
    assert _figure(touched, "count") + _figure(untouched, "count") == 2 and _figure(touched, "count") >= 1
    # A window before anything was received lists nothing.
    assert "No claim payment matches" in _get(poster, "/ui/claim-payments?window=1&as_of=2020-01-01T00:00:00%2B00:00")

    monkeypatch.setattr(claim_payments_route, "PAGE_SIZE", 1)
    first = _get(poster, "/ui/claim-payments?payer_id=60054")
    assert _figure(first, "count") == 2 and len(rows_of(first, "claim-payments")) == 1
    next_link = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert "payer_id=60054" in next_link and len(rows_of(_get(poster, next_link), "claim-payments")) == 1

    # Within a facility scope by the matched claim's facility; a coder may not read claim payments at all.
    assert _figure(_get(person("biller", facilities=["1234567890"]), "/ui/claim-payments"), "count") == 0
    assert _figure(_get(person("biller", facilities=[CLINIC_NPI]), "/ui/claim-payments"), "count") == 2
    refused = person("coder").get("/ui/claim-payments")
    assert refused.status_code == 403


def test_the_claims_list_applies_the_drill_down_filters(revenue_story: Story, person: Person,
                                                        engine: Engine) -> None:
    biller = person("biller")
    end = _story_end(engine)
    period = {"window": "90", "as_of": end}

    def listed(**params: str) -> set[str]:
        page = _get(biller, "/ui/claims?" + urlencode(params))
        found = {pcn for pcn in ("VISITP", "VISITD", "HELD1") if f">{pcn}<" in page}
        assert _figure(page, "count") == len(found)
        return found

    assert listed(category=_denial_category(engine, revenue_story), **period) == {"VISITD"}
    assert listed(captured="ehr", first_scrub="findings", **period) == {"HELD1"}
    assert listed(captured="ehr", first_scrub="clean", **period) == {"VISITP", "VISITD"}
    assert listed(front_end="answered", **period) == {"VISITP", "VISITD"}
    assert listed(front_end="accepted", **period) == {"VISITP", "VISITD"}
    assert listed(front_end="rejected", **period) == set()
    assert listed(rework="true", **period) == set()
    # The insurance A/R balances: the claims and the money of the A/R figure at the as-of time.
    with engine.connect() as conn:
        report = compute_kpis(conn, as_of=datetime.fromisoformat(end), window_days=30)
    balances = _get(biller, "/ui/claims?" + urlencode({"balance": "open", "as_of": end}))
    assert _figure(balances, "amount") == report.value("ar_balance").value
    assert _figure(balances, "count") == sum(a.count for a in report.aging if a.subject == "ar" and a.group is None)
    assert "A/R balance" in balances and "does not apply" not in balances
    # The drill-down filters stay in the form, and are said in words.
    assert 'name="front_end" value="rejected"' in _get(biller, "/ui/claims?front_end=rejected&window=30")
    assert "rejected at the front end" in _get(biller, "/ui/claims?front_end=rejected&window=30")


def test_the_work_list_lists_breached_and_within_sla_items(network: datetime, person: Person,
                                                           engine: Engine) -> None:
    with engine.connect() as conn:
        report = compute_kpis(conn, as_of=network, window_days=30)
    worker = person("biller")
    window = {"state": "resolved", "window": "30", "as_of": network.isoformat()}
    breached = _get(worker, "/ui/work?" + urlencode({**window, "breached": "true"}))
    assert _figure(breached, "count") == report.value("sla_breach_rate").numerator
    assert "escalated or resolved after their SLA due time" in breached
    kept = html.unescape(re.search(r'<input type="hidden" name="back" value="([^"]+)"', breached).group(1))
    assert "breached=true" in kept and "window=30" in kept  # bulk assignment comes back to the same list
    within = _get(worker, "/ui/work?" + urlencode({**window, "breached": "false"}))
    assert _figure(breached, "count") + _figure(within, "count") == report.value("sla_breach_rate").denominator
    overdue, on_time = _get(worker, "/ui/work?overdue=1"), _get(worker, "/ui/work?overdue=0")
    assert _figure(overdue, "count") + _figure(on_time, "count") == report.value("work_items_backlog").value


@pytest.mark.parametrize("path", ["/ui/claims", "/ui/claim-payments", "/ui/work", "/ui/remittances", "/ui/deposits",
                                  "/ui/approvals", "/ui/rework"])
def test_a_filter_a_list_does_not_understand_is_refused(path: str, person: Person) -> None:
    response = person("admin").get(path, params={"state": "all", "colour": "red"}
                                   if path not in ("/ui/rework",) else {"colour": "red"})
    assert response.status_code == 422 and "text/html" in response.headers["content-type"]
    assert "does not understand colour" in response.text and "Cannot accept this" in response.text


@pytest.mark.parametrize("query", [
    "/ui/remittances?denied=true",  # claim payments have their own list now: the remittances refuse it
    "/ui/claims?balance=closed", "/ui/claims?rework=maybe", "/ui/claims?category=weather",
    "/ui/claims?state=open&window=30",  # a window with nothing that looks at a period
    "/ui/claims?front_end=rejected&window=0", "/ui/claims?front_end=rejected&as_of=2026-04-01T00:00:00",
    "/ui/claim-payments?denied=perhaps", "/ui/claim-payments?dated=posted", "/ui/claim-payments?category=weather",
    "/ui/work?state=active&window=30", "/ui/work?breached=sometimes", "/ui/approvals?state=pending&window=30",
    "/ui/deposits?as_of=2026-04-01T00:00:00%2B00:00", "/ui/remittances?cash=posted", "/ui/rework?object_type=cat",
])
def test_a_filter_value_a_list_cannot_apply_is_refused(query: str, person: Person) -> None:
    response = person("admin").get(query)
    assert response.status_code == 422, response.text[-300:]
