"""The REST API over a real database: claims and work items with cursor pages, problem documents for every
error, readiness, and the committed OpenAPI document kept equal to the generated one."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from rcmflow.entrypoints.api.app import create_app
from rcmflow.entrypoints.api.openapi import render

OPENAPI = Path(__file__).parents[3] / "docs" / "openapi.json"


@pytest.fixture
def client(api: TestClient, charges: None, admin: dict[str, str]) -> TestClient:
    api.headers.update(admin)
    return api


def test_claims_are_listed_in_cursor_pages_without_gaps_or_repeats(client: TestClient) -> None:
    first = client.get("/v1/claims", params={"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = client.get("/v1/claims", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 4 and second["next_cursor"] is None
    assert {item["state"] for item in first["items"] + second["items"]} == {"ready", "scrubbed"}
    assert all(isinstance(item["total_charge"], str) for item in first["items"])  # money as decimal strings
    held = client.get("/v1/claims", params={"state": "scrubbed"}).json()["items"]
    assert all(item["state"] == "scrubbed" for item in held) and held


def test_one_claim_has_its_lines_findings_and_timeline(client: TestClient) -> None:
    held = client.get("/v1/claims", params={"state": "scrubbed"}).json()["items"]
    v2 = next(item for item in held if item["source_id"] == "V2")
    detail = client.get(f"/v1/claims/{v2['id']}").json()
    assert {finding["rule"] for finding in detail["findings"]} == {"icd10-not-billable", "billing-npi-invalid"}
    assert [event["to_state"] for event in detail["events"]] == ["registered", "coded", "scrubbed"]
    assert detail["lines"][0]["charge"] == "180.00"


def test_work_items_filter_and_page(client: TestClient) -> None:
    body = client.get("/v1/work-items", params={"queue": "coding_review"}).json()
    assert [item["item_type"] for item in body["items"]] == ["claim held by scrubber"]
    every = client.get("/v1/work-items", params={"limit": 1}).json()
    assert len(every["items"]) == 1 and every["next_cursor"]


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/v1/claims/999999", 404, "not_found"),
    ("/v1/claims?limit=0", 422, "invalid_request"),
    ("/v1/claims?cursor=not-ours", 422, "input"),
    ("/v1/work-items?state=sleeping", 422, "input"),
    ("/v1/nothing-here", 404, "not_found"),
])
def test_errors_are_problem_documents(client: TestClient, path: str, status: int, code: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["type"].endswith(code)
    assert body["instance"] == path.split("?")[0] and body["detail"]


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": None, "schema_revision": None,
                                             "expected_revision": None}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["schema_revision"] == ready.json()["expected_revision"]


def test_readiness_fails_on_an_unmigrated_database(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    bare = TestClient(create_app(create_engine(f"sqlite:///{tmp_path / 'bare.db'}")))
    response = bare.get("/readyz")
    assert response.status_code == 503 and response.json()["schema_revision"] is None


def test_the_summary_is_the_cli_summary(client: TestClient) -> None:
    body = client.get("/v1/reports/summary").json()
    assert body["claims"] == 4 and body["ledger"]["balanced"] is True


def test_the_committed_openapi_document_is_the_generated_one() -> None:
    assert json.loads(OPENAPI.read_text()) == json.loads(render()), (
        "the API changed: review it, then run python -m rcmflow.entrypoints.api.openapi > docs/openapi.json")


def test_reading_a_claim_is_audited_and_the_chain_holds(client: TestClient, engine: Engine) -> None:
    from sqlalchemy import select

    from rcmflow.adapters.store.schema import audit_log
    from rcmflow.services.audit import verify_chain

    claim_id = client.get("/v1/claims").json()["items"][0]["id"]
    client.get(f"/v1/claims/{claim_id}", headers={"X-Request-ID": "req-77"})
    client.get("/v1/claims/999999")  # nothing read, nothing recorded
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log)).all()
        assert verify_chain(conn).intact
    assert [(row.action, row.object_id, row.request_id) for row in rows] == [("read claim", str(claim_id), "req-77")]


def test_metrics_report_latency_by_route_and_the_work_in_the_queues(client: TestClient) -> None:
    claim_id = client.get("/v1/claims").json()["items"][0]["id"]
    client.get(f"/v1/claims/{claim_id}")
    text = client.get("/metrics").text
    assert 'rcmflow_http_request_duration_seconds_count{method="GET",route="/v1/claims/{claim_id}",status="200"} 1.0' \
        in text
    assert 'rcmflow_work_items_open{queue="coding_review"} 1.0' in text
    assert "rcmflow_claim_payments_posted 0.0" in text


def test_the_api_docs_load_every_asset_from_the_server_itself(client: TestClient) -> None:
    import re

    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert assets and all(asset.startswith("/") for asset in assets), assets  # no CDN, no other host
    assert '"validatorUrl": null' in page.text  # Swagger UI's default would fetch a badge from validator.swagger.io
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/redoc").status_code == 404  # ReDoc would come from a CDN: it is off


@pytest.mark.parametrize("sort", ["id", "-id", "created_at", "-total_charge", "total_charge"])
def test_claims_sort_and_page_by_any_sort_key_without_gaps(client: TestClient, sort: str) -> None:
    seen, cursor = [], None
    while True:
        body = client.get("/v1/claims", params={"sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})})
        assert body.status_code == 200, body.text
        seen += body.json()["items"]
        cursor = body.json()["next_cursor"]
        if not cursor:
            break
    every = client.get("/v1/claims", params={"sort": sort, "limit": 100}).json()["items"]
    assert [c["id"] for c in seen] == [c["id"] for c in every] and len(seen) == 4
    column = sort.lstrip("-")
    keys = [(Decimal(c[column]) if column == "total_charge" else c[column], c["id"]) for c in every]
    assert keys == sorted(keys, reverse=sort.startswith("-"))


def test_a_forged_cursor_is_refused_not_sent_to_the_database(client: TestClient) -> None:
    import base64

    forged = base64.urlsafe_b64encode(b'["total_charge","abc",1]').decode().rstrip("=")
    response = client.get("/v1/claims", params={"sort": "total_charge", "cursor": forged})
    assert response.status_code == 422 and response.json()["code"] == "input"
    other_sort = client.get("/v1/claims", params={"limit": 1}).json()["next_cursor"]
    assert client.get("/v1/claims", params={"sort": "created_at", "cursor": other_sort}).status_code == 422
