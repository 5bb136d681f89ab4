"""The demo's closing summary: volumes, the KPI engine's clean-claim, first-pass acceptance, denial and
straight-through posting rates over the whole run, open work by queue, and whether the ledger balances, all
read from the stored state."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, func, select

from rcmflow.adapters.store.schema import (
    claims,
    deposits,
    documents,
    event_log,
    remittances,
    submissions,
    utc_now,
)
from rcmflow.domain.money import format_amount
from rcmflow.services.kpis import KpiReport, compute_kpis
from rcmflow.services.ledger import trial_balance
from rcmflow.services.work_items import queue_summary


def _rate(report: KpiReport, key: str) -> str:
    figure = report.value(key)
    return f"{figure.value:.1f} %" if figure is not None and figure.value is not None else "n/a"


def demo_report(conn: Connection) -> KpiReport:
    """The KPI engine's figures over the whole simulated run: as of the last claim event (the simulated clock),
    over a window reaching back to the first claim (``services.kpis`` defines every rate once)."""
    first = conn.execute(select(func.min(claims.c.created_at))).scalar_one()
    last = conn.execute(select(func.max(event_log.c.occurred_at)).where(
        event_log.c.object_type == "claim")).scalar_one()
    if first is None or last is None:
        return compute_kpis(conn, as_of=utc_now())
    return compute_kpis(conn, as_of=last, window_days=max((last - first).days + 1, 1))


def demo_figures(conn: Connection) -> dict[str, Any]:
    """The figures the closing summary shows (also what the demo's tests compare across runs)."""
    captured = conn.execute(select(func.count()).select_from(claims).where(
        claims.c.source_id.is_not(None))).scalar_one()
    report = demo_report(conn)
    payments = report.value("denial_rate")
    states = dict(conn.execute(select(claims.c.state, func.count()).group_by(claims.c.state)).all())
    ledger = trial_balance(conn)
    return {
        "documents": conn.execute(select(func.count()).select_from(documents)).scalar_one(),
        "claims_captured": captured, "claims_by_state": dict(sorted(states.items())),
        "secondary_claims": conn.execute(select(func.count()).select_from(claims).where(
            claims.c.primary_claim_id.is_not(None))).scalar_one(),
        "submissions": conn.execute(select(func.count()).select_from(submissions)).scalar_one(),
        "remittances": conn.execute(select(func.count()).select_from(remittances)).scalar_one(),
        "deposits": conn.execute(select(func.count()).select_from(deposits)).scalar_one(),
        "clean_claim_rate": _rate(report, "clean_claim_rate"),
        "first_pass_acceptance_rate": _rate(report, "first_pass_acceptance_rate"),
        "claim_payments": int(payments.denominator or 0) if payments is not None else 0,
        "denial_rate": _rate(report, "denial_rate"),
        "denial_rate_dollars": _rate(report, "denial_rate_dollars"),
        "denials_by_category": [(category, count, format_amount(amount))
                                for category, count, amount in report.denials_by_category],
        "straight_through_posting_rate": _rate(report, "straight_through_posting_rate"),
        "events": conn.execute(select(func.count()).select_from(event_log)).scalar_one(),
        "open_work": {q.queue: q.open for q in queue_summary(conn, utc_now()) if q.open},
        "ledger_debits": format_amount(ledger.debits), "ledger_balanced": ledger.balanced,
        "insurance_ar": format_amount(ledger.balance_of("ar_insurance")),
        "cash": format_amount(ledger.balance_of("bank")),
    }


def print_demo_summary(console: Console, figures: dict[str, Any]) -> None:
    table = Table(title="The network's revenue cycle", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = (
        ("documents stored verbatim (charge files, HL7 messages, payer files)", figures["documents"]),
        ("claims captured from the EHRs (FHIR, HL7 v2, CSV)", figures["claims_captured"]),
        ("secondary claims billed after the primary paid", figures["secondary_claims"]),
        ("837 files submitted", figures["submissions"]), ("835 remittances", figures["remittances"]),
        ("bank deposits", figures["deposits"]),
        ("clean-claim rate (no finding at first scrub)", figures["clean_claim_rate"]),
        ("first-pass acceptance rate (277CA)", figures["first_pass_acceptance_rate"]),
        ("denial rate (claim payments / dollars)", f"{figures['denial_rate']} / {figures['denial_rate_dollars']}"),
        ("straight-through posting rate (no work item)", figures["straight_through_posting_rate"]),
        ("insurance A/R still open", figures["insurance_ar"]), ("cash", figures["cash"]),
        ("event log rows", figures["events"]),
        ("ledger", "balanced" if figures["ledger_balanced"] else "[red]NOT BALANCED[/red]"),
    )
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    states = ", ".join(f"{count} {state}" for state, count in figures["claims_by_state"].items())
    console.print(f"claims by state: {states}")
    if figures["denials_by_category"]:
        console.print("denials by CARC category: " + ", ".join(
            f"{category} {count} ({amount})" for category, count, amount in figures["denials_by_category"]))
    work = Table("queue", "open", title="Open work by queue")
    for queue, count in sorted(figures["open_work"].items(), key=lambda item: -item[1]):
        work.add_row(queue, str(count))
    console.print(work)

