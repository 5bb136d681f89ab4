"""The work queues and approvals in a real browser (Debian's Chromium through Playwright) against the app served
by uvicorn: what billers and approvers do all day, by mouse and by keyboard, at desktop and tablet widths."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect
from sqlalchemy import Engine

from rcmflow.services.approvals import submit
from rcmflow.services.audit import list_audit
from rcmflow.services.events import events_for
from rcmflow.services.policies import configured_approval_policy
from rcmflow.services.work_items import get_item
from tests.entrypoints.web.browser import DESKTOP, TABLET, Clock, LiveServer, csrf_of, horizontal_overflow, login
from tests.entrypoints.web.conftest import User

LoginAs = Callable[..., User]


def queue_card(page: Page, queue: str) -> Locator:
    """The card of a queue on the work page (its link is named by the queue, then its figures)."""
    return page.get_by_role("link", name=re.compile(rf"^{queue.replace('_', ' ')}\b", re.IGNORECASE))


def work_table(page: Page) -> Locator:
    """The list of work items (its caption says how many are shown)."""
    return page.get_by_role("table", name=re.compile(r"\bshown\b"))


def item_ids(page: Page) -> list[int]:
    """The work items listed, in order, read from their selection boxes."""
    boxes = page.get_by_role("checkbox", name=re.compile(r"^Select item \d+$"))
    return [int(box.get_attribute("value") or 0) for box in boxes.all()]


def test_a_biller_drills_into_a_queue_and_resolves_an_item(page: Page, login_as: LoginAs, engine: Engine,
                                                           work_backlog: dict[str, int]) -> None:
    assert work_backlog["coding_review"] == 3
    biller = login_as("biller", next_page="/ui/work")

    expect(page.get_by_role("heading", name="Work queues", level=1)).to_be_visible()
    expect(queue_card(page, "coding_review").locator(".card-value")).to_have_text("3")
    queue_card(page, "coding_review").click()
    expect(page).to_have_url(re.compile(r"/ui/work\?queue=coding_review$"))
    expect(work_table(page)).to_contain_text("3 items shown in coding_review")

    page.get_by_role("link", name=re.compile(r"^Claim C\d")).first.click()
    expect(page.get_by_test_id("item-state")).to_have_text("open")
    item_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_label("Resolution").fill("corrected")
    page.get_by_label("Note (optional)").fill("Coded E11.9 after query to the physician")
    page.get_by_role("button", name="Resolve", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("Resolved.")
    expect(page.get_by_test_id("item-state")).to_have_text("resolved")
    expect(page.get_by_role("button", name="Resolve", exact=True)).to_have_count(0)  # nothing left to act on
    expect(page.get_by_role("table", name=re.compile("Every event"))).to_contain_text(biller.actor)

    page.get_by_role("link", name="coding_review", exact=True).click()  # the breadcrumb back to the queue
    expect(queue_card(page, "coding_review").locator(".card-value")).to_have_text("2")
    expect(work_table(page)).to_contain_text("2 items shown in coding_review")
    expect(page.get_by_role("checkbox", name=f"Select item {item_id}", exact=True)).to_have_count(0)

    with engine.connect() as conn:
        item = get_item(conn, item_id)
        history = events_for(conn, "work item", str(item_id), organisation_id="default")
    assert (item.state, item.resolution_code) == ("resolved", "corrected")
    assert history[-1].to_state == "resolved" and history[-1].actor == biller.actor


def test_bulk_assign_gives_the_checked_items_to_me(page: Page, login_as: LoginAs, engine: Engine,
                                                  work_backlog: dict[str, int]) -> None:
    biller = login_as("biller", next_page="/ui/work")
    ids = item_ids(page)
    assert len(ids) == sum(work_backlog.values()) >= 3
    chosen, others = ids[:2], ids[2:]

    for item_id in chosen:
        page.get_by_role("checkbox", name=f"Select item {item_id}", exact=True).check()
    page.get_by_role("button", name="Assign to me", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("Assigned.")
    for item_id in chosen:
        row = page.get_by_role("row").filter(has=page.get_by_role("checkbox", name=f"Select item {item_id}",
                                                                  exact=True))
        expect(row.get_by_role("cell").nth(6)).to_have_text(biller.actor)  # the Owner column
    for item_id in others:
        row = page.get_by_role("row").filter(has=page.get_by_role("checkbox", name=f"Select item {item_id}",
                                                                  exact=True))
        expect(row.get_by_role("cell").nth(6)).not_to_have_text(biller.actor)
    with engine.connect() as conn:
        assert {i: get_item(conn, i).owner for i in ids} == {i: biller.actor if i in chosen else None for i in ids}


def test_an_approver_approves_what_the_maker_cannot(page: Page, open_page: Callable[..., Page], engine: Engine,
                                                   live_server: LiveServer, make_user: Callable[..., User],
                                                   ui_clock: Clock) -> None:
    maker, checker = make_user("approver"), make_user("approver")
    with engine.begin() as conn:
        # 8,500.00 is under the ap-invoice rule's 10,000.00: a single level, one approver.
        ref = submit(conn, configured_approval_policy(), object_type="supplier invoice", object_id="INV-2026-0042",
                     maker=maker.actor, amount="8500.00", attributes={}, actor=maker.actor,
                     now=ui_clock() - timedelta(hours=3))
    assert ref is not None and [level.role for level in ref.chain] == ["approver"]
    address = f"/ui/approvals/{ref.id}"

    login(page, live_server.url, maker.username, maker.password, next_page=address)
    standing = page.locator("#standing")
    expect(standing).to_have_attribute("data-reason", "sod_maker")
    expect(standing).to_contain_text("segregation of duties")
    approve = page.get_by_role("button", name="Approve", exact=True)
    expect(approve).to_be_disabled()
    expect(approve).to_have_accessible_description(re.compile("segregation of duties"))
    # The page only explains; the core refuses whatever the browser sends.
    forced = page.request.post(f"{live_server.url}{address}/approve", form={"csrf": csrf_of(page), "reason": "ok"})
    assert forced.status == 403, forced.text()
    assert "sod_maker" in forced.text()
    page.reload()
    expect(page.get_by_test_id("approval-state")).to_have_text("pending")

    other = open_page()
    login(other, live_server.url, checker.username, checker.password, next_page=address)
    expect(other.locator("#standing")).to_have_attribute("data-reason", "")
    other.get_by_label("Comment (optional)").fill("Matches PO 7781 and the goods receipt")
    other.get_by_role("button", name="Approve", exact=True).click()
    expect(other.get_by_role("status")).to_have_text("Approved.")
    expect(other.get_by_test_id("approval-state")).to_have_text("approved")
    decisions = other.get_by_role("listitem").filter(has_text=re.compile(rf"^approved? by {checker.actor} at"))
    expect(decisions).to_have_count(1)

    with engine.connect() as conn:
        trail = list_audit(conn, organisation_id="default", object_type="approval request", object_id=str(ref.id))
    assert [(row["action"], row["actor"]) for row in trail] == [("approve", checker.actor)]


def test_the_work_item_page_works_with_a_keyboard_and_a_screen_reader(page: Page, login_as: LoginAs,
                                                                       work_backlog: dict[str, int]) -> None:
    login_as("biller", next_page="/ui/work?queue=coding_review")
    page.get_by_role("link", name=re.compile(r"^Claim C\d")).first.click()
    expect(page.get_by_test_id("item-state")).to_have_text("open")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()

    controls = page.locator("input:not([type=hidden]), select, textarea, button")
    assert controls.count() >= 8
    for control in controls.all():
        expect(control).to_have_accessible_name(re.compile(r"\S"))
    for label in ("Resolution", "Note (optional)", "Owner", "Add a note"):
        expect(page.get_by_label(label, exact=True)).to_be_editable()
    for name in ("Resolve", "Assign", "Assign to me", "Add note", "Log out"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_enabled()


@pytest.mark.parametrize("viewport", [TABLET, DESKTOP], ids=["tablet-768", "desktop-1280"])
def test_the_work_list_fits_the_screen(open_page: Callable[..., Page], live_server: LiveServer,
                                       make_user: Callable[..., User], work_backlog: dict[str, int],
                                       viewport: ViewportSize) -> None:
    biller = make_user("biller")
    page = open_page(viewport=viewport)
    login(page, live_server.url, biller.username, biller.password, next_page="/ui/work")
    expect(work_table(page)).to_contain_text(f"{sum(work_backlog.values())} items shown")
    assert page.evaluate("window.innerWidth") == viewport["width"]
    assert horizontal_overflow(page) <= 0, "the page scrolls sideways"
