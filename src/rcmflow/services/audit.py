"""The tamper-evident audit trail: who did or read what, when, from where, chained by SHA-256.

Each row's hash covers its own content and the previous row's hash (the first row chains from 64 zeros), so
changing any row changes its hash, and removing one leaves the next row pointing at a hash that is no longer
there: ``verify_chain`` walks the rows in order and names the first link that does not hold. Appends take a
lock first (PostgreSQL: a transaction advisory lock; SQLite has one writer), so two writers never chain
from the same row.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from rcmflow.adapters.store.engine import SqliteWriterQueue
from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, audit_log, utc_now

GENESIS = "0" * 64
_LOCK_KEY = 7_402_351  # pg_advisory_xact_lock key of the audit chain
_CHAINED = ("organisation_id", "occurred_at", "actor", "action", "object_type", "object_id", "source",
            "request_id", "before_digest", "after_digest")


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    action: str
    object_type: str
    object_id: str
    occurred_at: datetime
    source: str | None = None
    request_id: str | None = None
    before_digest: str | None = None
    after_digest: str | None = None
    organisation_id: str = DEFAULT_ORGANISATION


def _canonical(values: dict[str, Any]) -> str:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value
    return json.dumps({name: plain(values[name]) for name in _CHAINED}, sort_keys=True, separators=(",", ":"))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def row_hash(values: dict[str, Any], previous: str) -> str:
    return hashlib.sha256((previous + _canonical(values)).encode("utf-8")).hexdigest()


def append_audit(conn: Connection, entries: Sequence[AuditEntry]) -> None:
    """Append entries to the chain, in the caller's transaction."""
    if not entries:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    else:  # SQLite: take the write lock before reading the last hash, or another process may chain from it too
        conn.exec_driver_sql("UPDATE audit_log SET id = id WHERE 0")
    previous = conn.execute(select(audit_log.c.row_hash).order_by(audit_log.c.id.desc()).limit(1)).scalar()
    previous = previous or GENESIS
    rows = []
    for entry in entries:
        values = {name: getattr(entry, name) for name in _CHAINED}
        values["occurred_at"] = _utc(entry.occurred_at)  # hash the time as the database gives it back
        digest = row_hash(values, previous)
        rows.append({**values, "previous_hash": previous, "row_hash": digest})
        previous = digest
    conn.execute(audit_log.insert(), rows)  # one executemany; ids follow list order, as the chain does


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    broken_at: int | None = None  # id of the first row whose link does not hold
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(conn: Connection) -> ChainCheck:
    """Walk the chain in id order; the first row whose content or link does not hold, and why."""
    previous = GENESIS
    count = 0
    for row in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings():
        count += 1
        if row["previous_hash"] != previous:
            return ChainCheck(count, row["id"], "it does not point at the row before it: a row was removed or "
                                                "inserted before it")
        values = {name: row[name] for name in _CHAINED}
        values["occurred_at"] = _utc(values["occurred_at"])
        if row_hash(values, previous) != row["row_hash"]:
            return ChainCheck(count, row["id"], "its content does not match its hash: the row was altered")
        previous = row["row_hash"]
    return ChainCheck(count)


def audit_rows(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def list_audit(conn: Connection, *, organisation_id: str, actor: str | None = None, object_type: str | None = None,
               object_id: str | None = None, after_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Audit rows in chain order, filtered; page with ``after_id`` = the last id seen."""
    query = select(audit_log).where(audit_log.c.organisation_id == organisation_id)
    for column, value in (("actor", actor), ("object_type", object_type), ("object_id", object_id)):
        if value is not None:
            query = query.where(audit_log.c[column] == value)
    if after_id is not None:
        query = query.where(audit_log.c.id > after_id)
    return [dict(row) for row in conn.execute(query.order_by(audit_log.c.id).limit(limit)).mappings()]


class AuditWriter:
    """Group commit for audit rows that need no transaction of their own (reads of PHI through the API).

    A caller hands its entries over and waits until they are committed: the PHI it read is returned only once
    the read is on record. One thread appends whatever has queued up in one transaction, so a hundred
    concurrent reads cost one lock and one commit instead of a hundred serialised ones. A caller on an event loop
    awaits ``committed`` and holds no thread while it waits; the writer wakes each loop once per batch."""

    def __init__(self, engine: Engine, *, max_batch: int = 500, timeout: float = 30.0) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.timeout = timeout
        self._queue: queue.SimpleQueue[tuple[Sequence[AuditEntry], _Waiter] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._writers = SqliteWriterQueue(engine)  # the other API worker processes' audit writers queue there too

    def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` and return once they are committed (raises if they could not be)."""
        if not entries:
            return
        done: Future[None] = Future()
        self._start()
        self._queue.put((entries, done))
        done.result(timeout=self.timeout)

    async def committed(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` and return once they are committed, waiting on the caller's event loop."""
        if not entries:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._start()
        self._queue.put((entries, (loop, done)))
        async with asyncio.timeout(self.timeout):
            await done

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                    self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self.timeout)
            self._thread = None
        self._writers.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            error: Exception | None = None
            try:
                with self._writers.turn(), self.engine.begin() as conn:
                    append_audit(conn, [entry for entries, _ in batch for entry in entries])
            except Exception as exc:  # noqa: BLE001 - every waiting caller learns that its read is not on record
                error = exc
            _settle([waiter for _, waiter in batch], error)


# Who waits for a batch: a thread (a concurrent Future) or a coroutine (its event loop and an asyncio Future).
_Waiter = Future[None] | tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]


def _settle(waiters: Sequence[_Waiter], error: Exception | None) -> None:
    """Tell every waiter of a batch how it ended: threads directly, each event loop once for all its waiters (a
    thread-safe call wakes the loop through a pipe, which cost more than the rest of a read's audit)."""
    per_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for waiter in waiters:
        if isinstance(waiter, Future):
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)
        else:
            per_loop.setdefault(waiter[0], []).append(waiter[1])
    for loop, futures in per_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures, error)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass


def _resolve(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():  # the waiter gave up (timeout, a client that went away)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def record_action(conn: Connection, actor: str, action: str, object_type: str, object_ids: Sequence[str | int], *,
                  source: str = "cli", now: datetime | None = None,
                  organisation_id: str = DEFAULT_ORGANISATION) -> None:
    """Audit what a person did or read outside the API (the command line), in the caller's transaction.
    Object ids only: never the identifier that was looked up (a member id goes in as its blind index)."""
    when = now or utc_now()
    append_audit(conn, [AuditEntry(actor, action, object_type, str(object_id), when, source=source,
                                   organisation_id=organisation_id) for object_id in object_ids])
