"""Fixtures for the web UI's tests.

Browser tests (issue 7: "a real browser for UI tests") drive Debian's Chromium through Playwright against the
real app served by uvicorn over the test database:

- ``live_server``: the app on http://127.0.0.1:<free port>, its UI clock ``ui_clock`` (fixed at ``UI_NOW``);
- ``page``: a fresh browser context (own cookies: one person) at 1280×800 whose relative URLs resolve against
  the server; ``open_page(viewport=...)`` opens more, e.g. a second person. A failing test saves a full-page
  screenshot of each of its pages into its ``tmp_path`` and names the file in the report;
- ``make_user(*roles)``: a user who can log in (``browser.login`` or ``login_as``);
- ``login_as(*roles)``: a new user with these roles, logged in on ``page``;
- ``work_backlog``: claims held in work queues, made by ingesting a charge file through the real pipeline.

Without /usr/bin/chromium the browser tests are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize, sync_playwright
from sqlalchemy import Engine

from rcmflow.entrypoints.api.app import create_app
from rcmflow.services.intake import ingest_file
from rcmflow.services.principals import create_user
from rcmflow.services.work_items import queue_summary
from rcmflow.settings import Settings
from tests.entrypoints.test_cli_claims import CLINIC, HEADER, PATIENT
from tests.entrypoints.web.browser import (
    CHROMIUM,
    DESKTOP,
    PASSWORD,
    Clock,
    LiveServer,
    launch_chromium,
    login,
)
from tests.entrypoints.web.revenue_story import Story, tell

CHARGES_AT = datetime(2026, 3, 20, 18, tzinfo=UTC)  # when the charge file arrived
UI_NOW = datetime(2026, 3, 21, 9, tzinfo=UTC)  # the UI's "now": the next morning
# Three claims held for an unbillable category code (coding review), two without eligibility on file
# (registration and eligibility) and one clean claim.
BACKLOG_CHARGES = "\n".join([
    HEADER,
    *(f"C{n},P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,E11,Y,2026-03-1{n},99214,,1,180.00,1,,"
      for n in (1, 2, 3)),
    *(f"E{n},P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,I10,,2026-03-1{n},99213,,1,125.00,1,,"
      for n in (1, 2)),
    f"OK1,P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,J02.9,Y,2026-03-09,99213,,1,125.00,1,,",
]) + "\n"
_names = itertools.count(1)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class User:
    username: str
    password: str
    roles: tuple[str, ...]

    @property
    def actor(self) -> str:
        """How the user appears in event logs, owners and the audit trail."""
        return f"user:{self.username}"


# --- the server -----------------------------------------------------------------------------------------------


@pytest.fixture
def ui_clock() -> Clock:
    """The UI's "now" (``UI_NOW``); ``ui_clock.advance(timedelta(...))`` lets time pass for the server."""
    return Clock(UI_NOW)


@pytest.fixture
def live_server(engine: Engine, ui_clock: Clock) -> Iterator[LiveServer]:
    """The real app (API and UI) served by uvicorn on loopback over the test database; ``live_server.url``."""
    app = create_app(engine, Settings(api_rate_limit=1000, api_rate_burst=1000), clock=ui_clock)
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def make_user(engine: Engine, ui_clock: Clock) -> Callable[..., User]:
    """``make_user("biller")``: a new user with these roles and ``browser.PASSWORD``; ``name=`` to choose it."""

    def make(*roles: str, name: str | None = None) -> User:
        username = name or f"{'-'.join(roles) or 'nobody'}-{next(_names)}"
        with engine.begin() as conn:
            create_user(conn, username, PASSWORD, roles=list(roles), actor="test", now=ui_clock())
        return User(username, PASSWORD, roles)

    return make


@pytest.fixture
def work_backlog(engine: Engine) -> dict[str, int]:
    """Claims held in work queues, through the real intake: open items per queue at ``UI_NOW``
    (coding_review 3, registration_eligibility 2)."""
    with engine.begin() as conn:
        ingest_file(conn, BACKLOG_CHARGES.encode(), filename="charges.csv", channel="test", now=CHARGES_AT)
    with engine.connect() as conn:
        return {q.queue: q.open for q in queue_summary(conn, UI_NOW, organisation_id="default")}


# --- the browser ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chromium:
    playwright: Playwright
    browser: Browser
    loop: asyncio.AbstractEventLoop


def _park(loop: asyncio.AbstractEventLoop | None) -> None:
    # Between two calls, Playwright's sync API leaves its event loop marked as running in the main thread
    # (its dispatcher greenlet is suspended inside it). Left so, any later test of the session calling
    # asyncio.run() would fail with "cannot be called from a running event loop": the mark is removed after
    # each browser test and put back before the next.
    asyncio.events._set_running_loop(loop)


