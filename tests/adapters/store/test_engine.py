"""Engines are configured for rcmflow's needs on each supported database."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from rcmflow.adapters.store import engine as engine_module
from rcmflow.adapters.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    SqliteWriterQueue,
    create_engine_for,
    dispose_engines,
    get_engine,
)
from rcmflow.errors import ConfigurationError
from rcmflow.settings import Settings


def test_sqlite_engine_creates_its_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "rcmflow.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            pragma = conn.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar_one() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar_one() == 1
            assert pragma("PRAGMA busy_timeout").scalar_one() == SQLITE_BUSY_TIMEOUT_MS
        assert path.is_file()
    finally:
        engine.dispose()


def test_postgres_urls_use_psycopg3() -> None:
    # No connection is made: creating an engine is lazy.
    engine = create_engine_for("postgresql://rcm@db.invalid/rcm")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_a_pooled_postgres_connection_dropped_while_idle_is_replaced(
        database_backend: str, empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if database_backend != "postgresql":
        pytest.skip("a PostgreSQL server drops the connection")
    engine = create_engine_for(empty_database_url, pool_size=1, max_overflow=0)
    admin = create_engine_for(empty_database_url)  # drops the connection: a failover, an idle timeout

    def drop(pid: int) -> None:
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    try:
        with engine.connect() as conn:
            dropped = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        drop(dropped)

        # Just back in the pool: not pinged (no round trip per request), so the dropped connection fails once...
        with pytest.raises(DBAPIError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with engine.connect() as conn:  # ...and SQLAlchemy replaced it
            dropped = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        drop(dropped)

        # Idle in the pool longer than the limit: pinged on checkout, and replaced before it is handed out.
        monkeypatch.setattr(engine_module, "PING_IDLE_AFTER_SECONDS", 0.0)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != dropped
    finally:
        engine.dispose()
        admin.dispose()


def test_unsupported_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        create_engine_for("mysql://db/rcm")


def test_get_engine_is_one_per_url(tmp_path: Path) -> None:
    first = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}")
    second = Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}")

    engine: Engine = get_engine(first)

    assert get_engine(first) is engine
    assert get_engine(Settings(database_url=first.database_url)) is engine
    assert get_engine(second) is not engine
    dispose_engines()
    assert get_engine(first) is not engine


def test_get_engine_defaults_to_process_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")

    assert get_engine().url.database == str(tmp_path / "env.db")


_HOLD_A_TURN = """
import sys, time
from rcmflow.adapters.store.engine import SqliteWriterQueue, create_engine_for
queue = SqliteWriterQueue(create_engine_for(sys.argv[1]))
with queue.turn():
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_sqlite_writer_waits_for_another_process_s_turn_and_gets_it_when_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rcmflow.db'}"
    queue = SqliteWriterQueue(create_engine_for(url))
    with subprocess.Popen([sys.executable, "-c", _HOLD_A_TURN, url, "0.6"], stdout=subprocess.PIPE,
                          text=True) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with queue.turn():
            waited = time.monotonic() - started
        queue.close()
    assert waited >= 0.3


def test_threads_sharing_a_writer_queue_take_turns(tmp_path: Path) -> None:
    queue = SqliteWriterQueue(create_engine_for(f"sqlite:///{tmp_path / 'rcmflow.db'}"))
    inside = 0
    most = 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(20):
            with queue.turn():
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.close()
    assert most == 1


def test_a_writer_queue_costs_nothing_where_there_is_no_sqlite_file() -> None:
    queue = SqliteWriterQueue(create_engine_for("sqlite://"))  # in memory: nobody else can write to it
    with queue.turn(), queue.turn():  # not even a lock: turns nest
        pass
