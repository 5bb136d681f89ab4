"""One thread hop per route: its request connection opened, committed and returned in the route's thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select

from rcmflow.adapters.store.schema import processed_messages
from rcmflow.entrypoints.api.deps import ReadConn, RequestConnection, WriteConn, reading_engine
from rcmflow.entrypoints.api.routing import OneHopRoute

NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)


def _app(engine: Engine) -> FastAPI:
    router = APIRouter(route_class=OneHopRoute)
    seen: dict[str, Any] = {}

    @router.post("/write/{key}")
    def write(key: str, conn: WriteConn) -> dict[str, Any]:
        seen["thread"] = threading.current_thread()
        conn.execute(insert(processed_messages).values(consumer="test", idempotency_key=key, processed_at=NOW))
        if key.startswith("fail"):
            raise RuntimeError("the route failed after writing")
        return {"stored": key}

    @router.get("/count")
    def count(conn: ReadConn) -> dict[str, Any]:
        return {"rows": conn.execute(select(func.count()).select_from(processed_messages)).scalar_one()}

    @router.get("/transaction")
    def transaction(conn: ReadConn) -> dict[str, Any]:
        conn.execute(select(func.count()).select_from(processed_messages)).scalar_one()
        return {"status": conn.connection.dbapi_connection.info.transaction_status.name}

    app = FastAPI()
    app.state.engine = engine
    app.state.read_engine = reading_engine(engine)
    app.state.seen = seen
    app.include_router(router)
    return app


def test_a_write_commits_when_its_route_returns_and_not_when_it_fails(engine: Engine) -> None:
    app = _app(engine)
    client = TestClient(app, raise_server_exceptions=False)

    assert client.post("/write/one").json() == {"stored": "one"}
    assert client.post("/write/fail-two").status_code == 500
    assert client.get("/count").json() == {"rows": 1}
    with engine.connect() as conn:
        assert list(conn.execute(select(processed_messages.c.idempotency_key)).scalars()) == ["one"]
    # The route ran in a worker thread, not on the event loop's.
    assert app.state.seen["thread"] is not threading.main_thread()


def test_a_request_connection_outside_a_one_hop_route_says_what_is_wrong(engine: Engine) -> None:
    pending = RequestConnection(engine, write=False)
    with pytest.raises(TypeError, match="OneHopRoute"):
        pending.execute(select(1))


@pytest.mark.postgres
def test_a_read_route_holds_no_transaction_open_on_postgresql(engine: Engine) -> None:
    """Reads run in autocommit: no BEGIN before them and no ROLLBACK when the connection goes back to the pool."""
    client = TestClient(_app(engine))
    assert client.get("/transaction").json() == {"status": "IDLE"}  # INTRANS inside a transaction
    assert client.post("/write/one").json() == {"stored": "one"}
    assert client.get("/count").json() == {"rows": 1}
    with engine.connect() as conn:  # the pool's connections are back to transactions for everyone else
        conn.execute(select(1))
        assert conn.connection.dbapi_connection.info.transaction_status.name == "INTRANS"
