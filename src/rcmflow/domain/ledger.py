"""The built-in double-entry ledger, as pure types: chart of accounts, journal entries and their invariants.

This module is the ONE place where "an entry must balance" is enforced (``check_balanced``); every path
that posts to the ledger goes through it. A line is a debit or a credit, never both, never negative;
amounts are exact ``Decimal`` with at most two places.

Accounts are named by ``number`` (what an ERP import expects) and carry a stable ``key`` (what services
use, e.g. ``ar_insurance``), so an organisation can renumber its chart without touching code. The two are
kept syntactically disjoint (numbers start with a digit, keys with a lower-case letter), so a line may
name its account by either.

Fiscal periods are calendar months (``"2026-03"``); a fiscal year is the calendar year.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rcmflow.domain.money import CENT, ZERO, format_amount
from rcmflow.errors import ConfigurationError, DomainRuleError, InputError, UnbalancedError

DEFAULT_CHART_PACKAGE = "rcmflow.config"
DEFAULT_CHART_FILE = "chart_of_accounts.yaml"

ACCOUNT_NUMBER = re.compile(r"^[0-9][0-9A-Za-z.\-]{0,31}$")
ACCOUNT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_AMOUNT = Decimal(10) ** 16  # NUMERIC(18,2) holds 16 digits before the point
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    CONTRA_REVENUE = "contra_revenue"  # allowances and write-offs: reduce revenue, debit-normal
    EXPENSE = "expense"


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


NATURAL_SIDE: dict[AccountType, Side] = {
    AccountType.ASSET: Side.DEBIT,
    AccountType.LIABILITY: Side.CREDIT,
    AccountType.EQUITY: Side.CREDIT,
    AccountType.REVENUE: Side.CREDIT,
    AccountType.CONTRA_REVENUE: Side.DEBIT,
    AccountType.EXPENSE: Side.DEBIT,
}


class InvalidLineError(InputError):
    """A journal line that is not exactly one non-negative, two-place debit or credit."""

    code = "invalid_journal_line"


class PeriodClosedError(DomainRuleError):
    """A posting into a fiscal period that is closed."""

    code = "period_closed"


class AlreadyReversedError(DomainRuleError):
    """An entry that was already reversed (or is itself a reversal) cannot be reversed again."""

    code = "already_reversed"


class UnknownAccountError(DomainRuleError):
    code = "unknown_account"


class UnknownJournalError(DomainRuleError):
    code = "unknown_journal"


# ---- chart of accounts ---------------------------------------------------------------------------

class Account(BaseModel):
    """One account of the chart."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str
    key: str
    name: str = Field(min_length=1, max_length=200)
    type: AccountType
    normal_side: Side | None = None  # None: the natural side of the type
    description: str | None = None

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if not ACCOUNT_NUMBER.match(value):
            raise ValueError(f"account number {value!r} must start with a digit (digits, letters, '.', '-')")
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not ACCOUNT_KEY.match(value):
            raise ValueError(f"account key {value!r} must be lower_snake_case starting with a letter")
        return value

    @property
    def side(self) -> Side:
        """The side on which this account's balance is normally carried."""
        return self.normal_side or NATURAL_SIDE[self.type]


