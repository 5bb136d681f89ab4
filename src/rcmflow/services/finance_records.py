"""What the remittance and deposit pages show beyond ``finance_views``: a remittance's provider adjustments (PLB),
the journal entries of everything it caused (its claim payments, its PLB amounts, its deposit matches) with
their lines and totals, and its reconciliation; a deposit with its matches to remittances and its open
reconciliation work. Read-only; money stays Decimal for the templates to format."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from rcmflow.adapters.store.schema import (
    claim_payments,
    deposit_matches,
    deposits,
    journal_entries,
    journal_lines,
    ledger_accounts,
    provider_adjustments,
    remittances,
)
from rcmflow.adapters.store.sql import in_chunks
from rcmflow.domain.codes import CLAIM_STATUS, CLAIM_STATUS_REVERSAL, PAYMENT_METHOD, PROVIDER_ADJUSTMENT_REASON
from rcmflow.domain.posting import CLAIM_PAYMENT_SOURCE, PROVIDER_ADJUSTMENT_SOURCE
from rcmflow.errors import NotFoundError
from rcmflow.services.claim_record import work_items_about
from rcmflow.services.deposits import DEPOSIT_OBJECT
from rcmflow.services.reconciliation import MATCH_SOURCE
from rcmflow.services.remittances import REMITTANCE_OBJECT

ZERO = Decimal("0.00")


def reconciliation_of(state: str, payment_amount: Decimal, reconciled_amount: Decimal) -> str:
    """How much of a remittance's payment the bank has shown (as ``reconciliation_status`` counts it)."""
    if state == "reconciled":
        return "reconciled"
    return "partial" if reconciled_amount > 0 else "unreconciled"


def provider_adjustments_of(conn: Connection, remittance_id: int) -> list[dict[str, Any]]:
    """The remittance's PLB amounts, with their reasons' meanings (positive: the payer withheld money)."""
    p = provider_adjustments.c
    return [{**row._mapping, "meaning": PROVIDER_ADJUSTMENT_REASON.get(row.reason_code.strip().upper(),
                                                                        "reason not in the PLB code list")}
            for row in conn.execute(select(p.id, p.provider_id, p.fiscal_period_date, p.reason_code, p.reference,
                                           p.amount).where(p.remittance_id == remittance_id).order_by(p.id))]


def journal_for_sources(conn: Connection, organisation_id: str, sources: Sequence[tuple[str, Sequence[str]]], *,
                        reversals: Sequence[tuple[str, Sequence[str]]] = ()) -> list[dict[str, Any]]:
    """The journal entries recording these source objects ((source type, ids) pairs), and the reversing entries
    only of the ``reversals`` sources, oldest first, each with its lines (account, debit, credit, memo) and
    totals."""
    e, jl, a = journal_entries.c, journal_lines.c, ledger_accounts.c
    entries: dict[int, dict[str, Any]] = {}
    for only_reversals, pairs in ((False, sources), (True, reversals)):
        for source_type, ids in pairs:
            if not ids:
                continue
            for condition in in_chunks(conn, e.source_id, [str(i) for i in ids]):
                query = (select(e.id, e.journal, e.period, e.posting_date, e.description, e.source_type, e.source_id,
                                e.reversal_of, e.created_at)
                         .where(e.organisation_id == organisation_id, e.source_type == source_type, condition))
                if only_reversals:
                    query = query.where(e.reversal_of.is_not(None))
                for row in conn.execute(query):
                    entries[row.id] = {**row._mapping, "lines": [], "debit": ZERO, "credit": ZERO}
    ids = sorted(entries)
    for condition in in_chunks(conn, jl.entry_id, ids) if ids else ():
        for line in conn.execute(select(jl.entry_id, jl.line_no, a.number, a.name, jl.debit, jl.credit, jl.memo)
                                 .join(ledger_accounts, a.id == jl.account_id).where(condition)
                                 .order_by(jl.entry_id, jl.line_no)):
            entry = entries[line.entry_id]
            entry["lines"].append(dict(line._mapping))
            entry["debit"] += line.debit
            entry["credit"] += line.credit
    return [entries[i] for i in ids]


