"""Shared fixtures: a real database for every test, SQLite by default, PostgreSQL on request.

Set ``RCMFLOW_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and the
whole suite runs against PostgreSQL instead. Each session works in its own throw-away schema, so parallel
runs against one server do not collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rcmflow.adapters.crypto import reset_keyring
from rcmflow.adapters.crypto.keyfile import generate_keyring, render_keyring
from rcmflow.adapters.store.engine import create_engine_for, dispose_engines
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.adapters.store.schema import metadata
from rcmflow.settings import normalise_database_url, reset_settings

TEST_DATABASE_ENV = "RCMFLOW_TEST_DATABASE_URL"


def _postgres_base_url() -> str | None:
    url = os.environ.get(TEST_DATABASE_ENV, "").strip()
    return normalise_database_url(url) if url else None


@contextmanager
def _postgres_schema(base_url: str) -> Iterator[str]:
    """Create a uniquely named schema, yield a URL whose connections use it, then drop it."""
    schema = f"test_{secrets.token_hex(6)}"
    admin = create_engine_for(base_url, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _phi_keys() -> Iterator[None]:
    """One throw-away PHI keyring for the session, inline in the environment (subprocesses inherit it), so no
    test writes a key file into the working directory; key-file tests set their own."""
    previous = os.environ.get("RCMFLOW_PHI_KEYS")
    os.environ["RCMFLOW_PHI_KEYS"] = render_keyring(generate_keyring())
    yield
    if previous is None:
        os.environ.pop("RCMFLOW_PHI_KEYS", None)
    else:
        os.environ["RCMFLOW_PHI_KEYS"] = previous


@pytest.fixture(scope="session")
def database_backend() -> str:
    """Name of the database the suite runs against: "sqlite" or "postgresql"."""
    return "postgresql" if _postgres_base_url() else "sqlite"


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """URL of a brand-new, never migrated database (a fresh SQLite file or PostgreSQL schema)."""
    base_url = _postgres_base_url()
    if base_url is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with _postgres_schema(base_url) as url:
        yield url


@pytest.fixture(scope="session")
def _session_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    base_url = _postgres_base_url()
    with _postgres_schema(base_url) if base_url else _sqlite_url(tmp_path_factory) as url:
        engine = create_engine_for(url)
        try:
            ensure_schema(engine)
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'rcmflow.db'}"


@pytest.fixture
def engine(_session_engine: Engine) -> Engine:
    """A migrated database engine whose tables are empty at the start of the test."""
    # Emptied before rather than after, so a test always starts clean even if the previous one crashed.
    with _session_engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return _session_engine


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's own data folder (partners' drop folders, generated files): nothing is written to, or read
    from, the working directory, where an earlier run's 837s would change what a simulated payer answers."""
    monkeypatch.setenv("RCMFLOW_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    reset_settings()


@pytest.fixture(autouse=True)
def _isolate_process_state(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("postgres") and _postgres_base_url() is None:
        pytest.skip(f"needs PostgreSQL: set {TEST_DATABASE_ENV}")
    yield
    # Cached settings and engines would otherwise leak from one test into the next.
    reset_settings()
    reset_keyring()
    dispose_engines()
