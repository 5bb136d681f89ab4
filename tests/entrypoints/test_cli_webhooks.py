"""``rcmflow webhooks`` from the command line: add (secret shown once), list, remove, rotate-secret, event-types."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from rcmflow.adapters.store.schema import webhook_subscriptions
from rcmflow.entrypoints.cli import app
from rcmflow.errors import InputError, NotFoundError
from rcmflow.services.outbox import OutboxMessage, enqueue

runner = CliRunner()


@pytest.fixture
def database(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The test database, as the CLI's RCMFLOW_DATABASE_URL."""
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return engine


def _add(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["webhooks", "add", *args, "--json", "--as", "ana"])
    assert result.exit_code == 0, result.output
    added: dict[str, object] = json.loads(result.stdout)
    return added


def test_add_prints_the_id_and_the_secret_once_and_list_never_shows_it(database: Engine) -> None:
    added = _add("https://erp.example.org/hooks", "--event", "claim.denied", "--event", "remittance.posted")
    assert added["event_types"] == ["claim.denied", "remittance.posted"] and added["created_by"] == "user:ana"
    secret = str(added["secret"])
    assert secret.startswith("whsec_")
    listed = runner.invoke(app, ["webhooks", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["id"] == added["id"] and "secret" not in row and secret not in listed.stdout
    table = runner.invoke(app, ["webhooks", "list"])
    assert "erp.example.org" in table.stdout and secret not in table.stdout


def test_add_in_text_prints_the_secret_with_a_warning(database: Engine) -> None:
    result = runner.invoke(app, ["webhooks", "add", "https://erp.example.org/hooks", "--event", "*"])
    assert result.exit_code == 0, result.output
    with database.connect() as conn:
        stored = conn.execute(select(webhook_subscriptions.c.secret)).scalar_one()
    assert f"secret: {stored}" in result.stdout and "not shown again" in result.stdout


def test_add_refuses_an_unknown_event_type(database: Engine) -> None:
    result = runner.invoke(app, ["webhooks", "add", "https://erp.example.org/hooks", "--event", "claim.exploded"])
    assert isinstance(result.exception, InputError) and "unknown event type" in str(result.exception)


def test_remove_and_rotate_secret(database: Engine) -> None:
    added = _add("https://erp.example.org/hooks", "--event", "*")
    rotated = runner.invoke(app, ["webhooks", "rotate-secret", str(added["id"]), "--overlap-hours", "2"])
    assert rotated.exit_code == 0, rotated.output
    assert "secret: whsec_" in rotated.stdout and str(added["secret"]) not in rotated.stdout
    assert "2 more hour(s)" in rotated.stdout
    removed = runner.invoke(app, ["webhooks", "remove", str(added["id"])])
    assert removed.exit_code == 0 and "removed" in removed.stdout
    assert json.loads(runner.invoke(app, ["webhooks", "list", "--json"]).stdout) == []
    [row] = json.loads(runner.invoke(app, ["webhooks", "list", "--all", "--json"]).stdout)
    assert row["active"] is False
    missing = runner.invoke(app, ["webhooks", "remove", "999999"])
    assert isinstance(missing.exception, NotFoundError)


def test_event_types_lists_the_known_types(database: Engine) -> None:
    result = runner.invoke(app, ["webhooks", "event-types"])
    assert result.exit_code == 0
    assert {"claim.denied", "work_item.resolved", "remittance.posted"} <= set(result.stdout.split())
    assert "claim.denied" in json.loads(runner.invoke(app, ["webhooks", "event-types", "--json"]).stdout)


def test_outbox_status_knows_subscription_destinations_have_a_handler(database: Engine) -> None:
    added = _add("https://erp.example.org/hooks", "--event", "*")
    with database.begin() as conn:
        enqueue(conn, [OutboxMessage(f"webhook:{added['id']}", {"id": 1}, f"webhook:{added['id']}:1")])
    result = runner.invoke(app, ["outbox", "status", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["destination"] == f"webhook:{added['id']}" and row["handler"] is True
