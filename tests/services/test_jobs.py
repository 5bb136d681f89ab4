"""The job queue: bulk enqueue, disjoint batch claims under leases, guarded completion, retry and schedules."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import jobs, schedules
from rcmflow.services.delivery import RetryPolicy
from rcmflow.services.jobs import (
    Job,
    claim_due_schedules,
    claim_jobs,
    complete,
    complete_many,
    enqueue_jobs,
    ensure_schedules,
    fail_job,
    finish_schedule,
    heartbeat,
    release_jobs,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _enqueue(engine: Engine, count: int, kind: str = "post") -> None:
    with engine.begin() as conn:
        enqueue_jobs(conn, [Job(kind, {"n": i}) for i in range(count)], now=NOW)


def _job(engine: Engine, job_id: int):
    with engine.connect() as conn:
        return conn.execute(select(jobs).where(jobs.c.id == job_id)).one()


def test_enqueue_in_bulk_with_idempotency_keys(engine: Engine) -> None:
    with engine.begin() as conn:
        assert enqueue_jobs(conn, [Job("post", {"n": 1}, "post:1"), Job("post", {"n": 1}, "post:1"),
                                   Job("post", {"n": 2}), Job("post", {"n": 2})], now=NOW) == 3
        assert enqueue_jobs(conn, [Job("post", {"n": 1}, "post:1")]) == 0
        rows = conn.execute(select(jobs.c.payload, jobs.c.status, jobs.c.run_after).order_by(jobs.c.id)).all()
    assert [tuple(r) for r in rows] == [({"n": 1}, "queued", NOW), ({"n": 2}, "queued", NOW),
                                        ({"n": 2}, "queued", NOW)]


def test_claims_are_disjoint_batches_of_due_jobs_of_the_asked_kinds(engine: Engine) -> None:
    _enqueue(engine, 5)
    _enqueue(engine, 2, kind="other")
    with engine.begin() as conn:
        enqueue_jobs(conn, [Job("post", {"late": True}, run_after=NOW + timedelta(hours=1))])
    first = claim_jobs(engine, "w1", ["post"], 3, LEASE, now=NOW)
    second = claim_jobs(engine, "w2", ["post"], 3, LEASE, now=NOW)
    assert [len(first), len(second)] == [3, 2]
    assert not {j.id for j in first} & {j.id for j in second}
    assert {j.kind for j in first + second} == {"post"} and {j.attempts for j in first} == {1}
    assert claim_jobs(engine, "w3", ["post"], 3, LEASE, now=NOW) == []  # all held; the late one not due
    row = _job(engine, first[0].id)
    assert (row.status, row.locked_by, row.lease_until) == ("running", "w1", NOW + LEASE)
    # ...and now every lease has expired; oldest due first.
    assert [j.payload for j in claim_jobs(engine, "w3", ["post"], 10, LEASE, now=NOW + timedelta(minutes=61))] \
        == [j.payload for j in first + second] + [{"late": True}]


def test_concurrent_claims_never_share_a_job(engine: Engine) -> None:
    _enqueue(engine, 400)
    claimed: dict[str, list[int]] = {}

    def take(worker: str) -> None:
        ids: list[int] = []
        while batch := claim_jobs(engine, worker, ["post"], 25, LEASE, now=NOW):
            ids += [j.id for j in batch]
        claimed[worker] = ids

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)) == 400


def test_a_worker_whose_lease_expired_cannot_complete_the_job(engine: Engine) -> None:
    _enqueue(engine, 1)
    [job] = claim_jobs(engine, "w1", ["post"], 10, LEASE, now=NOW)
    later = NOW + LEASE + timedelta(seconds=1)
    [again] = claim_jobs(engine, "w2", ["post"], 10, LEASE, now=later)  # w1 died, or stalled
    assert (again.id, again.attempts) == (job.id, 2)
    assert heartbeat(engine, "w1", [job.id], LEASE, now=later) == set()
    with engine.begin() as conn:
        assert complete(conn, job.id, "w1", now=later) is False
        assert fail_job(conn, job.id, "w1", "boom", now=later) is None
        assert complete(conn, job.id, "w2", now=later) is True
    row = _job(engine, job.id)
    assert (row.status, row.finished_at, row.locked_by) == ("done", later, None)


def test_heartbeat_keeps_the_lease(engine: Engine) -> None:
    _enqueue(engine, 2)
    held = claim_jobs(engine, "w1", ["post"], 10, LEASE, now=NOW)
    beat = NOW + timedelta(seconds=20)
    assert heartbeat(engine, "w1", [j.id for j in held], LEASE, now=beat) == {j.id for j in held}
    assert claim_jobs(engine, "w2", ["post"], 10, LEASE, now=NOW + LEASE + timedelta(seconds=1)) == []
    with engine.begin() as conn:
        assert complete_many(conn, [j.id for j in held], "w1") == {j.id for j in held}


def test_failures_retry_with_backoff_then_go_dead_and_permanent_ones_fail(engine: Engine) -> None:
    _enqueue(engine, 2)
    policy = RetryPolicy(max_attempts=2, initial=10.0, jitter=1.0)
    first, second = claim_jobs(engine, "w1", ["post"], 10, LEASE, now=NOW)
    with engine.begin() as conn:
        assert fail_job(conn, first.id, "w1", "ValueError: bad", now=NOW, policy=policy) == "queued"
        assert fail_job(conn, second.id, "w1", "no such claim", permanent=True, now=NOW, policy=policy) == "failed"
    row = _job(engine, first.id)
    assert (row.status, row.last_error, row.locked_by) == ("queued", "ValueError: bad", None)
    assert NOW + timedelta(seconds=10) <= row.run_after <= NOW + timedelta(seconds=11)
    assert claim_jobs(engine, "w1", ["post"], 10, LEASE, now=NOW + timedelta(seconds=9)) == []
    [again] = claim_jobs(engine, "w1", ["post"], 10, LEASE, now=NOW + timedelta(seconds=11))
    with engine.begin() as conn:
        assert fail_job(conn, again.id, "w1", "ValueError: bad", now=NOW, policy=policy) == "dead"
    assert _job(engine, second.id).status == "failed"
    assert claim_jobs(engine, "w1", ["post"], 10, LEASE, now=NOW + timedelta(days=1)) == []


def test_a_job_that_kills_its_worker_every_time_ends_dead(engine: Engine) -> None:
    _enqueue(engine, 1)
    at = NOW
    for _ in range(2):
        assert len(claim_jobs(engine, "w", ["post"], 10, LEASE, now=at, max_attempts=2)) == 1
        at += LEASE + timedelta(seconds=1)
    assert claim_jobs(engine, "w", ["post"], 10, LEASE, now=at, max_attempts=2) == []
    with engine.connect() as conn:
        row = conn.execute(select(jobs)).one()
    assert row.status == "dead" and "abandoned" in row.last_error


def test_released_jobs_are_queued_again_without_counting_the_attempt(engine: Engine) -> None:
    _enqueue(engine, 3)
    held = claim_jobs(engine, "w1", ["post"], 10, LEASE, now=NOW)
    with engine.begin() as conn:
        assert release_jobs(conn, [j.id for j in held[1:]], "w1") == 2
        assert release_jobs(conn, [held[0].id], "someone else") == 0
    rows = [_job(engine, j.id) for j in held]
    assert [(r.status, r.attempts, r.locked_by) for r in rows] == [
        ("running", 1, "w1"), ("queued", 0, None), ("queued", 0, None)]
    assert [j.attempts for j in claim_jobs(engine, "w2", ["post"], 10, LEASE, now=NOW)] == [1, 1]


def test_a_schedule_runs_on_one_worker_per_interval(engine: Engine) -> None:
    names = dict.fromkeys(["outbox relay", "slow report"], timedelta(seconds=10))
    with engine.begin() as conn:
        ensure_schedules(conn, names, now=NOW)
    assert sorted(claim_due_schedules(engine, "w1", names, LEASE, now=NOW)) == sorted(names)
    assert claim_due_schedules(engine, "w2", names, LEASE, now=NOW) == []
    assert finish_schedule(engine, "outbox relay", "w1", now=NOW) is True
    assert finish_schedule(engine, "outbox relay", "w2", now=NOW) is False
    assert claim_due_schedules(engine, "w2", names, LEASE, now=NOW + timedelta(seconds=9)) == []
    # Both are due again; "slow report" is still running on w1 (leased), so it is not started twice.
    assert claim_due_schedules(engine, "w2", names, LEASE, now=NOW + timedelta(seconds=10)) == ["outbox relay"]
    assert claim_due_schedules(engine, "w3", names, LEASE, now=NOW + LEASE) == ["slow report"]  # w1 died
    with engine.begin() as conn:
        ensure_schedules(conn, {"outbox relay": timedelta(seconds=2)}, now=NOW)  # a changed interval is kept
        row = conn.execute(select(schedules).where(schedules.c.name == "outbox relay")).one()
    assert (row.interval_seconds, row.last_run_at, row.locked_by) == (2, NOW, "w2")


def test_racing_schedule_claims_pick_one_winner(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_schedules(conn, {"outbox relay": timedelta(seconds=10)}, now=NOW)
    winners: list[str] = []
    barrier = threading.Barrier(4)

    def race(worker: str) -> None:
        barrier.wait()
        winners.extend(claim_due_schedules(engine, worker, {"outbox relay": timedelta(seconds=10)}, LEASE, now=NOW))

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert winners == ["outbox relay"]


@pytest.mark.parametrize("bad", [0, -1])
def test_retry_policy_needs_at_least_one_attempt(bad: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=bad)
