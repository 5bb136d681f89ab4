"""The demo's closing summary: volumes, clean-claim rate, denial rate, straight-through posting rate, open
work by queue, and whether the ledger balances, all read from the stored state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, func, select

from rcmflow.adapters.store.schema import (
    claim_payments,
    claims,
    deposits,
    documents,
    event_log,
    remittances,
    scrub_findings,
    submissions,
    utc_now,
    work_items,
)
from rcmflow.domain.money import format_amount
from rcmflow.services.ledger import trial_balance
from rcmflow.services.work_items import queue_summary

# A claim payment touched by a person: a work item on it, or on its claim in a posting queue.
POSTING_QUEUES = ("denials", "underpayments", "posting_exceptions", "unapplied_cash")


def _rate(part: int, whole: int) -> str:
    return f"{Decimal(100 * part) / whole:.1f} %" if whole else "n/a"


def demo_figures(conn: Connection) -> dict[str, Any]:
    """The figures the closing summary shows (also what the demo's tests compare across runs)."""
    captured = conn.execute(select(func.count()).select_from(claims).where(
        claims.c.source_id.is_not(None))).scalar_one()
    first_findings = select(scrub_findings.c.claim_id).where(scrub_findings.c.scrub_number == 1).distinct()
    clean = conn.execute(select(func.count()).select_from(claims).where(
        claims.c.source_id.is_not(None), claims.c.id.not_in(first_findings))).scalar_one()
    payments = conn.execute(select(func.count(), func.coalesce(func.sum(claim_payments.c.charge), 0)).where(
        claim_payments.c.status != "22")).one()
    denied = conn.execute(select(func.count(), func.coalesce(func.sum(claim_payments.c.charge), 0)).where(
        claim_payments.c.status == "4")).one()
    posted = conn.execute(select(func.count()).select_from(claim_payments).where(
        claim_payments.c.state == "posted", claim_payments.c.status != "22")).scalar_one()
    touched_claims = select(work_items.c.object_id).where(work_items.c.object_type == "claim",
                                                          work_items.c.queue.in_(POSTING_QUEUES))
    untouched = conn.execute(select(func.count()).select_from(claim_payments).where(
        claim_payments.c.state == "posted", claim_payments.c.status != "22",
        claim_payments.c.claim_id.is_not(None),
        func.cast(claim_payments.c.claim_id, work_items.c.object_id.type).not_in(touched_claims))).scalar_one()
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
        "clean_claim_rate": _rate(clean, captured),
        "claim_payments": payments[0], "denial_rate": _rate(denied[0], payments[0]),
        "denial_rate_dollars": _rate(int(Decimal(denied[1]) * 100), int(Decimal(payments[1]) * 100)),
        "straight_through_posting_rate": _rate(untouched, posted),
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
        ("denial rate (claim payments / charges)", f"{figures['denial_rate']} / {figures['denial_rate_dollars']}"),
        ("straight-through posting rate", figures["straight_through_posting_rate"]),
        ("insurance A/R still open", figures["insurance_ar"]), ("cash", figures["cash"]),
        ("event log rows", figures["events"]),
        ("ledger", "balanced" if figures["ledger_balanced"] else "[red]NOT BALANCED[/red]"),
    )
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    states = ", ".join(f"{count} {state}" for state, count in figures["claims_by_state"].items())
    console.print(f"claims by state: {states}")
    work = Table("queue", "open", title="Open work by queue")
    for queue, count in sorted(figures["open_work"].items(), key=lambda item: -item[1]):
        work.add_row(queue, str(count))
    console.print(work)

