"""The job queue in the database: enqueue with the business write, claim in batches under a lease.

    queued ──claim──▶ running ──complete──▶ done
       ▲                 │ ├──error, attempts left──▶ queued (run_after = now + backoff)
       │                 │ ├──PermanentJobError──▶ failed
       │                 │ └──error, no attempts left──▶ dead
       └──release (shutdown before starting it; the attempt is not counted)
    running whose lease expired (the worker died) is claimable again.

``claim_jobs`` is one short transaction: ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)``,
so any number of workers on any number of hosts take disjoint batches from one PostgreSQL; on SQLite
the same statement runs (SQLAlchemy leaves FOR UPDATE out; SQLite has one writer). A worker extends
its leases with ``heartbeat`` while it works; every later write is guarded by ``locked_by``, so a
worker whose lease was taken over cannot complete or fail the job. ``attempts`` counts claims, so a
job that kills its worker every time still ends dead.

Handlers must be safe to run twice (a worker may die after the effect and before ``complete``):
carry ids, re-read current state, and guard effects with ``delivery.apply_once``.

Schedules (``schedules`` table) are periodic jobs: one row each, claimed by a guarded UPDATE that moves
``next_run_at`` on, so one worker runs each schedule per interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, jobs, schedules, utc_now
from rcmflow.adapters.store.sql import insert_ignoring_conflicts
from rcmflow.errors import RcmflowError
from rcmflow.services.delivery import RetryPolicy

DEFAULT_JOB_POLICY = RetryPolicy(max_attempts=5, initial=5.0, maximum=3_600.0, jitter=5.0)
_CHUNK = 1_000
_ERROR_LIMIT = 1_000


class PermanentJobError(RcmflowError):
    """A handler's signal that this job can never succeed as it is: fail it without retrying."""

    code = "job_permanent"


@dataclass(frozen=True, slots=True)
class Job:
    """A job to enqueue: its kind (which handler runs it) and a small JSON payload (ids, not data)."""

    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None  # enqueueing the same key twice makes one job
    run_after: datetime | None = None
    organisation_id: str = DEFAULT_ORGANISATION


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker holds under a lease."""

    id: int
    kind: str
    payload: Mapping[str, Any]
    attempts: int  # this run is attempt number ``attempts``
    organisation_id: str
    idempotency_key: str | None


def enqueue_jobs(conn: Connection, new_jobs: Sequence[Job], *, now: datetime | None = None) -> int:
    """Insert jobs in the caller's transaction (bulk); a repeated idempotency key is a no-op. Returns how many."""
    when = now or utc_now()
    rows = [{"organisation_id": j.organisation_id, "kind": j.kind, "payload": dict(j.payload),
             "idempotency_key": j.idempotency_key, "status": "queued", "attempts": 0,
             "run_after": j.run_after or when, "created_at": when} for j in new_jobs]
    if not rows:
        return 0
    # executemany + RETURNING: batched multi-row INSERTs; a row comes back only for jobs actually inserted.
    insert = insert_ignoring_conflicts(conn, jobs, "idempotency_key").returning(jobs.c.id)
    return len(conn.execute(insert, rows).all())


def claim_jobs(engine: Engine, worker_id: str, kinds: Iterable[str], batch: int, lease: timedelta, *,
               now: datetime | None = None, max_attempts: int = DEFAULT_JOB_POLICY.max_attempts) -> list[ClaimedJob]:
    """Claim up to ``batch`` due jobs of ``kinds`` (queued, or running with an expired lease); commit the claim."""
    when = now or utc_now()
    # Every claimed job had run_after <= its claim time, so run_after <= now holds for expired leases too
    # and the partial index on run_after serves both cases.
    due = (select(jobs.c.id)
           .where(jobs.c.kind.in_(list(kinds)), jobs.c.status.in_(("queued", "running")), jobs.c.run_after <= when,
                  or_(jobs.c.status == "queued", jobs.c.lease_until <= when))
           .order_by(jobs.c.run_after, jobs.c.id)
           .limit(batch)
           .with_for_update(skip_locked=True))
    with engine.begin() as conn:
        rows = conn.execute(
            update(jobs).where(jobs.c.id.in_(due))
            .values(status="running", locked_by=worker_id, lease_until=when + lease, attempts=jobs.c.attempts + 1)
            .returning(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.attempts, jobs.c.organisation_id,
                       jobs.c.idempotency_key)
        ).all()
        claimed = sorted((ClaimedJob(id=r.id, kind=r.kind, payload=r.payload, attempts=r.attempts,
                                     organisation_id=r.organisation_id, idempotency_key=r.idempotency_key)
                          for r in rows), key=lambda j: j.id)
        # More claims than attempts allowed: every earlier run died holding it. Stop feeding it workers.
        poison = [j.id for j in claimed if j.attempts > max_attempts]
        if poison:
            conn.execute(update(jobs).where(jobs.c.id.in_(poison)).values(
                status="dead", locked_by=None, lease_until=None, finished_at=when,
                last_error="abandoned: the worker stopped while running it (lease expired) on every attempt"))
    return [j for j in claimed if j.attempts <= max_attempts]


def _held(worker_id: str) -> tuple[Any, ...]:
    return (jobs.c.locked_by == worker_id, jobs.c.status == "running")


