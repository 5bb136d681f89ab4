"""Exactly once under failure: ``rcmflow ingest`` and ``rcmflow post`` killed with SIGKILL at any point and run
again end in the state an uninterrupted run reaches (the same ``report summary``, the same trial balance).

Real processes on a real database: each run is ``python -m rcmflow`` in a subprocess, killed after a delay
spread over the uninterrupted run's wall time, so kills land in start-up and migration, in intake (one
transaction per file) and in posting and reconciliation. A kill that lands after the process finished is
harmless but proves nothing, so every scenario must interrupt at least one run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress
from sqlalchemy import inspect
from typer.testing import CliRunner

from rcmflow.adapters.store.engine import create_engine_for, dispose_engines
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.entrypoints.cli import app
from rcmflow.services.demo_data import build_network
from rcmflow.services.x12_traffic import write_files
from rcmflow.settings import reset_settings
from tests.conftest import _postgres_base_url, _postgres_schema

CLAIMS = 1_500  # a couple of seconds per run: long enough for kills to land in every phase
FRACTIONS = (0.25, 0.5, 0.75)  # of the uninterrupted run's wall time
runner = CliRunner()


@dataclass(frozen=True)
class State:
    """What an end state is judged by: the summary and the trial balance, as the CLI prints them."""

    summary: dict[str, Any]
    trial_balance: dict[str, Any]


@dataclass(frozen=True)
class Reference:
    state: State
    ingest_seconds: float  # wall time of ``rcmflow ingest DIR`` on a fresh database
    post_seconds: float  # wall time of ``rcmflow post`` after ``rcmflow ingest DIR --no-post``


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A network's 837, 999, 835 and BAI2 files, and one truncated 835."""
    base = tmp_path_factory.mktemp("network")
    # The writers draw control numbers from a store; a scratch one, never a database under test.
    scratch = create_engine_for(f"sqlite:///{base / 'control-numbers.db'}")
    ensure_schema(scratch)
    with scratch.begin() as conn, Progress(disable=True) as progress:
        write_files(build_network(CLAIMS, seed=3), base / "inbox", conn, progress)
    scratch.dispose()
    return base / "inbox"