@pytest.fixture(scope="session")
def chromium() -> Iterator[_Chromium]:
    """One Playwright driver and one Chromium process for the whole session (use ``browser`` in tests)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if _in_ci():
            pytest.fail(f"{message}; browser tests must run in CI", pytrace=False)
        pytest.skip(message)
    playwright = sync_playwright().start()
    try:
        browser = launch_chromium(playwright)
    except BaseException:
        playwright.stop()
        raise
    loop = asyncio.events._get_running_loop()
    assert loop is not None, "Playwright's sync API no longer marks its loop as running: remove _park"
    _park(None)
    try:
        yield _Chromium(playwright, browser, loop)
    finally:
        _park(loop)
        browser.close()
        playwright.stop()


@pytest.fixture
def browser(chromium: _Chromium) -> Iterator[Browser]:
    """The session's Chromium, for one test."""
    _park(chromium.loop)
    try:
        yield chromium.browser
    finally:
        _park(None)


class Pages:
    """Browser contexts of one test (each its own cookie jar: one person), closed at its end."""

    def __init__(self, browser: Browser, base_url: str, tmp_path: Path) -> None:
        self.browser, self.base_url, self.tmp_path = browser, base_url, tmp_path
        self.contexts: list[BrowserContext] = []

    def open(self, viewport: ViewportSize | None = None) -> Page:
        context = self.browser.new_context(base_url=self.base_url, viewport=viewport or DESKTOP)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        return context.new_page()

    def all(self) -> list[Page]:
        return [page for context in self.contexts for page in context.pages]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def _browser_pages(browser: Browser, live_server: LiveServer, tmp_path: Path) -> Iterator[Pages]:
    pages = Pages(browser, live_server.url, tmp_path)
    try:
        yield pages
    finally:
        pages.close()


@pytest.fixture
def open_page(_browser_pages: Pages) -> Callable[..., Page]:
    """``open_page(viewport=browser.TABLET)``: another page in a context of its own (another person)."""
    return _browser_pages.open


@pytest.fixture
def page(_browser_pages: Pages) -> Page:
    """A page at 1280×800 in a fresh context; ``page.goto("/ui/work")`` goes to the live server."""
    return _browser_pages.open()


@pytest.fixture
def login_as(page: Page, live_server: LiveServer, make_user: Callable[..., User]) -> Callable[..., User]:
    """``user = login_as("biller", next_page="/ui/work")``: a new user with these roles, logged in on ``page``."""

    def log_in(*roles: str, name: str | None = None, next_page: str | None = None) -> User:
        user = make_user(*roles, name=name)
        login(page, live_server.url, user.username, user.password, next_page=next_page)
        return user

    return log_in


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing browser test leaves a full-page screenshot of each of its pages in its tmp_path, named in the
    report (taken here, before the fixtures close the pages)."""
    report = yield
    pages: Pages | None = getattr(item, "funcargs", {}).get("_browser_pages")
    if report.failed and report.when == "call" and pages is not None:
        lines = []
        for number, page in enumerate(pages.all(), start=1):
            path = pages.tmp_path / f"failure-page{number}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                lines.append(f"{path}  ({page.url})")
            except Exception as exc:  # noqa: BLE001 - a crashed page must not hide the test's own failure
                lines.append(f"no screenshot of {page.url}: {exc}")
        if lines:
            report.sections.append(("Browser screenshots", "\n".join(lines)))
    return report


# --- pages through TestClient (no browser): the record pages' tests ---------------------------------------------


@pytest.fixture
def ui_client(engine: Engine, ui_clock: Clock) -> TestClient:
    """The app over the test database for a visitor without a session (``person`` logs people in)."""
    app = create_app(engine, Settings(api_rate_limit=1000, api_rate_burst=1000), clock=ui_clock)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def person(engine: Engine, ui_client: TestClient, ui_clock: Clock) -> Callable[..., TestClient]:
    """``person("biller", facilities=["1234567893"])``: a client logged in as a new user with these roles (and
    facility scope; none: every facility). ``client.actor`` is how the audit trail names the user."""

    def log_in(*roles: str, facilities: tuple[str, ...] | list[str] = ()) -> TestClient:
        username = f"{'-'.join(roles) or 'nobody'}-{next(_names)}"
        with engine.begin() as conn:
            create_user(conn, username, PASSWORD, roles=list(roles), facilities=list(facilities), actor="test",
                        now=ui_clock())
        client = TestClient(ui_client.app, raise_server_exceptions=False)
        response = client.post("/ui/login", data={"username": username, "password": PASSWORD, "next": "/ui/"},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
        client.actor = f"user:{username}"  # type: ignore[attr-defined]
        return client

    return log_in


@pytest.fixture
def revenue_story(engine: Engine, tmp_path: Path) -> Story:
    """Two visits billed to the sandbox payer through the real pipeline, one paid (under contract), one denied;
    eligibility on file; one claim held by the scrubber (``revenue_story.Story`` has the ids)."""
    return tell(engine, tmp_path)
