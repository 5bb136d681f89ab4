"""ERA-to-bank reconciliation: a day's bank file against posted remittances, the cash in the ledger, the
work items for what does not reconcile, and a second run that changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select

from rcmflow.adapters.store.schema import (
    deposit_matches,
    deposits,
    event_log,
    journal_entries,
    journal_lines,
    remittances,
    work_items,
)
from rcmflow.domain.deposit import CREDIT, Deposit
from rcmflow.domain.parties import Party
from rcmflow.domain.remittance import Remittance
from rcmflow.errors import InputError
from rcmflow.formats.bai2 import parse_bai2
from rcmflow.services.deposits import store_deposits
from rcmflow.services.fiscal_periods import close_period
from rcmflow.services.ledger import trial_balance
from rcmflow.services.reconciliation import ReconciliationResult, reconcile, reconciliation_status
from rcmflow.services.remittances import store_remittances
from rcmflow.services.transitions import history, transition_many
from rcmflow.settings import reset_settings

BAI2 = (Path(__file__).parents[1] / "formats" / "fixtures" / "bai2_two_groups.bai").read_bytes()
DAY_ONE = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
MONTHS_LATER = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
NOTHING = ReconciliationResult(0, 0, 0, 0, 0)


def era(trace: str, amount: str, payer: str, *, paid: date = date(2025, 3, 12), method: str = "ACH") -> Remittance:
    return Remittance(control_number="0001", transaction_handling="I", payment_amount=Decimal(amount),
                      credit_debit="C", payment_method=method, payment_date=paid, trace_type="1", trace_number=trace,
                      payer=Party("PR", name=payer))


def store(conn: Connection, items: Sequence[Remittance], *, post: bool = True) -> list[int]:
    ids = list(store_remittances(conn, None, items, actor="job:era", now=DAY_ONE).stored)
    if post:
        publish(conn, ids)
    return ids


def publish(conn: Connection, ids: Sequence[int]) -> None:
    """Move received remittances to posted, as payment posting does."""
    transition_many(conn, "remittance", ids, "received", "matched", activity="match remittance", actor="test")
    transition_many(conn, "remittance", ids, "matched", "posted", activity="post remittance", actor="test")


def bank(amount: str, trace: str, day: date = date(2025, 3, 13), reference: str = "") -> Deposit:
    return Deposit(account="4000123456", amount=Decimal(amount), value_date=day, direction=CREDIT,
                   type_code="165", trace_number=trace, bank_reference=reference, source="bai2")


def snapshot(conn: Connection) -> dict[str, Any]:
    tables = (deposits, remittances, deposit_matches, work_items, journal_entries, journal_lines)
    rows = {table.name: conn.execute(select(table).order_by(table.c.id)).all() for table in tables}
    rows["events"] = conn.execute(select(func.count()).select_from(event_log)).scalar_one()
    rows["trial_balance"] = trial_balance(conn)
    return rows


def items(conn: Connection) -> list[tuple[str, str, str, str]]:
    """(item type, object type, object id, state) of the reconciliation work items, sorted."""
    return sorted(tuple(row) for row in conn.execute(
        select(work_items.c.item_type, work_items.c.object_type, work_items.c.object_id, work_items.c.state)
        .where(work_items.c.queue == "reconciliation")))


def test_a_days_bank_file_against_posted_remittances(engine: Engine) -> None:
    with engine.begin() as conn:
        aetna, uhc, lockbox, wire, eft, _debit, misc = store_deposits(
            conn, None, parse_bai2(BAI2).deposits, actor="job:bank", now=DAY_ONE).stored
        r_aetna, r_uhc, r_wire, r_zero, r_lost = store(conn, [
            era("12345678", "48239.50", "AETNA"),
            era("880012345", "12000.00", "UNITEDHEALTHCARE"),  # the bank credited 500.00 more
            era("CIGNA-0314", "3000.00", "CIGNA"),  # the wire carries no trace: amount and date find it
            era("NON-0001", "0.00", "AETNA", method="NON"),  # all denied: nothing to deposit
            era("LOST1", "777.77", "HUMANA", paid=date(2025, 3, 10)),  # not in the bank file
        ])
        [r_eft] = store(conn, [era("EFT20250313A", "10000.00", "BCBS")], post=False)  # not posted yet

        first = reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=3)

        matches = conn.execute(select(deposit_matches.c.deposit_id, deposit_matches.c.remittance_id,
                                      deposit_matches.c.amount, deposit_matches.c.method,
                                      deposit_matches.c.confidence).order_by(deposit_matches.c.id)).all()
        deposit_states = dict(conn.execute(select(deposits.c.id, deposits.c.state)).all())
        matched = dict(conn.execute(select(deposits.c.id, deposits.c.matched_amount)).all())
        remittance_states = {row.id: (row.state, row.reconciled_amount) for row in conn.execute(select(remittances))}
        entries = conn.execute(select(journal_entries.c.journal, journal_entries.c.posting_date,
                                      journal_entries.c.source_type, journal_entries.c.source_id,
                                      journal_entries.c.idempotency_key).order_by(journal_entries.c.id)).all()
        match_ids = list(conn.execute(select(deposit_matches.c.id).order_by(deposit_matches.c.id)).scalars())
        balance = trial_balance(conn)
        opened = items(conn)
        mismatch = conn.execute(select(work_items.c.details).where(
            work_items.c.item_type == "deposit amount mismatch")).scalar_one()
        aetna_history = history(conn, "bank deposit", aetna)
        status = reconciliation_status(conn)

    assert first == ReconciliationResult(matches=3, deposits_reconciled=2, remittances_reconciled=4,
                                         work_items_opened=2, entries_posted=3)
    assert matches == [
        (aetna, r_aetna, Decimal("48239.50"), "trace_number", Decimal("1")),
        (uhc, r_uhc, Decimal("12000.00"), "trace_number_partial", Decimal("0.9")),
        (wire, r_wire, Decimal("3000.00"), "amount_date", Decimal("0.8")),
    ]
    assert {k: deposit_states[k] for k in (aetna, uhc, lockbox, wire, eft, misc)} == {
        aetna: "reconciled", uhc: "matched", lockbox: "received", wire: "reconciled", eft: "received",
        misc: "received"}
    assert (matched[aetna], matched[uhc], matched[lockbox]) == (Decimal("48239.50"), Decimal("12000.00"), Decimal("0"))
    assert remittance_states == {
        r_aetna: ("reconciled", Decimal("48239.50")), r_uhc: ("reconciled", Decimal("12000.00")),
        r_wire: ("reconciled", Decimal("3000.00")), r_zero: ("reconciled", Decimal("0")),
        r_lost: ("posted", Decimal("0")), r_eft: ("received", Decimal("0"))}
    # One bank entry per match, dated the deposit's value date and linked to the match.
    assert entries == [
        ("bank", date(2025, 3, 13), "deposit match", str(match_ids[0]), f"deposit-match:{match_ids[0]}"),
        ("bank", date(2025, 3, 13), "deposit match", str(match_ids[1]), f"deposit-match:{match_ids[1]}"),
        ("bank", date(2025, 3, 14), "deposit match", str(match_ids[2]), f"deposit-match:{match_ids[2]}"),
    ]
    assert balance.balanced
    assert balance.balance_of("bank") == Decimal("63239.50")  # 48239.50 + 12000.00 + 3000.00
    assert balance.balance_of("undeposited_funds") == Decimal("-63239.50")
    # LOST1 was paid on the 10th: more than 3 days before the 14th. The bank's extra 500.00 needs a person.
    assert opened == [("deposit amount mismatch", "bank deposit", str(uhc), "open"),
                      ("unreconciled remittance", "remittance", str(r_lost), "open")]
    assert (mismatch["difference"], mismatch["trace_number"]) == ("500.00", "880012345")
    assert aetna_history == [(None, "received", "receive bank deposit"), ("received", "matched", "match bank deposit"),
                             ("matched", "reconciled", "reconcile bank deposit")]
    assert status["deposits"]["by_state"] == {
        "reconciled": {"count": 2, "amount": "51239.50", "matched_amount": "51239.50", "open_amount": "0.00"},
        "matched": {"count": 1, "amount": "12500.00", "matched_amount": "12000.00", "open_amount": "500.00"},
        "received": {"count": 3, "amount": "41700.24", "matched_amount": "0.00", "open_amount": "41700.24"},
    }
    assert status["deposits"]["debits"] == {"count": 1, "amount": "450.00"}
    assert status["remittances"] == {
        "unreconciled": {"count": 1, "amount": "777.77", "reconciled_amount": "0.00", "open_amount": "777.77"},
        "partial": {"count": 0, "amount": "0.00", "reconciled_amount": "0.00", "open_amount": "0.00"},
        "reconciled": {"count": 4, "amount": "63239.50", "reconciled_amount": "63239.50", "open_amount": "0.00"},
    }
    assert status["matches"] == {"trace_number": {"count": 1, "amount": "48239.50"},
                                 "trace_number_partial": {"count": 1, "amount": "12000.00"},
                                 "amount_date": {"count": 1, "amount": "3000.00"}}

    # Run again: nothing to match, move, post or open; every row and the trial balance as they were.
    with engine.begin() as conn:
        before = snapshot(conn)
        assert reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=3) == NOTHING
        assert snapshot(conn) == before

    # Months later the credits nobody claimed are unmatched, each with a work item.
    with engine.begin() as conn:
        later = reconcile(conn, actor="job:reconcile", now=MONTHS_LATER, age_days=3)
        states = dict(conn.execute(select(deposits.c.id, deposits.c.state)).all())
        opened = items(conn)
        again = reconcile(conn, actor="job:reconcile", now=MONTHS_LATER, age_days=3)
    assert later == ReconciliationResult(0, 0, 0, 3, 0) and again == NOTHING
    assert [states[lockbox], states[eft], states[misc], states[uhc]] == ["unmatched"] * 3 + ["matched"]
    assert opened == sorted([("deposit amount mismatch", "bank deposit", str(uhc), "open"),
                             ("unmatched deposit", "bank deposit", str(lockbox), "open"),
                             ("unmatched deposit", "bank deposit", str(eft), "open"),
                             ("unmatched deposit", "bank deposit", str(misc), "open"),
                             ("unreconciled remittance", "remittance", str(r_lost), "open")])

    # The late ERA is posted: its EFT reconciles, and the deposit's work item is resolved with it.
    with engine.begin() as conn:
        publish(conn, [r_eft])
        late = reconcile(conn, actor="job:reconcile", now=MONTHS_LATER, age_days=3)
        eft_item = conn.execute(select(work_items.c.state, work_items.c.resolution_code).where(
            work_items.c.object_id == str(eft), work_items.c.item_type == "unmatched deposit")).one()
        eft_history = history(conn, "bank deposit", eft)
        balance = trial_balance(conn)
    assert late == ReconciliationResult(1, 1, 1, 0, 1)
    assert tuple(eft_item) == ("resolved", "reconciled")
    assert eft_history[1:] == [("received", "unmatched", "flag unmatched bank deposit"),
                               ("unmatched", "matched", "match bank deposit"),
                               ("matched", "reconciled", "reconcile bank deposit")]
    assert balance.balanced and balance.balance_of("bank") == Decimal("73239.50")


def test_a_remittance_paid_in_two_deposits_over_two_days(engine: Engine) -> None:
    with engine.begin() as conn:
        [remittance] = store(conn, [era("CHK77", "1000.00", "AETNA")])
        [first] = store_deposits(conn, None, [bank("600.00", "CHK77")], actor="job:bank", now=DAY_ONE).stored
        day_one = reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=3)
        open_after_one = conn.execute(select(remittances.c.state, remittances.c.reconciled_amount)).one()
        [(item_type, object_type, object_id, state)] = items(conn)
    assert day_one == ReconciliationResult(matches=1, deposits_reconciled=1, remittances_reconciled=0,
                                           work_items_opened=1, entries_posted=1)
    assert tuple(open_after_one) == ("posted", Decimal("600.00"))
    # The deposit is fully used; the remittance still misses 400.00.
    assert (item_type, object_type, object_id, state) == ("deposit amount mismatch", "remittance", str(remittance),
                                                          "open")

    with engine.begin() as conn:
        [second] = store_deposits(conn, None, [bank("400.00", "CHK77", date(2025, 3, 14))], actor="job:bank",
                                  now=DAY_ONE).stored
        day_two = reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=3)
        found = conn.execute(select(deposit_matches.c.deposit_id, deposit_matches.c.amount,
                                    deposit_matches.c.method).order_by(deposit_matches.c.id)).all()
        closed = conn.execute(select(remittances.c.state, remittances.c.reconciled_amount)).one()
        [(_, _, _, item_state)] = items(conn)
        balance = trial_balance(conn)
    assert day_two == ReconciliationResult(1, 1, 1, 0, 1)
    assert found == [(first, Decimal("600.00"), "trace_number_partial"), (second, Decimal("400.00"), "trace_number")]
    assert tuple(closed) == ("reconciled", Decimal("1000.00"))
    assert item_state == "resolved"
    assert balance.balanced and balance.balance_of("bank") == Decimal("1000.00")


def test_split_deposits_in_one_run_reconcile_the_remittance(engine: Engine) -> None:
    with engine.begin() as conn:
        [remittance] = store(conn, [era("CHK77", "1000.00", "AETNA")])
        store_deposits(conn, None, [bank("700.00", "CHK77"), bank("300.00", "CHK77")], actor="job:bank", now=DAY_ONE)
        result = reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=3)
        methods = list(conn.execute(select(deposit_matches.c.method)).scalars())
        states = set(conn.execute(select(deposits.c.state)).scalars())
        state = conn.execute(select(remittances.c.state).where(remittances.c.id == remittance)).scalar_one()
    assert result == ReconciliationResult(matches=2, deposits_reconciled=2, remittances_reconciled=1,
                                          work_items_opened=0, entries_posted=2)
    assert (methods, states, state) == (["trace_number", "trace_number"], {"reconciled"}, "reconciled")


def test_a_value_date_in_a_closed_period_is_posted_today(engine: Engine) -> None:
    with engine.begin() as conn:
        store(conn, [era("FEB1", "250.00", "AETNA", paid=date(2025, 2, 26))])
        store_deposits(conn, None, [bank("250.00", "FEB1", date(2025, 2, 27))], actor="job:bank", now=DAY_ONE)
        close_period(conn, "2025-02", actor="controller", now=DAY_ONE)
        result = reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=3)
        posted_on = conn.execute(select(journal_entries.c.posting_date)).scalar_one()
    assert result.entries_posted == 1 and posted_on == date(2025, 3, 14)


def test_remittances_not_posted_and_deposits_of_other_organisations_are_left_alone(engine: Engine) -> None:
    with engine.begin() as conn:
        store(conn, [era("T-RECEIVED", "80.00", "AETNA")], post=False)
        store(conn, [era("T-NORTH", "90.00", "AETNA")])
        store_deposits(conn, None, [bank("80.00", "T-RECEIVED"), bank("90.00", "T-NORTH")], actor="job:bank",
                       now=DAY_ONE, organisation_id="north")
        default = reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=30)
        north = reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=30, organisation_id="north")
        count = conn.execute(select(func.count()).select_from(deposit_matches)).scalar_one()
    assert default == north == NOTHING and count == 0


@pytest.mark.parametrize(("setting", "opened"), [(None, 0), ("0", 1)])
def test_age_defaults_to_the_setting(engine: Engine, monkeypatch: pytest.MonkeyPatch, setting: str | None,
                                     opened: int) -> None:
    if setting is None:
        monkeypatch.delenv("RCMFLOW_RECONCILIATION_AGE_DAYS", raising=False)  # default: 3 days
    else:
        monkeypatch.setenv("RCMFLOW_RECONCILIATION_AGE_DAYS", setting)
    reset_settings()
    with engine.begin() as conn:
        store_deposits(conn, None, [bank("42.00", "", date(2025, 3, 13), reference="NOBODY")], actor="job:bank",
                       now=DAY_ONE)
        result = reconcile(conn, actor="job:reconcile", now=DAY_ONE)
    assert result.work_items_opened == opened


def test_reconcile_refuses_a_naive_time_and_a_negative_age(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(InputError):
            reconcile(conn, actor="job:reconcile", now=datetime(2025, 3, 14, 12, 0))
        with pytest.raises(InputError):
            reconcile(conn, actor="job:reconcile", now=DAY_ONE, age_days=-1)
