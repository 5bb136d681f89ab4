"""Write-behind: bulk inserts on a writer thread, in the caller's transaction and order, errors never lost."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from rcmflow.adapters.store.schema import event_log
from rcmflow.adapters.store.sql import COPY_THRESHOLD, bulk_insert_values
from rcmflow.adapters.store.write_behind import queued_writer, write_behind

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
COLUMNS = ("id", "organisation_id", "object_type", "object_id", "to_state", "activity", "actor", "occurred_at")
ROWS = COPY_THRESHOLD + 500  # COPY on PostgreSQL, multi-row INSERTs on SQLite


def _events(first: int, count: int = ROWS, object_type: str = "claim") -> list[tuple[object, ...]]:
    return [(first + n, "default", object_type, str(first + n), "submitted", "write-behind test", "test", NOW)
            for n in range(count)]


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(event_log)).scalar_one()


def test_queued_rows_are_seen_by_the_next_statement_and_committed_in_order(engine: Engine) -> None:
    with engine.begin() as conn:
        with write_behind(conn):
            assert queued_writer(conn) is not None
            bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))
            bulk_insert_values(conn, event_log, COLUMNS, _events(2_000_001, object_type="remittance"))
            # The caller's next statement waits for both inserts: it sees every row.
            seen = conn.execute(select(event_log.c.object_type, func.count()).where(event_log.c.id > 1_000_000)
                                .group_by(event_log.c.object_type).order_by(event_log.c.object_type)).all()
            assert [tuple(row) for row in seen] == [("claim", ROWS), ("remittance", ROWS)]
            bulk_insert_values(conn, event_log, COLUMNS, _events(3_000_001, count=3))
        assert queued_writer(conn) is None
    with engine.connect() as conn:
        ids = conn.execute(select(event_log.c.id).where(event_log.c.id > 1_000_000).order_by(event_log.c.id)).scalars()
        assert list(ids) == [*range(1_000_001, 1_000_001 + ROWS), *range(2_000_001, 2_000_001 + ROWS),
                             3_000_001, 3_000_002, 3_000_003]


def test_an_insert_that_fails_raises_at_the_next_statement_and_nothing_is_committed(engine: Engine) -> None:
    before = _count(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn, write_behind(conn):
        bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))
        bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))  # the same ids again
        conn.execute(select(func.count()).select_from(event_log))  # the error shows here, not later
        pytest.fail("the duplicate ids were not reported")
    assert _count(engine) == before


def test_an_insert_that_fails_at_the_end_of_the_block_is_raised_there(engine: Engine) -> None:
    before = _count(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        with write_behind(conn):
            bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))
            bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))
        pytest.fail("the block ended without the insert's error")
    assert _count(engine) == before


def test_the_blocks_own_error_wins_and_the_writer_is_idle_before_the_rollback(engine: Engine) -> None:
    before = _count(engine)
    with pytest.raises(ValueError, match="caller failed"), engine.begin() as conn, write_behind(conn):
        bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))
        bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))
        raise ValueError("caller failed")
    assert _count(engine) == before


def test_inserts_run_on_the_writer_thread_and_reentering_changes_nothing(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("a temporary trigger calling back into Python is SQLite's")
    threads: list[str] = []
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        dbapi.create_function("record_thread", 0, lambda: threads.append(threading.current_thread().name))
        conn.exec_driver_sql("CREATE TEMPORARY TRIGGER record_insert_thread AFTER INSERT ON main.event_log "
                             "WHEN NEW.id IN (1000001, 2000001) BEGIN SELECT record_thread(); END")
        try:
            with write_behind(conn):
                writer = queued_writer(conn)
                with write_behind(conn):
                    assert queued_writer(conn) is writer
                bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))
            bulk_insert_values(conn, event_log, COLUMNS, _events(2_000_001))  # outside: on the caller's thread
        finally:
            conn.rollback()
    assert threads[0].startswith("rcmflow-write-behind")
    assert threads[1:] == [threading.current_thread().name]


def test_the_gil_is_handed_over_more_often_only_while_inserts_are_queued(engine: Engine) -> None:
    # The writer needs the GIL back after each statement while the caller builds rows: a short switch interval
    # while anything is queued, the process's own again once drained, also when an insert failed.
    default = sys.getswitchinterval()
    with engine.begin() as conn, write_behind(conn):
        assert sys.getswitchinterval() == default  # nothing queued yet
        bulk_insert_values(conn, event_log, COLUMNS, _events(1_000_001))
        assert sys.getswitchinterval() < default
        conn.execute(select(func.count()).select_from(event_log))  # drains
        assert sys.getswitchinterval() == default
        bulk_insert_values(conn, event_log, COLUMNS, _events(2_000_001))
    assert sys.getswitchinterval() == default
    with pytest.raises(IntegrityError), engine.begin() as conn, write_behind(conn):
        bulk_insert_values(conn, event_log, COLUMNS, _events(3_000_001))
        bulk_insert_values(conn, event_log, COLUMNS, _events(3_000_001))
    assert sys.getswitchinterval() == default


def test_overlapping_writers_restore_the_interval_when_the_last_one_drains(engine: Engine) -> None:
    default = sys.getswitchinterval()
    with engine.connect() as first, engine.connect() as second:
        with write_behind(first), write_behind(second):
            first.begin()
            second.begin()
            bulk_insert_values(first, event_log, COLUMNS, _events(1_000_001))
            both = engine.dialect.name != "sqlite"  # SQLite has one writer at a time: the second only reads
            if both:
                bulk_insert_values(second, event_log, COLUMNS, _events(2_000_001))
            assert sys.getswitchinterval() < default
            queued_writer(first).drain()
            assert (sys.getswitchinterval() < default) == both
            queued_writer(second).drain()
            assert sys.getswitchinterval() == default
            first.rollback()
            second.rollback()
    assert sys.getswitchinterval() == default
