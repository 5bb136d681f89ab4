"""API hygiene: Idempotency-Key replays, rate limits, body size limits, CORS off by default, and writes that
land in the audit trail with before/after digests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import audit_log, documents, idempotency_keys, work_item_notes
from rcmflow.entrypoints.api.app import create_app
from rcmflow.entrypoints.api.limits import TokenBuckets
from rcmflow.services.tokens import KeyCache
from rcmflow.settings import Settings
from tests.entrypoints.api.conftest import TokenFor
from tests.entrypoints.test_cli_claims import CHARGES


def _held_item(api: TestClient, headers: dict[str, str]) -> int:
    items = api.get("/v1/work-items", headers=headers, params={"queue": "coding_review"}).json()["items"]
    return items[0]["id"]


def test_a_repeated_post_with_the_same_key_returns_the_first_response_and_acts_once(
        api: TestClient, engine: Engine, charges: None, token_for: TokenFor) -> None:
    headers = {**token_for("biller"), "Idempotency-Key": "note-1"}
    item_id = _held_item(api, headers)
    first = api.post(f"/v1/work-items/{item_id}/notes", headers=headers, json={"text": "called the clinic"})
    again = api.post(f"/v1/work-items/{item_id}/notes", headers=headers, json={"text": "called the clinic"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(work_item_notes)).scalar_one() == 1
    other = api.post(f"/v1/work-items/{item_id}/notes", headers=headers, json={"text": "something else"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # Keys belong to one principal: another caller's same key is its own request.
    someone_else = {**token_for("biller"), "Idempotency-Key": "note-1"}
    assert api.post(f"/v1/work-items/{item_id}/notes", headers=someone_else,
                    json={"text": "called the clinic"}).status_code == 201
    without = token_for("biller")
    api.post(f"/v1/work-items/{item_id}/notes", headers=without, json={"text": "no key"})
    api.post(f"/v1/work-items/{item_id}/notes", headers=without, json={"text": "no key"})
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(work_item_notes)).scalar_one() == 4
        assert conn.execute(select(func.count()).select_from(idempotency_keys)).scalar_one() == 2


def test_a_failed_request_keeps_its_key_answer_and_the_token_endpoint_is_never_stored(
        api: TestClient, engine: Engine, token_for: TokenFor) -> None:
    headers = {**token_for("biller"), "Idempotency-Key": "missing"}
    first = api.post("/v1/work-items/999999/resolve", headers=headers, json={"resolution_code": "x"})
    assert first.status_code == 404
    assert api.post("/v1/work-items/999999/resolve", headers=headers,
                    json={"resolution_code": "x"}).headers["idempotent-replayed"] == "true"
    api.post("/v1/oauth/token", headers={"Idempotency-Key": "t"}, data={"grant_type": "client_credentials"})
    with engine.connect() as conn:
        keys = conn.execute(select(idempotency_keys.c.key)).scalars().all()
    assert keys == ["missing"]


def test_uploading_a_document_ingests_it_once(api: TestClient, engine: Engine, token_for: TokenFor) -> None:
    headers = {**token_for("integration"), "Content-Type": "application/octet-stream"}
    first = api.post("/v1/documents", params={"filename": "charges.csv"}, headers=headers, content=CHARGES.encode())
    assert first.status_code == 201, first.text
    assert first.json()["type"] == "charge_csv" and first.json()["claims_captured"]["stored"] == 4
    repeat = api.post("/v1/documents", params={"filename": "again.csv"}, headers=headers, content=CHARGES.encode())
    assert repeat.status_code == 200 and repeat.json()["document_id"] == first.json()["document_id"]
    broken = api.post("/v1/documents", params={"filename": "x.835"}, headers=headers,
                      content=b"ISA*00*broken~")
    assert broken.status_code == 422 and broken.headers["content-type"] == "application/problem+json"
    assert broken.json()["code"] == "unreadable_document" and broken.json()["result"]["status"] == "failed"
    assert broken.json()["result"]["errors"][0]["code"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(documents)).scalar_one() == 2  # the bad one is kept
    listed = api.get("/v1/documents", headers=headers).json()["items"]
    assert [d["status"] for d in listed] == ["failed", "parsed"] and "content" not in listed[0]


def test_writes_are_audited_with_before_and_after_digests(api: TestClient, engine: Engine, charges: None,
                                                          token_for: TokenFor) -> None:
    headers = token_for("coder")
    item_id = _held_item(api, headers)
    api.post(f"/v1/work-items/{item_id}/assign", headers=headers, json={"owner": "pat"})
    resolved = api.post(f"/v1/work-items/{item_id}/resolve", headers={**headers, "X-Request-ID": "r-1"},
                        json={"resolution_code": "recoded", "note": "E11.9 per the chart"})
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    assert [r.action for r in rows] == ["assign work item", "resolve work item"]
    assert rows[1].request_id == "r-1" and rows[1].actor.startswith("client:coder")
    assert rows[1].before_digest and rows[1].after_digest and rows[1].before_digest != rows[1].after_digest
    assert rows[0].after_digest == rows[1].before_digest  # nothing happened in between


def test_a_caller_over_its_rate_gets_429_with_retry_after(engine: Engine, keys: KeyCache,
                                                          token_for: TokenFor) -> None:
    api = TestClient(create_app(engine, Settings(api_rate_limit=1, api_rate_burst=3), keys=keys))
    headers = token_for("biller")
    statuses = [api.get("/v1/claims", headers=headers).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    limited = api.get("/v1/claims", headers=headers)
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert api.get("/v1/claims", headers=token_for("biller")).status_code == 200  # per caller


def test_token_buckets_refill_at_the_configured_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(2.0, 2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(2)] == [0, 0]
    assert buckets.take("a") == 0.5
    now[0] = 0.5
    assert buckets.take("a") == 0


def test_bodies_over_the_limit_are_refused_with_413(engine: Engine, keys: KeyCache, token_for: TokenFor) -> None:
    api = TestClient(create_app(engine, Settings(api_max_body_bytes=2048), keys=keys))
    headers = {**token_for("integration"), "Content-Type": "application/octet-stream"}
    response = api.post("/v1/documents", params={"filename": "big.csv"}, headers=headers, content=b"x" * 4096)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"

    def chunks():  # no Content-Length: counted while it streams
        for _ in range(4):
            yield b"y" * 1024

    streamed = api.post("/v1/documents", params={"filename": "big.csv"}, headers=headers, content=chunks())
    assert streamed.status_code == 413


def test_cors_is_off_unless_origins_are_configured(engine: Engine, keys: KeyCache, tmp_path: Path) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    closed = TestClient(create_app(engine, Settings(), keys=keys))
    assert "access-control-allow-origin" not in closed.options("/v1/claims", headers=preflight).headers
    assert "access-control-allow-origin" not in closed.get("/healthz", headers={"Origin": "https://evil.example"}
                                                           ).headers
    opened = TestClient(create_app(engine, Settings(api_cors_origins=("https://ui.example",)), keys=keys))
    allowed = opened.options("/v1/claims", headers={**preflight, "Origin": "https://ui.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example"


def test_a_write_is_committed_before_its_answer_is_sent(api: TestClient, engine: Engine, charges: None,
                                                        token_for: TokenFor, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit that fails must fail the request: the client never gets 200 for a change that is not there."""
    from sqlalchemy.engine import Connection

    headers = token_for("coder")
    item_id = _held_item(api, headers)

    def failing_commit(self: Connection) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Connection, "commit", failing_commit)
    response = api.post(f"/v1/work-items/{item_id}/notes", headers=headers, json={"text": "lost?"})
    monkeypatch.undo()
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(work_item_notes)).scalar_one() == 0
