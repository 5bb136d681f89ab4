"""``rcmflow demo``: a clinic network's X12 and bank traffic through the real pipeline.

Generates the network's claims (837P/837I), acknowledges each claim file (999), adjudicates the
claims as each payer would and writes the remittances (835), a later ERA with reversals, corrected
payments and a payment for a claim never billed, the bank's BAI2 file of the deposits, and one truncated
transmission as real life does. Then stores every file verbatim, parses it, stores its claims, remittances
and deposits, matches and posts the payments to the ledger, reconciles the deposits, and prints what
happened. Nothing is mocked: the files are written by the writers and read back by the readers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Connection, Engine, func, select

from rcmflow.adapters.store.control_numbers import StoredControlNumbers
from rcmflow.adapters.store.schema import documents, event_log, utc_now
from rcmflow.domain.deposit import Deposit
from rcmflow.domain.money import ZERO, format_amount
from rcmflow.entrypoints.cli_report import print_summary
from rcmflow.formats.bai2_write import AccountActivity, BankGroup, write_bai2
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.formats.x12.ts837_write import write_837_interchange
from rcmflow.formats.x12.ts999_write import write_999
from rcmflow.formats.x12.writing import Party
from rcmflow.services.demo_data import Network, build_network
from rcmflow.services.intake import IngestResult
from rcmflow.services.posting import PostingResult
from rcmflow.services.processing import ingest_and_post, process_pending
from rcmflow.services.reports import summary
from rcmflow.services.work_items import queue_summary

CLINIC = Party("RCMFLOWDEMO")


@dataclass(frozen=True)
class DemoFile:
    """One generated file and what it is."""

    path: Path
    kind: str


def write_files(network: Network, out: Path, conn: Connection, progress: Progress) -> list[DemoFile]:
    """Write every claim file, its 999, every remittance, and one truncated transmission; control
    numbers come from the store, so a second demo run never reuses an ISA13."""
    out.mkdir(parents=True, exist_ok=True)
    numbers = StoredControlNumbers(conn, CLINIC.id)
    files: list[DemoFile] = []
    task = progress.add_task("writing X12 files", total=len(network.batches) + len(network.remittances))
    for facility, payer, batch in network.batches:
        stem = f"{facility.name.split()[0].lower()}-{payer.payer_id}-{batch.control_number}"
        claims_path = out / f"{stem}.837{'i' if batch.claim_type == 'I' else 'p'}"
        text = write_837_interchange([batch], CLINIC, Party(payer.payer_id), numbers)
        claims_path.write_text(text)
        files.append(DemoFile(claims_path, "claims"))
        ack_path = out / f"{stem}.999"
        ack_path.write_text(write_999(parse(text.encode(), strict=True),
                                      control_numbers=StoredControlNumbers(conn, payer.payer_id)))
        files.append(DemoFile(ack_path, "acknowledgment"))
        progress.advance(task)
    for payer, remittance in network.remittances:
        path = out / f"era-{payer.payer_id}-{remittance.control_number}.835"
        path.write_text(write_835_interchange([remittance], Party(payer.payer_id), CLINIC,
                                              StoredControlNumbers(conn, payer.payer_id)))
        files.append(DemoFile(path, "remittance"))
        progress.advance(task)
    # A transmission cut off mid-file, as a dropped SFTP session leaves it: it must be kept and flagged.
    source = next(f.path for f in files if f.kind == "remittance")
    data = source.read_bytes()
    cut = out / f"{source.stem}-truncated.835"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    files.append(DemoFile(cut, "remittance"))
    for payer, remittance in network.follow_ups:
        path = out / f"era-{payer.payer_id}-{remittance.control_number}-reprocessed.835"
        path.write_text(write_835_interchange([remittance], Party(payer.payer_id), CLINIC,
                                              StoredControlNumbers(conn, payer.payer_id)))
        files.append(DemoFile(path, "remittance"))
    if network.deposits:
        # One group per as-of date: a BAI2 16 record has no date of its own, its group's date is its value date.
        by_day: dict[date, list[Deposit]] = {}
        for deposit in network.deposits:
            by_day.setdefault(deposit.value_date or date.today(), []).append(deposit)
        day = max(by_day)
        bank, account = network.deposits[0].bank, network.deposits[0].account
        path = out / f"bank-{day:%Y%m%d}.bai"
        path.write_bytes(write_bai2(bank, CLINIC.id, f"{day:%y%m%d}01", datetime.combine(day, time(6, 30)),
                                    [BankGroup(bank, as_of, (AccountActivity(account, tuple(items)),))
                                     for as_of, items in sorted(by_day.items())]))
        files.append(DemoFile(path, "bank"))
    return files


def ingest_files(engine: Engine, files: list[DemoFile], progress: Progress) -> tuple[list[IngestResult],
                                                                                    PostingResult]:
    """Store and read every file, one transaction per file (a bad file never blocks the others), posting each
    ERA's payments as soon as it is stored."""
    results = []
    posted = PostingResult()
    task = progress.add_task("storing, reading, posting", total=len(files))
    for demo_file in files:
        result = ingest_and_post(engine, demo_file.path.read_bytes(), filename=demo_file.path.name, channel="demo",
                                 actor="system:demo")
        if result.posting is not None:
            posted.add(result.posting)
        results.append(result)
        progress.advance(task)
    return results, posted


