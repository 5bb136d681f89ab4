"""The worker loop: claim jobs in batches, run their handlers, keep leases alive, run due schedules.

A job handler takes a connection and a batch of claimed jobs of its kind and does their work in that
transaction; the worker completes the jobs in the same transaction, so effect and completion commit
together. If the batch fails, each job is run on its own to isolate the bad one, which is retried with
backoff, failed or dead-lettered (``jobs.fail_job``). Handlers must still be safe to run twice.

Leases are extended by a heartbeat thread while a batch runs. ``stop()`` (wired to SIGTERM/SIGINT by the
CLI) lets the current kind's group finish, releases the claimed jobs not started yet, and stops claiming.

Schedules (outbox relay, SLA escalation, KPI snapshots and reports, process maps) are claimed through the
``schedules`` table, so each runs on one worker per interval however many workers share the database.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from rcmflow.adapters.store.schema import utc_now
from rcmflow.services.delivery import RetryPolicy
from rcmflow.services.jobs import (
    DEFAULT_JOB_POLICY,
    ClaimedJob,
    PermanentJobError,
    claim_due_schedules,
    claim_jobs,
    complete,
    complete_many,
    ensure_schedules,
    fail_job,
    finish_schedule,
    heartbeat,
    release_jobs,
)
from rcmflow.services.outbox import Relay
from rcmflow.services.webhooks import fan_out_pending

log = logging.getLogger(__name__)

JobHandler = Callable[[Connection, Sequence[ClaimedJob]], None]
ScheduleRun = Callable[[Engine, datetime], object]

ESCALATION = "rcmflow.services.escalation:escalate_overdue"
QUEUE_POLICIES = "rcmflow.services.policies:configured_queue_policies"


class JobRegistry:
    """Job kind -> the handler that runs a batch of jobs of that kind."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}

    def register(self, kind: str, handler: JobHandler) -> None:
        """Run jobs of ``kind`` with ``handler``."""
        self._handlers[kind] = handler

    def kind(self, kind: str) -> Callable[[JobHandler], JobHandler]:
        """Decorator form of ``register``."""
        def decorate(handler: JobHandler) -> JobHandler:
            self.register(kind, handler)
            return handler
        return decorate

    def get(self, kind: str) -> JobHandler | None:
        """The handler of ``kind``, if registered."""
        return self._handlers.get(kind)

    def kinds(self) -> frozenset[str]:
        """Every registered kind (the worker claims only these)."""
        return frozenset(self._handlers)


# Job modules register their kinds here; ``rcmflow worker --import MODULE`` loads extra ones.
JOB_KINDS = JobRegistry()


@dataclass(frozen=True)
class Schedule:
    """A periodic task: run ``run(engine, now)`` every ``interval`` on one worker."""

    name: str
    interval: timedelta
    run: ScheduleRun


def relay_schedule(relay: Relay, *, interval: timedelta = timedelta(seconds=1),
                   budget: timedelta = timedelta(seconds=10)) -> Schedule:
    """Drain the outbox through ``relay`` every ``interval`` (for at most ``budget`` per run)."""
    return Schedule("outbox relay", interval,
                    lambda _engine, now: relay.drain(now, max_seconds=budget.total_seconds()))


def _resolve(target: str) -> Callable[..., Any] | None:
    """``module:function`` -> the function; None (logged) when the module is not installed."""
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but is broken: that must not pass silently
        log.info("%s is not available", module_name)
        return None
    except AttributeError:
        log.warning("%s has no %s", module_name, attr)
        return None


def escalation_schedule(*, interval: timedelta = timedelta(minutes=5), target: str = ESCALATION,
                        policies: str = QUEUE_POLICIES) -> Schedule | None:
    """SLA escalation, found by import path; None (logged) when it is not installed.

    The queue policies are loaded once, here, so an invalid policy file stops the worker at start-up.
    Each run calls ``escalate_overdue(conn, policies, now=now)`` in its own transaction.
    """
    function, loader = _resolve(target), _resolve(policies)
    if function is None or loader is None:
        log.info("schedule 'sla escalation' skipped")
        return None
    queue_policies = loader()

    def run(engine: Engine, now: datetime) -> object:
        with engine.begin() as conn:
            return function(conn, queue_policies, now=now)

    return Schedule("sla escalation", interval, run)


def webhook_schedule(*, interval: timedelta = timedelta(seconds=2)) -> Schedule:
    """Turn newly logged events into webhook deliveries (outbox messages) every ``interval``."""
    return Schedule("webhook fan-out", interval, lambda engine, now: fan_out_pending(engine, now=now))


