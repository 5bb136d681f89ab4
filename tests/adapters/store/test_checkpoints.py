"""Background WAL checkpoints: the job's commits leave checkpointing to a thread, and the log stays bounded."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from rcmflow.adapters.store.checkpoints import (
    SQLITE_AUTOCHECKPOINT_PAGES,
    BackgroundCheckpoints,
    background_checkpoints,
)
from rcmflow.adapters.store.engine import create_engine_for

ROWS_PER_TRANSACTION = 400  # about 100 pages of 4 KB with the padding below


def _sqlite(tmp_path: Path) -> Engine:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'job.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE item (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    return engine


def _commit_rows(engine: Engine, first: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO item (id, body) VALUES (:id, :body)"),
                     [{"id": first + n, "body": "x" * 900} for n in range(ROWS_PER_TRANSACTION)])


def _wal_pages(tmp_path: Path) -> int:
    return (tmp_path / "job.db-wal").stat().st_size // 4096


def test_the_log_stays_bounded_and_every_commit_is_checkpointed(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path)
    with background_checkpoints(engine, bound=150) as checkpoints:
        assert isinstance(checkpoints, BackgroundCheckpoints)
        for number in range(30):
            checkpoints.before_write()
            _commit_rows(engine, number * ROWS_PER_TRANSACTION)
            with engine.connect() as conn:  # the job's connections make no checkpoints of their own
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
            checkpoints.committed()
    # 30 transactions of about 100 pages each: a log never restarted would hold about 3,000 pages. Here it
    # restarts at most a few transactions past the bound (150) or the commits the thread may lag behind (2).
    assert _wal_pages(tmp_path) < 600
    assert checkpoints.checkpoints >= 2
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM item").scalar_one() == 30 * ROWS_PER_TRANSACTION
        # Nothing committed is left only in the log: the last checkpoint copied it all.
        busy, pages, copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        assert (busy, copied) == (0, pages)
        # Connections back in the pool make their own checkpoints again.
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == SQLITE_AUTOCHECKPOINT_PAGES
    engine.dispose()


def test_without_waiting_for_checkpoints_the_log_grows(tmp_path: Path) -> None:
    """The control for the bound above: the same commits, told to the thread but never waited for."""
    engine = _sqlite(tmp_path)
    with background_checkpoints(engine, bound=10**9, behind=10**9) as checkpoints:
        for number in range(30):
            _commit_rows(engine, number * ROWS_PER_TRANSACTION)
            checkpoints.committed()
    assert _wal_pages(tmp_path) > 1_000
    engine.dispose()


def test_elsewhere_than_a_sqlite_file_nothing_happens(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        engine = create_engine_for("sqlite://")
    with background_checkpoints(engine) as checkpoints:
        assert not isinstance(checkpoints, BackgroundCheckpoints)
        checkpoints.before_write()
        checkpoints.committed()


def test_when_the_thread_cannot_open_the_database_the_job_checkpoints_as_usual(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rcmflow.adapters.store import checkpoints as module

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    engine = _sqlite(tmp_path)
    monkeypatch.setattr(module.sqlite3, "connect", refuse)
    with background_checkpoints(engine, bound=150) as checkpoints:
        assert isinstance(checkpoints, BackgroundCheckpoints)
        deadline = time.monotonic() + 10
        while checkpoints.working and time.monotonic() < deadline:  # it ends at once
            time.sleep(0.01)
        assert not checkpoints.working
        for number in range(3):
            checkpoints.before_write()  # does not wait for a thread that is gone
            _commit_rows(engine, number * ROWS_PER_TRANSACTION)
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == SQLITE_AUTOCHECKPOINT_PAGES
            checkpoints.committed()
    engine.dispose()
