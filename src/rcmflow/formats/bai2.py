"""Read BAI2 bank files (Cash Management Balance Reporting Specifications v2) into deposits.

    01,121000358,987654321,250314,0200,FILE0314,,,2/          file header
    02,987654321,121000358,1,250313,2400,USD,2/               group header (one bank, one as-of date)
    03,0001234567,USD,010,10000000,,,015,12500000,,/          account + summary/status amounts
    16,165,2500000,0,BR0001,CR0001/                           transaction detail
    88,TRN*1*12345678*1512345678\\                            continuation (here: the 16's text)
    49,25001250,4/                                            account trailer: control total, records
    98,25001250,1,6/                                          group trailer: total, accounts, records
    99,25001250,1,8/                                          file trailer: total, groups, records

Amounts are integers in the currency's minor unit (cents), with no decimal point. A '/' ends a record's
data and defaults the fields left out; an 88 record continues the record before it. The 16 record's
funds type decides how many availability fields follow it (see ``FUNDS_TYPES``); its text runs to the
end of the record, commas included, and 88 continuations of text are joined with a space.

Why not the PyPI ``bai2`` package (0.15): it reads the happy path right, but raises on the first
problem without a line number, refuses a whole file for one bank-specific type code, fails on empty
input with a RuntimeError and gives int amounts. This reader never raises for bad content: it collects
located ``BankIssue`` items, checks every trailer's control total and counts, and goes on where it can.
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.deposit import BankAccountReport, BankFile, Deposit, Summary, parse_addenda
from rcmflow.formats.bai2_codes import FUNDS_TYPES, is_known_type_code, minor_units, type_direction
from rcmflow.formats.bank_issues import ERROR, WARNING, BankIssue, show

_RECORD_CODES = frozenset({"01", "02", "03", "16", "88", "49", "98", "99"})
# At most 18 digits: beyond any real balance, and long digit strings would hit int()'s conversion limit.
_SIGNED_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_COUNT = re.compile(r"[0-9]{1,9}")
_END_OF_DAY = frozenset({"2400", "9999"})  # both mean end of day in BAI2


class BaiResult(NamedTuple):
    """Everything read from one BAI2 file, with its located issues."""

    file: BankFile | None
    accounts: tuple[BankAccountReport, ...]
    deposits: tuple[Deposit, ...]
    issues: tuple[BankIssue, ...]

    @property
    def ok(self) -> bool:
        """True when no issue is an error."""
        return not any(issue.severity == ERROR for issue in self.issues)


class _Field(NamedTuple):
    value: str
    line: int
    position: int  # 1-based field position after the record code, counted across continuations
    piece: int  # which physical line of the logical record (0 = the record itself, 1.. = 88s)


class _Record:
    """One logical record: a physical line and its 88 continuations, split into located fields."""

    def __init__(self, code: str, line: int) -> None:
        self.code = code
        self.line = line
        self.physical = 0
        self.fields: list[_Field] = []
        self.cursor = 0

    def add(self, line: int, body: str) -> None:
        # A trailing '/' ends the physical record's data; it is not part of the last field.
        body = body[:-1] if body.endswith("/") else body
        piece = self.physical
        self.physical += 1
        if body:
            for value in body.split(","):
                # Raw values: the text field keeps its spaces; take() strips the coded fields.
                self.fields.append(_Field(value, line, len(self.fields) + 1, piece))

    def take(self, piece: int | None = None) -> _Field:
        """The next field; an empty one when the record (or the given piece) has no more."""
        if self.cursor < len(self.fields) and (piece is None or self.fields[self.cursor].piece == piece):
            field = self.fields[self.cursor]
            self.cursor += 1
            return field._replace(value=field.value.strip())
        last_line = self.fields[self.cursor - 1].line if self.cursor else self.line
        return _Field("", last_line, self.cursor + 1, -1)

    def piece_remaining(self) -> list[_Field]:
        """Fields left in the piece the cursor is in."""
        if self.cursor >= len(self.fields):
            return []
        piece = self.fields[self.cursor].piece
        return [field for field in self.fields[self.cursor :] if field.piece == piece]

    def rest_as_text(self) -> str:
        """The remaining fields as free text: commas kept within a line, continuation lines joined by a space."""
        parts: dict[int, list[str]] = {}
        for field in self.fields[self.cursor :]:
            parts.setdefault(field.piece, []).append(field.value)
        self.cursor = len(self.fields)
        return " ".join(text for text in (",".join(values).strip() for values in parts.values()) if text)


class _Account:
    def __init__(self, record: _Record, number: str, currency: str) -> None:
        self.line = record.line
        self.number = number
        self.currency = currency
        self.records = record.physical
        self.total = 0
        self.unreadable = False  # an amount could not be read: the control total check would mislead


class _Group:
    def __init__(self, record: _Record, bank: str, as_of: date | None, as_of_time: time | None, currency: str):
        self.line = record.line
        self.bank = bank
        self.as_of = as_of
        self.as_of_time = as_of_time
        self.currency = currency
        self.records = record.physical
        self.accounts = 0
        self.total = 0
        self.unreadable = False


class _Reader:
    def __init__(self) -> None:
        self.issues: list[BankIssue] = []
        self.file: BankFile | None = None
        self.accounts: list[BankAccountReport] = []
        self.deposits: list[Deposit] = []
        self.group: _Group | None = None
        self.account: _Account | None = None
        self.file_records = 0
        self.file_groups = 0
        self.file_total = 0
        self.closed = False
        self.after_close_reported = False

    # -- issues and field readers ------------------------------------------------------------------

    def issue(self, line: int, record: str | None, field: int | None, code: str, message: str,
              severity: str = ERROR) -> None:
        self.issues.append(BankIssue(line, record, field, code, message, severity))

    def amount(self, record: _Record, field: _Field, name: str, *, required: bool) -> int | None:
        if not field.value:
            if required:
                self.issue(field.line, record.code, field.position, "missing_field", f"{name} is required")
            return None
        if not _SIGNED_INTEGER.fullmatch(field.value):
            self.issue(field.line, record.code, field.position, "bad_amount",
                       f"{name} {show(field.value)} is not a whole number of minor units")
            return None
        return int(field.value)

    def number(self, record: _Record, field: _Field, name: str) -> int | None:
        if not field.value:
            return None
        if not _COUNT.fullmatch(field.value):
            self.issue(field.line, record.code, field.position, "bad_number",
                       f"{name} {show(field.value)} is not a number")
            return None
        return int(field.value)

    def date(self, record: _Record, field: _Field, name: str) -> date | None:
        if not field.value:
            return None
        text = field.value
        try:
            if len(text) != 6 or not text.isdigit():
                raise ValueError(text)
            return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
        except ValueError:
            self.issue(field.line, record.code, field.position, "bad_date", f"{name} {show(text)} is not a YYMMDD date")
            return None

    def time(self, record: _Record, field: _Field, name: str) -> time | None:
        text = field.value
        if not text:
            return None
        if text in _END_OF_DAY:
            return time.max
        try:
            if len(text) != 4 or not text.isdigit():
                raise ValueError(text)
            return time(int(text[:2]), int(text[2:]))
        except ValueError:
            self.issue(field.line, record.code, field.position, "bad_time", f"{name} {show(text)} is not an HHMM time")
            return None

    def to_decimal(self, cents: int, currency: str) -> Decimal:
        return Decimal(cents).scaleb(-minor_units(currency))

    def type_code(self, record: _Record, field: _Field) -> str | None:
        code = field.value
        if not code:
            self.issue(field.line, record.code, field.position, "missing_field", "type code is required")
            return None
        if len(code) != 3 or not code.isdigit() or not code.isascii():
            self.issue(field.line, record.code, field.position, "bad_code",
                       f"type code {show(code)} is not three digits")
            return None
        if not is_known_type_code(code):
            self.issue(field.line, record.code, field.position, "unknown_type_code",
                       f"type code {code} is not a published BAI2 code; its direction is unknown", WARNING)
        return code

    def availability(self, record: _Record, funds: _Field, currency: str, piece: int | None
                     ) -> tuple[str, tuple[tuple[str, Decimal], ...], date | None]:
        """Read the fields a funds type brings: (funds type, availability, value date)."""
        funds_type = funds.value.upper()
        if funds_type not in FUNDS_TYPES:
            self.issue(funds.line, record.code, funds.position, "bad_code",
                       f"funds type {show(funds.value)} is not one of 0, 1, 2, S, V, D, Z")
            return funds_type, (), None
        if funds_type == "S":
            pairs = []
            for days in ("0", "1", "2+"):
                cents = self.amount(record, record.take(piece), f"{days}-day availability", required=False)
                pairs.append((days, self.to_decimal(cents or 0, currency)))
            return funds_type, tuple(pairs), None
        if funds_type == "V":
            value_date = self.date(record, record.take(piece), "value date")
            self.time(record, record.take(piece), "value time")
            return funds_type, (), value_date
        if funds_type == "D":
            count_field = record.take(piece)
            count = self.number(record, count_field, "number of distributions")
            if count is None:
                self.issue(count_field.line, record.code, count_field.position, "missing_field",
                           "funds type D needs the number of distributions")
                return funds_type, (), None
            available = len(record.piece_remaining() if piece is not None else record.fields[record.cursor :])
            if count * 2 > available:
                # A count beyond the fields present would otherwise loop on defaulted fields.
                self.issue(count_field.line, record.code, count_field.position, "count_mismatch",
                           f"funds type D announces {count} distributions; the record holds {available // 2}")
                count = available // 2
            pairs = []
            for _ in range(count):
                days_field = record.take(piece)
                self.number(record, days_field, "availability days")
                cents = self.amount(record, record.take(piece), "distributed amount", required=True)
                pairs.append((days_field.value, self.to_decimal(cents or 0, currency)))
            return funds_type, tuple(pairs), None
        return funds_type, (), None

    # -- records --------------------------------------------------------------------------------------

    def read(self, record: _Record) -> None:
        self.file_records += record.physical
        if self.group is not None:
            self.group.records += record.physical if record.code not in ("02", "01") else 0
        if self.account is not None and record.code not in ("01", "02", "03", "98", "99"):
            self.account.records += record.physical
        if self.closed:
            if not self.after_close_reported:
                self.issue(record.line, record.code, None, "envelope", "records after the 99 file trailer")
                self.after_close_reported = True
            return
        handlers = {"01": self.read_01, "02": self.read_02, "03": self.read_03, "16": self.read_16,
                    "49": self.read_49, "98": self.read_98, "99": self.read_99}
        handlers[record.code](record)  # 88s were folded into their record; other codes never get here

    def read_01(self, record: _Record) -> None:
        if self.file is not None or self.file_records != record.physical:
            self.issue(record.line, "01", None, "envelope", "the 01 file header must be the first record, once")
            return
        sender, receiver = record.take(), record.take()
        created = self.date(record, record.take(), "file creation date")
        created_time = self.time(record, record.take(), "file creation time")
        file_id = record.take()
        record.take(), record.take()  # physical record length and block size: line splitting handled them
        version = record.take()
        if version.value and version.value != "2":
            self.issue(version.line, "01", version.position, "unsupported_version",
                       f"BAI version {show(version.value)}; this reader follows version 2", WARNING)
        if not sender.value:
            self.issue(sender.line, "01", sender.position, "missing_field", "sender identification is required")
        self.file = BankFile(sender.value, receiver.value, created, created_time, file_id.value, version.value or "2")

    def read_02(self, record: _Record) -> None:
        if self.group is not None:
            self.issue(record.line, "02", None, "envelope", f"group of line {self.group.line} has no 98 trailer")
        self.account = None
        record.take()  # ultimate receiver
        originator = record.take()
        record.take()  # group status: 1 update, 2 deletion, 3 correction, 4 test only
        as_of = self.date(record, record.take(), "as-of date")
        as_of_time = self.time(record, record.take(), "as-of time")
        currency = record.take().value.upper() or "USD"
        self.group = _Group(record, originator.value, as_of, as_of_time, currency)
        self.file_groups += 1

    def read_03(self, record: _Record) -> None:
        if self.account is not None:
            self.issue(record.line, "03", None, "envelope", f"account of line {self.account.line} has no 49 trailer")
        group = self.group
        if group is None:
            self.issue(record.line, "03", None, "envelope", "03 account record outside a 02 group")
        number = record.take()
        if not number.value:
            self.issue(number.line, "03", number.position, "missing_field", "customer account number is required")
        currency = record.take().value.upper() or (group.currency if group else "USD")
        account = _Account(record, number.value, currency)
        self.account = account
        summaries = []
        while remaining := record.piece_remaining():
            if not any(field.value.strip() for field in remaining):
                record.cursor += len(remaining)  # only defaulted fields left on this line
                continue
            # A summary never spans lines: the '/' ending a line defaults the fields it left out.
            piece = remaining[0].piece
            code = self.type_code(record, record.take(piece))
            cents = self.amount(record, record.take(piece), "summary amount", required=False)
            count = self.number(record, record.take(piece), "item count")
            funds_type, _, _ = self.availability(record, record.take(piece), currency, piece)
            if cents is not None:
                account.total += cents
            if code is not None:
                amount = self.to_decimal(cents, currency) if cents is not None else None
                summaries.append(Summary(code, amount, count, funds_type))
        bank, as_of, as_of_time = (group.bank, group.as_of, group.as_of_time) if group else ("", None, None)
        self.accounts.append(BankAccountReport(bank, number.value, currency, as_of, tuple(summaries), as_of_time,
                                               record.line))

    def read_16(self, record: _Record) -> None:
        account = self.account
        if account is None:
            self.issue(record.line, "16", None, "envelope", "16 transaction outside an 03 account")
            return
        code = self.type_code(record, record.take())
        amount_field = record.take()
        cents = self.amount(record, amount_field, "amount", required=True)
        if cents is None:
            account.unreadable = True
        elif cents < 0:
            self.issue(amount_field.line, "16", amount_field.position, "bad_amount",
                       "a transaction amount is unsigned; the type code gives its direction")
        funds_type, availability, value_date = self.availability(record, record.take(), account.currency, None)
        bank_reference, customer_reference = record.take().value, record.take().value
        text = record.rest_as_text()
        if cents is None:
            return
        account.total += cents
        if code is None:
            return
        direction = type_direction(code)
        if direction is None:
            # Unknown codes were reported by type_code(); a status code has no place in a 16 record.
            if is_known_type_code(code):
                self.issue(record.line, "16", 1, "bad_code",
                           f"type code {code} is a status or informational code; no deposit recorded", WARNING)
            return
        addenda = parse_addenda(text, customer_reference)
        group = self.group
        as_of = group.as_of if group else None
        self.deposits.append(Deposit(
            account=account.number, amount=self.to_decimal(abs(cents), account.currency),
            value_date=value_date or as_of, direction=direction, type_code=code,
            bank_reference=bank_reference, customer_reference=customer_reference, text=text,
            trace_number=addenda.trace_number, originator_id=addenda.originator_id, payer_name=addenda.payer_name,
            currency=account.currency, bank=group.bank if group else "", as_of_date=as_of,
            funds_type=funds_type, availability=availability, source="bai2", line=record.line,
        ))

    def check_trailer(self, record: _Record, total: int | None, computed: int, count: _Field, counted: int,
                      what: str, check_total: bool = True) -> None:
        declared = self.number(record, count, "record count")
        if check_total and total is not None and total != computed:
            self.issue(record.line, record.code, 1, "control_total_mismatch",
                       f"{what} control total is {total}, the records it encloses sum to {computed}")
        if declared is not None and declared != counted:
            self.issue(count.line, record.code, count.position, "count_mismatch",
                       f"{what} record count is {declared}, it encloses {counted} records")

    def read_49(self, record: _Record) -> None:
        account = self.account
        if account is None:
            self.issue(record.line, "49", None, "envelope", "49 account trailer without an 03 account")
            return
        total = self.amount(record, record.take(), "account control total", required=True)
        self.check_trailer(record, total, account.total, record.take(), account.records, "account",
                           check_total=not account.unreadable)
        if self.group is not None:
            self.group.accounts += 1
            # Carry the data's own total up, so one wrong trailer is reported once, not at every level;
            # when an amount was unreadable only the declared total is meaningful.
            carried = total if account.unreadable and total is not None else account.total
            self.group.total += carried
            self.group.unreadable |= account.unreadable
        self.account = None

    def read_98(self, record: _Record) -> None:
        group = self.group
        if group is None:
            self.issue(record.line, "98", None, "envelope", "98 group trailer without a 02 group")
            return
        if self.account is not None:
            self.issue(record.line, "98", None, "envelope", f"account of line {self.account.line} has no 49 trailer")
            self.account = None
        total = self.amount(record, record.take(), "group control total", required=True)
        accounts_field = record.take()
        accounts = self.number(record, accounts_field, "number of accounts")
        if accounts is not None and accounts != group.accounts:
            self.issue(accounts_field.line, "98", accounts_field.position, "count_mismatch",
                       f"group declares {accounts} accounts, it encloses {group.accounts}")
        self.check_trailer(record, total, group.total, record.take(), group.records, "group")
        self.file_total += total if group.unreadable and total is not None else group.total
        self.group = None

    def read_99(self, record: _Record) -> None:
        if self.group is not None:
            self.issue(record.line, "99", None, "envelope", f"group of line {self.group.line} has no 98 trailer")
            self.group = self.account = None
        total = self.amount(record, record.take(), "file control total", required=True)
        groups_field = record.take()
        groups = self.number(record, groups_field, "number of groups")
        if groups is not None and groups != self.file_groups:
            self.issue(groups_field.line, "99", groups_field.position, "count_mismatch",
                       f"file declares {groups} groups, it encloses {self.file_groups}")
        self.check_trailer(record, total, self.file_total, record.take(), self.file_records, "file")
        self.closed = True


def _decode(content: bytes, issues: list[BankIssue]) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        issues.append(BankIssue(line, None, None, "invalid_character",
                                f"byte {exc.start} is not UTF-8; read as Latin-1", WARNING))
        return content.decode("latin-1")


def _physical_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines; a file sent as fixed-length records without line breaks is cut at its record length."""
    if "\n" not in text and "\r" not in text:
        header = text.split("/", 1)[0].split(",")
        length = header[6] if len(header) > 6 else ""
        if length.isdigit() and 0 < int(length) < len(text):
            size = int(length)
            return [(n + 1, text[i : i + size]) for n, i in enumerate(range(0, len(text), size))]
    return list(enumerate(text.splitlines(), start=1))


