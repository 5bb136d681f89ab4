"""The control tower in a real browser: a biller logs in, reads the figures, drills into a queue from them,
resolves an item, and sees the figure change; every tile leads to the list behind it."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from rcmflow.services.kpis import compute_kpis
from tests.entrypoints.web.browser import Clock
from tests.entrypoints.web.conftest import User

LoginAs = Callable[..., User]


def tile(page: Page, key: str) -> str:
    return page.get_by_test_id(f"kpi-{key}").inner_text()


def test_a_biller_drills_from_the_tower_into_a_queue_resolves_an_item_and_sees_the_kpi_change(
        page: Page, login_as: LoginAs, engine: Engine, ui_clock: Clock, work_backlog: dict[str, int]) -> None:
    open_items = sum(work_backlog.values())
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    login_as("biller")  # a biller starts on the control tower

    expect(page.get_by_role("heading", name="Control tower", level=1)).to_be_visible()
    expect(page.get_by_test_id("kpi-work_items_backlog")).to_have_text(str(open_items))
    page.wait_for_load_state("networkidle")  # the charts drawn: every asset the page needs has been fetched
    assert hosts == {urlsplit(page.url).netloc}, f"the tower reached beyond its server: {sorted(hosts)}"
    with engine.connect() as conn:  # the page shows the engine's figure, not one of its own
        report = compute_kpis(conn, as_of=ui_clock(), window_days=30)
    assert report.value("work_items_backlog").value == open_items

    # The SLA chart's figures table and its bars lead to each queue; the tile leads to the open items.
    page.get_by_role("link", name=re.compile(r"^Open work items")).click()
    expect(page).to_have_url(re.compile(r"/ui/work\?state=active$"))
    page.get_by_role("link", name=re.compile(r"^coding review\b", re.IGNORECASE)).click()
    expect(page).to_have_url(re.compile(r"/ui/work\?queue=coding_review$"))

    page.get_by_role("link", name=re.compile(r"^Claim C\d")).first.click()
    page.get_by_label("Resolution").fill("corrected")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.get_by_test_id("item-state")).to_have_text("resolved")

    page.get_by_role("link", name="Control tower").click()
    expect(page.get_by_test_id("kpi-work_items_backlog")).to_have_text(str(open_items - 1))
    # The item was resolved within its SLA, by now: the resolution-time figures now have one item to measure.
    expect(page.get_by_test_id("kpi-sla_breach_rate")).to_have_text("0.0 %")
    assert tile(page, "exception_resolution_hours_median") != "–"


def test_the_tower_slices_by_queue_and_every_tile_drills_down(page: Page, login_as: LoginAs,
                                                              work_backlog: dict[str, int]) -> None:
    login_as("biller")
    page.get_by_label("Slice by").select_option("queue")
    page.get_by_role("button", name="Show").click()
    sliced = page.get_by_role("table", name=re.compile("sliced by queue"))
    for queue, count in work_backlog.items():
        expect(sliced.get_by_role("row", name=re.compile(rf"^{queue}\b"))).to_contain_text(str(count))
    assert page.locator("[data-kpi]").count() >= 15
    tiles = page.locator("[data-kpi] > a")
    assert tiles.count() >= 10
    # A figure whose list needs a permission the biller lacks (approvals) is shown without a link.
    expect(page.locator('[data-kpi="approval_cycle_hours"] > a')).to_have_count(0)
    for href in [tiles.nth(i).get_attribute("href") for i in range(tiles.count())]:
        assert href and href.startswith("/ui/")
        response = page.request.get(href)
        assert response.status == 200, f"{href} answered {response.status}"
