"""The claims pages as a biller or denial specialist uses them: the list with its filters and pages, and one claim
with what explains it (rule versions of the scrubber's findings, eligibility, acknowledgments, the denial's CARC
and its meaning, the raw 835 loop that paid or denied it, the timeline), within the person's facilities, and
every read of it in the audit trail."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from rcmflow.adapters.store.schema import audit_log, claim_payments, payment_adjustments, scrub_findings
from rcmflow.domain.carc import carc_meaning
from rcmflow.entrypoints.web.routes import claims as claims_route
from tests.entrypoints.web.page_text import rows_of, text_of
from tests.entrypoints.web.revenue_story import CLINIC_NPI, MEMBER_ID, Story

Person = Callable[..., TestClient]


def test_the_list_filters_by_state_and_payer_and_keeps_its_filters_in_its_links(
        revenue_story: Story, person: Person) -> None:
    biller = person("biller")
    everything = biller.get("/ui/claims")
    assert everything.status_code == 200
    assert {f"/ui/claims/{claim_id}" for claim_id in (revenue_story.paid, revenue_story.denied, revenue_story.held)} \
        <= set(re.findall(r'href="(/ui/claims/\d+)"', everything.text))

    denied = biller.get("/ui/claims", params={"state": "denied"})
    [row] = rows_of(denied.text, "claims")
    assert "VISITD" in row and "denied" in row and "180.00" in row
    open_claims = rows_of(biller.get("/ui/claims", params={"state": "open"}).text, "claims")
    assert any("HELD1" in row for row in open_claims) and not any("VISITP" in row for row in open_claims)
    assert "No claim matches" in biller.get("/ui/claims", params={"payer_id": "99999"}).text
    assert "No claim matches" in biller.get("/ui/claims", params={"payer": "99999"}).text  # a KPI slice's name
    held = biller.get("/ui/claims", params={"state": "scrubbed"}).text
    assert "1 error" in rows_of(held, "claims")[0]  # the latest scrub's counts

    # A filter the list does not understand is refused, never silently dropped (that would list other claims).
    refused = biller.get("/ui/claims", params={"state": "denied", "colour": "red"})
    assert refused.status_code == 422 and "does not understand colour" in refused.text
    # A drill-down filter is applied, said in words and kept in the form with the others.
    drill = biller.get("/ui/claims", params={"state": "denied", "category": "coding"})
    assert drill.status_code == 200 and "does not apply" not in drill.text
    assert "denied for a reason of category coding" in drill.text
    assert 'name="category" value="coding"' in drill.text


def test_the_list_pages_with_a_cursor(revenue_story: Story, person: Person, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims_route, "PAGE_SIZE", 2)
    biller = person("biller")
    first = biller.get("/ui/claims", params={"sort": "id", "payer_id": "60054"})
    assert [row.split()[0] for row in rows_of(first.text, "claims")] == [str(revenue_story.paid),
                                                                        str(revenue_story.denied)]
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    assert "payer_id=60054" in next_link and "sort=id" in next_link
    second = biller.get(next_link)
    assert [row.split()[0] for row in rows_of(second.text, "claims")] == [str(revenue_story.held)]
    assert 'rel="next"' not in second.text


def test_the_claim_page_explains_a_denial(revenue_story: Story, person: Person, engine: Engine) -> None:
    specialist = person("denial_specialist")
    page = specialist.get(f"/ui/claims/{revenue_story.denied}")
    assert page.status_code == 200
    html = page.text
    with engine.connect() as conn:
        [(group, reason)] = conn.execute(select(payment_adjustments.c.group_code, payment_adjustments.c.reason_code)
                                         .join(claim_payments, claim_payments.c.id ==
                                               payment_adjustments.c.claim_payment_id)
                                         .where(claim_payments.c.claim_id == revenue_story.denied)).all()
    payments = text_of(html, "payments-title")
    assert f"{group} {reason} {carc_meaning(reason)}" in payments and "denial ·" in payments
    assert "4 · Denied" in payments
    assert "CLP*VISITD*4*180*0*" in html  # the raw 835 CLP loop that denied it, one segment per line
    assert "CLM*VISITD*180*" in html  # and the claim loop of the 837 that was submitted
    timeline = text_of(html, "timeline-title")
    assert all(activity in timeline for activity in (
        "submit claim", "accept into adjudication (277CA)", "record adjudication"))
    acknowledgments = text_of(html, "acks-title")
    assert "A · Accepted" in acknowledgments and "A2" in acknowledgments  # the 999 and the 277CA's STC
    assert any("denials" in row for row in rows_of(html, "claim-work"))

    # Eligibility on file, the member id masked everywhere on the page (the raw segments too).
    [eligibility] = rows_of(html, "eligibility")
    assert "active" in eligibility and "25.00" in eligibility and MEMBER_ID[-4:] in eligibility
    assert MEMBER_ID not in html


def test_the_claim_page_shows_the_scrubbers_rule_versions(revenue_story: Story, person: Person,
                                                         engine: Engine) -> None:
    html = person("coder").get(f"/ui/claims/{revenue_story.held}").text
    with engine.connect() as conn:
        finding = conn.execute(select(scrub_findings).where(scrub_findings.c.claim_id == revenue_story.held)).first()
    [row] = rows_of(html, "findings")
    assert f"{finding.rule}@{finding.rule_version}" in row and finding.pack in row and "error" in row
    assert "No 837 of this claim is stored" in html and "not submitted" in html


def test_the_paid_claim_shows_its_payment_and_variance(revenue_story: Story, person: Person) -> None:
    html = person("biller").get(f"/ui/claims/{revenue_story.paid}").text
    assert "Processed as primary" in html and "outside tolerance" in html
    assert carc_meaning("45") in html and carc_meaning("3") in html  # contractual and copay: not denials
    assert f'href="/ui/remittances/{revenue_story.paid_remittance}"' in html
    # A coder may read claims but not remittances: the page names the remittance without a dead link.
    coder = person("coder").get(f"/ui/claims/{revenue_story.paid}").text
    assert f"remittance {revenue_story.paid_remittance}" in coder and 'href="/ui/remittances/' not in coder


def test_reading_a_claim_is_audited(revenue_story: Story, person: Person, engine: Engine) -> None:
    biller = person("biller")
    assert biller.get(f"/ui/claims/{revenue_story.denied}").status_code == 200
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.object_type, audit_log.c.object_id)
                            .where(audit_log.c.action == "read claim")).all()
    assert rows == [(biller.actor, "claim", str(revenue_story.denied))]


def test_a_claim_of_another_facility_is_refused_and_not_listed(revenue_story: Story, person: Person,
                                                               engine: Engine) -> None:
    elsewhere = person("biller", facilities=["1234567890"])
    refused = elsewhere.get(f"/ui/claims/{revenue_story.denied}")
    assert refused.status_code == 403 and "facility outside the ones you may see" in refused.text
    assert "VISITD" not in refused.text
    assert "No claim matches" in elsewhere.get("/ui/claims").text
    assert "No claim matches" in elsewhere.get("/ui/claims", params={"facility_id": CLINIC_NPI}).text
    with engine.connect() as conn:  # nothing was read, so nothing is on record
        assert conn.execute(select(audit_log).where(audit_log.c.action == "read claim")).first() is None
    home = person("biller", facilities=[CLINIC_NPI])
    assert home.get(f"/ui/claims/{revenue_story.denied}").status_code == 200


def test_an_unknown_claim_is_a_not_found_page(person: Person) -> None:
    response = person("biller").get("/ui/claims/999999")
    assert response.status_code == 404 and "text/html" in response.headers["content-type"]


@pytest.mark.parametrize("path", ["/ui/claims", "/ui/claims/1"])
def test_the_claim_pages_need_a_session_and_the_claims_permission(path: str, ui_client: TestClient,
                                                                  person: Person) -> None:
    anonymous = ui_client.get(path, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/ui/login?next=")
    refused = person("approver").get(path)
    assert refused.status_code == 403 and "Your role does not allow this page" in refused.text


def test_the_claim_page_reads_the_claims_timeline_once(revenue_story: Story, person: Person, engine: Engine) -> None:
    specialist = person("denial_specialist")
    reads: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM event_log" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert specialist.get(f"/ui/claims/{revenue_story.denied}").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(reads) == 1, reads
