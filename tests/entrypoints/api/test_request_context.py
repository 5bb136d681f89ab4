"""Request ids and the access log on a small FastAPI app: the caller's sane id is kept, anything else replaced,
the id reaches handlers, every log line of the request and the response header; one access line per request
with the route template and principal, never the raw path or query string."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from rcmflow.entrypoints.api.request_context import install_request_context
from rcmflow.log_config import configure_logging


class FakeAuth:
    """Stands for the security layer: names the principal in scope state, inside the request context."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["state"]["principal_id"] = "client-7"
        await self.app(scope, receive, send)


def make_app() -> FastAPI:
    app = FastAPI()
    log = logging.getLogger("rcmflow.test.handler")

    @app.get("/claims/{claim_id}")
    def read_claim(claim_id: str, request: Request) -> dict[str, str]:
        log.info("reading claim %s", claim_id)
        return {"claim_id": claim_id, "request_id": request.state.request_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("broken")

    inner = APIRouter()

    @inner.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    sub = FastAPI()
    sub.include_router(inner)
    app.mount("/sub", sub)
    app.add_middleware(FakeAuth)
    install_request_context(app)  # last: the outermost layer
    return app


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("INFO", "json", buffer)
    yield buffer
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def records(buffer: io.StringIO) -> list[dict]:
    """The server side's lines (the test client's httpx logs its own requests too)."""
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return [line for line in lines if line["logger"].startswith("rcmflow.")]


def access_lines(buffer: io.StringIO) -> list[dict]:
    return [record for record in records(buffer) if record["logger"] == "rcmflow.access"]


def test_a_sane_incoming_id_is_kept_everywhere(output: io.StringIO) -> None:
    with TestClient(make_app()) as client:
        response = client.get("/claims/PCN001?q=Rivera", headers={"X-Request-ID": "abc.DEF-12_3"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc.DEF-12_3"
    assert response.json() == {"claim_id": "PCN001", "request_id": "abc.DEF-12_3"}
    handler_line, access = records(output)
    assert handler_line["event"] == "reading claim PCN001" and handler_line["request_id"] == "abc.DEF-12_3"
    assert access["event"] == "http request" and access["level"] == "info"
    assert {key: access[key] for key in ("method", "route", "status", "request_id", "principal_id")} == {
        "method": "GET", "route": "/claims/{claim_id}", "status": 200, "request_id": "abc.DEF-12_3",
        "principal_id": "client-7"}
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert "Rivera" not in json.dumps(records(output))  # the query string is never logged


@pytest.mark.parametrize("incoming", ["x" * 65, "has space", "semi;colon", "new\\nline", "ümlaut".encode(), ""])
def test_an_unusable_incoming_id_is_replaced(output: io.StringIO, incoming: str | bytes) -> None:
    with TestClient(make_app()) as client:
        response = client.get("/claims/A1", headers={"X-Request-ID": incoming})
    generated = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert response.json()["request_id"] == generated
    assert [record["request_id"] for record in records(output)] == [generated, generated]


def test_each_request_gets_its_own_id_and_the_context_does_not_leak(output: io.StringIO) -> None:
    with TestClient(make_app()) as client:
        first = client.get("/claims/A1").headers["x-request-id"]
        second = client.get("/claims/A2").headers["x-request-id"]
    assert first != second
    assert [record["request_id"] for record in access_lines(output)] == [first, second]
    assert structlog.contextvars.get_contextvars() == {}


def test_a_failing_handler_logs_a_500_access_line(output: io.StringIO) -> None:
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    [access] = access_lines(output)
    assert (access["route"], access["status"], access["level"]) == ("/boom", 500, "error")


def test_mounted_routes_unmatched_paths_and_missing_principals(output: io.StringIO) -> None:
    app = make_app()
    with TestClient(app) as client:
        assert client.get("/sub/ping").status_code == 200
        assert client.get("/patients/Rivera-Ana").status_code == 404
    mounted, missing = access_lines(output)
    assert mounted["route"] == "/sub/ping"
    assert (missing["route"], missing["status"]) == (None, 404)  # the raw path is never logged
    assert "Rivera" not in json.dumps(records(output))

    bare = FastAPI()
    bare.get("/x")(lambda: {})
    install_request_context(bare)
    with TestClient(bare) as client:
        client.get("/x")
    assert access_lines(output)[-1]["principal_id"] is None