class Journal(BaseModel):
    """A book of original entry (ERA postings, bank deposits, adjustments...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str = Field(min_length=1, max_length=200)


class Chart(BaseModel):
    """A versioned chart of accounts with its journals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chart_id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    accounts: tuple[Account, ...] = Field(min_length=1)
    journals: tuple[Journal, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Chart:
        for what, values in (("account number", [a.number for a in self.accounts]),
                             ("account key", [a.key for a in self.accounts]),
                             ("journal code", [j.code for j in self.journals])):
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                raise ValueError(f"duplicate {what}(s): {', '.join(duplicates)}")
        return self

    def account(self, key_or_number: str) -> Account:
        """The account with this key or number."""
        for account in self.accounts:
            if key_or_number in (account.key, account.number):
                return account
        raise UnknownAccountError(f"the chart {self.chart_id} has no account {key_or_number!r}")


def parse_chart(text: str, *, source: str = "<text>") -> Chart:
    """Parse and validate a chart from YAML text; ``ConfigurationError`` says what is wrong and where."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(detail=f"chart of accounts {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(detail=f"chart of accounts {source} must be a mapping with chart_id, version, "
                                        "accounts and journals")
    try:
        return Chart.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'chart'}: "
            f"{'unknown field' if e['type'] == 'extra_forbidden' else e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False))
        raise ConfigurationError(detail=f"chart of accounts {source}: {problems}") from exc


def load_chart(path: str | Path | None = None) -> Chart:
    """Load and validate the chart at ``path``, or the default shipped in ``rcmflow/config``."""
    if path is None:
        text = files(DEFAULT_CHART_PACKAGE).joinpath(DEFAULT_CHART_FILE).read_text(encoding="utf-8")
        return parse_chart(text, source=f"(default) {DEFAULT_CHART_FILE}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(detail=f"chart of accounts {path} cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(detail=f"chart of accounts {path} is not UTF-8 text") from exc
    return parse_chart(text, source=str(path))


# ---- journal entries ------------------------------------------------------------------------------

def _exact(amount: Decimal, what: str) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidLineError(f"{what}: {amount!r} is not a finite Decimal amount")
    if abs(amount) >= MAX_AMOUNT:
        raise InvalidLineError(f"{what}: {amount} exceeds NUMERIC(18,2)")
    cents = amount.quantize(CENT)
    if cents != amount:
        raise InvalidLineError(f"{what}: {amount} has fractions of a cent")
    return cents


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One side of an entry: a debit or a credit to one account (by number or key)."""

    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    memo: str | None = None

    def __post_init__(self) -> None:
        debit = _exact(self.debit, f"line on {self.account} debit")
        credit = _exact(self.credit, f"line on {self.account} credit")
        if debit < 0 or credit < 0:
            raise InvalidLineError(f"line on {self.account}: amounts are never negative (swap debit and credit)")
        if (debit == 0) == (credit == 0):
            raise InvalidLineError(f"line on {self.account}: exactly one of debit and credit must be non-zero "
                                   f"(debit {format_amount(debit)}, credit {format_amount(credit)})")
        object.__setattr__(self, "debit", debit)
        object.__setattr__(self, "credit", credit)

    def mirrored(self) -> JournalLine:
        """The same amount on the other side (for a reversal)."""
        return JournalLine(self.account, debit=self.credit, credit=self.debit, memo=self.memo)


def debit(account: str, amount: Decimal, memo: str | None = None) -> JournalLine:
    """A debit line."""
    return JournalLine(account, debit=amount, memo=memo)


def credit(account: str, amount: Decimal, memo: str | None = None) -> JournalLine:
    """A credit line."""
    return JournalLine(account, credit=amount, memo=memo)


@dataclass(frozen=True, slots=True)
class JournalEntryDraft:
    """An entry to post: balanced lines, the source object it records, and its idempotency key.

    The idempotency key names the financial effect (e.g. ``era:PAYER:TRACE:CLP01:payment``): posting the
    same key twice posts once.
    """

    journal: str
    posting_date: date
    description: str
    source_type: str
    source_id: str
    idempotency_key: str
    lines: tuple[JournalLine, ...]
    reversal_of: int | None = None

    def __post_init__(self) -> None:
        for name in ("journal", "source_type", "source_id", "idempotency_key"):
            if not getattr(self, name):
                raise InputError(f"journal entry: {name} must not be empty")
        if len(self.idempotency_key) > 200:
            raise InputError(f"journal entry: idempotency key longer than 200 characters: {self.idempotency_key!r}")
        object.__setattr__(self, "lines", tuple(self.lines))
        if len(self.lines) < 2:
            raise InvalidLineError(f"entry {self.idempotency_key}: needs at least two lines")

    @property
    def period(self) -> str:
        """The fiscal period the posting date falls in."""
        return period_of(self.posting_date)

    @property
    def total_debits(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def total_credits(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)


def check_balanced(entry: JournalEntryDraft) -> None:
    """Raise ``UnbalancedError`` (naming the entry and the difference) unless debits equal credits."""
    debits, credits = entry.total_debits, entry.total_credits
    if debits != credits:
        raise UnbalancedError(
            what=f"journal entry {entry.idempotency_key!r} ({entry.description})",
            expected=f"credits equal to debits {format_amount(debits)}",
            actual=f"credits {format_amount(credits)} (difference {format_amount(debits - credits)})")


def check_all_balanced(entries: Iterable[JournalEntryDraft]) -> None:
    """``check_balanced`` for every entry: the first that does not balance raises."""
    for entry in entries:
        check_balanced(entry)


def reversal_of(entry: JournalEntryDraft, *, entry_id: int, posting_date: date, reason: str) -> JournalEntryDraft:
    """The exact mirror of a posted entry: every line on the other side, linked by ``reversal_of``."""
    return JournalEntryDraft(
        journal=entry.journal, posting_date=posting_date,
        description=f"Reversal of entry {entry_id}: {reason}"[:300],
        source_type=entry.source_type, source_id=entry.source_id,
        idempotency_key=f"reversal:{entry_id}", lines=tuple(line.mirrored() for line in entry.lines),
        reversal_of=entry_id)


# ---- periods and balances ----------------------------------------------------------------------------

def period_of(day: date) -> str:
    """The monthly fiscal period of a date: ``"2026-03"``."""
    return f"{day.year:04d}-{day.month:02d}"


def period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a period named ``"YYYY-MM"``."""
    match = PERIOD.match(period)
    if not match:
        raise InputError(f"{period!r} is not a fiscal period (YYYY-MM)")
    year, month = int(match.group(1)), int(match.group(2))
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def periods_of_year(year: int) -> list[str]:
    """The twelve monthly periods of a fiscal year."""
    return [f"{year:04d}-{month:02d}" for month in range(1, 13)]


def normal_balance(side: Side | str, debits: Decimal, credits: Decimal) -> Decimal:
    """An account's balance on its normal side (negative when it runs the other way)."""
    return debits - credits if Side(side) is Side.DEBIT else credits - debits


@dataclass(frozen=True, slots=True)
class TrialBalanceRow:
    """One account's activity and balance."""

    number: str
    key: str
    name: str
    type: str
    normal_side: str
    debits: Decimal
    credits: Decimal

    @property
    def balance(self) -> Decimal:
        return normal_balance(self.normal_side, self.debits, self.credits)


@dataclass(frozen=True)
class TrialBalance:
    """Every account with activity up to ``as_of``, and the totals that must agree."""

    as_of: date | None
    rows: Sequence[TrialBalanceRow] = field(default_factory=tuple)

    @property
    def debits(self) -> Decimal:
        return sum((row.debits for row in self.rows), ZERO)

    @property
    def credits(self) -> Decimal:
        return sum((row.credits for row in self.rows), ZERO)

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits

    def balance_of(self, key_or_number: str) -> Decimal:
        """The normal-side balance of one account (zero when it has no activity)."""
        for row in self.rows:
            if key_or_number in (row.key, row.number):
                return row.balance
        return ZERO

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; amounts as two-place decimal strings."""
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "accounts": [{"number": r.number, "key": r.key, "name": r.name, "type": r.type,
                          "normal_side": r.normal_side, "debits": format_amount(r.debits),
                          "credits": format_amount(r.credits), "balance": format_amount(r.balance)}
                         for r in self.rows],
            "debits": format_amount(self.debits),
            "credits": format_amount(self.credits),
            "balanced": self.balanced,
        }
