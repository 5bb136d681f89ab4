"""The audit page as an auditor uses it: who did or read what, newest first, filtered and paged; and whether the
hash chain holds, checked as ``rcmflow audit verify`` checks it, naming the first row that was tampered with."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from rcmflow.adapters.store.schema import audit_log, claims
from rcmflow.entrypoints.web.routes import audit as audit_route
from rcmflow.services.intake import ingest_file
from tests.entrypoints.api.conftest import CHARGES
from tests.entrypoints.web.conftest import CHARGES_AT
from tests.entrypoints.web.page_text import marked_text, rows_of

Person = Callable[..., TestClient]


@pytest.fixture
def trail(engine: Engine, person: Person) -> tuple[TestClient, TestClient, int]:
    """A biller logs in and reads a claim, then an auditor logs in: three audit rows, in that order. Returns
    (biller, auditor, the claim read)."""
    with engine.begin() as conn:
        ingest_file(conn, CHARGES.encode(), filename="charges.csv", channel="test", now=CHARGES_AT)
        claim_id = conn.execute(select(claims.c.id).order_by(claims.c.id).limit(1)).scalar_one()
    biller = person("biller")
    assert biller.get(f"/ui/claims/{claim_id}").status_code == 200
    return biller, person("auditor"), claim_id


def _ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(audit_log.c.id).order_by(audit_log.c.id)).scalars())


def test_the_trail_reads_newest_first_and_the_chain_is_verified(trail: tuple[TestClient, TestClient, int],
                                                                engine: Engine) -> None:
    biller, auditor, claim_id = trail
    html = auditor.get("/ui/audit").text
    assert marked_text(html, "chain-status") == ("Chain verified: all 3 rows are intact, each linked to the one "
                                                 "before it.")
    rows = rows_of(html, "audit-rows")
    assert [row.split()[0] for row in rows] == [str(i) for i in reversed(_ids(engine))]
    assert "log in" in rows[0] and auditor.actor in rows[0]
    assert "read claim" in rows[1] and biller.actor in rows[1]
    assert f'href="/ui/claims/{claim_id}"' in html  # the object read links to its page


def test_the_trail_filters_by_actor_action_object_and_date(trail: tuple[TestClient, TestClient, int],
                                                           engine: Engine) -> None:
    biller, auditor, claim_id = trail
    mine = rows_of(auditor.get("/ui/audit", params={"actor": biller.actor}).text, "audit-rows")
    assert len(mine) == 2 and all(biller.actor in row for row in mine)
    [read] = rows_of(auditor.get("/ui/audit", params={"action": "read claim", "object_type": "claim",
                                                      "object_id": str(claim_id)}).text, "audit-rows")
    assert f"claim {claim_id}" in read
    with engine.connect() as conn:
        day = conn.execute(select(audit_log.c.occurred_at).limit(1)).scalar_one().date()
    same_day = rows_of(auditor.get("/ui/audit", params={"since": str(day), "until": str(day)}).text, "audit-rows")
    assert len(same_day) == 3
    before = auditor.get("/ui/audit", params={"until": str(day - timedelta(days=1))}).text
    assert "No audit row matches" in before
    assert auditor.get("/ui/audit", params={"since": "yesterday"}).status_code == 422


def test_the_trail_pages_with_a_cursor(trail: tuple[TestClient, TestClient, int], engine: Engine,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_route, "PAGE_SIZE", 2)
    _, auditor, _ = trail
    ids = _ids(engine)
    first = auditor.get("/ui/audit").text
    assert [row.split()[0] for row in rows_of(first, "audit-rows")] == [str(ids[2]), str(ids[1])]
    older = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert [row.split()[0] for row in rows_of(auditor.get(older).text, "audit-rows")] == [str(ids[0])]


def test_a_tampered_row_breaks_the_chain_and_is_named(trail: tuple[TestClient, TestClient, int],
                                                      engine: Engine) -> None:
    _, auditor, _ = trail
    ids = _ids(engine)
    with engine.begin() as conn:  # someone with database access rewrites who read the claim
        conn.execute(update(audit_log).where(audit_log.c.id == ids[1]).values(actor="user:mallory"))
    html = auditor.get("/ui/audit").text
    status = marked_text(html, "chain-status")
    assert status.startswith(f"Chain broken at row #{ids[1]}: its content does not match its hash")
    assert 'class="broken"' in html and f'<tr class="broken-row" id="audit-{ids[1]}">' in html
    show = re.search(r'<a href="([^"]+)">Show row #', html).group(1).replace("&amp;", "&")
    assert rows_of(auditor.get(show).text, "audit-rows")[0].startswith(f"{ids[1]} broken")


def test_a_large_trail_is_verified_on_request(trail: tuple[TestClient, TestClient, int],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_route, "AUTO_VERIFY_ROWS", 2)
    _, auditor, _ = trail
    html = auditor.get("/ui/audit", params={"actor": auditor.actor}).text
    assert "Verify the chain now" in html and "chain-status" not in html
    assert 'name="actor"' in html.split("Verify the chain now")[0]  # the filters are kept
    verified = auditor.get("/ui/audit", params={"actor": auditor.actor, "verify": "1"}).text
    assert marked_text(verified, "chain-status").startswith("Chain verified: all 3 rows")


def test_the_audit_page_needs_a_session_and_the_audit_permission(ui_client: TestClient, person: Person) -> None:
    anonymous = ui_client.get("/ui/audit", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/ui/login?next=")
    for role in ("biller", "controller"):
        refused = person(role).get("/ui/audit")
        assert refused.status_code == 403 and "Your role does not allow this page" in refused.text
    assert person("admin").get("/ui/audit").status_code == 200