def parse_bai2(content: bytes) -> BaiResult:
    """Read a BAI2 file into its header, account reports and deposits; never raises for bad content."""
    issues: list[BankIssue] = []
    text = _decode(content, issues).lstrip("\ufeff")
    if not text.strip():
        return BaiResult(None, (), (), (BankIssue(0, None, None, "empty", "the file is empty"),))
    reader = _Reader()
    reader.issues = issues
    records: list[_Record] = []
    for number, raw in _physical_lines(text):
        line = raw.strip()
        if not line:
            continue
        code = line[:2]
        separator = line[2:3]
        if code not in _RECORD_CODES or separator not in ("", ",", "/"):
            if not records:
                reader.issue(number, None, None, "not_bai2", "the file does not start with an 01 file header")
                return BaiResult(None, (), (), tuple(reader.issues))
            reader.issue(number, code, None, "unknown_record", f"{line[:10]!r} does not start with a record code")
            continue
        if not records and code != "01":
            reader.issue(number, code, None, "not_bai2", "the file does not start with an 01 file header")
            return BaiResult(None, (), (), tuple(reader.issues))
        if code == "88" and records:
            records[-1].add(number, line[3:])
            continue
        records.append(_Record(code, number))
        records[-1].add(number, line[3:])
    for record in records:
        reader.read(record)
    if not reader.closed:
        last = records[-1].line if records else 0
        reader.issue(last, None, None, "truncated", "the file ends without its 99 file trailer")
    return BaiResult(reader.file, tuple(reader.accounts), tuple(reader.deposits), tuple(reader.issues))
