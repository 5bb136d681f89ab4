"""BAI2 reading: a realistic two-group file to the cent, every funds type, and every malformed case located."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rcmflow.domain.deposit import CREDIT, DEBIT, credit_total, net_total
from rcmflow.formats.bai2 import BaiResult, parse_bai2
from rcmflow.formats.bank_issues import ERROR, ISSUE_CODES, WARNING, BankIssue
from rcmflow.formats.detect_bank import detect_bank_type
from rcmflow.formats.lockbox_csv import parse_lockbox_csv

FIXTURE = (Path(__file__).parent / "fixtures" / "bai2_two_groups.bai").read_bytes()


def replace(old: str, new: str) -> bytes:
    """The fixture with one exact piece of text changed (asserting it was there)."""
    text = FIXTURE.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


def one_account(*details: str, summary: str = "015,100000,,", summary_total: int = 100000, currency: str = "") -> bytes:
    """A one-account BAI2 file around the given 16 records (text after "16,"), with correct trailers."""
    amounts = [int(detail.split(",")[1]) for detail in details]
    total = summary_total + sum(amounts)
    account = [f"03,123456789,{currency},{summary}/", *(f"16,{detail}" for detail in details)]
    account.append(f"49,{total},{len(account) + 1}/")
    lines = [
        "01,021000021,PROVIDER,250314,0700,F1,,,2/",
        "02,PROVIDER,021000021,1,250313,,USD,2/",
        *account,
        f"98,{total},1,{len(account) + 2}/",
        f"99,{total},1,{len(account) + 4}/",
    ]
    return "\n".join(lines).encode()


def codes(result: BaiResult) -> list[str]:
    return [issue.code for issue in result.issues]


def only(result: BaiResult, code: str) -> BankIssue:
    matching = [issue for issue in result.issues if issue.code == code]
    assert len(matching) == 1, result.issues
    return matching[0]


# -- the realistic fixture ------------------------------------------------------------------------


def test_fixture_reads_cleanly_with_header_accounts_and_balances() -> None:
    result = parse_bai2(FIXTURE)
    assert result.issues == () and result.ok
    assert result.file is not None
    assert (result.file.sender, result.file.receiver, result.file.file_id) == ("122000661", "HOSPCORP01", "314001")
    assert (result.file.creation_date, result.file.creation_time) == (date(2025, 3, 14), time(6, 30))
    assert [(a.bank, a.account, a.as_of_date) for a in result.accounts] == [
        ("122000661", "4000123456", date(2025, 3, 13)),
        ("122000661", "4000987654", date(2025, 3, 13)),
        ("021000021", "7700555000", date(2025, 3, 13)),
    ]
    first = result.accounts[0]
    assert first.as_of_time == time.max  # "2400": end of day
    # The 03 record continues in an 88: six summaries, amounts in cents without a decimal point.
    assert [s.type_code for s in first.summaries] == ["010", "015", "040", "045", "100", "400"]
    assert first.summary("010") == Decimal("523110.45")
    assert first.summary("015") == Decimal("618425.19")
    assert first.summary("100") == Decimal("95314.74")
    assert first.summaries[4].item_count == 4
    assert first.summary("999") is None


def test_fixture_deposits_to_the_cent() -> None:
    deposits = parse_bai2(FIXTURE).deposits
    assert [(d.account, d.type_code, d.amount, d.direction) for d in deposits] == [
        ("4000123456", "165", Decimal("48239.50"), CREDIT),
        ("4000123456", "165", Decimal("12500.00"), CREDIT),
        ("4000123456", "175", Decimal("31575.24"), CREDIT),
        ("4000123456", "195", Decimal("3000.00"), CREDIT),
        ("7700555000", "169", Decimal("10000.00"), CREDIT),
        ("7700555000", "475", Decimal("450.00"), DEBIT),
        ("7700555000", "399", Decimal("125.00"), CREDIT),
    ]
    # The first account's details add up to its 100 "total credits" summary.
    assert sum(d.amount for d in deposits[:4]) == Decimal("95314.74")
    assert credit_total(deposits) == Decimal("105439.74")
    assert net_total(deposits) == Decimal("104989.74")
    assert [d.line for d in deposits] == [5, 7, 9, 10, 17, 18, 19]


def test_trace_number_from_88_addendum_and_from_customer_reference() -> None:
    aetna, uhc, _, wire, eft, _, _ = parse_bai2(FIXTURE).deposits
    # The 16's text runs into the 88 continuation, joined by a space.
    assert aetna.text == (
        "ORIG CO NAME:AETNA AS01 ORIG ID:1066033492 DESC DATE:250313 CO ENTRY "
        "DESCR:HCCLAIMPMT SEC:CCD IND ID:PROV0001 TRN*1*12345678*1512345678\\"
    )
    assert (aetna.trace_number, aetna.originator_id, aetna.payer_name) == ("12345678", "1512345678", "AETNA AS01")
    assert (uhc.trace_number, uhc.originator_id, uhc.payer_name) == ("880012345", "1411289245", "UNITEDHEALTHCARE")
    assert uhc.customer_reference == "880012345"
    assert (eft.trace_number, eft.originator_id) == ("EFT20250313A", "1234567890")
    assert wire.trace_number == "" and wire.reassociation_keys() == ("WIRE-PAYER-77",)
    # Text keeps its commas and spaces; the record's closing slash is not text.
    assert wire.text == "INCOMING WIRE, CIGNA HEALTHCARE"


def test_fixture_funds_types_shift_the_references() -> None:
    deposits = parse_bai2(FIXTURE).deposits
    lockbox, wire, eft, check = deposits[2], deposits[3], deposits[4], deposits[5]
    assert (lockbox.funds_type, lockbox.bank_reference, lockbox.customer_reference) == ("S", "LBX0313000201", "4471")
    assert lockbox.availability == (("0", Decimal("10000.00")), ("1", Decimal("20000.00")), ("2+", Decimal("1575.24")))
    assert (wire.funds_type, wire.value_date, wire.as_of_date) == ("V", date(2025, 3, 14), date(2025, 3, 13))
    assert eft.availability == (("0", Decimal("6000.00")), ("1", Decimal("4000.00")))
    assert (check.funds_type, check.bank_reference, check.customer_reference) == ("Z", "CHK0313000501", "10023")


# -- funds types and layouts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "funds_type", "availability", "value_date"),
    [
        ("165,1000,0,BREF,CREF,TEXT", "0", (), date(2025, 3, 13)),
        ("165,1000,1,BREF,CREF,TEXT", "1", (), date(2025, 3, 13)),
        ("165,1000,2,BREF,CREF,TEXT", "2", (), date(2025, 3, 13)),
        ("165,1000,Z,BREF,CREF,TEXT", "Z", (), date(2025, 3, 13)),
        ("165,1000,,BREF,CREF,TEXT", "", (), date(2025, 3, 13)),
        ("165,1000,S,500,300,200,BREF,CREF,TEXT", "S",
         (("0", Decimal("5.00")), ("1", Decimal("3.00")), ("2+", Decimal("2.00"))), date(2025, 3, 13)),
        ("165,1000,V,250317,,BREF,CREF,TEXT", "V", (), date(2025, 3, 17)),
        ("165,1000,D,3,0,100,1,400,5,500,BREF,CREF,TEXT", "D",
         (("0", Decimal("1.00")), ("1", Decimal("4.00")), ("5", Decimal("5.00"))), date(2025, 3, 13)),
    ],
)
def test_every_funds_type(detail: str, funds_type: str, availability: tuple, value_date: date) -> None:
    result = parse_bai2(one_account(detail))
    assert result.issues == ()
    (deposit,) = result.deposits
    assert (deposit.amount, deposit.funds_type, deposit.availability) == (Decimal("10.00"), funds_type, availability)
    assert (deposit.bank_reference, deposit.customer_reference, deposit.text) == ("BREF", "CREF", "TEXT")
    assert deposit.value_date == value_date


def test_summary_funds_types_in_the_03_record() -> None:
    summary = "100,5000,2,S,1000,2000,2000,400,700,1,V,250314,1200,015,9900,,D,1,0,9900"
    result = parse_bai2(one_account(summary=summary, summary_total=5000 + 700 + 9900))
    assert result.issues == ()
    assert [(s.type_code, s.amount, s.item_count, s.funds_type) for s in result.accounts[0].summaries] == [
        ("100", Decimal("50.00"), 2, "S"),
        ("400", Decimal("7.00"), 1, "V"),
        ("015", Decimal("99.00"), None, "D"),
    ]


def test_text_continued_over_several_88_records_and_references_continued() -> None:
    data = b"""01,021000021,PROVIDER,250314,0700,F1,,,2/