def _reversed_payments(conn: Connection, remittance_id: int, payments: Sequence[dict[str, Any]]) -> list[str]:
    """The earlier payments of the claims this remittance reverses (CLP02 22): a payer reversal is posted as the
    reversing entry of the original payment's entry, whose source is that original payment."""
    claim_ids = sorted({int(p["claim_id"]) for p in payments if p["status"] == CLAIM_STATUS_REVERSAL and p["claim_id"]})
    if not claim_ids:
        return []
    cp = claim_payments.c
    return [str(i) for i in conn.execute(select(cp.id).where(
        cp.claim_id.in_(claim_ids), cp.remittance_id != remittance_id, cp.status != CLAIM_STATUS_REVERSAL)).scalars()]


def remittance_record(conn: Connection, organisation_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    """What the remittance page adds to ``remittance_detail``: PLB amounts, the journal of its claim payments
    (those the caller sees), PLB and deposit matches with totals, its deposits' bank facts, its reconciliation."""
    remittance_id = detail["id"]
    plb = provider_adjustments_of(conn, remittance_id)
    match_ids = list(conn.execute(select(deposit_matches.c.id).where(
        deposit_matches.c.remittance_id == remittance_id)).scalars())
    journal = journal_for_sources(conn, organisation_id, [
        (REMITTANCE_OBJECT, [str(remittance_id)]),
        (CLAIM_PAYMENT_SOURCE, [str(payment["id"]) for payment in detail["claim_payments"]]),
        (PROVIDER_ADJUSTMENT_SOURCE, [str(row["id"]) for row in plb]),
        (MATCH_SOURCE, [str(i) for i in match_ids])],
        reversals=[(CLAIM_PAYMENT_SOURCE, _reversed_payments(conn, remittance_id, detail["claim_payments"]))])
    deposit_ids = [int(match["deposit_id"]) for match in detail["deposits"]]
    d = deposits.c
    banks = {row.id: row._mapping for row in conn.execute(
        select(d.id, d.value_date, d.amount, d.state, d.bank, d.bank_reference, d.trace_number)
        .where(d.id.in_(deposit_ids)))} if deposit_ids else {}
    payment = Decimal(detail["payment_amount"])
    reconciled = Decimal(detail["reconciled_amount"])
    return {
        "plb": plb, "plb_total": sum((row["amount"] for row in plb), ZERO),
        "journal": journal, "journal_debit": sum((entry["debit"] for entry in journal), ZERO),
        "journal_credit": sum((entry["credit"] for entry in journal), ZERO),
        "deposit_facts": banks, "reconciliation": reconciliation_of(detail["state"], payment, reconciled),
        "open_amount": payment - reconciled, "method_meaning": PAYMENT_METHOD.get(detail["payment_method"], ""),
        "status_meanings": CLAIM_STATUS, "work_items": work_items_about(conn, REMITTANCE_OBJECT, remittance_id),
    }


def remittances_by_id(conn: Connection, organisation_id: str, ids: Sequence[int]) -> dict[int, Any]:
    """Payer, trace number, amount and state of these remittances (for lists that link to them)."""
    if not ids:
        return {}
    r = remittances.c
    return {row.id: row._mapping for row in conn.execute(
        select(r.id, r.payer_id, r.payer_name, r.trace_number, r.payment_amount, r.payment_date, r.state)
        .where(r.organisation_id == organisation_id, r.id.in_(list(ids))))}


def deposit_record(conn: Connection, organisation_id: str, deposit_id: int) -> dict[str, Any]:
    """One bank deposit: its bank facts, its matches to remittances (method, confidence, amount, the remittance's
    payer and trace number), the journal of those matches, and its open reconciliation work."""
    row = conn.execute(select(*[c for c in deposits.c if c.name != "dedup_key"]).where(
        deposits.c.id == deposit_id, deposits.c.organisation_id == organisation_id)).one_or_none()
    if row is None:
        raise NotFoundError(kind="deposit", key=deposit_id)
    m, r = deposit_matches.c, remittances.c
    matches = [dict(match._mapping) for match in conn.execute(
        select(m.id, m.remittance_id, m.amount, m.method, m.confidence, m.created_at, m.actor, r.payer_id,
               r.payer_name, r.trace_number, r.payment_amount, r.state.label("remittance_state"))
        .join(remittances, r.id == m.remittance_id).where(m.deposit_id == deposit_id).order_by(m.id))]
    journal = journal_for_sources(conn, organisation_id, [(MATCH_SOURCE, [str(match["id"]) for match in matches])])
    return {"deposit": dict(row._mapping), "matches": matches, "journal": journal,
            "open_amount": row.amount - row.matched_amount,
            "work_items": work_items_about(conn, DEPOSIT_OBJECT, deposit_id, active_only=True)}

