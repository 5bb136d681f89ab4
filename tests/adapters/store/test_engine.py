"""Engines are configured for rcmflow's needs on each supported database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from rcmflow.adapters.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
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


def test_postgres_urls_use_psycopg3_with_pre_ping() -> None:
    # No connection is made: creating an engine is lazy.
    engine = create_engine_for("postgresql://rcm@db.invalid/rcm")
    try:
        assert engine.dialect.driver == "psycopg"
        assert engine.pool._pre_ping is True  # type: ignore[attr-defined]
    finally:
        engine.dispose()


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