def heartbeat(engine: Engine, worker_id: str, job_ids: Iterable[int], lease: timedelta, *,
              now: datetime | None = None) -> set[int]:
    """Extend the lease of jobs this worker still holds; return their ids (the others were taken over)."""
    ids = list(job_ids)
    if not ids:
        return set()
    when = now or utc_now()
    held: set[int] = set()
    with engine.begin() as conn:
        for start in range(0, len(ids), _CHUNK):
            held.update(conn.execute(
                update(jobs).where(jobs.c.id.in_(ids[start:start + _CHUNK]), *_held(worker_id))
                .values(lease_until=when + lease).returning(jobs.c.id)).scalars())
    return held


def complete_many(conn: Connection, job_ids: Iterable[int], worker_id: str, *,
                  now: datetime | None = None) -> set[int]:
    """Mark jobs done if this worker still holds them; return the ids it completed."""
    ids = list(job_ids)
    when = now or utc_now()
    done: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        done.update(conn.execute(
            update(jobs).where(jobs.c.id.in_(ids[start:start + _CHUNK]), *_held(worker_id))
            .values(status="done", finished_at=when, locked_by=None, lease_until=None, last_error=None)
            .returning(jobs.c.id)).scalars())
    return done


def complete(conn: Connection, job_id: int, worker_id: str, *, now: datetime | None = None) -> bool:
    """Mark one job done; False (and nothing changed) if this worker no longer holds it."""
    return bool(complete_many(conn, [job_id], worker_id, now=now))


def fail_job(conn: Connection, job_id: int, worker_id: str, error: str, *, permanent: bool = False,
             now: datetime | None = None, policy: RetryPolicy = DEFAULT_JOB_POLICY) -> str | None:
    """Record a failed run: retry later with backoff, or failed (permanent), or dead (no attempts left).

    Returns the new status, or None if this worker no longer holds the job.
    """
    when = now or utc_now()
    attempts = conn.execute(select(jobs.c.attempts).where(jobs.c.id == job_id, *_held(worker_id))).scalar()
    if attempts is None:
        return None
    values: dict[str, Any] = {"locked_by": None, "lease_until": None, "last_error": error[:_ERROR_LIMIT]}
    if permanent:
        values.update(status="failed", finished_at=when)
    elif attempts >= policy.max_attempts:
        values.update(status="dead", finished_at=when)
    else:
        values.update(status="queued", run_after=when + policy.delay(attempts))
    changed = conn.execute(update(jobs).where(jobs.c.id == job_id, *_held(worker_id)).values(values)).rowcount
    return values["status"] if changed else None


def release_jobs(conn: Connection, job_ids: Iterable[int], worker_id: str) -> int:
    """Give back jobs this worker claimed but did not start (shutdown): queued again, attempt not counted."""
    ids = list(job_ids)
    released = 0
    for start in range(0, len(ids), _CHUNK):
        released += conn.execute(
            update(jobs).where(jobs.c.id.in_(ids[start:start + _CHUNK]), *_held(worker_id))
            .values(status="queued", locked_by=None, lease_until=None, attempts=jobs.c.attempts - 1)).rowcount
    return released


# ---- schedules ---------------------------------------------------------------------------------


def ensure_schedules(conn: Connection, intervals: Mapping[str, timedelta], *, now: datetime | None = None) -> None:
    """Create missing schedule rows (first run due at once) and bring intervals up to date."""
    when = now or utc_now()
    insert = insert_ignoring_conflicts(conn, schedules, "name")
    for name, interval in intervals.items():
        seconds = max(1, int(interval.total_seconds()))
        conn.execute(insert.values(name=name, interval_seconds=seconds, next_run_at=when))
        conn.execute(update(schedules).where(schedules.c.name == name, schedules.c.interval_seconds != seconds)
                     .values(interval_seconds=seconds))


def claim_due_schedules(engine: Engine, worker_id: str, intervals: Mapping[str, timedelta], lease: timedelta, *,
                        now: datetime | None = None) -> list[str]:
    """Claim the due, unleased schedules among ``intervals``, moving each one interval on; return their names."""
    when = now or utc_now()
    free = or_(schedules.c.lease_until.is_(None), schedules.c.lease_until <= when)
    claimed: list[str] = []
    with engine.begin() as conn:
        for name, interval in intervals.items():
            # One guarded UPDATE, no read first: of two workers racing, the second matches no row
            # (PostgreSQL re-checks the WHERE after the first commits; SQLite runs one writer at a time).
            changed = conn.execute(
                update(schedules).where(schedules.c.name == name, schedules.c.next_run_at <= when, free)
                .values(next_run_at=when + interval, locked_by=worker_id, lease_until=when + lease)).rowcount
            if changed:
                claimed.append(name)
    return claimed


def finish_schedule(engine: Engine, name: str, worker_id: str, *, now: datetime | None = None) -> bool:
    """Record a schedule's run as finished and free it; False if another worker took it over meanwhile."""
    with engine.begin() as conn:
        return bool(conn.execute(
            update(schedules).where(schedules.c.name == name, schedules.c.locked_by == worker_id)
            .values(last_run_at=now or utc_now(), locked_by=None, lease_until=None)).rowcount)
