"""Located X12 problems: one structured issue type, one error carrying them, one code catalogue.

Every problem the X12 layer finds, from "this is not X12" to "the claim does not balance", is an
``X12Issue`` naming the segment (1-based position in the file and its id), the element (1-based
position, or None), a stable code from ``ISSUE_CODES`` and a message a billing analyst can act on.
Readers never raise for bad content: they collect issues and go on where they safely can.
"""

from __future__ import annotations

from typing import NamedTuple

from rcmflow.errors import InputError

ERROR = "error"
WARNING = "warning"

# Stable issue codes. The second item is the 999 acknowledgment code the issue maps to:
# "IK3:n" segment syntax error, "IK4:n" element syntax error, "IK5:n" transaction set error,
# "AK9:n" functional group error; "" when the issue is semantic (balancing) and has no 999 code.
ISSUE_CODES: dict[str, tuple[str, str]] = {
    "not_x12": ("The input is not X12: it does not start with an ISA segment", ""),
    "empty": ("The input is empty", ""),
    "invalid_character": ("The input has bytes that are not valid text", "IK4:6"),
    "bad_isa": ("The ISA interchange header is malformed", ""),
    "truncated": ("The input ends in the middle of an interchange", "IK5:2"),
    "envelope": ("The envelope (ISA/GS/ST and their trailers) is out of order", "IK5:2"),
    "control_number_mismatch": ("A header and its trailer carry different control numbers", "IK5:3"),
    "count_mismatch": ("A trailer's count does not match what it encloses", "IK5:4"),
    "unsupported_transaction": ("The transaction set or implementation guide is not supported", "IK5:1"),
    "unknown_segment": ("The segment is not defined for this transaction set", "IK3:2"),
    "unexpected_segment": ("The segment is not valid at this place in the transaction", "IK3:7"),
    "missing_segment": ("A required segment is missing", "IK3:3"),
    "missing_element": ("A required element is missing", "IK4:1"),
    "too_many_elements": ("The segment has more elements than its definition", "IK4:3"),
    "bad_number": ("An element that must be a number is not one", "IK4:6"),
    "bad_date": ("An element that must be a date is not a valid date", "IK4:8"),
    "bad_time": ("An element that must be a time is not a valid time", "IK4:9"),
    "bad_code": ("An element holds a code its list does not define", "IK4:7"),
    "too_long": ("An element is longer than its definition allows", "IK4:5"),
    "unbalanced": ("Amounts that must balance do not", ""),
}


class X12Issue(NamedTuple):
    """One located problem in an X12 input."""

    segment_index: int  # 1-based position of the segment in the file; 0 = before any segment
    segment_id: str | None
    element: int | None  # 1-based element position, None when the whole segment is concerned
    code: str
    message: str
    severity: str = ERROR
    value: str | None = None  # the offending element value, copied into 999 IK4-4

    def to_dict(self) -> dict[str, object]:
        """The issue as the JSON object of the ``x12 inspect`` contract (plus its severity)."""
        return {
            "segment_index": self.segment_index,
            "segment_id": self.segment_id,
            "element": self.element,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
        }

    def __str__(self) -> str:
        where = f"segment {self.segment_index}"
        if self.segment_id:
            where += f" ({self.segment_id}"
            where += f"{self.element:02d})" if self.element is not None else ")"
        return f"{where}: {self.code}: {self.message}"


class X12Error(InputError):
    """Raised when a caller asks for content that located errors made impossible to produce."""

    code = "x12"

    def __init__(self, issues: list[X12Issue], source: str | None = None) -> None:
        self.issues = issues
        self.source = source
        first = issues[0] if issues else None
        prefix = f"{source}: " if source else ""
        detail = str(first) if first else "unknown X12 problem"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{prefix}{detail}{more}")


class ElementError(ValueError):
    """Raised inside readers for one bad element; the reader turns it into an ``X12Issue``."""

    def __init__(self, element: int, code: str, message: str, value: str | None = None) -> None:
        super().__init__(message)
        self.element = element
        self.code = code
        self.value = value


def ack_code(issue_code: str) -> tuple[str, str]:
    """The (level, code) a 999 uses for an issue code, e.g. ("IK4", "8"); ("", "") when none."""
    mapped = ISSUE_CODES.get(issue_code, ("", ""))[1]
    if not mapped:
        return "", ""
    level, _, code = mapped.partition(":")
    return level, code
