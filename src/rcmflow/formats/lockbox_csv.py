"""Read lockbox CSV files (one row per check the lockbox processed) into deposits.

The layout (also in docs/formats/lockbox-csv.md): UTF-8 (a byte order mark is allowed), comma separated,
RFC 4180 quoting, a header row first. Columns are found by their header name, in any order; names are
matched ignoring case, spaces, hyphens and underscores ("Check Number" = "check_number").

    column           required  content
    deposit_date     yes       YYYY-MM-DD (or MM/DD/YYYY): the date the bank credited the deposit
    batch            yes       lockbox batch number
    check_number     yes       check (or EFT) number as printed
    payer            yes       payer name
    amount           yes       decimal amount in dollars, "1234.56" (a leading $ and 1,234 grouping allowed)
    account          yes       bank account number the lockbox deposits to
    trace_number     no        the 835 TRN02 when the lockbox captured it (else the check number serves)
    claim_reference  no        patient control number written on the stub
    payer_id         no        payer identifier (TRN03 or TIN)

    deposit_date,batch,check_number,payer,amount,account,trace_number,claim_reference
    2025-03-14,001,104233,Blue Cross Blue Shield,1520.75,0001234567,104233,PCN-0042

Amounts are read exactly as Decimal. Rows with problems are skipped and reported as located
``BankIssue`` items (line = physical line, field = 1-based column); the reader never raises.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.deposit import CREDIT, Deposit, parse_addenda
from rcmflow.domain.money import CENT
from rcmflow.formats.bank_issues import ERROR, WARNING, BankIssue, show

REQUIRED = ("deposit_date", "batch", "check_number", "payer", "amount", "account")
OPTIONAL = ("trace_number", "claim_reference", "payer_id")
# Names lockbox vendors commonly use, normalised (see ``normalise_header``), mapped to the layout's.
ALIASES = {
    "depositdate": "deposit_date", "date": "deposit_date",
    "batch": "batch", "batchnumber": "batch", "batchid": "batch",
    "checknumber": "check_number", "checkno": "check_number", "check": "check_number", "check#": "check_number",
    "payer": "payer", "payername": "payer",
    "amount": "amount", "checkamount": "amount",
    "account": "account", "accountnumber": "account",
    "tracenumber": "trace_number", "trace": "trace_number",
    "claimreference": "claim_reference", "patientcontrolnumber": "claim_reference",
    "payerid": "payer_id",
}
_AMOUNT = re.compile(r"\$?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?")


class LockboxResult(NamedTuple):
    """The deposits of one lockbox file, with its located issues."""

    deposits: tuple[Deposit, ...]
    issues: tuple[BankIssue, ...]

    @property
    def ok(self) -> bool:
        """True when no issue is an error."""
        return not any(issue.severity == ERROR for issue in self.issues)


def normalise_header(name: str) -> str:
    """Header name as matched against ``ALIASES``: lower case, without spaces, hyphens or underscores."""
    return re.sub(r"[\s_\-]", "", name.strip().lower())


def column_map(header: list[str]) -> dict[str, int]:
    """Layout column name -> 0-based index for a header row (unknown and repeated names left out)."""
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        canonical = ALIASES.get(normalise_header(name))
        if canonical and canonical not in columns:
            columns[canonical] = index
    return columns


def _parse_date(text: str) -> date:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return date.fromisoformat(text)
    if match := re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", text):
        return date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
    raise ValueError(text)


def _decode(content: bytes, issues: list[BankIssue]) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        issues.append(BankIssue(line, None, None, "invalid_character",
                                f"byte {exc.start} is not UTF-8; read as Latin-1", WARNING))
        return content.decode("latin-1")


def _read_header(header: list[str], issues: list[BankIssue]) -> dict[str, int] | None:
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        canonical = ALIASES.get(normalise_header(name))
        if canonical is None:
            if name.strip():
                issues.append(BankIssue(1, "header", index + 1, "unknown_column",
                                        f"column {show(name.strip())} is not in the lockbox layout; ignored", WARNING))
        elif canonical in seen:
            issues.append(BankIssue(1, "header", index + 1, "duplicate_column",
                                    f"column {show(name.strip())} repeats column {seen[canonical] + 1}"))
        else:
            seen[canonical] = index
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        issues.append(BankIssue(1, "header", None, "not_lockbox_csv",
                                f"the header row lacks required columns: {', '.join(missing)}"))
        return None
    if any(issue.code == "duplicate_column" for issue in issues):
        return None
    return seen


def _read_row(row: list[str], line: int, columns: dict[str, int], issues: list[BankIssue]) -> Deposit | None:
    def value(name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    def problem(name: str, code: str, message: str) -> None:
        issues.append(BankIssue(line, "row", columns[name] + 1, code, message))

    before = len(issues)
    for name in REQUIRED:
        if not value(name):
            problem(name, "missing_field", f"{name} is required")
    amount_text = value("amount")
    amount = None
    if amount_text:
        if _AMOUNT.fullmatch(amount_text):
            amount = Decimal(amount_text.replace("$", "").replace(",", "")).quantize(CENT)
        else:
            problem("amount", "bad_amount", f"amount {show(amount_text)} is not a positive decimal amount like 1234.56")
    deposit_date = None
    if date_text := value("deposit_date"):
        try:
            deposit_date = _parse_date(date_text)
        except ValueError:
            problem("deposit_date", "bad_date", f"deposit date {show(date_text)} is not YYYY-MM-DD or MM/DD/YYYY")
    if len(issues) > before or amount is None:
        return None
    trace = value("trace_number")
    addenda = parse_addenda(trace, value("claim_reference"))
    return Deposit(
        account=value("account"), amount=amount, value_date=deposit_date, direction=CREDIT,
        customer_reference=value("check_number"), trace_number=addenda.trace_number or trace,
        originator_id=value("payer_id") or addenda.originator_id, payer_name=value("payer"),
        as_of_date=deposit_date, batch=value("batch"), check_number=value("check_number"),
        claim_reference=value("claim_reference"), source="lockbox_csv", line=line,
    )


def parse_lockbox_csv(content: bytes) -> LockboxResult:
    """Read a lockbox CSV file into deposits (one per row); never raises for bad content."""
    issues: list[BankIssue] = []
    text = _decode(content, issues)
    if not text.strip():
        return LockboxResult((), (BankIssue(0, None, None, "empty", "the file is empty"),))
    deposits: list[Deposit] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
        columns = _read_header(header, issues)
        if columns is None:
            return LockboxResult((), tuple(issues))
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num  # a quoted field may span lines: report the first
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                issues.append(BankIssue(start, "row", None, "wrong_field_count",
                                        f"the row has {len(row)} fields, the header {len(header)}"))
                continue
            if deposit := _read_row(row, start, columns, issues):
                deposits.append(deposit)
    except csv.Error as exc:
        # Malformed quoting stops the csv module mid-file; the rows read before it stay valid.
        issues.append(BankIssue(reader.line_num, "row", None, "bad_csv", f"CSV syntax: {exc}"))
    return LockboxResult(tuple(deposits), tuple(issues))
