"""Webhook subscriptions through the API: created with the secret shown once, events fanned out to the
outbox for them, signed deliveries a receiver verifies with the documented helper."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import outbox, utc_now
from rcmflow.services.webhooks import fan_out
from rcmflow.webhook_signature import verify
from tests.entrypoints.api.conftest import TokenFor


def test_subscribe_get_events_and_unsubscribe(api: TestClient, engine: Engine, charges: None,
                                              token_for: TokenFor) -> None:
    integration = token_for("integration")
    types = api.get("/v1/webhooks/event-types", headers=integration).json()["event_types"]
    assert "work_item.resolved" in types
    created = api.post("/v1/webhooks", headers=integration,
                       json={"url": "https://erp.example.org/hooks", "event_types": ["work_item.resolved"]})
    assert created.status_code == 201 and created.json()["secret"]
    listed = api.get("/v1/webhooks", headers=integration).json()["items"]
    assert [s["id"] for s in listed] == [created.json()["id"]] and "secret" not in listed[0]
    refused = api.post("/v1/webhooks", headers=integration, json={"url": "ftp://x.example", "event_types": ["*"]})
    assert refused.status_code == 422

    coder = token_for("coder")
    item = api.get("/v1/work-items", headers=coder, params={"queue": "coding_review"}).json()["items"][0]
    api.post(f"/v1/work-items/{item['id']}/resolve", headers=coder, json={"resolution_code": "recoded"})
    with engine.begin() as conn:
        assert fan_out(conn, now=utc_now()).enqueued == 1
        message = conn.execute(select(outbox)).one()
    assert message.destination == f"webhook:{created.json()['id']}"
    assert message.payload["type"] == "work_item.resolved" and message.payload["object_id"] == str(item["id"])

    assert api.delete(f"/v1/webhooks/{created.json()['id']}", headers=integration).json()["active"] is False
    assert api.get("/v1/webhooks", headers=integration).json()["items"] == []
    assert api.get("/v1/webhooks", headers=token_for("biller")).json()["reason"] == "missing_permission"


def test_a_receiver_verifies_a_signed_payload_with_the_helper() -> None:
    from rcmflow.webhook_signature import signature_header

    body = json.dumps({"type": "claim.denied"}).encode()
    header = signature_header(["whsec_abc"], 1_765_000_000, body)
    assert verify("whsec_abc", {"Rcmflow-Signature": header}, body=body, now=1_765_000_100) == 1_765_000_000
