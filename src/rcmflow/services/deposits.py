"""Bank deposit intake: store the transactions of BAI2 and lockbox files as deposits, each exactly once.

A deposit is identified by its content, not by where it appeared: banks report the same transaction in
the intraday file and again in the prior-day file, and a file can arrive twice. ``deposit_key`` hashes
what the bank says about the transaction (not its line number), and the unique key on (organisation,
dedup key) makes a second report of it a no-op. Identical transactions inside one file (two equal
lockbox items with no reference) are different money: the second and later copies get an occurrence
number in their key, which a re-sent file reproduces.

Credits and debits are both stored (the direction is kept); only credits reconcile against remittances.
Storage is set-based: one INSERT ... ON CONFLICT DO NOTHING for the batch, one insert of its events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, deposits
from rcmflow.adapters.store.sql import insert_ignoring_conflicts
from rcmflow.domain.deposit import Deposit
from rcmflow.domain.money import format_amount
from rcmflow.domain.states import BANK_DEPOSIT
from rcmflow.services.events import Event, append_events
from rcmflow.services.transitions import StateTable, register_state_table

DEPOSIT_OBJECT = "bank deposit"
ACTIVITY_RECEIVE = "receive bank deposit"

register_state_table(DEPOSIT_OBJECT, StateTable(deposits))


@dataclass(frozen=True, slots=True)
class DepositStoreResult:
    """What one store call did: ids of the new deposits (input order), and how many inputs were already
    stored."""

    stored: tuple[int, ...]
    duplicates: int


def deposit_key(deposit: Deposit) -> str:
    """SHA-256 of what identifies a bank transaction: account, value date, direction, amount, type code,
    references, trace and check numbers, lockbox batch and text (not the line, not the file)."""
    fields = [
        deposit.account, deposit.value_date.isoformat() if deposit.value_date else "", deposit.direction,
        format_amount(deposit.amount), deposit.type_code, deposit.bank_reference, deposit.customer_reference,
        deposit.trace_number, deposit.check_number, deposit.batch, deposit.text,
    ]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


def _keys(items: Sequence[Deposit]) -> list[str]:
    """One key per item; the n-th repeat of a key within the batch gets its own key (see module doc)."""
    seen: dict[str, int] = {}
    keys: list[str] = []
    for item in items:
        base = deposit_key(item)
        occurrence = seen.get(base, 0)
        seen[base] = occurrence + 1
        keys.append(base if occurrence == 0 else hashlib.sha256(f"{base}#{occurrence}".encode()).hexdigest())
    return keys


def _fit(column: Column[Any], value: str) -> str | None:
    """Empty text as NULL; text longer than the column cut to fit (bank text is free-form)."""
    length = getattr(column.type, "length", None)
    return (value[:length] if length else value) or None


def store_deposits(
    conn: Connection,
    document_id: int | None,
    items: Sequence[Deposit],
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> DepositStoreResult:
    """Store deposits (credits and debits) in the caller's transaction, skipping those already stored;
    log "receive bank deposit" for each new one."""
    if not items:
        return DepositStoreResult((), 0)
    c = deposits.c
    keys = _keys(items)
    rows = [{
        "organisation_id": organisation_id, "document_id": document_id, "source": _fit(c.source, item.source) or "",
        "bank": _fit(c.bank, item.bank), "account": _fit(c.account, item.account) or "",
        "currency": _fit(c.currency, item.currency) or "USD", "amount": item.amount, "direction": item.direction,
        "value_date": item.value_date, "type_code": _fit(c.type_code, item.type_code),
        "bank_reference": _fit(c.bank_reference, item.bank_reference),
        "customer_reference": _fit(c.customer_reference, item.customer_reference),
        "trace_number": _fit(c.trace_number, item.trace_number),
        "originator_id": _fit(c.originator_id, item.originator_id),
        "payer_name": _fit(c.payer_name, item.payer_name), "check_number": _fit(c.check_number, item.check_number),
        "batch": _fit(c.batch, item.batch), "claim_reference": _fit(c.claim_reference, item.claim_reference),
        "text": _fit(c.text, item.text), "line": item.line, "state": BANK_DEPOSIT.initial, "matched_amount": 0,
        "dedup_key": key, "created_at": now,
    } for item, key in zip(items, keys, strict=True)]
    statement = insert_ignoring_conflicts(conn, deposits, "organisation_id", "dedup_key").returning(
        deposits.c.id, deposits.c.dedup_key)
    # ON CONFLICT DO NOTHING: a deposit stored before (or by a concurrent intake) returns no row.
    inserted = {row.dedup_key: row.id for row in conn.execute(statement, rows)}
    new = [(inserted[key], item) for item, key in zip(items, keys, strict=True) if key in inserted]
    append_events(conn, [
        Event(DEPOSIT_OBJECT, str(deposit_id), BANK_DEPOSIT.initial, ACTIVITY_RECEIVE, actor, occurred_at=now,
              organisation_id=organisation_id,
              attributes={"document_id": document_id, "amount": format_amount(item.amount),
                          "direction": item.direction, "trace_number": item.trace_number or None})
        for deposit_id, item in new
    ])
    return DepositStoreResult(tuple(deposit_id for deposit_id, _ in new), len(items) - len(new))
