"""``rcmflow report``: the operational summary of what arrived, what was posted and what is left."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

report_app = typer.Typer(help="Reports over the stored state.", no_args_is_help=True)
console = Console()


def _engine() -> Any:
    from rcmflow.entrypoints.cli import _engine as engine  # at call time: cli.py imports this module

    return engine()


@report_app.command("summary")
def summary_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Documents, claims, remittances, posted and unapplied money, deposits, open work, ledger balance."""
    from rcmflow.services.reports import summary

    with _engine().connect() as conn:
        report = summary(conn)
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    print_summary(console, report)


@report_app.command("reconciliation")
def reconciliation_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Deposits by state, posted remittances by reconciliation status, deposit matches by method."""
    from rcmflow.services.reconciliation import reconciliation_status

    with _engine().connect() as conn:
        status = reconciliation_status(conn)
    if as_json:
        sys.stdout.write(json.dumps(status) + "\n")
        return
    table = Table("", "status", "count", "amount", "open", title="Reconciliation")
    for state, row in status["deposits"]["by_state"].items():
        table.add_row("deposits", state, str(row["count"]), row["amount"], row["open_amount"])
    for state, row in status["remittances"].items():
        table.add_row("remittances", state, str(row["count"]), row["amount"], row["open_amount"])
    for method, row in status["matches"].items():
        table.add_row("matches", method, str(row["count"]), row["amount"], "")
    console.print(table)


def print_summary(out: Console, report: dict[str, Any]) -> None:
    """The summary as one table (also the end of ``rcmflow demo``)."""
    docs, ledger = report["documents"], report["ledger"]
    table = Table("figure", "value", title="Summary", show_header=False)
    table.add_row("documents", f"{docs['received']} received, {docs['processed']} processed, "
                               f"{docs['failed']} failed, {docs['duplicate']} duplicate")
    table.add_row("claims", str(report["claims"]))
    table.add_row("remittances", f"{report['remittances']} (payments {report['remittance_payment_total']})")
    table.add_row("claim payments", f"{report['claim_payments']} ({report['claim_payments_unmatched']} unmatched)")
    table.add_row("payments posted", report["payments_posted_total"])
    table.add_row("unapplied cash", report["unapplied_cash_total"])
    table.add_row("patient responsibility", report["patient_responsibility_total"])
    table.add_row("deposits", f"{report['deposits']} ({report['deposits_reconciled']} reconciled)")
    table.add_row("open work items", str(report["open_work_items"]))
    style = "green" if ledger["balanced"] else "red"
    table.add_row("ledger", f"[{style}]debits {ledger['debits']} = credits {ledger['credits']}[/{style}]"
                  if ledger["balanced"] else f"[red]debits {ledger['debits']} != credits {ledger['credits']}[/red]")
    out.print(table)
