"""``rcmflow ledger``: trial balance (text and JSON), accounts, CSV export and fiscal period close."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.domain.ledger import JournalEntryDraft, credit, debit
from rcmflow.entrypoints.cli import app
from rcmflow.services.ledger import post_entries
from rcmflow.services.transitions import StaleStateError

runner = CliRunner()


@pytest.fixture
def database(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    engine = create_engine_for(empty_database_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        post_entries(conn, [
            JournalEntryDraft("era", date(2026, 3, 5), "ERA T1 CLM1", "claim payment", "CLM1", "era:T1:CLM1",
                              (debit("undeposited_funds", Decimal("1250.00")),
                               credit("ar_insurance", Decimal("1250.00")))),
            JournalEntryDraft("bank", date(2026, 4, 2), "deposit D1", "bank deposit", "D1", "bank:D1",
                              (debit("bank", Decimal("1250.00")), credit("undeposited_funds", Decimal("1250.00")))),
        ], actor="job:test", now=datetime(2026, 4, 2, tzinfo=UTC))
    yield engine
    engine.dispose()


def _ok(*args: str) -> str:
    result = runner.invoke(app, ["ledger", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_trial_balance_as_json(database: Engine) -> None:
    report = json.loads(_ok("trial-balance", "--json"))
    assert (report["debits"], report["credits"], report["balanced"]) == ("2500.00", "2500.00", True)
    assert {row["number"]: row["balance"] for row in report["accounts"]} == {
        "1000": "1250.00", "1010": "0.00", "1100": "-1250.00"}
    march = json.loads(_ok("trial-balance", "--json", "--as-of", "2026-03-31"))
    assert march["as_of"] == "2026-03-31" and march["debits"] == "1250.00"


def test_trial_balance_as_a_table(database: Engine) -> None:
    text = _ok("trial-balance")
    assert "Operating bank account" in text and "2,500.00" in text and "balanced" in text


def test_a_bad_date_is_a_usage_error(database: Engine) -> None:
    result = runner.invoke(app, ["ledger", "trial-balance", "--as-of", "31/03/2026"])
    assert result.exit_code == 2 and "ISO date" in result.output


def test_accounts_lists_the_default_chart(database: Engine) -> None:
    text = _ok("accounts")
    assert "ar_insurance" in text and "contra_revenue" in text and "Unapplied cash" in text


def test_export_writes_the_journal_csv(database: Engine, tmp_path: Path) -> None:
    out = tmp_path / "era.csv"
    assert "2 line(s) written" in _ok("export", "--journal", "era", "--from", "2026-03-01", "--to", "2026-03-31",
                                      "-o", str(out))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("entry_id,posting_date,period,journal,line_no,account_number")
    assert ",era,1,1010,Undeposited funds,1250.00,0.00,ERA T1 CLM1," in lines[1]
    assert len(lines) == 3


def test_close_period_then_postings_are_refused(database: Engine) -> None:
    assert "fiscal period 2026-03 closed" in _ok("close-period", "2026-03", "--as", "controller")
    periods = _ok("periods", "--year", "2026")
    assert "2026-03" in periods and "closed" in periods and "user:controller" in periods and "2026-12" in periods
    again = runner.invoke(app, ["ledger", "close-period", "2026-03", "--as", "controller"])
    assert again.exit_code != 0 and isinstance(again.exception, StaleStateError)
    assert "reopened" in _ok("reopen-period", "2026-03", "--as", "controller", "--reason", "late ERA")