def kpi_snapshot_schedule(*, interval: timedelta = timedelta(hours=1)) -> Schedule:
    """Snapshot yesterday's and today's KPIs every ``interval``: today's figures follow the day, and yesterday's
    are completed once it has ended (``services.kpi_snapshots``)."""
    from rcmflow.services.kpi_snapshots import run_snapshots

    return Schedule("kpi snapshots", interval, run_snapshots)


def kpi_report_schedule(*, interval: timedelta = timedelta(minutes=5)) -> Schedule:
    """Refresh the control tower's stored KPI reports every ``interval`` (``services.kpi_reports``; also those of
    the facility sets people are limited to, ``services.facility_scopes``): the pages of a large organisation read
    them instead of computing over millions of rows."""
    from rcmflow.services.kpi_reports import run_kpi_reports

    return Schedule("kpi reports", interval, run_kpi_reports)


def process_map_schedule(*, interval: timedelta = timedelta(minutes=10)) -> Schedule:
    """Mine and store the process map page's maps every ``interval`` (``services.process_maps``; also those of the
    facility sets people are limited to): the page of a large organisation reads them instead of mining millions of
    events."""
    from rcmflow.services.process_maps import run_process_maps

    return Schedule("process maps", interval, run_process_maps)


def default_schedules(relay: Relay) -> list[Schedule]:
    """The schedules every worker offers: webhook fan-out, the outbox relay, KPI snapshots and reports, process
    maps, and SLA escalation when installed."""
    return [s for s in (webhook_schedule(), relay_schedule(relay), kpi_snapshot_schedule(), kpi_report_schedule(),
                        process_map_schedule(), escalation_schedule()) if s is not None]


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker claims and retries."""

    batch: int = 100
    lease: timedelta = timedelta(seconds=30)
    poll_interval: float = 1.0  # seconds to wait when there was nothing to do
    concurrency: int = 1  # claiming loops (threads) in this process
    policy: RetryPolicy = DEFAULT_JOB_POLICY


@dataclass
class PassResult:
    """What one claim-and-run pass did."""

    claimed: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    released: int = 0
    lost: int = 0  # lease taken over by another worker before completion: its run counts, not ours
    schedules: list[str] = field(default_factory=list)


class _LeaseLost(Exception):
    pass


class _Heartbeat:
    """Extends the leases of the jobs a batch holds, every third of the lease, until closed."""

    def __init__(self, engine: Engine, worker_id: str, job_ids: Iterable[int], lease: timedelta,
                 clock: Callable[[], datetime]) -> None:
        self._engine, self._worker_id, self._lease, self._clock = engine, worker_id, lease, clock
        self._ids = set(job_ids)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{worker_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def forget(self, job_ids: Iterable[int]) -> None:
        """Stop extending these (finished) jobs."""
        with self._lock:
            self._ids.difference_update(job_ids)

    def _beat(self) -> None:
        while not self._stop.wait(self._lease.total_seconds() / 3):
            with self._lock:
                ids = list(self._ids)
            try:
                held = heartbeat(self._engine, self._worker_id, ids, self._lease, now=self._clock())
            except SQLAlchemyError:
                log.warning("worker %s: heartbeat failed; will retry", self._worker_id, exc_info=True)
                continue
            if len(held) < len(ids):
                log.warning("worker %s: %d job lease(s) were taken over", self._worker_id, len(ids) - len(held))


def default_worker_name() -> str:
    """``host:pid``: unique among live workers, and says where to look when a lease is stuck."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Claims and runs jobs of the registered kinds, and runs due schedules, until ``stop()``."""

    def __init__(self, engine: Engine, *, registry: JobRegistry = JOB_KINDS, schedules: Sequence[Schedule] = (),
                 config: WorkerConfig | None = None, name: str | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.engine, self.registry, self.clock = engine, registry, clock
        self.config = config or WorkerConfig()
        self.schedules = {s.name: s for s in schedules}
        self.name = name or default_worker_name()
        self._stop = threading.Event()
        self._schedules_ready = False

    def worker_id(self, slot: int = 0) -> str:
        """The id this worker's claiming loop number ``slot`` writes into ``locked_by``."""
        return f"{self.name}:{slot}"

    def stop(self) -> None:
        """Finish the work in hand, release what was not started, stop claiming (signal-handler safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stop.is_set()

    def run_once(self) -> PassResult:
        """One pass on loop 0: due schedules, then one batch of jobs."""
        self._ensure_schedules()
        result = PassResult(schedules=self._run_schedules(self.worker_id(0)))
        self._run_batch(self.worker_id(0), result)
        return result

    def run(self) -> None:
        """Run ``concurrency`` claiming loops in threads until ``stop()``; return when all have finished."""
        self._ensure_schedules()
        threads = [threading.Thread(target=self._loop, args=(slot,), name=f"worker-{slot}")
                   for slot in range(max(1, self.config.concurrency))]
        for thread in threads:
            thread.start()
        log.info("worker %s started: %d loop(s), kinds %s, schedules %s", self.name, len(threads),
                 sorted(self.registry.kinds()), sorted(self.schedules))
        # Join with a timeout so the main thread keeps handling signals.
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.2)
        log.info("worker %s stopped", self.name)

    def _ensure_schedules(self) -> None:
        if not self._schedules_ready and self.schedules:
            with self.engine.begin() as conn:
                ensure_schedules(conn, {s.name: s.interval for s in self.schedules.values()}, now=self.clock())
        self._schedules_ready = True

    def _loop(self, slot: int) -> None:
        worker_id = self.worker_id(slot)
        while not self._stop.is_set():
            result = PassResult()
            try:
                if slot == 0:
                    result.schedules = self._run_schedules(worker_id)
                self._run_batch(worker_id, result)
            except SQLAlchemyError:
                # The database went away or refused: pause and try again rather than die.
                log.exception("worker %s: database error; retrying after a pause", worker_id)
            except Exception:  # a bug must not silently end this loop while the others run on
                log.exception("worker %s: unexpected error; retrying after a pause", worker_id)
            if not result.claimed and not result.schedules:
                self._stop.wait(self.config.poll_interval)

    def _run_schedules(self, worker_id: str) -> list[str]:
        if not self.schedules:
            return []
        intervals = {name: s.interval for name, s in self.schedules.items()}
        names = claim_due_schedules(self.engine, worker_id, intervals, self.config.lease, now=self.clock())
        for name in names:
            try:
                self.schedules[name].run(self.engine, self.clock())
            except Exception:  # one failing schedule must not stop the others or the jobs
                log.exception("schedule %r failed", name)
            finally:
                finish_schedule(self.engine, name, worker_id, now=self.clock())
        return names

    def _run_batch(self, worker_id: str, result: PassResult) -> None:
        if self._stop.is_set() or not self.registry.kinds():
            return
        config = self.config
        claimed = claim_jobs(self.engine, worker_id, self.registry.kinds(), config.batch, config.lease,
                             now=self.clock(), max_attempts=config.policy.max_attempts)
        result.claimed += len(claimed)
        if not claimed:
            return
        groups: dict[str, list[ClaimedJob]] = {}
        for job in claimed:
            groups.setdefault(job.kind, []).append(job)
        with _Heartbeat(self.engine, worker_id, (j.id for j in claimed), config.lease, self.clock) as beat:
            remaining = list(groups.items())
            while remaining and not self._stop.is_set():
                kind, group = remaining.pop(0)
                self._run_group(worker_id, kind, group, result)
                beat.forget(j.id for j in group)
            unstarted = [j.id for _, group in remaining for j in group]
            if unstarted:
                with self.engine.begin() as conn:
                    result.released += release_jobs(conn, unstarted, worker_id)
                log.info("worker %s: released %d unstarted job(s) on shutdown", worker_id, len(unstarted))

    def _run_group(self, worker_id: str, kind: str, group: list[ClaimedJob], result: PassResult) -> None:
        handler = self.registry.get(kind)
        assert handler is not None  # only registered kinds are claimed
        if len(group) > 1:
            try:
                with self.engine.begin() as conn:
                    handler(conn, group)
                    if len(complete_many(conn, [j.id for j in group], worker_id, now=self.clock())) < len(group):
                        raise _LeaseLost  # roll the effects back; the single runs below sort it out
                result.done += len(group)
                return
            except Exception:
                log.warning("worker %s: batch of %d %r job(s) failed; running them one by one", worker_id,
                            len(group), kind, exc_info=True)
        for job in group:
            self._run_one(worker_id, handler, job, result)

    def _run_one(self, worker_id: str, handler: JobHandler, job: ClaimedJob, result: PassResult) -> None:
        try:
            with self.engine.begin() as conn:
                handler(conn, [job])
                if not complete(conn, job.id, worker_id, now=self.clock()):
                    raise _LeaseLost
            result.done += 1
        except _LeaseLost:
            result.lost += 1
        except Exception as exc:
            permanent = isinstance(exc, PermanentJobError)
            log.warning("worker %s: job %s (%s) attempt %d failed: %s", worker_id, job.id, job.kind, job.attempts,
                        type(exc).__name__, exc_info=not permanent)
            with self.engine.begin() as conn:
                status = fail_job(conn, job.id, worker_id, f"{type(exc).__name__}: {exc}", permanent=permanent,
                                  now=self.clock(), policy=self.config.policy)
            counts: dict[Any, str] = {"queued": "retried", "failed": "failed", "dead": "dead", None: "lost"}
            name = counts[status]
            setattr(result, name, getattr(result, name) + 1)
