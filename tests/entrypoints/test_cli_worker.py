"""``rcmflow worker`` and ``rcmflow outbox status|replay`` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from rcmflow.adapters.store.schema import event_log, jobs, outbox
from rcmflow.entrypoints.cli import app
from rcmflow.services.jobs import Job, enqueue_jobs
from rcmflow.services.outbox import OutboxMessage, enqueue
from tests.services import job_effects
from tests.services.http_receiver import http_receiver

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def database(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The test database, as the CLI's RCMFLOW_DATABASE_URL."""
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return engine


def _enqueue(engine: Engine, destination: str, count: int) -> None:
    with engine.begin() as conn:
        enqueue(conn, [OutboxMessage(destination, {"n": i}, f"{destination}:{i}") for i in range(count)])


def test_outbox_status_on_an_empty_outbox(database: Engine) -> None:
    result = runner.invoke(app, ["outbox", "status"])
    assert result.exit_code == 0, result.output
    assert "the outbox is empty" in result.stdout


def test_outbox_status_shows_counts_and_destinations_without_a_handler(
        database: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCMFLOW_OUTBOX_WEBHOOKS", json.dumps({"erp": "http://127.0.0.1:9/hook"}))
    _enqueue(database, "erp", 2)
    _enqueue(database, "notifications", 1)
    result = runner.invoke(app, ["outbox", "status", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["destination"]: row for row in json.loads(result.stdout)}
    assert rows["erp"]["counts"]["pending"] == 2 and rows["erp"]["handler"] is True
    assert rows["notifications"]["counts"]["pending"] == 1 and rows["notifications"]["handler"] is False
    assert rows["erp"]["lag_seconds"] >= 0
    table = runner.invoke(app, ["outbox", "status"])
    assert table.exit_code == 0 and "webhook" in table.stdout and "none" in table.stdout  # which have a handler


def test_outbox_replay_sends_dead_messages_again_and_logs_who(database: Engine) -> None:
    _enqueue(database, "erp", 3)
    with database.begin() as conn:
        ids = list(conn.execute(select(outbox.c.id).order_by(outbox.c.id)).scalars())
        conn.execute(update(outbox).where(outbox.c.id.in_(ids[:2])).values(status="dead", attempts=8))
    result = runner.invoke(app, ["outbox", "replay", "--id", str(ids[0]), "--actor", "user:ops"])
    assert result.exit_code == 0, result.output
    assert f"replayed 1 message(s): {ids[0]}" in result.stdout
    result = runner.invoke(app, ["outbox", "replay", "--destination", "erp", "--actor", "user:ops"])
    assert f"replayed 1 message(s): {ids[1]}" in result.stdout
    assert "nothing to replay" in runner.invoke(app, ["outbox", "replay"]).stdout
    with database.connect() as conn:
        assert set(conn.execute(select(outbox.c.status, outbox.c.attempts))) == {("pending", 0)}
        assert conn.execute(select(event_log.c.object_id, event_log.c.actor)
                            .where(event_log.c.activity == "replay outbox message")
                            .order_by(event_log.c.id)).all() == [(str(ids[0]), "user:ops"), (str(ids[1]), "user:ops")]


def test_worker_once_relays_to_the_configured_webhook_and_runs_jobs(
        database: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    job_effects.effects.drop(database, checkfirst=True)  # left over by a crashed run
    job_effects.effects.create(database)
    try:
        with http_receiver() as receiver:
            monkeypatch.setenv("RCMFLOW_OUTBOX_WEBHOOKS", json.dumps({"erp": receiver.url}))
            _enqueue(database, "erp", 3)
            _enqueue(database, "notifications", 1)  # no webhook configured: stays pending
            with database.begin() as conn:
                enqueue_jobs(conn, [Job(job_effects.KIND, {"n": i}) for i in range(5)])
            result = runner.invoke(app, ["worker", "--once", "--import", "tests.services.job_effects"])
            assert result.exit_code == 0, result.output
            assert "claimed 5, done 5" in result.stdout and "outbox relay" in result.stdout
            assert sorted(receiver.keys()) == ["erp:0", "erp:1", "erp:2"]
        with database.connect() as conn:
            assert dict(conn.execute(select(outbox.c.destination, outbox.c.status)).all()) == {
                "erp": "delivered", "notifications": "pending"}
            assert set(conn.execute(select(jobs.c.status)).scalars()) == {"done"}
    finally:
        job_effects.effects.drop(database)


def test_worker_with_an_unknown_import_stops_with_one_line(database: Engine) -> None:
    result = runner.invoke(app, ["worker", "--once", "--import", "no_such_module_here"])
    assert result.exit_code != 0
    assert "no_such_module_here" in str(result.exception) + result.output


def test_sigterm_finishes_the_batch_in_hand_then_exits_cleanly(engine: Engine, tmp_path: Path) -> None:
    job_effects.effects.drop(engine, checkfirst=True)  # left over by a crashed run
    job_effects.effects.create(engine)
    try:
        with engine.begin() as conn:
            enqueue_jobs(conn, [Job(job_effects.KIND, {"n": i}) for i in range(100)])
        env = {**os.environ, "RCMFLOW_DATABASE_URL": engine.url.render_as_string(hide_password=False),
               "RCMFLOW_TEST_JOB_DELAY": "1.0"}
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "rcmflow", "worker", "--import", "tests.services.job_effects", "--batch", "40",
                 "--poll", "0.1"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            running = select(jobs.c.id).where(jobs.c.status == "running")
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    if conn.execute(running).first():
                        break
                time.sleep(0.02)
            # "running" is visible as soon as the claim commits, which on SQLite may still be checkpointing the WAL
            # before the worker starts the batch: give it a moment (the batch then holds for RCMFLOW_TEST_JOB_DELAY).
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)  # while its first batch is in hand
            assert process.wait(timeout=15) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        with engine.connect() as conn:
            statuses = dict(conn.execute(select(jobs.c.status, jobs.c.attempts)).all())
            done = conn.execute(select(jobs.c.id).where(jobs.c.status == "done")).scalars().all()
            effects = conn.execute(select(job_effects.effects.c.job_key)).scalars().all()
        assert set(statuses) <= {"done", "queued"}  # nothing left running, nothing abandoned
        assert len(done) == 40  # the batch in hand was finished, and no new one started
        assert sorted(effects) == sorted(f"job:{i}" for i in done)
    finally:
        job_effects.effects.drop(engine)


def test_a_non_http_webhook_setting_is_refused_at_start(database: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCMFLOW_OUTBOX_WEBHOOKS", json.dumps({"erp": "ftp://erp.example.org/in"}))
    result = runner.invoke(app, ["outbox", "status"])
    assert result.exit_code != 0
    assert "RCMFLOW_OUTBOX_WEBHOOKS" in str(result.exception) and "'erp'" in str(result.exception)
