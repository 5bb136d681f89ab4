"""Bulk inserts that run on a writer thread while the caller builds the next rows (write-behind).

Posting a file writes several hundred thousand rows, and builds each of them in Python first. The database
steps an insert without Python's lock (SQLite's module and psycopg both release the GIL while the database
works), so the statements for one table can run on a second core while the caller builds the rows of the next.

Within ``write_behind(conn)``, ``bulk_insert_values`` and ``bulk_insert`` hand their prepared multi-row INSERTs
(COPY on PostgreSQL) to the connection's writer thread and return; a statement that takes ids for them runs first,
on the caller's thread. ``sql.queued_update`` queues an UPDATE whose outcome the caller knows (SQLite's claim
moves, ``transitions.transition_known``), checked on the writer thread. The transaction stays one: the writer
uses the same connection, and the caller issues nothing on it while the writer works. Before any other statement of the
caller (a read, an update, another insert with RETURNING), before commit, rollback and savepoints, and when the
block ends, the caller waits for every queued insert. Statements therefore take effect in the order the caller
issued them, as without the writer. What changes is when an insert's error shows: at the caller's next
statement, commit or the end of the block, which then raises it; the transaction is then rolled back as usual.

Only the posting of a file's payments uses it, after its reads, so that the rows it builds last are built
while the first ones are written (``services.posting``).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError

_WRITER = "rcmflow.write_behind"
# Connection events that must see every queued insert written first.
_DRAIN_BEFORE = ("before_cursor_execute", "commit", "rollback", "savepoint", "rollback_savepoint",
                 "release_savepoint")


# While inserts are queued, the GIL is handed over every 0.5 ms instead of CPython's 5 ms. The writer needs the
# GIL back after each statement steps (a few hundred statements per 200,000 service lines) while the caller is busy
# building rows in Python: at 5 ms it waited 3-4 ms each time, a fifth of its time, and the caller's wait at the
# end of the file grew by as much (bench/posting.py, six alternated pairs: "store payments" a sixth shorter).
_SHORT_SWITCH_INTERVAL = 0.0005


class _SwitchInterval:
    """The process's switch interval, short while any writer has inserts queued (counted: writers of several
    connections may overlap), as it was once none has."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writers = 0
        self._saved = 0.0

    def enter(self) -> None:
        with self._lock:
            if self._writers == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, _SHORT_SWITCH_INTERVAL))
            self._writers += 1

    def leave(self) -> None:
        with self._lock:
            self._writers -= 1
            if self._writers == 0:
                sys.setswitchinterval(self._saved)


_SWITCH_INTERVAL = _SwitchInterval()


class WriteBehind:
    """One connection's writer thread and the inserts queued on it, in order."""

    def __init__(self, driver_error: type[Exception]) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rcmflow-write-behind")
        self._queued: list[Future[None]] = []
        self._driver_error = driver_error

    def submit(self, statement: str, write: Callable[..., object], *args: Any) -> None:
        """Run ``write(*args)`` (which executes ``statement``) on the writer thread, after the writes before it."""
        if not self._queued:
            _SWITCH_INTERVAL.enter()  # left when drained
        self._queued.append(self._pool.submit(self._write, statement, write, args))

    def _write(self, statement: str, write: Callable[..., object], args: tuple[Any, ...]) -> None:
        try:
            write(*args)
        except self._driver_error as error:
            # The driver's error as SQLAlchemy would have raised it (IntegrityError...), naming the statement.
            raise DBAPIError.instance(statement[:200], None, error, self._driver_error) from error

    def drain(self) -> None:
        """Wait for every queued write; raise the first one's error (after all of them have finished)."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        error: BaseException | None = None
        for future in queued:
            try:
                future.result()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, once the writer is idle
                error = error or exc
        _SWITCH_INTERVAL.leave()
        if error is not None:
            raise error

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)


def queued_writer(conn: Connection) -> WriteBehind | None:
    """The writer of ``conn`` inside ``write_behind``, else None (write at once)."""
    return conn.info.get(_WRITER)


def _drain(conn: Connection, *_args: Any, **_kwargs: Any) -> None:
    writer = conn.info.get(_WRITER)
    if writer is not None:
        writer.drain()


@contextmanager
def write_behind(conn: Connection) -> Iterator[None]:
    """Bulk inserts of ``conn`` run on a writer thread for the duration (see the module); re-entering is a
    no-op. Every queued insert is written (or has raised) when the block ends."""
    if _WRITER in conn.info:
        yield
        return
    writer = WriteBehind(conn.dialect.loaded_dbapi.Error)
    conn.info[_WRITER] = writer
    for name in _DRAIN_BEFORE:
        event.listen(conn, name, _drain)
    try:
        yield
    except BaseException:
        _close_quietly(writer)
        raise
    else:
        writer.close()
    finally:
        del conn.info[_WRITER]
        for name in _DRAIN_BEFORE:
            event.remove(conn, name, _drain)


def _close_quietly(writer: WriteBehind) -> None:
    """The block failed: wait for the writer (the connection must be idle before the rollback), keep the
    block's own error."""
    try:
        writer.close()
    except BaseException:  # noqa: BLE001, S110 - the block's error is the one to raise
        pass
