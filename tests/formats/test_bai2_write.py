"""The BAI2 writer's files read back exactly: amounts, traces, trailers' totals and counts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from rcmflow.domain.deposit import Deposit
from rcmflow.formats.bai2 import parse_bai2
from rcmflow.formats.bai2_write import AccountActivity, BankGroup, write_bai2


def test_written_file_reads_back_with_no_issue() -> None:
    day = date(2026, 11, 16)
    first = (Deposit("98123", Decimal("1234.56"), day, "credit", "165", "ACH1", "", trace_number="EFT1",
                     originator_id="1000060054"),
             Deposit("98123", Decimal("0.01"), day, "credit", "165", "ACH2", ""))
    second = (Deposit("55500", Decimal("100.00"), day, "credit", "175", "LBX1", "CHK100"),)
    content = write_bai2("021000021", "RCMFLOW", "F1", datetime(2026, 11, 17, 6, 30), [
        BankGroup("021000021", day, (AccountActivity("98123", first),)),
        BankGroup("011000015", day, (AccountActivity("55500", second),)),
    ])
    parsed = parse_bai2(content)
    assert parsed.issues == ()
    assert [(d.account, d.amount, d.trace_number, d.originator_id, d.value_date) for d in parsed.deposits] == [
        ("98123", Decimal("1234.56"), "EFT1", "1000060054", day), ("98123", Decimal("0.01"), "", "", day),
        ("55500", Decimal("100.00"), "", "", day)]
    assert content.decode().splitlines()[-1] == "99,133457,2,13/"  # 01, 2 x (02 03 16.. 49 98), 99
