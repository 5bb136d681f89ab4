"""``rcmflow demo``: the network's days through the real pipeline, and a run killed with SIGKILL and started
again ending in the state of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from rcmflow.services.demo import run_demo
from tests.conftest import _postgres_base_url, _postgres_schema

DEMO = ["--claims", "150", "--days", "3", "--seed", "5", "--no-serve"]


def test_the_demo_runs_the_network_through_every_stage(engine: Engine, tmp_path: Path) -> None:
    console = Console(record=True, width=160)
    figures = run_demo(console, engine, tmp_path / "demo", claims=150, days=3, seed=5)
    assert figures["claims_captured"] >= 150  # the visits, plus corrected and duplicate resends
    assert figures["submissions"] > 0 and figures["remittances"] > 0 and figures["deposits"] > 0
    assert figures["ledger_balanced"] and figures["claim_payments"] > 0
    states = figures["claims_by_state"]
    assert states.get("scrubbed", 0) > 0  # held by the scrubber: work for people
    assert {"paid", "partially paid", "denied", "accepted", "submitted"} & set(states)
    assert figures["open_work"], "the scrubber and the payers leave work in the queues"
    text = console.export_text()
    assert "clean-claim rate" in text and "straight-through posting rate" in text and "balanced" in text
    ehr = tmp_path / "demo" / "ehr"
    assert {path.suffix for path in ehr.rglob("*") if path.is_file()} == {".json", ".csv", ".hl7"}


def _cli(database: str, data: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RCMFLOW_DATABASE_URL": database, "RCMFLOW_DATA_DIR": str(data)}
    return subprocess.run([sys.executable, "-m", "rcmflow", *args], env=environment, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _summary(database: str, data: Path) -> dict:
    result = _cli(database, data, "report", "summary", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@contextmanager
def _two_databases(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two brand-new databases: SQLite files, or PostgreSQL schemas dropped afterwards."""
    base_url = _postgres_base_url()
    if base_url is None:
        yield f"sqlite:///{tmp_path / 'reference.db'}", f"sqlite:///{tmp_path / 'killed.db'}"
        return
    with _postgres_schema(base_url) as first, _postgres_schema(base_url) as second:
        yield first, second


def test_a_demo_killed_and_run_again_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    with _two_databases(tmp_path) as (reference_database, database):
        _killed_and_resumed(tmp_path, reference_database, database)


def _killed_and_resumed(tmp_path: Path, reference_database: str, database: str) -> None:
    reference_data = tmp_path / "reference"
    started = time.monotonic()
    finished = _cli(reference_database, reference_data, "demo", *DEMO)
    elapsed = time.monotonic() - started
    assert finished.returncode == 0, finished.stderr
    reference = _summary(reference_database, reference_data)

    data = tmp_path / "killed"
    environment = {**os.environ, "RCMFLOW_DATABASE_URL": database, "RCMFLOW_DATA_DIR": str(data)}
    interrupted = 0
    for fraction in (0.35, 0.7):
        process = subprocess.Popen([sys.executable, "-m", "rcmflow", "demo", *DEMO], env=environment,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(elapsed * fraction)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            interrupted += 1
        process.wait()
    assert interrupted, "no run was interrupted: the kill proves nothing"
    final = _cli(database, data, "demo", *DEMO)
    assert final.returncode == 0, final.stderr
    assert _summary(database, data) == reference


def test_a_demo_on_a_new_database_sets_aside_the_files_of_an_earlier_run(tmp_path: Path) -> None:
    # Starting over: the first database deleted (here: another one), the data folder kept. The earlier run's EHR
    # files, payer answers (and the payer's memory of what it answered) and delivered claims must not be read.
    data = tmp_path / "data"
    with _two_databases(tmp_path) as (first_database, second_database):
        first = _cli(first_database, data, "demo", *DEMO)
        assert first.returncode == 0, first.stderr
        earlier = _summary(first_database, data)
        delivered = sorted(path.name for path in (data / "outbound" / "sandbox").iterdir())
        assert delivered, "the first run delivered claim files to the sandbox payer"

        again = _cli(second_database, data, "demo", *DEMO)
        assert again.returncode == 0, again.stderr
        assert _summary(second_database, data) == earlier
    previous = list((data / "demo").glob("previous-*"))
    assert len(previous) == 1 and "were moved to" in " ".join(again.stdout.split())
    assert {path.name for path in previous[0].iterdir()} == {"ehr", "payer", "delivered"}
    assert sorted(path.name for path in (previous[0] / "delivered").iterdir()) == delivered
    assert (previous[0] / "payer" / ".sandbox-state.json").is_file()
