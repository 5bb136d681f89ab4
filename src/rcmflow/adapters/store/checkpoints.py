"""WAL checkpoints of a SQLite database on a thread of their own while a long job commits file after file.

In WAL mode every commit appends pages to the write-ahead log, and a checkpoint copies them back into the
database file. By default the committing connection runs that checkpoint itself whenever the log passes 1,000
pages: with a posting run committing megabytes per file, every commit then also copied the file's pages and
synced the database (4% of an ingest of 200,000 service lines). SQLite's documentation suggests the way out for
a busy writer: turn the writer's automatic checkpoints off and run them from another connection, on another
thread. A PASSIVE checkpoint never blocks the writer, and it releases the GIL, so it runs on the second core.

The log restarts from its beginning only when a write transaction starts after a checkpoint copied all of it.
A writer that never waits for the checkpoint would let the log grow for the whole job (and every read in the
meantime look through it), so the writer waits for the checkpoint in progress before its next transaction once
the log has passed ``WAL_PAGES_BOUND``, or once the thread is ``MAX_COMMITS_BEHIND`` commits behind (on a
loaded machine it may not have run at all since): the log then restarts there.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, event

from rcmflow.adapters.store.engine import SQLITE_BUSY_TIMEOUT_MS, sqlite_file

log = logging.getLogger(__name__)

# Log pages (4 KB each) above which the writer lets the running checkpoint finish before its next transaction.
WAL_PAGES_BOUND = 16_384
# Commits the thread may lag behind before the writer waits for it, whatever the log's size at its last run.
MAX_COMMITS_BEHIND = 2
# SQLite's default, put back on every connection the job returns to the pool.
SQLITE_AUTOCHECKPOINT_PAGES = 1_000


class Checkpoints(Protocol):
    def before_write(self) -> None:
        """Call before each transaction of the job."""

    def committed(self) -> None:
        """Call after each commit of the job."""


class _NoCheckpoints:
    """PostgreSQL, or a SQLite database in memory: nothing to do."""

    def before_write(self) -> None:
        return None

    def committed(self) -> None:
        return None


class BackgroundCheckpoints:
    """A thread with its own connection to the database file that runs a PASSIVE checkpoint after each commit
    it is told of."""

    def __init__(self, path: Path, *, bound: int = WAL_PAGES_BOUND, behind: int = MAX_COMMITS_BEHIND) -> None:
        self._path = path
        self._bound, self._max_behind = bound, behind
        self._behind = 0  # commits told since the last checkpoint started
        self._changed = threading.Condition()
        self._requested = self._running = self._closing = self._finished = False
        self.log_pages = 0  # the log's size at the end of the last checkpoint
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._run, name="rcmflow-checkpoints", daemon=True)
        self._thread.start()

    @property
    def working(self) -> bool:
        """False once the thread has ended (it could not open the database): the job checkpoints as usual."""
        return self._thread.is_alive()

    def committed(self) -> None:
        with self._changed:
            self._requested = True
            self._behind += 1
            self._changed.notify_all()

    def before_write(self) -> None:
        with self._changed:
            if self.log_pages > self._bound or self._behind >= self._max_behind:
                while (self._requested or self._running) and self._thread.is_alive():
                    self._changed.wait(timeout=1.0)

    def close(self) -> None:
        """Run a last checkpoint of what was committed, then end the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self._path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error:
            log.warning("cannot open %s for background checkpoints", self._path, exc_info=True)
            return
        try:
            while self._next():
                try:
                    _, pages, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    # The next commit's checkpoint (or the pool's automatic ones, after the job) catches up.
                    log.warning("background checkpoint of %s failed", self._path, exc_info=True)
                    pages = 0
                with self._changed:
                    self.log_pages, self._running = pages, False
                    self.checkpoints += 1
                    self._changed.notify_all()
        finally:
            connection.close()

    def _next(self) -> bool:
        """Wait for a commit to checkpoint; on closing, one last checkpoint (commits the job made without telling,
        such as an earlier batch posted before a file, are in it too), then False."""
        with self._changed:
            while not self._requested and not self._closing:
                self._changed.wait()
            if not self._requested:
                if self._finished:
                    return False
                self._finished = True
            self._requested, self._running, self._behind = False, True, 0
            return True


@contextmanager
def background_checkpoints(engine: Engine, *, bound: int = WAL_PAGES_BOUND,
                           behind: int = MAX_COMMITS_BEHIND) -> Iterator[Checkpoints]:
    """For the duration, connections of ``engine`` checked out of its pool make no checkpoints of their own;
    a thread checkpoints after each ``committed()``. Elsewhere than a SQLite file, a no-op."""
    path = sqlite_file(engine.url) if engine.dialect.name == "sqlite" else None
    if path is None:
        yield _NoCheckpoints()
        return

    checkpoints = BackgroundCheckpoints(path, bound=bound, behind=behind)

    def automatic_off(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        pages = 0 if checkpoints.working else SQLITE_AUTOCHECKPOINT_PAGES
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={pages}")

    def automatic_on(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")

    event.listen(engine, "checkout", automatic_off)
    event.listen(engine, "checkin", automatic_on)
    try:
        yield checkpoints
    finally:
        event.remove(engine, "checkout", automatic_off)
        event.remove(engine, "checkin", automatic_on)
        checkpoints.close()
