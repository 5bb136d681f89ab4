"""One thread hop per route: its request connection opened, committed and returned in the route's thread; a bounded
SQLite read on the event loop, moved to a thread when it overruns its budget; reads of PHI on record before the
answer leaves."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select, text

from rcmflow.adapters.store.schema import audit_log, processed_messages
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import (
    BoundedReadConn,
    ReadConn,
    RequestConnection,
    WriteConn,
    audit_read,
    reading_engine,
)
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.services.audit import AuditWriter, verify_chain

NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
READER = Principal("c1", "client", "reader", ("biller",), frozenset({"claims:read"}))
# A read SQLite takes far longer than the inline budget for (a recursive count to three million: about a second).
_SLOW_COUNT = text("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000000) "
                   "SELECT count(*) FROM c")


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

    @router.get("/bounded")
    def bounded(request: Request, conn: BoundedReadConn, slow: bool = False, phi: bool = False) -> dict[str, Any]:
        seen.setdefault("bounded", []).append(threading.current_thread())
        rows = conn.execute(select(func.count()).select_from(processed_messages)).scalar_one()
        if phi:  # recorded before the slow part: a run that overruns must not leave a second record
            audit_read(request, READER, "read claim", "claim", "7")
        if slow:
            conn.execute(_SLOW_COUNT).scalar_one()
        return {"rows": rows}

    @router.get("/loop")
    async def loop() -> None:
        seen["loop"] = threading.current_thread()

    app = FastAPI()
    app.state.engine = engine
    app.state.read_engine = reading_engine(engine)
    app.state.audit_writer = AuditWriter(engine)
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


def test_a_bounded_read_runs_on_the_event_loop_on_sqlite_and_in_a_worker_thread_on_postgresql(
        engine: Engine, database_backend: str) -> None:
    app = _app(engine)
    with TestClient(app) as client:
        client.get("/loop")
        assert client.post("/write/one").json() == {"stored": "one"}
        assert client.get("/bounded").json() == {"rows": 1}
    on_loop = app.state.seen["bounded"] == [app.state.seen["loop"]]
    assert on_loop is (database_backend == "sqlite")


def test_a_bounded_read_that_overruns_its_budget_answers_from_a_worker_thread(
        engine: Engine, database_backend: str, caplog: pytest.LogCaptureFixture) -> None:
    app = _app(engine)
    caplog.set_level(logging.INFO, logger="rcmflow.entrypoints.api.routing")
    with TestClient(app) as client:
        client.get("/loop")
        assert client.get("/bounded", params={"slow": True}).json() == {"rows": 0}
    threads = app.state.seen["bounded"]
    loop = app.state.seen["loop"]
    if database_backend == "sqlite":  # started on the loop, interrupted at the budget, run again in a thread
        assert threads[0] is loop and len(threads) == 2
        assert [record.route_function for record in caplog.records] == ["bounded"]  # operators see it happen
    assert threads[-1] is not loop


def test_a_read_of_phi_is_on_record_once_before_the_answer_even_when_the_read_ran_twice(engine: Engine) -> None:
    app = _app(engine)
    with TestClient(app) as client:
        assert client.get("/bounded", params={"phi": True}).json() == {"rows": 0}
        with engine.connect() as conn:  # committed by the time the answer arrived
            assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 1
        assert client.get("/bounded", params={"phi": True, "slow": True}).json() == {"rows": 0}
    app.state.audit_writer.close()
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.object_id)).all()
        assert verify_chain(conn).intact
    assert rows == [("client:reader", "7"), ("client:reader", "7")]
