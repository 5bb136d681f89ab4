"""``rcmflow approvals``: decide, delegate and inspect from the command line; the service's rules still hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.domain.approval_policy import load_approval_policy
from rcmflow.entrypoints.cli import app
from rcmflow.services.approvals import MakerCannotDecideError, list_requests, request_detail, submit

runner = CliRunner()
SUBMITTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def database(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    engine = create_engine_for(empty_database_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


def _submit(engine: Engine, object_id: str, amount: str) -> int:
    with engine.begin() as conn:
        ref = submit(conn, load_approval_policy(), object_type="supplier invoice", object_id=object_id,
                     maker="user:clerk", amount=Decimal(amount), attributes={"vendor": "V1"}, actor="user:clerk",
                     now=SUBMITTED)
    assert ref is not None
    return ref.id


def _ok(*args: str) -> str:
    result = runner.invoke(app, ["approvals", *args], env={"COLUMNS": "200"})  # no wrapped cells
    assert result.exit_code == 0, result.output
    return result.stdout


def test_approve_through_both_levels_and_show_the_chain(database: Engine) -> None:
    request_id = _submit(database, "INV-7", "25000.00")
    assert "pending at level 2" in _ok("approve", str(request_id), "--as", "ann", "--role", "approver")
    assert "is now approved" in _ok("approve", str(request_id), "--as", "carl", "--role", "controller",
                                    "--reason", "within budget")
    shown = _ok("show", str(request_id))
    assert "health-system-approvals@2026.1" in shown and "ap-invoice-large" in shown and "approved" in shown
    assert "user:ann" in shown and "user:carl" in shown and "within budget" in shown
    assert "INV-7" in _ok("list", "--state", "approved")


def test_the_maker_is_refused_on_the_command_line_too(database: Engine) -> None:
    request_id = _submit(database, "INV-8", "500.00")
    result = runner.invoke(app, ["approvals", "approve", str(request_id), "--as", "clerk", "--role", "approver"])
    assert result.exit_code != 0 and isinstance(result.exception, MakerCannotDecideError)
    with database.connect() as conn:
        assert request_detail(conn, request_id).decisions == ()


def test_delegate_then_act_for_the_delegator_and_reject(database: Engine) -> None:
    request_id = _submit(database, "INV-9", "20000.00")
    _ok("approve", str(request_id), "--as", "ann", "--role", "approver")
    assert "user:dora may act for user:carl (controller)" in _ok(
        "delegate", "--from", "carl", "--to", "dora", "--role", "controller", "--until", "2100-01-01")
    assert "for user:carl" in _ok("list", "--as", "dora")
    assert "rejected at level 2" in _ok("reject", str(request_id), "--as", "dora", "--reason", "wrong cost centre")
    with database.connect() as conn:
        [_, decision] = request_detail(conn, request_id).decisions
    assert (decision.approver, decision.on_behalf_of, decision.reason) == ("user:dora", "user:carl",
                                                                           "wrong cost centre")


def test_delegate_refuses_a_time_without_zone(database: Engine) -> None:
    result = runner.invoke(app, ["approvals", "delegate", "--from", "carl", "--to", "dora",
                                 "--until", "2100-01-01T09:00"])
    assert result.exit_code == 2 and "time zone" in result.output


def test_policy_validates_a_file_and_reports_the_rule_at_fault(tmp_path: Path) -> None:
    assert "ap-invoice-major" in _ok("policy")
    bad = tmp_path / "approvals.yaml"
    bad.write_text('policy_id: p\nversion: "1"\neffective_from: 2026-01-01\n'
                   'rules:\n  - id: big\n    when: {min_amount: 5000.50}\n    chain: [{role: a}]\n')
    result = runner.invoke(app, ["approvals", "policy", str(bad)])
    assert result.exit_code != 0 and "rule 'big'" in str(result.exception)


def test_submit_opens_a_request_under_the_configured_policy(database: Engine) -> None:
    out = _ok("submit", "supplier invoice", "INV-9", "--as", "Clerk", "--amount", "125000.00", "--attr", "vendor=V1")
    assert "ap-invoice-major" in out and "controller x2" in out
    with database.connect() as conn:
        [request] = list_requests(conn)
    assert (request.object_id, request.maker, request.amount) == ("INV-9", "user:clerk", Decimal("125000.00"))
    assert "no approval needed" in _ok("submit", "refund", "RF-1", "--as", "clerk", "--amount", "20.00")
    bad = runner.invoke(app, ["approvals", "submit", "supplier invoice", "INV-11", "--as", "clerk", "--attr", "oops"])
    assert bad.exit_code != 0 and "KEY=VALUE" in bad.output
