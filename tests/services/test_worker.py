"""The worker: batches run and complete together, failures are isolated, shutdown is graceful, schedules run
once per interval, and four real worker processes share 10,000 jobs exactly once despite a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, func, select

from rcmflow.adapters.store.schema import jobs, outbox
from rcmflow.services.delivery import HandlerRegistry, WebhookHandler
from rcmflow.services.jobs import ClaimedJob, Job, PermanentJobError, claim_jobs, enqueue_jobs
from rcmflow.services.outbox import OutboxMessage, Relay, enqueue
from rcmflow.services.worker import (
    JobRegistry,
    Schedule,
    Worker,
    WorkerConfig,
    escalation_schedule,
    relay_schedule,
)
from tests.services import job_effects
from tests.services.http_receiver import http_receiver

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

effects = Table("test_worker_effects", MetaData(), Column("id", Integer, primary_key=True),
                Column("job_id", Integer, nullable=False), Column("n", String(32)))


@pytest.fixture
def effect_table(engine: Engine):
    effects.drop(engine, checkfirst=True)  # left over by a crashed run
    effects.create(engine)
    yield effects
    effects.drop(engine)


def _enqueue(engine: Engine, payloads: Sequence[dict], kind: str = "post") -> None:
    with engine.begin() as conn:
        enqueue_jobs(conn, [Job(kind, payload) for payload in payloads], now=NOW)


def _statuses(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(jobs.c.status, jobs.c.attempts).order_by(jobs.c.id))]


def _effect_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(effects)).scalar_one()


def _write_effects(conn: Connection, batch: Sequence[ClaimedJob]) -> None:
    conn.execute(effects.insert(), [{"job_id": j.id, "n": str(j.payload.get("n"))} for j in batch])


def _worker(engine: Engine, registry: JobRegistry, **config: object) -> Worker:
    return Worker(engine, registry=registry, config=WorkerConfig(**config), name="test",  # type: ignore[arg-type]
                  clock=lambda: NOW)


def test_a_batch_runs_and_completes_in_one_transaction(engine: Engine, effect_table: Table) -> None:
    registry = JobRegistry()
    registry.register("post", _write_effects)
    _enqueue(engine, [{"n": i} for i in range(5)])
    result = _worker(engine, registry, batch=3).run_once()
    assert (result.claimed, result.done) == (3, 3)
    assert _statuses(engine) == [("done", 1)] * 3 + [("queued", 0)] * 2
    assert _effect_count(engine) == 3


def test_a_failing_job_is_isolated_and_retried_the_others_complete(engine: Engine, effect_table: Table) -> None:
    registry = JobRegistry()

    @registry.kind("post")
    def handler(conn: Connection, batch: Sequence[ClaimedJob]) -> None:
        _write_effects(conn, batch)
        for job in batch:
            if job.payload["n"] == 1:
                raise ValueError("claim 1 is locked by another process")
            if job.payload["n"] == 2:
                raise PermanentJobError("claim 2 does not exist")

    _enqueue(engine, [{"n": i} for i in range(4)])
    result = _worker(engine, registry).run_once()
    assert (result.done, result.retried, result.failed) == (2, 1, 1)
    assert _statuses(engine) == [("done", 1), ("queued", 1), ("failed", 1), ("done", 1)]
    with engine.connect() as conn:
        assert conn.execute(select(effects.c.n).order_by(effects.c.n)).scalars().all() == ["0", "3"]  # no partials
        errors = conn.execute(select(jobs.c.last_error).order_by(jobs.c.id)).scalars().all()
    assert errors[1] == "ValueError: claim 1 is locked by another process"
    assert errors[2] == "PermanentJobError: claim 2 does not exist"


def test_stop_finishes_the_current_group_and_releases_the_unstarted(engine: Engine, effect_table: Table) -> None:
    registry = JobRegistry()
    worker = _worker(engine, registry)

    @registry.kind("a")
    def first(conn: Connection, batch: Sequence[ClaimedJob]) -> None:
        _write_effects(conn, batch)
        worker.stop()  # SIGTERM arrives while this group runs

    registry.register("b", _write_effects)
    _enqueue(engine, [{"n": 1}, {"n": 2}], kind="a")
    _enqueue(engine, [{"n": 3}], kind="b")
    result = worker.run_once()
    assert (result.claimed, result.done, result.released) == (3, 2, 1)
    assert _statuses(engine) == [("done", 1), ("done", 1), ("queued", 0)]  # released: attempt not counted


def test_a_batch_whose_lease_was_taken_over_commits_nothing(engine: Engine, effect_table: Table) -> None:
    registry = JobRegistry()

    @registry.kind("post")
    def stalled(conn: Connection, batch: Sequence[ClaimedJob]) -> None:
        # Our worker stalls past its leases and another worker claims the jobs (before our first write,
        # because SQLite would make it wait for our write transaction).
        if batch[0].attempts == 1 and len(batch) > 1:
            assert claim_jobs(engine, "other", ["post"], 10, timedelta(seconds=30), now=NOW + timedelta(minutes=5))
        _write_effects(conn, batch)

    _enqueue(engine, [{"n": 1}, {"n": 2}])
    result = _worker(engine, registry).run_once()
    assert (result.done, result.lost) == (0, 2)
    assert _effect_count(engine) == 0  # the effects rolled back with the refused completion
    with engine.connect() as conn:
        assert set(conn.execute(select(jobs.c.status, jobs.c.locked_by))) == {("running", "other")}


def test_loops_in_threads_run_every_job_once(engine: Engine, effect_table: Table) -> None:
    registry = JobRegistry()
    registry.register("post", _write_effects)
    _enqueue(engine, [{"n": i} for i in range(600)])
    worker = Worker(engine, registry=registry, config=WorkerConfig(batch=50, concurrency=3, poll_interval=0.02))
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.monotonic() + 30
    while _statuses(engine).count(("done", 1)) < 600 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert set(_statuses(engine)) == {("done", 1)}
    with engine.connect() as conn:
        assert conn.execute(select(func.count(func.distinct(effects.c.job_id)))).scalar_one() == 600
    assert _effect_count(engine) == 600


def test_a_schedule_runs_on_one_worker_per_interval(engine: Engine) -> None:
    runs: list[datetime] = []
    schedule = Schedule("tick", timedelta(seconds=10), lambda _engine, now: runs.append(now))
    clock = [NOW]
    workers = [Worker(engine, registry=JobRegistry(), schedules=[schedule], name=f"w{i}", clock=lambda: clock[0])
               for i in range(2)]
    assert [w.run_once().schedules for w in workers] == [["tick"], []]
    clock[0] = NOW + timedelta(seconds=10)
    assert [w.run_once().schedules for w in reversed(workers)] == [["tick"], []]
    assert runs == [NOW, NOW + timedelta(seconds=10)]


def test_a_failing_schedule_does_not_stop_the_worker(engine: Engine, effect_table: Table) -> None:
    def broken(_engine: Engine, _now: datetime) -> None:
        raise RuntimeError("report generator is broken")

    registry = JobRegistry()
    registry.register("post", _write_effects)
    _enqueue(engine, [{"n": 1}])
    result = Worker(engine, registry=registry, schedules=[Schedule("report", timedelta(minutes=1), broken)],
                    clock=lambda: NOW).run_once()
    assert (result.schedules, result.done) == (["report"], 1)


def test_the_relay_schedule_delivers_the_outbox(engine: Engine) -> None:
    with http_receiver() as receiver:
        handlers = HandlerRegistry({"erp": WebhookHandler(receiver.url, timeout=2.0)})
        with engine.begin() as conn:
            enqueue(conn, [OutboxMessage("erp", {"journal": i}, f"j{i}") for i in range(150)])
        try:
            with Relay(engine, handlers, worker_id="test:relay", batch=100) as relay:
                result = Worker(engine, registry=JobRegistry(), schedules=[relay_schedule(relay)]).run_once()
        finally:
            handlers.close()
        assert result.schedules == ["outbox relay"]
        assert len(receiver.requests) == 150  # drained: two batches in one run
    with engine.connect() as conn:
        assert set(conn.execute(select(outbox.c.status)).scalars()) == {"delivered"}


def test_escalation_schedule_is_skipped_when_its_module_is_absent() -> None:
    assert escalation_schedule(target="rcmflow.services.no_such_module:escalate_overdue") is None
    assert escalation_schedule(target="rcmflow.services.outbox:no_such_function") is None
    installed = escalation_schedule()
    if installed is not None:  # present once the SLA escalation service is in the tree
        assert (installed.name, installed.interval) == ("sla escalation", timedelta(minutes=5))


def _pids_holding(engine: Engine, pid: int) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(jobs.c.id).where(
            jobs.c.status == "running", jobs.c.locked_by.like(f"%:{pid}:%"))).scalars())


@pytest.mark.postgres
def test_four_worker_processes_run_10000_jobs_exactly_once_despite_a_sigkill(engine: Engine, tmp_path: Path) -> None:
    total = 10_000
    job_effects.effects.drop(engine, checkfirst=True)  # left over by a crashed run
    job_effects.effects.create(engine)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with engine.begin() as conn:
            enqueue_jobs(conn, [Job(job_effects.KIND, {"n": i}) for i in range(total)])
        url = engine.url.render_as_string(hide_password=False)

        def start(number: int, delay: float) -> subprocess.Popen[bytes]:
            env = {**os.environ, "RCMFLOW_DATABASE_URL": url, "RCMFLOW_TEST_JOB_DELAY": str(delay),
                   "RCMFLOW_LOG_LEVEL": "WARNING"}
            log = (tmp_path / f"worker{number}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "rcmflow", "worker", "--import", "tests.services.job_effects",
                 "--batch", "100", "--lease", "2", "--poll", "0.1"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            processes.append(process)
            return process

        # Worker 0 holds each batch's transaction open for a while, so the kill lands mid-batch.
        victim = start(0, delay=1.0)
        for number in (1, 2, 3):
            start(number, delay=0.0)
        deadline = time.monotonic() + 30
        while not (held := _pids_holding(engine, victim.pid)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert held, "worker 0 never claimed a batch"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert _pids_holding(engine, victim.pid) == held  # it died holding them, uncommitted

        with engine.connect() as conn:
            done = select(func.count()).select_from(jobs).where(jobs.c.status == "done")
            while conn.execute(done).scalar_one() < total and time.monotonic() < deadline + 30:
                time.sleep(0.2)
                conn.rollback()  # a fresh snapshot each poll
        for process in processes[1:]:
            process.send_signal(signal.SIGTERM)  # graceful: finish the batch in hand, then exit 0
        assert [p.wait(timeout=15) for p in processes[1:]] == [0, 0, 0], [
            (tmp_path / f"worker{n}.log").read_text() for n in (1, 2, 3)]

        with engine.connect() as conn:
            statuses = dict(conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all())
            assert statuses == {"done": total}
            key = job_effects.effects.c.job_key
            count, distinct = conn.execute(select(func.count(), func.count(func.distinct(key)))).one()
            assert (count, distinct) == (total, total)  # every job's effect, and no effect twice
            retaken = conn.execute(select(jobs.c.attempts, job_effects.effects.c.pid)
                                   .join(job_effects.effects, key == func.concat("job:", jobs.c.id))
                                   .where(jobs.c.id.in_(held))).all()
            assert len(retaken) == len(held)
            assert {attempts for attempts, _ in retaken} == {2}  # re-claimed after the lease
            assert victim.pid not in {pid for _, pid in retaken}  # applied by the survivors
            pids = set(conn.execute(select(job_effects.effects.c.pid)).scalars())
            assert len(pids - {victim.pid}) == 3  # all three survivors shared the work
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        job_effects.effects.drop(engine)
