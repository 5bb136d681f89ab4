"""``rcmflow ledger``: trial balance, chart of accounts, journal export for ERP import, fiscal periods."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.money import format_amount

ledger_app = typer.Typer(help="The built-in double-entry ledger.", no_args_is_help=True)
console = Console()

AsOpt = Annotated[str, typer.Option("--as", help="Who is acting (a user name).", show_default=False)]


def _engine() -> Any:
    from rcmflow.entrypoints.cli import _engine as engine  # at call time: cli.py imports this module

    return engine()


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


def _actor(name: str) -> str:
    return name if ":" in name else f"user:{name}"


@ledger_app.command("trial-balance")
def trial_balance_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Only entries posted on or before this date.",
                                              show_default=False)] = None,
) -> None:
    """Debits, credits and balance per account; exit 1 if debits and credits differ."""
    from rcmflow.services.ledger import ensure_ledger, trial_balance

    with _engine().begin() as conn:
        ensure_ledger(conn)
        report = trial_balance(conn, as_of=_date(as_of))
    if as_json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    else:
        table = Table("number", "account", "type", "debits", "credits", "balance",
                      title=f"Trial balance{f' as of {report.as_of}' if report.as_of else ''}")
        for row in report.rows:
            table.add_row(row.number, row.name, row.type, f"{row.debits:,.2f}", f"{row.credits:,.2f}",
                          f"{row.balance:,.2f} {'Dr' if row.normal_side == 'debit' else 'Cr'}")
        table.add_section()
        table.add_row("", "Total", "", f"{report.debits:,.2f}", f"{report.credits:,.2f}", "")
        console.print(table)
        console.print("[green]balanced[/green]" if report.balanced else
                      f"[red]NOT balanced[/red]: difference {format_amount(report.debits - report.credits)}")
    raise typer.Exit(0 if report.balanced else 1)


@ledger_app.command("accounts")
def accounts_command() -> None:
    """The chart of accounts."""
    from rcmflow.services.ledger import list_accounts

    with _engine().begin() as conn:
        rows = list_accounts(conn)
    table = Table("number", "key", "name", "type", "normal side")
    for row in rows:
        table.add_row(row.number, row.key, row.name, row.account_type, row.normal_side)
    console.print(table)


@ledger_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV file to write.", show_default=False)],
    journal: Annotated[str | None, typer.Option("--journal", help="One journal code (default: all).")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First posting date (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last posting date (YYYY-MM-DD).")] = None,
) -> None:
    """Export journal lines as CSV for ERP import (layout: see rcmflow.services.ledger)."""
    from rcmflow.services.ledger import export_journal_csv

    start, end = _date(date_from), _date(date_to)
    try:
        with _engine().connect() as conn, out.open("w", encoding="utf-8", newline="") as handle:
            count = export_journal_csv(conn, journal, start, end, handle)
    except OSError as exc:
        raise typer.BadParameter(f"{out}: cannot be written ({exc.strerror})") from exc
    console.print(f"{count} line(s) written to {out}")


@ledger_app.command("periods")
def periods_command(
    year: Annotated[int | None, typer.Option(help="One fiscal year (created if missing).")] = None,
) -> None:
    """Fiscal periods and whether they accept postings."""
    from rcmflow.services.fiscal_periods import ensure_periods, list_periods

    with _engine().begin() as conn:
        if year is not None:
            ensure_periods(conn, year)
        periods = list_periods(conn, year=year)
    table = Table("period", "from", "to", "state", "closed at", "closed by")
    for p in periods:
        table.add_row(p.period, p.starts_on.isoformat(), p.ends_on.isoformat(), p.state,
                      p.closed_at.strftime("%Y-%m-%d %H:%M") if p.closed_at else "", p.closed_by or "")
    console.print(table)


@ledger_app.command("close-period")
def close_period_command(
    period: Annotated[str, typer.Argument(help="The period, YYYY-MM.", show_default=False)],
    who: AsOpt,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the event log).")] = None,
) -> None:
    """Close a fiscal period: postings dated in it are refused from now on."""
    from rcmflow.services.fiscal_periods import close_period

    with _engine().begin() as conn:
        close_period(conn, period, actor=_actor(who), now=utc_now(), reason=reason)
    console.print(f"fiscal period {period} closed")


@ledger_app.command("reopen-period")
def reopen_period_command(
    period: Annotated[str, typer.Argument(help="The period, YYYY-MM.", show_default=False)],
    who: AsOpt,
    reason: Annotated[str, typer.Option(help="Why it must be reopened (kept in the event log).",
                                        show_default=False)],
) -> None:
    """Reopen a closed fiscal period for a late correction."""
    from rcmflow.services.fiscal_periods import reopen_period

    with _engine().begin() as conn:
        reopen_period(conn, period, actor=_actor(who), now=utc_now(), reason=reason)
    console.print(f"fiscal period {period} reopened")
