"""Read-only views of remittances, deposits and journal entries for the API: keyset pages, money as decimal
strings, claim payments limited to the facilities a caller may see."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from rcmflow.adapters.store.schema import (
    claim_payments,
    claims,
    deposit_matches,
    deposits,
    journal_entries,
    journal_lines,
    ledger_accounts,
    remittances,
)
from rcmflow.adapters.store.sql import keyset_page
from rcmflow.errors import NotFoundError


def _plain(row: Any) -> dict[str, Any]:
    return {key: str(value) if isinstance(value, Decimal) else value for key, value in row._mapping.items()}


_REMITTANCE_COLUMNS = [c for c in remittances.c if c.name != "content_digest"]


def list_remittances(conn: Connection, organisation_id: str, *, state: str | None = None, payer_id: str | None = None,
                     after: tuple[Any, int] | None = None, limit: int = 50, cash: Any = None) -> list[dict[str, Any]]:
    """Remittances newest first; with ``cash`` (``cash_search.era_cash_by_remittance``) only those with ERA cash
    posted in its window, each with that amount (``cash_posted``, as the subquery sums it)."""
    query = select(*_REMITTANCE_COLUMNS).where(remittances.c.organisation_id == organisation_id)
    if cash is not None:
        query = query.add_columns(cash.c.amount.label("cash_posted")).join(
            cash, cash.c.remittance_id == remittances.c.id)
    if state is not None:
        query = query.where(remittances.c.state == state)
    if payer_id is not None:
        query = query.where(remittances.c.payer_id == payer_id)
    query = keyset_page(query, remittances.c.id, remittances.c.id, descending=True, after=after, limit=limit)
    return [_plain(row) for row in conn.execute(query)]


def remittance_detail(conn: Connection, organisation_id: str, remittance_id: int,
                      facilities: Sequence[str] | None) -> dict[str, Any]:
    """A remittance, its claim payments (those of claims in ``facilities``; None: all) and its deposits."""
    row = conn.execute(select(*_REMITTANCE_COLUMNS).where(remittances.c.id == remittance_id,
                                                         remittances.c.organisation_id == organisation_id)).first()
    if row is None:
        raise NotFoundError(kind="remittance", key=remittance_id)
    cp = claim_payments.c
    query = (select(cp.id, cp.patient_control_number, cp.status, cp.charge, cp.paid, cp.patient_responsibility,
                    cp.payer_claim_control_number, cp.state, cp.claim_id, cp.match_method, cp.match_confidence,
                    cp.expected_allowed, cp.variance, cp.posted_at, claims.c.facility_id)
             .outerjoin(claims, claims.c.id == cp.claim_id)
             .where(cp.remittance_id == remittance_id).order_by(cp.id))
    if facilities is not None:
        query = query.where(claims.c.facility_id.in_(list(facilities)))
    matches = conn.execute(select(deposit_matches.c.deposit_id, deposit_matches.c.amount, deposit_matches.c.method,
                                  deposit_matches.c.confidence)
                           .where(deposit_matches.c.remittance_id == remittance_id)
                           .order_by(deposit_matches.c.deposit_id))
    return {**_plain(row), "claim_payments": [_plain(p) for p in conn.execute(query)],
            "deposits": [_plain(m) for m in matches]}


_DEPOSIT_COLUMNS = [c for c in deposits.c if c.name != "dedup_key"]


def list_deposits(conn: Connection, organisation_id: str, *, state: str | None = None,
                  after: tuple[Any, int] | None = None, limit: int = 50,
                  conditions: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Deposits newest first; ``conditions`` select further (``cash_search.deposits_in_window``)."""
    query = select(*_DEPOSIT_COLUMNS).where(deposits.c.organisation_id == organisation_id, *conditions)
    if state is not None:
        query = query.where(deposits.c.state == state)
    query = keyset_page(query, deposits.c.id, deposits.c.id, descending=True, after=after, limit=limit)
    return [_plain(row) for row in conn.execute(query)]


def list_journal_entries(conn: Connection, organisation_id: str, *, journal: str | None = None,
                         source_type: str | None = None, source_id: str | None = None,
                         after: tuple[Any, int] | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Journal entries newest first, each with its lines (account number and key, debit, credit, memo)."""
    e = journal_entries.c
    query = select(e.id, e.journal, e.period, e.posting_date, e.description, e.source_type, e.source_id,
                   e.reversal_of, e.created_at, e.actor).where(e.organisation_id == organisation_id)
    for column, value in (("journal", journal), ("source_type", source_type), ("source_id", source_id)):
        if value is not None:
            query = query.where(e[column] == value)
    entries = [_plain(row) for row in conn.execute(
        keyset_page(query, e.id, e.id, descending=True, after=after, limit=limit))]
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if entries:
        rows = conn.execute(
            select(journal_lines.c.entry_id, journal_lines.c.line_no, ledger_accounts.c.number.label("account"),
                   ledger_accounts.c.key.label("account_key"), journal_lines.c.debit, journal_lines.c.credit,
                   journal_lines.c.memo)
            .join(ledger_accounts, ledger_accounts.c.id == journal_lines.c.account_id)
            .where(journal_lines.c.entry_id.in_([entry["id"] for entry in entries]))
            .order_by(journal_lines.c.entry_id, journal_lines.c.line_no))
        for row in rows:
            line = _plain(row)
            lines[line.pop("entry_id")].append(line)
    return [{**entry, "lines": lines[entry["id"]]} for entry in entries]
