"""Canonical bank deposits: what a bank file (BAI2) or a lockbox file says arrived in an account.

Reassociation (CAQH CORE 370) pairs a deposit with its 835 by trace number, amount and date. For an
ACH/CCD+ payment the 835's TRN02 (check or EFT trace number) travels in the ACH addenda, which the bank
reports in the 16 record's text and 88 continuations as the X12 fragment ``TRN*1*<trace>*<originator>\\``;
some banks put it in the customer reference instead. ``parse_addenda`` finds it in either place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, time
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.money import ZERO

CREDIT = "credit"
DEBIT = "debit"

# TRN*1*<trace>*<originator>[*<ref>]: the X12 reassociation trace inside ACH addenda; elements end at
# the next separator or at a segment terminator (\ or ~ as payers send it) or whitespace.
_TRN = re.compile(r"TRN\*1\*([^*\\~\s]+)(?:\*([^*\\~\s]*))?")
# Bank renderings of the NACHA batch header, e.g. "ORIG CO NAME:AETNA AS01 ORIG ID:1066033492 DESC ...".
_ORIG_NAME = re.compile(r"ORIG(?:INATOR)? CO(?:MPANY)? NAME\s*:\s*(.*?)\s*(?=ORIG(?:INATOR)? ID|CO ENTRY|$)")
_ORIG_ID = re.compile(r"ORIG(?:INATOR)? ID\s*:\s*(\S+)")


class BankFile(NamedTuple):
    """The 01 file header: who sent the file to whom, when, and its file id."""

    sender: str
    receiver: str
    creation_date: date | None
    creation_time: time | None  # bank-local time of day; BAI2 carries no zone ("2400"/"9999" = time.max)
    file_id: str
    version: str = "2"


class Summary(NamedTuple):
    """One summary or status amount of an 03 record: BAI type code, amount, item count, funds type."""

    type_code: str
    amount: Decimal | None
    item_count: int | None = None
    funds_type: str = ""


class BankAccountReport(NamedTuple):
    """One account of one group (02 + 03 ... 49): balances and activity totals the bank reported."""

    bank: str  # 02 originator identification (the reporting bank, often its routing number)
    account: str
    currency: str
    as_of_date: date | None
    summaries: tuple[Summary, ...] = ()
    as_of_time: time | None = None
    line: int = 0

    def summary(self, type_code: str) -> Decimal | None:
        """The amount reported under a type code (e.g. "015" closing ledger), None when absent."""
        for item in self.summaries:
            if item.type_code == type_code:
                return item.amount
        return None


class Addenda(NamedTuple):
    """What reassociation can read from the free text of a deposit."""

    trace_number: str = ""
    originator_id: str = ""
    payer_name: str = ""


class Deposit(NamedTuple):
    """One bank transaction (BAI2 16 record) or one lockbox item, in the currency's major unit."""

    account: str
    amount: Decimal  # always positive; ``direction`` says which way the money moved
    value_date: date | None
    direction: str  # CREDIT or DEBIT
    type_code: str = ""  # BAI type code: 165 ACH credit, 175 check deposit, 195 wire ...; "" for lockbox
    bank_reference: str = ""
    customer_reference: str = ""
    text: str = ""  # the 16 record's text with its 88 continuations joined by a space
    trace_number: str = ""  # the 835 TRN02 when the text or a reference carries it
    originator_id: str = ""  # TRN03 (1 + payer TIN) or the ACH originator id
    payer_name: str = ""
    currency: str = "USD"
    bank: str = ""
    as_of_date: date | None = None
    funds_type: str = ""
    availability: tuple[tuple[str, Decimal], ...] = ()  # (days, amount): "0", "1", "2+" or a day count
    batch: str = ""  # lockbox batch
    check_number: str = ""
    claim_reference: str = ""  # lockbox: the patient control number written on the check stub
    source: str = ""  # "bai2" or "lockbox_csv"
    line: int = 0  # physical line of the record in its file

    @property
    def is_credit(self) -> bool:
        """True when money came into the account."""
        return self.direction == CREDIT

    @property
    def signed_amount(self) -> Decimal:
        """The amount with debits negative."""
        return self.amount if self.direction == CREDIT else -self.amount

    def reassociation_keys(self) -> tuple[str, ...]:
        """Candidate 835 trace numbers, best first: the parsed TRN02, then the references."""
        keys = [self.trace_number, self.customer_reference.strip(), self.check_number.strip()]
        return tuple(dict.fromkeys(key for key in keys if key))


def parse_addenda(*texts: str) -> Addenda:
    """Trace number, originator id and payer name from deposit text and references (first TRN wins)."""
    trace = originator = name = ""
    for text in texts:
        if not text:
            continue
        if not trace and (match := _TRN.search(text)):
            trace, originator = match.group(1), match.group(2) or originator
        if not name and (match := _ORIG_NAME.search(text)):
            name = match.group(1).strip()
        if not originator and (match := _ORIG_ID.search(text)):
            originator = match.group(1)
    return Addenda(trace, originator, name)


def credit_total(deposits: Iterable[Deposit]) -> Decimal:
    """Sum of credit amounts (what reconciliation must account for)."""
    return sum((deposit.amount for deposit in deposits if deposit.direction == CREDIT), ZERO)


def net_total(deposits: Iterable[Deposit]) -> Decimal:
    """Credits minus debits."""
    return sum((deposit.signed_amount for deposit in deposits), ZERO)
