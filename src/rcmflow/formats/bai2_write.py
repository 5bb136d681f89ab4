"""Write BAI2 bank files: what a bank sends for the deposits of a day (used by the demo, tests and benchmarks).

One group per bank and as-of date, one 03 account record per account with its 16 transactions; an ACH
credit carries the 835 reassociation trace in its text (``TRN*1*<trace>*<originator>\\``) as banks report
the CCD+ addenda. Every trailer's control total and record count is computed, so ``formats.bai2`` reads
the file back with no issue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

from rcmflow.domain.deposit import Deposit
from rcmflow.domain.money import to_cents


class AccountActivity(NamedTuple):
    """The transactions of one account on one as-of date."""

    account: str
    deposits: tuple[Deposit, ...]
    currency: str = "USD"


class BankGroup(NamedTuple):
    """One 02 group: one reporting bank and as-of date."""

    bank: str
    as_of: date
    accounts: tuple[AccountActivity, ...]


def _text(deposit: Deposit) -> str:
    if deposit.text:
        return deposit.text
    if deposit.trace_number:
        return f"TRN*1*{deposit.trace_number}*{deposit.originator_id}\\"
    return ""


def _transaction(deposit: Deposit) -> str:
    type_code = deposit.type_code or ("165" if deposit.is_credit else "469")
    fields = ["16", type_code, str(to_cents(deposit.amount)), "0", deposit.bank_reference, deposit.customer_reference]
    text = _text(deposit)
    # With text the record runs to its end (no "/"); without, "/" closes it.
    return ",".join(fields) + ("," + text if text else "/")


def write_bai2(sender: str, receiver: str, file_id: str, created: datetime, groups: Sequence[BankGroup]) -> bytes:
    """One BAI2 file (version 2) with the groups' accounts and transactions."""
    records = [f"01,{sender},{receiver},{created:%y%m%d},{created:%H%M},{file_id},,,2/"]
    file_total = 0
    for group in groups:
        group_records = [f"02,{receiver},{group.bank},1,{group.as_of:%y%m%d},2400,,2/"]
        group_total = 0
        for activity in group.accounts:
            account_records = [f"03,{activity.account},{activity.currency},/"]
            account_total = 0
            for deposit in activity.deposits:
                account_records.append(_transaction(deposit))
                account_total += to_cents(deposit.amount)
            account_records.append(f"49,{account_total},{len(account_records) + 1}/")
            group_records.extend(account_records)
            group_total += account_total
        group_records.append(f"98,{group_total},{len(group.accounts)},{len(group_records) + 1}/")
        records.extend(group_records)
        file_total += group_total
    records.append(f"99,{file_total},{len(groups)},{len(records) + 1}/")
    return ("\n".join(records) + "\n").encode("ascii")
