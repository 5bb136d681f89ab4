"""Engines for the two supported databases: an embedded SQLite file, or PostgreSQL over psycopg 3."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError

from rcmflow.settings import Settings, get_settings, normalise_database_url

try:
    import fcntl as _fcntl
except ImportError:  # Windows: no flock; SqliteWriterQueue's turns are then free
    _fcntl = None  # type: ignore[assignment]

# How long a SQLite writer waits for another writer before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _set_sqlite_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (API, control tower) run while a worker writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # synchronous stays FULL (the default): NORMAL is faster in WAL mode but can lose the last
        # commits on power loss, and a stored document or a posted payment must survive that.
    finally:
        cursor.close()


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL (None for a database in memory)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_engine_for(url: str | URL, **engine_options: Any) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL, configured the way rcmflow needs it."""
    raw = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    parsed = make_url(normalise_database_url(raw))
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(parsed)
        if path is not None:
            # Zero set-up: the first run creates the folder as well as the file.
            path.expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **engine_options)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    engine = create_engine(parsed, **engine_options)
    # A pooled connection dropped by a failover or an idle timeout is replaced, not handed out: one that sat in the
    # pool longer than PING_IDLE_AFTER_SECONDS is pinged on checkout. SQLAlchemy's pool_pre_ping pings on every
    # checkout, a round trip per API request; a connection back in the pool milliseconds ago needs none (a drop
    # in that gap still fails one statement, and SQLAlchemy then replaces every pooled connection).
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _idle_ping(engine.dialect))
    return engine


class SqliteWriterQueue:
    """Turns at SQLite's write lock for writers in different processes, handed over by the operating system.

    A SQLite writer that finds the write lock taken polls for it: its busy handler sleeps 1, 2, 5, 10, 15, 20,
    25 ms and more between tries. Two API worker processes whose audit writers commit a few hundred times a
    second each found it taken about one time in twenty, and then waited up to 80 ms (the tail of every audited
    read). Writers that take their turn here first wait in ``flock`` instead, and the kernel wakes the next one
    the moment the lock file is released. Writers that do not (a batch job) still meet at SQLite's lock and its
    busy handler, as before. Elsewhere (PostgreSQL, an in-memory database, a platform without ``fcntl``) a turn
    is free."""

    def __init__(self, engine: Engine) -> None:
        path = sqlite_file(engine.url) if engine.dialect.name == "sqlite" else None
        self._path = None if path is None or _fcntl is None else path.expanduser().with_name(
            path.name + "-writers.lock")
        self._file: Any = None
        # flock excludes other open files, not other threads sharing this one: they take turns here first.
        self._threads = threading.Lock()

    @contextmanager
    def turn(self) -> Iterator[None]:
        if self._path is None:
            yield
            return
        with self._threads:
            if self._file is None:
                self._file = open(self._path, "a+b")  # noqa: SIM115 - kept for the queue's life, closed by close()
            _fcntl.flock(self._file.fileno(), _fcntl.LOCK_EX)  # type: ignore[union-attr]
            try:
                yield
            finally:
                _fcntl.flock(self._file.fileno(), _fcntl.LOCK_UN)  # type: ignore[union-attr]

    def close(self) -> None:
        with self._threads:
            if self._file is not None:
                self._file.close()
                self._file = None


# How long a connection may sit in the pool before it is pinged when checked out again.
PING_IDLE_AFTER_SECONDS = 5.0


def _note_checkin(_dbapi_connection: Any, connection_record: Any) -> None:
    connection_record.info["checked_in_at"] = time.monotonic()


def _idle_ping(dialect: Any) -> Any:
    def ping_if_idle(dbapi_connection: Any, connection_record: Any, _connection_proxy: Any) -> None:
        checked_in = connection_record.info.get("checked_in_at")
        if checked_in is None or time.monotonic() - checked_in <= PING_IDLE_AFTER_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out another (SQLAlchemy's documented custom ping).
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc

    return ping_if_idle


def get_engine(settings: Settings | None = None) -> Engine:
    """Return the process-wide engine for ``settings`` (default: ``get_settings()``), created once."""
    url = (settings or get_settings()).database_url
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_engine_for(url)
        return engine


def dispose_engines() -> None:
    """Close the pools of every engine ``get_engine`` made and forget them (tests, forked workers)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


# One engine (one pool) per URL per process; a lock because API threads may race on first use.
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
