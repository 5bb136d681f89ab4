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
from sqlalchemy import func, select
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


# ---- rcmflow report kpis ---------------------------------------------------------------------------------------

def _kpis(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["report", "kpis", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_kpis_json_has_every_kpi_and_agrees_with_the_ledger(sent: Sent, database: str) -> None:
    from rcmflow.domain.kpis import AGING_BUCKETS, KPIS
    from rcmflow.services.ledger import trial_balance

    _ingest(sent.folder)
    body = _kpis()
    assert set(body) == {"as_of", "window_start", "window_days", "by", "values", "aging", "denials_by_category"}
    assert body["window_days"] == 30 and body["by"] is None
    totals = {v["key"]: v for v in body["values"] if v["group"] is None}
    assert list(totals) == list(KPIS) and len(body["values"]) == len(KPIS)
    assert [(a["subject"], a["bucket"]) for a in body["aging"]] == [
        (subject, bucket) for subject in ("claims", "ar", "work_items") for bucket in AGING_BUCKETS]
    engine = create_engine_for(database)
    try:
        with engine.connect() as conn:
            insurance_ar = trial_balance(conn).balance_of("ar_insurance")
    finally:
        engine.dispose()
    assert Decimal(totals["ar_balance"]["value"]) == insurance_ar
    assert sum(Decimal(a["amount"]) for a in body["aging"] if a["subject"] == "ar") == insurance_ar
    # The remittances were received just now: the window holds every claim payment; a payer denies some.
    denials = totals["denial_rate"]
    assert int(denials["denominator"]) > 0 and Decimal(denials["value"]) > 0
    assert all(AMOUNT.match(row["amount"]) for row in body["denials_by_category"])
    stp = totals["straight_through_posting_rate"]
    assert 0 <= int(stp["numerator"]) <= int(stp["denominator"])


@pytest.fixture
def kpi_story(database: str) -> None:
    """Claims captured 06-29 and 06-30: P1 at F1 (a finding) and F2 (clean), P2 at five more facilities (clean)."""
    from tests.services.test_kpis import add_claim, at

    engine = create_engine_for(database)
    ensure_schema(engine)
    with engine.begin() as conn:
        add_claim(conn, facility="F1", payer="P1", state="scrubbed", created=at(6, 29), total="100.00", findings=[1])
        add_claim(conn, facility="F2", payer="P1", state="ready", created=at(6, 30, 9), total="50.00")
        for number in range(3, 8):
            add_claim(conn, facility=f"F{number}", payer="P2", state="ready", created=at(6, 29), total="10.00")
    engine.dispose()


def test_kpis_by_payer_as_of_a_day(kpi_story: None) -> None:
    body = _kpis("--by", "payer", "--as-of", "2026-06-30", "--window", "7")
    assert (body["as_of"], body["window_days"], body["by"]) == ("2026-06-30T23:59:59.999999+00:00", 7, "payer")
    clean = {v["group"]: v["value"] for v in body["values"] if v["key"] == "clean_claim_rate"}
    # 6 of 7 captured claims clean: 85.71 %; P1 1 of 2; P2 5 of 5.
    assert clean == {None: "85.71", "P1": "50.00", "P2": "100.00"}
    result = runner.invoke(app, ["report", "kpis", "--by", "payer", "--as-of", "2026-06-30"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    # Two payers: a row per KPI, a column per payer.
    assert "KPIs by payer" in result.stdout and "Clean-claim rate" in result.stdout
    assert "85.71 %" in result.stdout and "P2" in result.stdout and "Aging" in result.stdout
    # Seven facilities: a row per facility.
    result = runner.invoke(app, ["report", "kpis", "--by", "facility", "--as-of", "2026-06-30"],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "│ F7 " in result.stdout and "│ total " in result.stdout


def test_kpis_table_and_snapshot(kpi_story: None, database: str) -> None:
    from rcmflow.adapters.store.schema import kpi_snapshots

    result = runner.invoke(app, ["report", "kpis", "--as-of", "2026-06-30", "--snapshot"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Open claims" in result.stdout and "Denials by category" not in result.stdout
    written = int(re.search(r"snapshot of 2026-06-30: (\d+) rows", result.stdout)[1])  # type: ignore[index]
    again = runner.invoke(app, ["report", "kpis", "--json", "--as-of", "2026-06-30", "--snapshot"])
    assert again.exit_code == 0, again.output
    json.loads(again.stdout)  # the message goes to stderr: stdout stays one JSON object
    engine = create_engine_for(database)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(kpi_snapshots)).scalar_one() == written
    finally:
        engine.dispose()


@pytest.mark.parametrize(("args", "message"), [
    (["--by", "colour"], "facility, payer, department, queue, exception_type"),
    (["--as-of", "30/06/2026"], "YYYY-MM-DD"),
    (["--window", "0"], "--window"),
])
def test_kpis_refuses_what_it_cannot_answer(database: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["report", "kpis", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in result.output
