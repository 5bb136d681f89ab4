"""``rcmflow queues`` and ``rcmflow work ...`` against a real, temporary database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.adapters.store.schema import outbox, utc_now
from rcmflow.entrypoints.cli import app
from rcmflow.errors import NotFoundError
from rcmflow.services.events import events_for
from rcmflow.services.work_items import add_note, get_item, notes_of, open_item

runner = CliRunner()


@pytest.fixture
def items(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Two overdue denials (one a month old), one fresh denial and one fresh refund, in a fresh database."""
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    engine = create_engine_for(empty_database_url)
    ensure_schema(engine)
    now = utc_now()
    opened = {}
    with engine.begin() as conn:
        for name, queue, age in (("old", "denials", 30), ("late", "denials", 10), ("fresh", "denials", 0),
                                 ("refund", "refunds", 0)):
            opened[name] = open_item(conn, queue=queue, item_type=queue, object_type="claim", object_id=f"CLM-{name}",
                                     title=f"{name} item", exception_code="X", actor="rule:test@1",
                                     links=[("remittance", f"ERA-{name}")], now=now - timedelta(days=age)).id
        add_note(conn, opened["old"], "user:ana", "called the payer", now)
    engine.dispose()
    monkeypatch.setattr("getpass.getuser", lambda: "osuser")
    return opened


def _db(url: str):
    return create_engine_for(url)


def test_queues_shows_every_queue_with_open_overdue_and_oldest(items: dict[str, int]) -> None:
    result = runner.invoke(app, ["queues"])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:]]
             for line in result.stdout.splitlines() if line.count("│") > 3 and "queue" not in line}
    assert lines["denials"][:3] == ["3", "2", "30d 0h"]
    assert lines["refunds"][:2] == ["1", "0"]
    assert lines["coding_review"][:2] == ["0", "0"]  # configured queues show even when empty


def test_work_list_filters(items: dict[str, int]) -> None:
    listed = runner.invoke(app, ["work", "list", "--queue", "denials"])
    assert listed.exit_code == 0, listed.output
    assert all(f"│ {items[name]} " in listed.stdout for name in ("old", "late", "fresh"))
    assert f"│ {items['refund']} " not in listed.stdout
    overdue = runner.invoke(app, ["work", "list", "--overdue"]).stdout
    assert {name for name in items if f"{name} item" in overdue} == {"old", "late"}


def test_work_show_has_links_notes_and_history(items: dict[str, int]) -> None:
    result = runner.invoke(app, ["work", "show", str(items["old"])])
    assert result.exit_code == 0, result.output
    for text in ("old item", "denials", "claim CLM-old", "remittance ERA-old", "called the payer", "(overdue)",
                 "open work item", "rule:test@1"):
        assert text in result.stdout, text
    missing = runner.invoke(app, ["work", "show", "999999"])
    assert isinstance(missing.exception, NotFoundError)


def test_work_assign_and_resolve_in_bulk(items: dict[str, int], empty_database_url: str) -> None:
    ids = [str(items["old"]), str(items["late"])]
    assigned = runner.invoke(app, ["work", "assign", *ids, "--to", "ana", "--as", "lead"])
    assert assigned.exit_code == 0, assigned.output
    assert "assigned 2 item(s) to ana" in assigned.stdout
    resolved = runner.invoke(app, ["work", "resolve", *ids, "--code", "CORRECTED", "--note", "fixed"])
    assert resolved.exit_code == 0, resolved.output
    engine = _db(empty_database_url)
    try:
        with engine.connect() as conn:
            old = get_item(conn, items["old"])
            assert (old.owner, old.state, old.resolution_code) == ("ana", "resolved", "CORRECTED")
            assert [note.text for note in notes_of(conn, items["old"])] == ["called the payer", "fixed"]
            actors = [(e.activity, e.actor) for e in events_for(conn, "work item", str(items["old"]))]
    finally:
        engine.dispose()
    assert actors[1:] == [("assign work item", "user:lead"), ("resolve work item", "user:osuser")]
    # Resolved items are no longer active: a second resolve reports them and exits 1.
    again = runner.invoke(app, ["work", "resolve", ids[0], str(items["fresh"]), "--code", "CORRECTED"])
    assert again.exit_code == 1
    assert "resolved 1 item(s)" in again.stdout and ids[0] in again.stderr


def test_work_escalate_runs_the_job_once(items: dict[str, int], empty_database_url: str) -> None:
    result = runner.invoke(app, ["work", "escalate"])
    assert result.exit_code == 0, result.output
    assert "escalated 2 item(s): denials 2; 2 notification(s) queued" in result.stdout
    engine = _db(empty_database_url)
    try:
        with engine.connect() as conn:
            keys = sorted(conn.execute(select(outbox.c.idempotency_key)).scalars())
    finally:
        engine.dispose()
    assert keys == sorted(f"escalation:{items[name]}:1" for name in ("old", "late"))
    assert "escalated 0 item(s)" in runner.invoke(app, ["work", "escalate"]).stdout
