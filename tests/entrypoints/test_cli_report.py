"""``rcmflow report summary``: the JSON contract, figures that agree with what was sent, and a summary that
re-ingesting (the same bytes, or the same remittance resent in other envelopes) leaves unchanged."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress
from sqlalchemy import select
from typer.testing import CliRunner

from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.adapters.store.schema import remittances
from rcmflow.domain.money import ZERO
from rcmflow.entrypoints.cli import app
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers, Party
from rcmflow.services.demo_data import Network, build_network
from rcmflow.services.x12_traffic import CLINIC, write_files

runner = CliRunner()

CLAIMS = 40
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
CONTRACT = {
    "documents": dict, "claims": int, "remittances": int, "remittance_payment_total": str, "claim_payments": int,
    "claim_payments_unmatched": int, "payments_posted_total": str, "unapplied_cash_total": str,
    "patient_responsibility_total": str, "deposits": int, "deposits_reconciled": int, "open_work_items": int,
    "ledger": dict,
}
AMOUNTS = ("remittance_payment_total", "payments_posted_total", "unapplied_cash_total", "patient_responsibility_total")


@dataclass(frozen=True)
class Sent:
    """A generated network and the folder its files were written to (837s, 999s, 835s, BAI2, one cut 835)."""

    network: Network
    folder: Path
    files: int


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    network = build_network(CLAIMS, seed=11)
    base = tmp_path_factory.mktemp("network")
    # The writers draw control numbers from a store; a scratch one, not the database under test.
    scratch = create_engine_for(f"sqlite:///{base / 'control-numbers.db'}")
    ensure_schema(scratch)
    with scratch.begin() as conn, Progress(disable=True) as progress:
        files = write_files(network, base / "inbox", conn, progress)
    scratch.dispose()
    return Sent(network, base / "inbox", len(files))


@pytest.fixture
def database(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    return empty_database_url


def _ingest(*paths: Path) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["ingest", *map(str, paths), "--json"])
    assert result.exit_code in (0, 1), result.output  # 1: a file could not be read (the cut transmission)
    return json.loads(result.stdout)


def _summary() -> dict[str, Any]:
    result = runner.invoke(app, ["report", "summary", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _stored_bpr02_total(url: str) -> Decimal:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            amounts = conn.execute(select(remittances.c.payment_amount)).scalars().all()
    finally:
        engine.dispose()
    return sum((Decimal(str(amount)).quantize(Decimal("0.01")) for amount in amounts), ZERO)


def test_summary_json_has_the_contract_keys_and_the_figures_of_what_was_sent(sent: Sent, database: str) -> None:
    results = _ingest(sent.folder)
    report = _summary()

    assert set(CONTRACT) <= set(report)
    for key, kind in CONTRACT.items():
        assert isinstance(report[key], kind) and not isinstance(report[key], bool), key
    assert set(report["documents"]) >= {"received", "processed", "failed", "duplicate"}
    assert set(report["ledger"]) >= {"debits", "credits", "balanced"}
    for amount in (*(report[key] for key in AMOUNTS), report["ledger"]["debits"], report["ledger"]["credits"]):
        assert AMOUNT.match(amount), amount

    # Documents: every file written, the cut transmission the only failure, nothing sent twice.
    assert len(results) == sent.files
    assert report["documents"] == {"received": sent.files, "processed": sent.files - 1, "failed": 1, "duplicate": 0}
    assert [Path(r["file"]).name for r in results if r["status"] == "failed"] == [
        name for name in (Path(r["file"]).name for r in results) if name.endswith("-truncated.835")]

    # Money, computed from what the payers sent (the stray payment is for a claim never billed).
    network = sent.network
    billed = {claim.patient_control_number for _, _, batch in network.batches for claim in batch.claims}
    sent_remits = [remittance for _, remittance in (*network.remittances, *network.follow_ups)]
    payments = [payment for remittance in sent_remits for payment in remittance.claims]
    matched = [p for p in payments if p.patient_control_number in billed]
    stray = [p for p in payments if p.patient_control_number not in billed]
    assert len(stray) == 1  # the network's payment for a claim never billed
    bpr02 = sum((remittance.payment_amount for remittance in sent_remits), ZERO)
    assert report["claims"] == CLAIMS
    assert report["remittances"] == len(sent_remits)
    assert report["remittance_payment_total"] == str(bpr02) == str(_stored_bpr02_total(database))
    assert (report["claim_payments"], report["claim_payments_unmatched"]) == (len(payments), 1)
    assert report["payments_posted_total"] == str(sum((p.paid for p in matched), ZERO))
    assert report["unapplied_cash_total"] == str(stray[0].paid)
    assert report["patient_responsibility_total"] == str(
        sum((p.patient_responsibility or ZERO for p in matched), ZERO))

    # Deposits: every bank credit; at least those whose trace and amount equal a remittance's reconcile, and
    # the wire that pays no remittance does not.
    credits = [deposit for deposit in network.deposits if deposit.is_credit]
    exact = sum(1 for d in credits if (d.trace_number, d.amount) in {(r.trace_number, r.payment_amount)
                                                                    for r in sent_remits})
    assert report["deposits"] == len(credits)
    assert exact <= report["deposits_reconciled"] < report["deposits"]
    # At least the unreadable file and the unapplied payment wait for a person.
    assert report["open_work_items"] >= 2
    ledger = report["ledger"]
    assert ledger["balanced"] is True and ledger["debits"] == ledger["credits"] and ledger["debits"] != "0.00"


def test_summary_without_json_prints_the_table(sent: Sent, database: str) -> None:
    _ingest(sent.folder)
    report = _summary()
    result = runner.invoke(app, ["report", "summary"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    docs, ledger = report["documents"], report["ledger"]
    assert "Summary" in text
    assert f"{docs['received']} received, {docs['processed']} processed, 1 failed, 0 duplicate" in text
    assert f"{report['remittances']} (payments {report['remittance_payment_total']})" in text
    assert f"{report['claim_payments']} (1 unmatched)" in text
    assert f"debits {ledger['debits']} = credits {ledger['credits']}" in text
    for key in ("payments_posted_total", "unapplied_cash_total", "patient_responsibility_total"):
        assert report[key] in text


def test_ingesting_the_same_folder_again_changes_nothing(sent: Sent, database: str) -> None:
    first = _ingest(sent.folder)
    before = _summary()
    again = _ingest(sent.folder)
    assert all(result["new"] for result in first)
    assert [result["new"] for result in again] == [False] * sent.files
    assert [r["document_id"] for r in again] == [r["document_id"] for r in first]
    assert _summary() == before


def test_a_remittance_resent_in_other_envelopes_is_one_duplicate_document_and_moves_no_money(
        sent: Sent, database: str, tmp_path: Path) -> None:
    _ingest(sent.folder)
    before = _summary()
    payer, remittance = sent.network.remittances[1]
    # Same remittance, other ISA13/GS06/ST02 and another creation time: different bytes, a new document.
    resend = tmp_path / "resend.835"
    resend.write_text(write_835_interchange([remittance], Party(payer.payer_id), CLINIC,
                                            CountingControlNumbers(start=700_000)))
    assert resend.read_bytes() != next(sent.folder.glob(f"era-{payer.payer_id}-{remittance.control_number}.835"))\
        .read_bytes()

    [result] = _ingest(resend)
    after = _summary()

    assert (result["status"], result["new"]) == ("parsed", True)
    assert result["remittances"] == {"stored": 0, "duplicate": 1, "conflict": 0}
    docs = before["documents"]
    assert after["documents"] == {**docs, "received": docs["received"] + 1, "processed": docs["processed"] + 1,
                                  "duplicate": docs["duplicate"] + 1}
    unchanged = {key: value for key, value in before.items() if key != "documents"}
    assert {key: after[key] for key in unchanged} == unchanged