def run_demo(console: Console, engine: Engine, out: Path, *, claims: int, seed: int) -> None:
    """Generate, write, store, parse, post, reconcile and report."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating the network", total=None)
        network = build_network(claims, seed)
        progress.remove_task(task)
        with engine.begin() as conn:
            files = write_files(network, out, conn, progress)
        results, posting = ingest_files(engine, files, progress)
        task = progress.add_task("applying unapplied cash, reconciling", total=None)
        processed = process_pending(engine, actor="system:demo")
        progress.remove_task(task)
    _report(console, network, files, results, engine, out)
    posting.add(processed.posting)
    console.print(f"posting: {posting.matched} claim payments matched and posted ({posting.denied} denied, "
                  f"{posting.reversals} reversals, {posting.underpayments} underpaid against contract), "
                  f"{posting.unapplied} unapplied; {posting.entries} journal entries; "
                  f"{processed.reconciliation.matches} deposit matches")
    with engine.connect() as conn:
        print_summary(console, summary(conn))


def _report(console: Console, network: Network, files: list[DemoFile], results: list[IngestResult],
            engine: Engine, out: Path) -> None:
    table = Table(title=f"X12 files written to {out}/ and stored")
    for column in ("doc", "file", "type", "claims", "amount", "status", "errors"):
        table.add_column(column, justify="right" if column in ("doc", "claims", "amount", "errors") else "left",
                         overflow="fold")
    problems: list[str] = []
    for demo_file, result in zip(files, results, strict=True):
        if demo_file.kind == "bank":
            style = "red" if result.status == "failed" else "green"
            table.add_row(str(result.document_id), demo_file.path.name, result.detected_type,
                          str(result.summary.get("deposits", "")), str(result.summary.get("deposit_total", "")),
                          f"[{style}]{result.status}[/{style}]", str(len(result.summary.get("errors", []))))
            continue
        transactions = result.summary.get("transactions", [])
        claim_count = sum(tx.get("claims", 0) for tx in transactions)
        amount = sum((Decimal(tx.get("payment_amount") or tx.get("total_charge") or "0") for tx in transactions),
                     ZERO)
        errors = result.summary.get("errors", [])
        problems += [f"{demo_file.path.name} segment {e['segment_index']} {e['segment_id'] or ''}: {e['message']}"
                     for e in errors]
        style = "red" if result.status == "failed" else "green"
        table.add_row(str(result.document_id), demo_file.path.name, result.detected_type,
                      str(claim_count) if claim_count else "", format_amount(amount) if amount else "",
                      f"[{style}]{result.status}[/{style}]", str(len(errors)))
    console.print(table)
    for problem in problems:
        console.print(f"[red]error[/red] {problem}", highlight=False)
    _money(console, network)
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(documents.c.status, func.count()).group_by(documents.c.status)).all())
        events = conn.execute(select(func.count()).select_from(event_log)).scalar_one()
    with engine.connect() as conn:
        backlog = [q for q in queue_summary(conn, utc_now()) if q.open]
    for queue in backlog:
        console.print(f"work queue [bold]{queue.queue}[/bold]: {queue.open} open, {queue.overdue} overdue "
                      f"(see [bold]rcmflow queues[/bold] and [bold]rcmflow work list --queue {queue.queue}[/bold])")
    kinds = Counter(f.kind for f in files)
    console.print(f"document store: {sum(statuses.values())} documents "
                  f"({', '.join(f'{n} {status}' for status, n in sorted(statuses.items()))}); "
                  f"event log: {events} events")
    console.print(f"files: {kinds['claims']} claim files, {kinds['acknowledgment']} acknowledgments, "
                  f"{kinds['remittance']} remittances, {kinds['bank']} bank file. Inspect any with "
                  f"[bold]rcmflow x12 inspect {files[0].path}[/bold]")


def _money(console: Console, network: Network) -> None:
    billed = sum((batch.total_charge for _, _, batch in network.batches), ZERO)
    claims = [claim for _, remittance in network.remittances for claim in remittance.claims]
    paid = sum((claim.paid for claim in claims), ZERO)
    patient = sum((claim.patient_responsibility or ZERO for claim in claims), ZERO)
    denied = [claim for claim in claims if claim.status == "4"]
    contractual = sum((adj.amount for claim in claims for line in claim.service_payments
                       for adj in line.adjustments if adj.group == "CO" and adj.reason == "45"), ZERO)
    plb = sum((remit.provider_adjustment_total for _, remit in network.remittances), ZERO)
    deposits = sum((remit.payment_amount for _, remit in network.remittances), ZERO)
    table = Table(title="Revenue cycle, as the payers adjudicated it")
    table.add_column("measure")
    table.add_column("amount", justify="right")
    for label, value in (("billed", billed), ("contractual allowance (CO-45)", contractual),
                         ("patient responsibility", patient), ("paid by payers on claims", paid),
                         ("provider-level adjustments (PLB)", -plb), ("deposited (sum of BPR02)", deposits)):
        table.add_row(label, format_amount(value))
    table.add_row("claims denied", f"{len(denied)} of {len(claims)}")
    console.print(table)
