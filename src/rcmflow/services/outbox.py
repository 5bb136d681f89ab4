"""The transactional outbox and its relay: every external effect is a row first, delivered afterwards.

A service calls ``enqueue`` in the same transaction as the state change that causes the effect, so the
two commit or roll back together. The relay then delivers, at least once:

    pending ──claim──▶ in_flight ──ok──▶ delivered
       ▲                  │ ├──temporary error──▶ failed ──(backoff)──▶ claimed again
       │                  │ └──permanent error, or max attempts──▶ dead ──replay──▶ pending
       └──no handler / circuit open (attempt not counted)
    in_flight whose lease expired (the relay died) is claimable again.

Claiming is one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so relays on many hosts
take disjoint batches; SQLite has one writer and SQLAlchemy leaves the clause out). Delivery happens
outside any transaction, in a thread pool, and the outcomes are recorded in one more transaction,
guarded by ``locked_by`` so a relay whose lease was taken over records nothing. ``attempts`` counts
claims, so a message that crashes the relay every time still reaches the dead letter state.

Every outcome (delivered, failed, dead, replayed) is an event-log row with object type
"outbox message", so integration failure rates come from the event log like every other KPI.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, OUTBOX_STATUSES, outbox, utc_now
from rcmflow.adapters.store.sql import insert_ignoring_conflicts
from rcmflow.services.delivery import (
    CircuitBreaker,
    HandlerRegistry,
    OutboxMessageView,
    PermanentDeliveryError,
    RetryPolicy,
    TemporaryDeliveryError,
)
from rcmflow.services.events import Event, append_events

log = logging.getLogger(__name__)

OBJECT_TYPE = "outbox message"
RELAY_ACTOR = "job:outbox-relay"
DEFAULT_BATCH = 100
# Long enough for a batch whose every delivery times out; it only delays recovery after a crash.
DEFAULT_LEASE = timedelta(minutes=5)
NO_HANDLER_RETRY = timedelta(minutes=5)  # how often messages for an unconfigured destination are looked at
_DUE_STATUSES = ("pending", "failed", "in_flight")
_CHUNK = 1_000
_ERROR_LIMIT = 1_000  # characters of last_error kept


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One external effect to deliver: where, what, and the key that makes redelivery harmless."""

    destination: str
    payload: Mapping[str, Any]
    idempotency_key: str
    organisation_id: str = DEFAULT_ORGANISATION
    not_before: datetime | None = None  # deliver no earlier than this

    def __post_init__(self) -> None:
        if not self.destination or not self.idempotency_key:
            raise ValueError("an outbox message needs a destination and an idempotency key")


def enqueue(conn: Connection, messages: Sequence[OutboxMessage], *, now: datetime | None = None) -> int:
    """Insert ``messages`` in the caller's transaction; a repeated (destination, key) is a no-op.

    Returns how many were new.
    """
    when = now or utc_now()
    rows = [{"organisation_id": m.organisation_id, "destination": m.destination, "payload": dict(m.payload),
             "idempotency_key": m.idempotency_key, "status": "pending", "attempts": 0, "created_at": when,
             "next_attempt_at": m.not_before or when} for m in messages]
    if not rows:
        return 0
    # executemany + RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues") and returns
    # a row only for messages actually inserted.
    insert = insert_ignoring_conflicts(conn, outbox, "destination", "idempotency_key").returning(outbox.c.id)
    return len(conn.execute(insert, rows).all())


@dataclass(frozen=True)
class RelayResult:
    """What one relay run did with the messages it claimed."""

    claimed: int = 0
    delivered: int = 0
    failed: int = 0  # temporary failure, retried later
    dead: int = 0
    deferred: int = 0  # not attempted (no handler, circuit open): back to pending, attempt not counted
    lost: int = 0  # our lease was taken over before we recorded the outcome: another relay owns it now

    def __add__(self, other: RelayResult) -> RelayResult:
        return RelayResult(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True, slots=True)
class _Outcome:
    message: OutboxMessageView
    status: str  # delivered | failed | dead | deferred
    error: str | None = None
    retry_at: datetime | None = None


