"""The remittances and deposits behind the control tower's cash figures, with the conditions ``services.kpis``
counts with: the ERA cash posted in a window per remittance (the lines on undeposited funds of the ERA journal,
traced to their remittance through the claim payment or provider-level adjustment that caused them), and the
bank deposits dated in a window with their net amount."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from rcmflow.adapters.store.schema import (
    claim_payments,
    deposits,
    journal_entries,
    journal_lines,
    provider_adjustments,
    remittances,
)
from rcmflow.domain.posting import CLAIM_PAYMENT_SOURCE, PROVIDER_ADJUSTMENT_SOURCE
from rcmflow.services.kpis import KpiScope, deposit_dated, era_cash_lines, signed_deposit


def era_cash_by_remittance(s: KpiScope) -> Any:
    """Subquery ``era_cash`` (remittance_id, amount): the ERA cash ``cash_posted`` adds up in the window, per
    remittance (cents on SQLite); a line whose source is neither a claim payment nor a PLB has no remittance."""
    e, line, cp, plb = journal_entries, journal_lines, claim_payments, provider_adjustments
    source = s.numeric_id(e.c.source_id)
    lines = (line.join(e, e.c.id == line.c.entry_id)
             .outerjoin(cp, (e.c.source_type == CLAIM_PAYMENT_SOURCE) & (cp.c.id == source))
             .outerjoin(plb, (e.c.source_type == PROVIDER_ADJUSTMENT_SOURCE) & (plb.c.id == source)))
    remittance = func.coalesce(cp.c.remittance_id, plb.c.remittance_id)
    return (select(remittance.label("remittance_id"), s.money_sum(line.c.debit - line.c.credit).label("amount"))
            .select_from(lines).where(*era_cash_lines(s, e, line)).group_by(remittance).subquery("era_cash"))


def era_cash_total(conn: Connection, s: KpiScope, conditions: Sequence[Any] = ()) -> tuple[int, Any, Any]:
    """How many remittances (those meeting ``conditions`` too) had ERA cash posted in the window, that cash, and
    the cash of lines tracing to no remittance."""
    cash = era_cash_by_remittance(s)
    count, amount = conn.execute(
        select(func.count(), func.coalesce(func.sum(cash.c.amount), 0))
        .select_from(cash.join(remittances, remittances.c.id == cash.c.remittance_id)).where(*conditions)).one()
    untraced = conn.execute(select(func.coalesce(func.sum(cash.c.amount), 0))
                            .where(cash.c.remittance_id.is_(None))).scalar_one()
    return int(count), s.money(amount), s.money(untraced)


def deposits_in_window(s: KpiScope) -> list[Any]:
    """Deposits of the organisation dated in the window (``cash_deposited``)."""
    return [deposits.c.organisation_id == s.organisation_id, deposit_dated(s, deposits)]


def deposit_total(conn: Connection, s: KpiScope, conditions: Sequence[Any] = ()) -> tuple[int, Any]:
    """How many deposits (those meeting ``conditions`` too) are dated in the window, and their net amount (credits
    minus debits)."""
    count, net = conn.execute(select(func.count(), s.money_sum(signed_deposit(deposits)))
                              .where(*deposits_in_window(s), *conditions)).one()
    return int(count), s.money(net)
