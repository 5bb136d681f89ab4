"""``rcmflow report``: the operational summary of what arrived, what was posted and what is left, the
reconciliation status, and the KPIs of the control tower."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from rcmflow.services.kpis import KpiReport

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


@report_app.command("kpis")
def kpis_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Slice by facility, payer, department, queue or "
                                           "exception_type.", show_default=False)] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="The figures at the end of this day (YYYY-MM-DD) "
                                              "[default: now].", show_default=False)] = None,
    window: Annotated[int, typer.Option("--window", help="Days the rates and latencies cover.", min=1,
                                        max=3660)] = 30,
    snapshot: Annotated[bool, typer.Option("--snapshot", help="Also store the day's snapshot (every KPI, total "
                                           "and per dimension) for the trends.")] = False,
) -> None:
    """The KPIs: backlogs and aging, clean-claim, first-pass, denial and straight-through rates, days in A/R,
    latencies, SLA breaches, rework, integration failures, cash posted versus deposited (docs/kpis.md)."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.domain.kpis import DIMENSIONS
    from rcmflow.services.kpi_snapshots import snapshot_as_of, snapshot_kpis
    from rcmflow.services.kpis import compute_kpis

    if by is not None and by not in DIMENSIONS:
        raise typer.BadParameter(f"{by!r} is not a dimension: use one of {', '.join(DIMENSIONS)}", param_hint="--by")
    try:
        day = date.fromisoformat(as_of) if as_of is not None else utc_now().date()
    except ValueError:
        raise typer.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD)", param_hint="--as-of") from None
    moment = snapshot_as_of(day) if as_of is not None else utc_now()
    engine = _engine()
    with engine.connect() as conn:
        report = compute_kpis(conn, as_of=moment, window_days=window, by=by)
    written = None
    if snapshot:
        with engine.begin() as conn:
            written = snapshot_kpis(conn, day=day)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict()) + "\n")
        if written is not None:
            Console(stderr=True).print(f"snapshot of {day.isoformat()}: {written} rows")
        return
    print_kpis(console, report)
    if written is not None:
        console.print(f"snapshot of {day.isoformat()}: {written} rows")


def _figure(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "–"
    return {"percent": f"{value:.2f} %", "usd": f"{value:,.2f}", "count": f"{value:,.0f}",
            "hours": f"{value:.2f} h", "days": f"{value:.2f} d"}[unit]


def print_kpis(out: Console, report: KpiReport) -> None:
    """The KPIs as tables: every KPI (per group with ``--by``), aging, denials by CARC category."""
    from rcmflow.domain.kpis import AGING_BUCKETS, KPIS

    window = f"{report.window_start:%Y-%m-%d %H:%M} to {report.as_of:%Y-%m-%d %H:%M} UTC"
    if report.by is None:
        table = Table("KPI", "value", "numerator", "denominator", "better", title=f"KPIs, {window}")
        for value in report.values:
            kpi = KPIS[value.key]
            table.add_row(kpi.label, _figure(value.value, kpi.unit),
                          "" if value.numerator is None else str(value.numerator),
                          "" if value.denominator is None else str(value.denominator), kpi.better)
        out.print(table)
    else:
        _print_sliced(out, report, window)
    aging = Table("subject", *AGING_BUCKETS, title="Aging (count / amount)")
    for subject in ("claims", "ar", "work_items"):
        cells = {row.bucket: row for row in report.aging if row.subject == subject and row.group is None}
        aging.add_row(subject, *(f"{cells[b].count}" + ("" if subject == "work_items" else f" / {cells[b].amount:,.2f}")
                                 for b in AGING_BUCKETS))
    out.print(aging)
    if report.denials_by_category:
        denials = Table("CARC category", "claim payments", "denied", title="Denials by category")
        for category, count, amount in report.denials_by_category:
            denials.add_row(category, str(count), f"{amount:,.2f}")
        out.print(denials)


def _print_sliced(out: Console, report: KpiReport, window: str) -> None:
    """A row per KPI and a column per group when there are few groups; a row per group otherwise."""
    from rcmflow.domain.kpis import KPIS

    keys = [key for key, kpi in KPIS.items() if report.by in kpi.dimensions]
    groups = sorted({v.group for v in report.values if v.group is not None})
    figures = {(v.key, v.group): v.value for v in report.values}
    title = f"KPIs by {report.by}, {window}"
    if len(groups) <= 6:
        table = Table("KPI", "total", *groups, title=title)
        for key in keys:
            unit = KPIS[key].unit
            table.add_row(KPIS[key].label, *(_figure(figures.get((key, g)), unit) for g in (None, *groups)))
    else:
        table = Table(report.by, *(KPIS[key].label for key in keys), title=title)
        for group in (None, *groups):
            table.add_row("total" if group is None else group,
                          *(_figure(figures.get((key, group)), KPIS[key].unit) for key in keys))
    out.print(table)


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
