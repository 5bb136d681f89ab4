"""Every kind of page, in a real browser, fetches only from its own server: hospital networks are often closed,
so no script, style sheet, font or map file may come from a CDN (the pages, their Plotly charts, Swagger UI)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Page

from tests.entrypoints.web.browser import LiveServer
from tests.entrypoints.web.conftest import User
from tests.entrypoints.web.revenue_story import Story

PAGES = ("/ui/tower", "/ui/process", "/ui/process?object_type=claim+payment", "/ui/claims", "/ui/claims/{claim}",
         "/ui/claim-payments", "/ui/remittances", "/ui/remittances/{remittance}", "/ui/deposits", "/ui/work",
         "/ui/approvals", "/ui/audit", "/ui/rework", "/docs")


def test_no_page_fetches_anything_from_beyond_its_server(page: Page, login_as: Callable[..., User],
                                                         live_server: LiveServer, revenue_story: Story) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    login_as("admin")
    for path in PAGES:
        response = page.goto(live_server.url + path.format(claim=revenue_story.denied,
                                                           remittance=revenue_story.denied_remittance))
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        page.wait_for_load_state("networkidle")  # charts drawn, Swagger UI rendered: every asset fetched
    own = urlsplit(live_server.url).netloc
    beyond = sorted({url for url in requested if urlsplit(url).netloc != own and not url.startswith("data:")})
    assert not beyond, f"pages reached beyond their server: {beyond}"
    # The assets a CDN would otherwise serve were fetched, from here.
    paths = {urlsplit(url).path for url in requested}
    assert {"/ui/vendor/plotly.min.js", "/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"} <= paths