@pytest.fixture(scope="module")
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Makes brand-new, never migrated databases (SQLite files, or PostgreSQL schemas dropped at the end):
    every run here needs its own, more than the one ``empty_database_url`` gives a test."""
    base_url = _postgres_base_url()
    with ExitStack() as schemas:
        def new() -> str:
            if base_url is None:
                return f"sqlite:///{tmp_path_factory.mktemp('db') / 'rcmflow.db'}"
            return schemas.enter_context(_postgres_schema(base_url))

        yield new


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cwd")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rcmflow", *args]


def _env(url: str, workdir: Path) -> dict[str, str]:
    # Small posting batches: the run commits many batches, so a kill can land between two committed ones
    # (the resumed run must pick up exactly where the killed one stopped) as well as inside one.
    return {**os.environ, "RCMFLOW_DATABASE_URL": url, "RCMFLOW_DATA_DIR": str(workdir / "data"),
            "RCMFLOW_POSTING_BATCH_SIZE": "150"}


def _run(url: str, workdir: Path, *args: str) -> float:
    """Run to completion; return the wall time."""
    started = time.monotonic()
    done = subprocess.run(_command(*args), env=_env(url, workdir), cwd=workdir, capture_output=True, text=True,
                          timeout=300)
    elapsed = time.monotonic() - started
    # ingest exits 1 because of the truncated file, which is part of the story.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return elapsed


def _kill_after(url: str, workdir: Path, delay: float, *args: str) -> bool:
    """Start the command, SIGKILL it after ``delay`` seconds; True when the kill interrupted it."""
    process = subprocess.Popen(_command(*args), env=_env(url, workdir), cwd=workdir, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)  # a no-op when it already exited
    finally:
        returncode = process.wait(timeout=300)
    return returncode == -signal.SIGKILL


def _state(url: str) -> State:
    """Summary and trial balance through the CLI (in-process: the outputs are the same, the start-up is not
    paid twice per check)."""
    reset_settings()
    try:
        summary = runner.invoke(app, ["report", "summary", "--json"], env={"RCMFLOW_DATABASE_URL": url})
        balance = runner.invoke(app, ["ledger", "trial-balance", "--json"], env={"RCMFLOW_DATABASE_URL": url})
    finally:
        reset_settings()
        dispose_engines()
    assert summary.exit_code == 0, summary.output
    assert balance.exit_code == 0, balance.output  # exit 1 would mean debits != credits
    return State(json.loads(summary.stdout), json.loads(balance.stdout))


@pytest.fixture(scope="module")
def reference(inbox: Path, new_database: Callable[[], str], workdir: Path) -> Reference:
    url = new_database()
    ingest_seconds = _run(url, workdir, "ingest", str(inbox))
    state = _state(url)
    assert state.summary["claims"] == CLAIMS and state.summary["ledger"]["balanced"] is True
    assert state.summary["claim_payments_by_state"].get("received", 0) == 0  # everything was posted
    # Posting as a separate command ends in the same state as ingest-and-post.
    split = new_database()
    _run(split, workdir, "ingest", str(inbox), "--no-post")
    post_seconds = _run(split, workdir, "post")
    assert _state(split) == state
    return Reference(state, ingest_seconds, post_seconds)


def _assert_recovered(url: str, reference: Reference, what: str) -> None:
    state = _state(url)
    assert state.summary["ledger"]["balanced"] is True, what
    assert state.summary == reference.state.summary, what
    assert state.trial_balance == reference.state.trial_balance, what


def test_ingest_killed_at_any_point_and_run_again_ends_as_an_uninterrupted_run(
        inbox: Path, new_database: Callable[[], str], workdir: Path, reference: Reference) -> None:
    interrupted = 0
    for fraction in FRACTIONS:
        url = new_database()
        delay = reference.ingest_seconds * fraction
        interrupted += _kill_after(url, workdir, delay, "ingest", str(inbox))
        _run(url, workdir, "ingest", str(inbox))
        _assert_recovered(url, reference, f"ingest killed after {delay:.2f}s")
    assert interrupted >= 1, f"{interrupted} of {len(FRACTIONS)} kills interrupted a running ingest"


def test_posting_killed_at_any_point_and_run_again_ends_as_an_uninterrupted_run(
        inbox: Path, new_database: Callable[[], str], workdir: Path, reference: Reference) -> None:
    interrupted = 0
    for fraction in FRACTIONS:
        url = new_database()
        _run(url, workdir, "ingest", str(inbox), "--no-post")
        delay = reference.post_seconds * fraction
        interrupted += _kill_after(url, workdir, delay, "post")
        _run(url, workdir, "post")
        _assert_recovered(url, reference, f"post killed after {delay:.2f}s")
    assert interrupted >= 1, f"{interrupted} of {len(FRACTIONS)} kills interrupted a running post"


def test_a_migration_cut_short_leaves_no_half_built_schema(new_database: Callable[[], str], workdir: Path,
                                                           inbox: Path, reference: Reference) -> None:
    # A kill during the first run's migration must leave an empty database, not tables without a revision
    # (which every later run would trip over). Made deterministic: a table the last revision creates is
    # already there, so the upgrade fails after the earlier revisions' tables were created in it.
    url = new_database()
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE deposit_matches (id INTEGER PRIMARY KEY)")
        failed = subprocess.run(_command("ingest", str(inbox)), env=_env(url, workdir), cwd=workdir,
                                capture_output=True, text=True, timeout=300)
        assert failed.returncode == 2 and "migrat" in failed.stderr.lower(), failed.stderr[-3000:]
        assert set(inspect(engine).get_table_names()) == {"deposit_matches"}
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE deposit_matches")
    finally:
        engine.dispose()
    _run(url, workdir, "ingest", str(inbox))
    _assert_recovered(url, reference, "after a failed migration")
