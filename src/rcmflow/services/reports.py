"""The operational summary: what arrived, what was posted, what is left, and whether the ledger balances.

Every figure is read from the stored state (documents, claims, remittances, payments, deposits, work items,
ledger), so the same state always gives the same summary: a run killed half-way and run again must end
with the summary of an uninterrupted run. Amounts are exact decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    WORK_ITEM_ACTIVE_STATES,
    claim_payments,
    claims,
    deposits,
    documents,
    remittances,
    work_items,
)
from rcmflow.adapters.store.sql import sum_money, summed_money
from rcmflow.domain.money import format_amount
from rcmflow.services.ledger import trial_balance
from rcmflow.services.remittances import remittance_summary

# Claim payments whose money counts as posted: a reversed original and its (negative) reversal both
# count, so the pair nets to zero and the corrected payment is counted once.
_POSTED_STATES = ("posted", "reversed")


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(query).scalar_one())


def _sum(conn: Connection, column: Any, *conditions: Any) -> Decimal:
    return summed_money(conn, conn.execute(select(sum_money(conn, column)).where(*conditions)).scalar_one())


def summary(conn: Connection, organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, Any]:
    """The summary as plain JSON-ready values (the keys ``rcmflow report summary --json`` prints)."""
    org = organisation_id
    doc_states = dict(conn.execute(select(documents.c.status, func.count()).where(
        documents.c.organisation_id == org).group_by(documents.c.status)).all())
    # A duplicate document is one whose remittances had all been received before in other bytes: it was
    # read, and nothing in it was new. (The same bytes again are the same document, not a duplicate.)
    duplicate_documents = sum(
        1 for (summary_json,) in conn.execute(select(documents.c.summary).where(
            documents.c.organisation_id == org, documents.c.status.in_(("parsed", "reprocessed"))))
        if _is_duplicate(summary_json))
    remits = remittance_summary(conn, org)
    cp = claim_payments
    ledger = trial_balance(conn, organisation_id=org)
    balances = {row.key: row.balance for row in ledger.rows}
    return {
        "documents": {
            "received": sum(doc_states.values()),
            "processed": doc_states.get("parsed", 0) + doc_states.get("reprocessed", 0),
            "failed": doc_states.get("failed", 0),
            "duplicate": duplicate_documents,
        },
        "claims": _count(conn, select(func.count()).select_from(claims).where(claims.c.organisation_id == org)),
        "remittances": remits.remittances,
        "remittance_payment_total": format_amount(remits.payment_total),
        "claim_payments": remits.claim_payments,
        "claim_payments_unmatched": _count(conn, select(func.count()).select_from(cp).where(
            cp.c.organisation_id == org, cp.c.claim_id.is_(None))),
        "payments_posted_total": format_amount(_sum(conn, cp.c.paid, cp.c.organisation_id == org,
                                                    cp.c.state.in_(_POSTED_STATES))),
        "unapplied_cash_total": format_amount(balances.get("unapplied_cash", Decimal("0.00"))),
        "patient_responsibility_total": format_amount(balances.get("ar_patient", Decimal("0.00"))),
        "deposits": _count(conn, select(func.count()).select_from(deposits).where(
            deposits.c.organisation_id == org, deposits.c.direction == "credit")),
        "deposits_reconciled": _count(conn, select(func.count()).select_from(deposits).where(
            deposits.c.organisation_id == org, deposits.c.state == "reconciled")),
        "open_work_items": _count(conn, select(func.count()).select_from(work_items).where(
            work_items.c.organisation_id == org, work_items.c.state.in_(WORK_ITEM_ACTIVE_STATES))),
        "ledger": {"debits": format_amount(ledger.debits), "credits": format_amount(ledger.credits),
                   "balanced": ledger.balanced},
        # Beyond the contract: the breakdowns people ask for next.
        "remittances_by_state": dict(sorted(remits.by_state.items())),
        "claims_by_state": dict(sorted(conn.execute(select(claims.c.state, func.count()).where(
            claims.c.organisation_id == org).group_by(claims.c.state)).all())),
        "claim_payments_by_state": dict(sorted(conn.execute(select(cp.c.state, func.count()).where(
            cp.c.organisation_id == org).group_by(cp.c.state)).all())),
        "remittances_reconciled": _count(conn, select(func.count()).select_from(remittances).where(
            remittances.c.organisation_id == org, remittances.c.state == "reconciled")),
    }


def _is_duplicate(summary_json: Any) -> bool:
    counts = (summary_json or {}).get("remittances") if isinstance(summary_json, dict) else None
    return bool(counts) and counts.get("stored", 0) == 0 and counts.get("duplicate", 0) > 0