class Relay:
    """Delivers due outbox messages through registered handlers; holds the circuit breaker's state.

    Keep one ``Relay`` per process and call ``run_once`` (one batch) or ``drain`` periodically.
    """

    def __init__(self, engine: Engine, handlers: HandlerRegistry, *, worker_id: str, batch: int = DEFAULT_BATCH,
                 lease: timedelta = DEFAULT_LEASE, policy: RetryPolicy | None = None,
                 breaker: CircuitBreaker | None = None, concurrency: int = 8) -> None:
        self.engine, self.handlers, self.worker_id = engine, handlers, worker_id
        self.batch, self.lease = batch, lease
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self.concurrency = max(1, concurrency)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox") if concurrency > 1 else None

    def close(self) -> None:
        """Stop the delivery threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run_once(self, now: datetime | None = None) -> RelayResult:
        """Claim one batch of due messages, deliver them, record the outcomes."""
        when = now or utc_now()
        messages, abandoned = self._claim(when)
        if not messages:
            return RelayResult(claimed=abandoned, dead=abandoned)
        if self._pool is not None and len(messages) > 1:
            outcomes = list(self._pool.map(lambda m: self._deliver(m, when), messages))
        else:
            outcomes = [self._deliver(m, when) for m in messages]
        recorded = self._record(outcomes, when)
        counts: dict[str, int] = defaultdict(int)
        for outcome in recorded:
            counts[outcome.status] += 1
        return RelayResult(claimed=len(messages) + abandoned, delivered=counts["delivered"], failed=counts["failed"],
                           dead=counts["dead"] + abandoned, deferred=counts["deferred"],
                           lost=len(outcomes) - len(recorded))

    def drain(self, now: datetime | None = None, *, max_batches: int = 1_000,
              max_seconds: float | None = None) -> RelayResult:
        """Run batches until fewer than a full batch is due, or a limit is reached; sum the results."""
        started = time.monotonic()
        total = RelayResult()
        for _ in range(max_batches):
            result = self.run_once(now)
            total += result
            if result.claimed < self.batch or result.claimed == result.deferred:
                break
            if max_seconds is not None and time.monotonic() - started >= max_seconds:
                break
        return total

    def _claim(self, now: datetime) -> tuple[list[OutboxMessageView], int]:
        due = (select(outbox.c.id)
               .where(outbox.c.status.in_(_DUE_STATUSES), outbox.c.next_attempt_at <= now)
               .order_by(outbox.c.next_attempt_at, outbox.c.id)
               .limit(self.batch)
               .with_for_update(skip_locked=True))
        blocked = self.breaker.blocked(now)
        if blocked:
            due = due.where(outbox.c.destination.not_in(blocked))
        lease_until = now + self.lease
        with self.engine.begin() as conn:
            # next_attempt_at = lease end: an in-flight message is due again exactly when its lease expires.
            rows = conn.execute(
                update(outbox).where(outbox.c.id.in_(due))
                .values(status="in_flight", locked_by=self.worker_id, lease_until=lease_until,
                        next_attempt_at=lease_until, attempts=outbox.c.attempts + 1)
                .returning(outbox.c.id, outbox.c.destination, outbox.c.payload, outbox.c.idempotency_key,
                           outbox.c.attempts, outbox.c.organisation_id)
            ).all()
            messages = [OutboxMessageView(id=r.id, destination=r.destination, payload=r.payload,
                                          idempotency_key=r.idempotency_key, attempts=r.attempts,
                                          organisation_id=r.organisation_id) for r in rows]
            # More claims than allowed attempts means earlier claims died mid-delivery: a poison message.
            poison = [m for m in messages if m.attempts > self.policy.max_attempts]
            if poison:
                error = "abandoned: the relay stopped during delivery (lease expired) on every attempt"
                conn.execute(update(outbox).where(outbox.c.id.in_([m.id for m in poison]))
                             .values(status="dead", locked_by=None, lease_until=None, last_error=error))
                append_events(conn, [_event(m, "dead", error, now) for m in poison])
                log.error("outbox: %d message(s) dead after repeated abandoned deliveries", len(poison))
        return [m for m in messages if m.attempts <= self.policy.max_attempts], len(poison)

    def _deliver(self, message: OutboxMessageView, now: datetime) -> _Outcome:
        destination = message.destination
        handler = self.handlers.get(destination)
        if handler is None:
            return _Outcome(message, "deferred", f"no handler for destination {destination}", now + NO_HANDLER_RETRY)
        if not self.breaker.allow(destination, now):
            return _Outcome(message, "deferred", None, now)
        try:
            handler(message)
        except PermanentDeliveryError as exc:
            self.breaker.record_success(destination)  # it answered: the destination itself is healthy
            return _Outcome(message, "dead", f"permanent: {exc}")
        except Exception as exc:  # anything else is presumed temporary, and retried
            if not isinstance(exc, TemporaryDeliveryError):
                log.warning("outbox: unexpected %s delivering message %s to %s; treated as temporary",
                            type(exc).__name__, message.id, destination, exc_info=True)
            self.breaker.record_failure(destination, now)
            error = f"{type(exc).__name__}: {exc}"
            if message.attempts >= self.policy.max_attempts:
                return _Outcome(message, "dead", f"gave up after {message.attempts} attempts: {error}")
            return _Outcome(message, "failed", error, now + self.policy.delay(message.attempts))
        self.breaker.record_success(destination)
        return _Outcome(message, "delivered")

    def _record(self, outcomes: Sequence[_Outcome], now: datetime) -> list[_Outcome]:
        mine = (outbox.c.locked_by == self.worker_id, outbox.c.status == "in_flight")
        recorded: list[_Outcome] = []
        with self.engine.begin() as conn:
            delivered = {o.message.id: o for o in outcomes if o.status == "delivered"}
            ids = list(delivered)
            for start in range(0, len(ids), _CHUNK):
                done = conn.execute(
                    update(outbox).where(outbox.c.id.in_(ids[start:start + _CHUNK]), *mine)
                    .values(status="delivered", delivered_at=now, locked_by=None, lease_until=None, last_error=None)
                    .returning(outbox.c.id)).scalars()
                recorded.extend(delivered[i] for i in done)
            # Failures are the rare path; each has its own retry time (jitter), so one guarded UPDATE each.
            for outcome in (o for o in outcomes if o.status != "delivered"):
                values: dict[str, Any] = {"locked_by": None, "lease_until": None}
                if outcome.error is not None:
                    values["last_error"] = outcome.error[:_ERROR_LIMIT]
                if outcome.status == "deferred":
                    values.update(status="pending", attempts=outbox.c.attempts - 1, next_attempt_at=outcome.retry_at)
                elif outcome.status == "failed":
                    values.update(status="failed", next_attempt_at=outcome.retry_at)
                else:
                    values.update(status="dead")
                row = conn.execute(update(outbox).where(outbox.c.id == outcome.message.id, *mine)
                                   .values(values).returning(outbox.c.id)).one_or_none()
                if row is not None:
                    recorded.append(outcome)
            append_events(conn, [_event(o.message, o.status, o.error, now) for o in recorded if o.status != "deferred"])
        if len(recorded) < len(outcomes):
            log.warning("outbox: %d outcome(s) not recorded: lease taken over by another relay",
                        len(outcomes) - len(recorded))
        return recorded


_ACTIVITIES = {"delivered": "deliver outbox message", "failed": "fail outbox delivery",
               "dead": "dead-letter outbox message"}


def _event(message: OutboxMessageView, status: str, error: str | None, now: datetime) -> Event:
    return Event(object_type=OBJECT_TYPE, object_id=str(message.id), from_state="in_flight", to_state=status,
                 activity=_ACTIVITIES[status], actor=RELAY_ACTOR, organisation_id=message.organisation_id,
                 reason=error[:500] if error else None, occurred_at=now,
                 attributes={"destination": message.destination, "attempts": message.attempts})


def relay_once(engine: Engine, handlers: HandlerRegistry, *, worker_id: str, batch: int = DEFAULT_BATCH,
               now: datetime | None = None, max_attempts: int = RetryPolicy.max_attempts,
               lease: timedelta = DEFAULT_LEASE, breaker: CircuitBreaker | None = None,
               policy: RetryPolicy | None = None, concurrency: int = 1) -> RelayResult:
    """Run one relay batch; pass a ``breaker`` to keep circuit state between calls (a ``Relay`` does)."""
    policy = policy or RetryPolicy(max_attempts=max_attempts)
    with Relay(engine, handlers, worker_id=worker_id, batch=batch, lease=lease, policy=policy, breaker=breaker,
               concurrency=concurrency) as relay:
        return relay.run_once(now)


def release_own_leases(conn: Connection, worker_id: str, *, now: datetime | None = None) -> int:
    """Messages a previous incarnation of this relay left in flight (it was killed mid-delivery), due again now
    instead of when their lease runs out. Only for a relay whose id is its own across restarts (a single
    process such as the demo); relays with per-process ids wait for the lease, as they must. Returns how
    many were released."""
    when = now or utc_now()
    return conn.execute(update(outbox).where(outbox.c.locked_by == worker_id, outbox.c.status == "in_flight")
                        .values(status="pending", next_attempt_at=when, locked_by=None, lease_until=None)).rowcount


def replay(conn: Connection, *, ids: Sequence[int] | None = None, destination: str | None = None,
           dead_only: bool = True, actor: str, now: datetime | None = None) -> list[int]:
    """Send dead (or, with ``dead_only=False``, also failed) messages again: back to pending, attempts reset.

    Each replayed message gets a "replay outbox message" event row naming ``actor``. Returns their ids.
    """
    when = now or utc_now()
    statuses = ("dead",) if dead_only else ("dead", "failed")
    query = select(outbox.c.id, outbox.c.status, outbox.c.destination, outbox.c.organisation_id).where(
        outbox.c.status.in_(statuses))
    if ids is not None:
        query = query.where(outbox.c.id.in_(list(ids)))
    if destination is not None:
        query = query.where(outbox.c.destination == destination)
    candidates = conn.execute(query.order_by(outbox.c.id).with_for_update()).all()
    replayed: list[int] = []
    for status in statuses:
        chosen = [r.id for r in candidates if r.status == status]
        for start in range(0, len(chosen), _CHUNK):
            replayed.extend(conn.execute(
                update(outbox).where(outbox.c.id.in_(chosen[start:start + _CHUNK]), outbox.c.status == status)
                .values(status="pending", attempts=0, next_attempt_at=when, locked_by=None, lease_until=None)
                .returning(outbox.c.id)).scalars())
    done = set(replayed)
    append_events(conn, [Event(
        object_type=OBJECT_TYPE, object_id=str(r.id), from_state=r.status, to_state="pending",
        activity="replay outbox message", actor=actor, organisation_id=r.organisation_id, occurred_at=when,
        attributes={"destination": r.destination}) for r in candidates if r.id in done])
    return sorted(done)


@dataclass(frozen=True)
class DestinationStatus:
    """The outbox as seen for one destination."""

    destination: str
    counts: Mapping[str, int] = field(default_factory=dict)  # status -> messages
    oldest_undelivered_at: datetime | None = None  # created_at of the oldest not yet delivered or dead
    lag: timedelta | None = None  # how long that message has waited
    next_attempt_at: datetime | None = None  # the earliest time a pending or failed message is due
    last_error: str | None = None  # of the most recently failing undelivered message

    @property
    def undelivered(self) -> int:
        """Messages still to be delivered (pending, in flight, failed)."""
        return sum(self.counts.get(s, 0) for s in _DUE_STATUSES)


def outbox_status(conn: Connection, *, now: datetime | None = None) -> list[DestinationStatus]:
    """Per destination: message counts by status, the oldest undelivered message's age, the last error."""
    when = now or utc_now()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTBOX_STATUSES, 0))
    for row in conn.execute(select(outbox.c.destination, outbox.c.status, func.count())
                            .group_by(outbox.c.destination, outbox.c.status)):
        counts[row[0]][row[1]] = row[2]
    waiting = outbox.c.status.in_(_DUE_STATUSES)
    oldest = {row[0]: (row[1], row[2]) for row in conn.execute(
        select(outbox.c.destination, func.min(outbox.c.created_at), func.min(outbox.c.next_attempt_at))
        .where(waiting).group_by(outbox.c.destination))}
    result = []
    for destination in sorted(counts):
        created, due = oldest.get(destination, (None, None))
        error = None
        if created is not None or counts[destination]["dead"]:
            error = conn.execute(
                select(outbox.c.last_error)
                .where(outbox.c.destination == destination, outbox.c.status.in_(("pending", "failed", "dead")),
                       outbox.c.last_error.is_not(None))
                .order_by(outbox.c.id.desc()).limit(1)).scalar_one_or_none()
        result.append(DestinationStatus(destination=destination, counts=counts[destination],
                                        oldest_undelivered_at=created, lag=when - created if created else None,
                                        next_attempt_at=due, last_error=error))
    return result
