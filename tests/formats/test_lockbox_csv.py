"""Lockbox CSV reading: the documented layout in any column order, exact amounts, located row problems."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.deposit import CREDIT, credit_total
from rcmflow.formats.bank_issues import ERROR, ISSUE_CODES, WARNING, BankIssue
from rcmflow.formats.lockbox_csv import LockboxResult, parse_lockbox_csv

FIXTURE = (Path(__file__).parent / "fixtures" / "lockbox_march.csv").read_bytes()
HEADER = "deposit_date,batch,check_number,payer,amount,account"


def only(result: LockboxResult, code: str) -> BankIssue:
    matching = [issue for issue in result.issues if issue.code == code]
    assert len(matching) == 1, result.issues
    return matching[0]


def test_fixture_rows_become_exact_credit_deposits() -> None:
    result = parse_lockbox_csv(FIXTURE)
    assert result.issues == () and result.ok
    assert [(d.batch, d.check_number, d.payer_name, d.amount, d.value_date) for d in result.deposits] == [
        ("001", "104233", "Blue Cross Blue Shield", Decimal("1520.75"), date(2025, 3, 14)),
        ("001", "104234", "Humana, Inc.", Decimal("2310.00"), date(2025, 3, 14)),
        ("002", "88120", "Aetna Life Insurance", Decimal("0.01"), date(2025, 3, 14)),
        ("002", "88121", "Cigna", Decimal("410.50"), date(2025, 3, 15)),
    ]
    assert credit_total(result.deposits) == Decimal("4241.26")
    assert all(d.direction == CREDIT and d.source == "lockbox_csv" and d.account == "4000123456"
               for d in result.deposits)
    assert [d.line for d in result.deposits] == [2, 3, 4, 5]
    bcbs, humana, aetna, cigna = result.deposits
    assert (bcbs.trace_number, bcbs.claim_reference) == ("104233", "PCN-0042")
    # A raw TRN string in the trace column is read like an ACH addendum.
    assert (aetna.trace_number, aetna.originator_id) == ("88120", "1066033492")
    assert humana.trace_number == "" and humana.reassociation_keys() == ("104234",)
    assert cigna.claim_reference == ""


def test_columns_in_any_order_with_aliases_and_extra_columns() -> None:
    content = (
        b"Account Number,AMOUNT,Payer Name,Check No,Batch-ID,Date,Lockbox,trace\n"
        b"999888,75.00,Medicare,5001,B7,2025-04-01,LB1,TRACE77\n"
    )
    result = parse_lockbox_csv(content)
    issue = only(result, "unknown_column")
    assert (issue.line, issue.record, issue.field, issue.severity) == (1, "header", 7, WARNING)
    (deposit,) = result.deposits
    assert (deposit.account, deposit.amount, deposit.payer_name, deposit.check_number, deposit.batch) == (
        "999888", Decimal("75.00"), "Medicare", "5001", "B7")
    assert deposit.trace_number == "TRACE77" and deposit.value_date == date(2025, 4, 1)


def test_bom_crlf_and_blank_rows() -> None:
    content = b"\xef\xbb\xbf" + f"{HEADER}\r\n\r\n2025-03-14,1,7,X,5,9\r\n".encode()
    result = parse_lockbox_csv(content)
    assert result.issues == () and [d.line for d in result.deposits] == [3]


@pytest.mark.parametrize(
    ("row", "code", "field"),
    [
        ("2025-03-14,1,7,X,12.345,9", "bad_amount", 5),
        ("2025-03-14,1,7,X,-5.00,9", "bad_amount", 5),
        ("2025-03-14,1,7,X,1e3,9", "bad_amount", 5),
        ("2025-03-14,1,7,X,NaN,9", "bad_amount", 5),
        ("2025-02-30,1,7,X,5.00,9", "bad_date", 1),
        ("14.03.2025,1,7,X,5.00,9", "bad_date", 1),
        ("2025-03-14,1,,X,5.00,9", "missing_field", 3),
        ("2025-03-14,1,7,X,5.00,", "missing_field", 6),
        ("2025-03-14,1,7,X,5.00", "wrong_field_count", None),
    ],
)
def test_row_problems_are_located_and_the_row_skipped(row: str, code: str, field: int | None) -> None:
    content = f"{HEADER}\n2025-03-14,1,6,Y,1.00,9\n{row}\n".encode()
    result = parse_lockbox_csv(content)
    issue = only(result, code)
    assert (issue.line, issue.record, issue.field, issue.severity) == (3, "row", field, ERROR)
    assert [d.check_number for d in result.deposits] == ["6"] and not result.ok


def test_file_level_problems() -> None:
    assert [i.code for i in parse_lockbox_csv(b"").issues] == ["empty"]
    missing = only(parse_lockbox_csv(b"deposit_date,batch,payer\n2025-03-14,1,X\n"), "not_lockbox_csv")
    assert "check_number, amount, account" in missing.message and missing.line == 1
    assert only(parse_lockbox_csv(FIXTURE.replace(b"Payer,", b"Payer,Check,")), "duplicate_column").field == 5
    broken = parse_lockbox_csv(f'{HEADER}\n2025-03-14,1,7,X,5,9\n2025-03-14,1,"8"x,Y,6,9\n'.encode())
    assert [i.code for i in broken.issues] == ["bad_csv"] and len(broken.deposits) == 1
    assert only(parse_lockbox_csv(b"01,122000661,HOSPCORP01,250314,0630,314001,,,2/\n"), "not_lockbox_csv")


@settings(max_examples=100, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b",", b'"', b"\n", b"\r", b"1", b".", b"-", b"$", b"2025-03-14", b"\xff", b"\x00",
                              b"amount", b"x"]), max_size=40).map(lambda parts: FIXTURE + b"".join(parts)),
))
def test_fuzz_never_raises(data: bytes) -> None:
    result = parse_lockbox_csv(data)
    for issue in result.issues:
        assert issue.code in ISSUE_CODES and issue.line >= 0
    for deposit in result.deposits:
        assert deposit.amount >= 0
