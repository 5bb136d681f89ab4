"""Located problems in bank files (BAI2, lockbox CSV): one issue type and one code catalogue.

Like the X12 layer, bank readers never raise for bad content: each problem is a ``BankIssue`` naming
the physical line (1-based; 0 = the file as a whole), the record (BAI2 record code such as "16", or
"row" for CSV), the field (1-based position after the record code, or the CSV column number), a stable
code from ``ISSUE_CODES`` and a message a cash poster can act on.
"""

from __future__ import annotations

from typing import NamedTuple

ERROR = "error"
WARNING = "warning"

ISSUE_CODES: dict[str, str] = {
    "empty": "The input is empty",
    "not_bai2": "The input is not a BAI2 file: it does not start with an 01 file header",
    "not_lockbox_csv": "The input is not a lockbox CSV file: its header row lacks required columns",
    "invalid_character": "The input has bytes that are not valid text",
    "truncated": "The input ends before its trailer records",
    "envelope": "A record is out of order (headers, trailers and details must nest)",
    "unknown_record": "The record code is not a BAI2 record code",
    "unsupported_version": "The file declares a BAI version other than 2",
    "missing_field": "A required field is empty",
    "bad_amount": "A field that must be an amount is not one",
    "bad_number": "A field that must be a whole number is not one",
    "bad_date": "A field that must be a date is not a valid date",
    "bad_time": "A field that must be a time is not a valid time",
    "bad_code": "A field holds a code its list does not define",
    "unknown_type_code": "The BAI type code is not in the published list nor the custom 900-999 range",
    "control_total_mismatch": "A trailer's control total does not equal the sum of what it encloses",
    "count_mismatch": "A trailer's record, account or group count does not match what it encloses",
    "duplicate_column": "The header row names the same column twice",
    "unknown_column": "The header row has a column the layout does not define (ignored)",
    "bad_csv": "The CSV quoting is malformed; reading stopped there",
    "wrong_field_count": "The row has a different number of fields than the header",
}


class BankIssue(NamedTuple):
    """One located problem in a bank file."""

    line: int  # 1-based physical line; 0 = the file as a whole
    record: str | None  # BAI2 record code ("16"), "header"/"row" for CSV, None when unknown
    field: int | None  # 1-based field after the record code (CSV: column number), None = whole record
    code: str
    message: str
    severity: str = ERROR

    def to_dict(self) -> dict[str, object]:
        """The issue as a JSON object (same keys as the attributes)."""
        return self._asdict()

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.record:
            where += f" ({self.record}" + (f" field {self.field})" if self.field is not None else ")")
        return f"{where}: {self.code}: {self.message}"


def show(value: str, limit: int = 40) -> str:
    """A field value quoted for a message, cut short so one huge field cannot flood the report."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def has_errors(issues: tuple[BankIssue, ...] | list[BankIssue]) -> bool:
    """True when any issue is an error (warnings alone leave a file usable)."""
    return any(issue.severity == ERROR for issue in issues)
