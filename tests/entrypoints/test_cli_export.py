"""``rcmflow export ocel`` and ``rcmflow report process`` on a small revenue cycle: a summary people can read, JSON
programs can, files pm4py reads back, and no pm4py banner, progress bar or warning in the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.entrypoints.cli import app
from rcmflow.entrypoints.cli_process import duration, process_command
from rcmflow.services.events import Event, append_events
from rcmflow.services.process_conformance import pm4py_module
from tests.services.test_ocel_export import T0, Network, build_network

runner = CliRunner()

# ``report process`` lives in its own module until cli_report registers it; a one-command app runs it here.
process_app = typer.Typer()
process_app.command("process")(process_command)
process_app.command("noop", hidden=True)(lambda: None)  # two commands: "process" stays a subcommand name

PM4PY_NOISE = ("PM4Py", "AGPL", "replaying log", "it/s", "Warning")


@pytest.fixture
def network(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Network:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    engine = create_engine_for(empty_database_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        stored = build_network(conn)
        # One claim that skips scrubbing: a move the claim machine does not declare.
        append_events(conn, [Event(object_type="claim", object_id="77", to_state=state, from_state=before,
                                   activity=f"to {state}", actor="system", occurred_at=T0)
                             for before, state in ((None, "registered"), ("registered", "coded"),
                                                   ("coded", "submitted"))])
    engine.dispose()
    return stored


def _quiet(output: str) -> None:
    for noise in PM4PY_NOISE:
        assert noise not in output


def test_export_ocel_writes_the_file_and_summarises_it(network: Network, tmp_path: Path) -> None:
    out = tmp_path / "log.jsonocel"
    result = runner.invoke(app, ["export", "ocel", str(out)])

    assert result.exit_code == 0, result.output
    _quiet(result.output)
    assert "objects: supplier invoice" in result.output
    assert "event-object relations" in result.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.stdout.splitlines()
            if line.count("│") == 3}
    assert rows["objects: claim"] == "3" and rows["events"] == "27" and rows["object-object relations"] == "7"
    ocel = pm4py_module().read_ocel2_json(str(out))
    assert len(ocel.events) == 27


def test_export_ocel_window_and_formats(network: Network, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "ocel", str(tmp_path / "w.sqlite"), "--since", "2026-03-03T04:00:00Z",
                                 "--until", "2026-03-03T12:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert len(pm4py_module().read_ocel2_sqlite(str(tmp_path / "w.sqlite")).events) == 3  # the deposit's path

    result = runner.invoke(app, ["export", "ocel", str(tmp_path / "log.xmlocel"), "--until", "2026-03-02"])
    assert result.exit_code == 0, result.output
    assert "events" in result.output


@pytest.mark.parametrize(("arguments", "message"), [
    (["--since", "yesterday"], "not an ISO date"),
    (["--since", "2026-03-02T10:00"], "no time zone"),
    (["--since", "2026-03-05", "--until", "2026-03-01"], "--until must be after --since"),
])
def test_export_ocel_refuses_bad_windows(network: Network, tmp_path: Path, arguments: list[str], message: str) -> None:
    result = runner.invoke(app, ["export", "ocel", str(tmp_path / "log.jsonocel"), *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "log.jsonocel").exists()


def test_export_ocel_refuses_an_unknown_format(network: Network, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "ocel", str(tmp_path / "log.parquet")])
    assert result.exit_code != 0
    assert "must end in" in str(result.exception)


def test_report_process_prints_bottlenecks_rework_and_conformance(network: Network) -> None:
    result = runner.invoke(process_app, ["process"])

    assert result.exit_code == 0, result.output
    _quiet(result.output)
    assert "claim: 3 cases, 15 events" in result.output
    assert "Bottlenecks" in result.output and "no rework" in result.output
    assert "2 of 3 cases fit entirely" in " ".join(result.output.split())  # however the terminal wraps it
    illegal = [line for line in result.output.splitlines() if "submitted" in line and "coded" in line]
    assert [cell.strip() for cell in illegal[-1].split("│")[1:4]] == ["coded", "submitted", "1"]


def test_report_process_json(network: Network) -> None:
    result = runner.invoke(process_app, ["process", "--object-type", "work item", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["object_type"], data["cases"], data["conformance"]["fitness"]) == ("work item", 1, 1.0)
    assert data["edges"] == [{"source": "open", "target": "resolved", "count": 1, "mean_wait_s": 3600.0,
                              "median_wait_s": 3600.0, "total_wait_s": 3600.0}]


def test_report_process_scopes_and_refuses_unknown_types(network: Network) -> None:
    result = runner.invoke(process_app, ["process", "--facility", "F1", "--max-cases", "1", "--days", "100000"])
    assert result.exit_code == 0, result.output
    assert "claim: 1 cases, 7 events" in result.output

    result = runner.invoke(process_app, ["process", "--object-type", "spaceship"])
    assert result.exit_code == 2
    assert "no declared state machine" in result.output

    empty = runner.invoke(process_app, ["process", "--object-type", "supplier invoice"])
    assert "no supplier invoice events" in empty.output


def test_durations_read_as_people_say_them() -> None:
    assert [duration(s) for s in (None, 42, 610, 3 * 3600 + 600, 86_400 + 7200, 30 * 86_400)] == [
        "", "42s", "10m 10s", "3h 10m", "1d 2h", "30d"]