02,PROVIDER,021000021,1,250313,,USD,2/
03,123456789,,015,100000,,/
16,165,2000/
88,0,BR9,TRN*1*555*1999999999\\
88,PAYMENT FROM/
88,HUMANA
49,102000,6/
98,102000,1,8/
99,102000,1,10/
"""
    result = parse_bai2(data)
    assert result.issues == ()
    (deposit,) = result.deposits
    # Fields before the text carry on across the '/' into the 88; the text gathers the rest.
    assert (deposit.funds_type, deposit.bank_reference) == ("0", "BR9")
    assert deposit.customer_reference == "TRN*1*555*1999999999\\"
    assert deposit.text == "PAYMENT FROM HUMANA"
    assert deposit.trace_number == "555"


def test_fixed_length_records_without_line_breaks_and_crlf() -> None:
    lines = FIXTURE.decode().splitlines()
    lines[0] = lines[0].replace("314001,,,2/", "314001,120,,2/")
    fixed = "".join(line.ljust(120) for line in lines).encode()
    assert parse_bai2(fixed).issues == ()
    assert len(parse_bai2(fixed).deposits) == 7
    crlf = "\r\n".join(FIXTURE.decode().splitlines()).encode()
    assert parse_bai2(crlf).deposits == parse_bai2(FIXTURE).deposits


def test_other_currencies_scale_by_their_minor_unit() -> None:
    result = parse_bai2(one_account("195,150000,0,W1,,", currency="JPY"))
    assert result.deposits[0].amount == Decimal("150000") and result.deposits[0].currency == "JPY"


# -- malformed content, located ------------------------------------------------------------------


def test_bad_amount_is_located_and_the_deposit_skipped() -> None:
    result = parse_bai2(replace("16,165,1250000,1,", "16,165,12500.00,1,"))
    issue = only(result, "bad_amount")
    assert (issue.line, issue.record, issue.field, issue.severity) == (7, "16", 2, ERROR)
    # An unreadable amount makes the account's total check meaningless: not reported twice.
    assert codes(result) == ["bad_amount"]
    assert len(result.deposits) == 6 and not result.ok


def test_unknown_type_code_is_a_warning() -> None:
    result = parse_bai2(replace("16,399,12500,2,", "16,850,12500,2,"))
    issue = only(result, "unknown_type_code")
    assert (issue.line, issue.record, issue.field, issue.severity) == (19, "16", 1, WARNING)
    assert result.ok and codes(result) == ["unknown_type_code"]
    assert [d.type_code for d in result.deposits][-1] == "475"  # direction unknown: not a deposit
    # Bank-specific codes in the 900-999 range are accepted and keep their direction.
    custom = parse_bai2(replace("16,399,12500,2,", "16,925,12500,2,"))
    assert custom.issues == () and custom.deposits[-1].direction == CREDIT


def test_account_control_total_mismatch() -> None:
    result = parse_bai2(replace("49,255559031,9/", "49,255559030,9/"))
    issue = only(result, "control_total_mismatch")
    assert (issue.line, issue.record, issue.field) == (11, "49", 1)
    assert "255559030" in issue.message and "255559031" in issue.message
    assert codes(result) == ["control_total_mismatch"]  # the 98 and 99 agree with the data


@pytest.mark.parametrize(
    ("old", "new", "line", "record", "field"),
    [
        ("98,255759031,2,13/", "98,255759032,2,13/", 14, "98", 1),
        ("99,259316531,2,22/", "99,259316532,2,22/", 22, "99", 1),
    ],
)
def test_group_and_file_control_total_mismatch(old: str, new: str, line: int, record: str, field: int) -> None:
    issue = only(parse_bai2(replace(old, new)), "control_total_mismatch")
    assert (issue.line, issue.record, issue.field) == (line, record, field)


@pytest.mark.parametrize(
    ("old", "new", "line", "record", "field"),
    [
        ("49,255559031,9/", "49,255559031,8/", 11, "49", 2),
        ("98,255759031,2,13/", "98,255759031,3,13/", 14, "98", 2),
        ("98,255759031,2,13/", "98,255759031,2,12/", 14, "98", 3),
        ("99,259316531,2,22/", "99,259316531,1,22/", 22, "99", 2),
        ("99,259316531,2,22/", "99,259316531,2,21/", 22, "99", 3),
    ],
)
def test_count_mismatches(old: str, new: str, line: int, record: str, field: int) -> None:
    result = parse_bai2(replace(old, new))
    issue = only(result, "count_mismatch")
    assert (issue.line, issue.record, issue.field) == (line, record, field)
    assert codes(result) == ["count_mismatch"]


def test_truncated_file_keeps_what_was_read() -> None:
    lines = FIXTURE.decode().splitlines()
    result = parse_bai2("\n".join(lines[:-1]).encode())
    issue = only(result, "truncated")
    assert issue.line == 21
    assert len(result.deposits) == 7
    mid_account = parse_bai2("\n".join(lines[:8]).encode())
    assert codes(mid_account) == ["truncated"] and len(mid_account.deposits) == 2


@pytest.mark.parametrize("content", [b"", b"   \n\r\n", b"\xef\xbb\xbf"])
def test_empty_input(content: bytes) -> None:
    result = parse_bai2(content)
    assert codes(result) == ["empty"] and result.file is None and not result.ok


@pytest.mark.parametrize(
    "content",
    [
        b"ISA*00*          *00*          *ZZ*SENDER~",
        b"deposit_date,batch,check_number,payer,amount,account\n",
        b"hello world",
        b"02,PROVIDER,021000021,1,250313,,USD,2/\n",
    ],
)
def test_not_bai2(content: bytes) -> None:
    result = parse_bai2(content)
    issue = only(result, "not_bai2")
    assert issue.line == 1 and result.deposits == () and result.file is None


def test_envelope_and_field_problems_are_located() -> None:
    data = replace("02,HOSPCORP01,122000661,1,250313,", "02,HOSPCORP01,122000661,1,250230,")
    issue = only(parse_bai2(data), "bad_date")
    assert (issue.line, issue.record, issue.field) == (2, "02", 4)
    issue = only(parse_bai2(replace("16,475,45000,Z,", "16,475,45000,X,")), "bad_code")
    assert (issue.line, issue.record, issue.field) == (18, "16", 3)
    orphan = parse_bai2(replace("03,4000987654,USD,010,100000,,,015,100000,,/\n", ""))
    assert [(i.line, i.record, i.code) for i in orphan.issues if i.code == "envelope"] == [(12, "49", "envelope")]
    after = parse_bai2(FIXTURE + b"16,165,100,0,,,/\n")
    assert [(i.line, i.code) for i in after.issues] == [(23, "envelope")]
    garbage = parse_bai2(replace("16,399,12500,2,MISC0313,,/", "XX,399,12500"))
    assert [(i.line, i.code) for i in garbage.issues][0] == (19, "unknown_record")


def test_invalid_utf8_is_a_warning_and_reading_goes_on() -> None:
    result = parse_bai2(FIXTURE.replace(b"CHECK PAID", b"CHECK PAID \xff"))
    assert codes(result) == ["invalid_character"] and result.ok
    assert result.deposits[5].text == "CHECK PAID \xff"


def test_detect_bank_type() -> None:
    assert detect_bank_type(FIXTURE) == "bai2"
    assert detect_bank_type(b"\xef\xbb\xbf" + FIXTURE) == "bai2"
    assert detect_bank_type(b"Deposit Date,Batch,Check No,Payer,Amount,Account\n2025-03-14,1,2,X,1.00,9\n") == (
        "lockbox_csv")
    assert detect_bank_type(b"deposit_date,batch,payer,amount\n") is None
    assert detect_bank_type(b"ISA*00*~") is None
    assert detect_bank_type(b"") is None


# -- fuzzing: never raises ------------------------------------------------------------------------


# Bytes that matter to BAI2: delimiters, record codes, funds types (one with a huge distribution count).
INTERESTING = [b",", b"/", b"\n", b"88,", b"16,", b"D,9,", b"D,99999999999,", b"S,", b"V,", b"-", b"\xff"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The fixture after one to four byte- or record-level mutations."""
    data = bytearray(FIXTURE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not data:
            break
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "interesting", "truncate", "lines"]))
        if kind == "flip":
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=30))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif kind == "interesting":
            data[at:at] = draw(st.sampled_from(INTERESTING))
        elif kind == "truncate":
            del data[at:]
        else:
            lines = bytes(data).split(b"\n")
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines.insert(draw(st.integers(min_value=0, max_value=len(lines))), lines.pop(index))
            data = bytearray(b"\n".join(lines))
    return bytes(data)


def _check(result: BaiResult) -> None:
    for issue in result.issues:
        assert issue.code in ISSUE_CODES and issue.severity in (ERROR, WARNING)
        assert issue.line >= 0 and (issue.field is None or issue.field >= 1)
        assert str(issue)
    for deposit in result.deposits:
        assert deposit.amount >= 0 and deposit.direction in (CREDIT, DEBIT)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(), st.binary(max_size=400)))
def test_fuzz_never_raises(data: bytes) -> None:
    _check(parse_bai2(data))
    parse_lockbox_csv(data)
    assert detect_bank_type(data) in ("bai2", "lockbox_csv", None)
