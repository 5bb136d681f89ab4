"""Deposit records: addenda parsing for CORE 370 reassociation, directions and totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rcmflow.domain.deposit import (
    CREDIT,
    DEBIT,
    Addenda,
    BankAccountReport,
    Deposit,
    Summary,
    credit_total,
    net_total,
    parse_addenda,
)


def deposit(amount: str, direction: str = CREDIT, **fields: object) -> Deposit:
    return Deposit("123", Decimal(amount), date(2025, 3, 14), direction, **fields)  # type: ignore[arg-type]


def test_trn_in_ach_addenda() -> None:
    assert parse_addenda("TRN*1*12345678*1512345678\\") == Addenda("12345678", "1512345678", "")
    assert parse_addenda("PMT TRN*1*0012345*1999999999*ABC~ MORE") == Addenda("0012345", "1999999999", "")
    # Only the trace (TRN02) is there: no originator.
    assert parse_addenda("TRN*1*777\\") == Addenda("777", "", "")


def test_originator_name_and_id_from_bank_text() -> None:
    text = "ORIG CO NAME:BCBS OF TEXAS ORIG ID:1750000001 DESC DATE:250313 CO ENTRY DESCR:HCCLAIMPMT"
    assert parse_addenda(text) == Addenda("", "1750000001", "BCBS OF TEXAS")
    # The TRN03 wins over the bank's ORIG ID: CORE 370 matches on the 835's payer identifier.
    assert parse_addenda(text + " TRN*1*99*1750000009\\").originator_id == "1750000009"


def test_first_text_with_a_trace_wins_and_empty_texts_are_skipped() -> None:
    assert parse_addenda("", "no trace here", "TRN*1*A1*1\\", "TRN*1*B2*2\\").trace_number == "A1"
    assert parse_addenda() == Addenda()
    assert parse_addenda("TRN*2*NOTAPAYMENT*1\\").trace_number == ""  # TRN01 must be 1 (current transaction)


def test_direction_signed_amount_and_totals() -> None:
    deposits = [deposit("100.00"), deposit("25.50", DEBIT), deposit("0.01")]
    assert [d.is_credit for d in deposits] == [True, False, True]
    assert deposits[1].signed_amount == Decimal("-25.50")
    assert credit_total(deposits) == Decimal("100.01")
    assert net_total(deposits) == Decimal("74.51")
    assert credit_total([]) == Decimal("0")


def test_reassociation_keys_best_first_without_duplicates() -> None:
    assert deposit("1", trace_number="T1", customer_reference=" T1 ", check_number="C9").reassociation_keys() == (
        "T1", "C9")
    assert deposit("1").reassociation_keys() == ()


def test_account_report_summary_lookup() -> None:
    report = BankAccountReport("021000021", "123", "USD", date(2025, 3, 13),
                               (Summary("010", Decimal("5.00")), Summary("015", None)))
    assert report.summary("010") == Decimal("5.00")
    assert report.summary("015") is None and report.summary("045") is None
