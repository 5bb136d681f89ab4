"""What every transaction reader shares: the read context that collects located issues, and
strict converters for dates and numbers that raise ``ElementError`` naming the element."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal, InvalidOperation

from rcmflow.formats.x12.envelope import RawTransaction, transaction_type
from rcmflow.formats.x12.issues import ERROR, WARNING, ElementError, X12Issue
from rcmflow.formats.x12.segments import is_valid_decimal, spec_for, validate_segment


class ReadContext:
    """Per-transaction reading state: delimiters, strictness, and the issues found so far."""

    def __init__(self, raw: RawTransaction, strict: bool = False) -> None:
        self.raw = raw
        self.strict = strict
        self.issues: list[X12Issue] = []
        self.element = raw.delimiters.element
        self.component = raw.delimiters.component
        self.repetition = raw.delimiters.repetition
        self.start_index = raw.start_index
        # Segment definitions may be narrowed per implementation guide (see segments.spec_for).
        self.transaction_type = transaction_type(raw.transaction_set, raw.implementation) or ""

    def index(self, offset: int) -> int:
        """File position (1-based) of the segment at ``offset`` in the transaction (0 = ST)."""
        return self.start_index + offset

    def issue(self, offset: int, seg_id: str | None, element: int | None, code: str, message: str,
              severity: str = ERROR, value: str | None = None) -> None:
        """Record a located issue."""
        self.issues.append(X12Issue(self.start_index + offset, seg_id, element, code, message, severity, value))

    def unknown(self, offset: int, seg_id: str, where: str) -> None:
        """A segment the transaction does not define: a warning when lenient, an error when strict."""
        severity = ERROR if self.strict else WARNING
        self.issue(offset, seg_id, None, "unknown_segment",
                   f"{seg_id} is not defined in {where}; it was skipped", severity)

    def unexpected(self, offset: int, seg_id: str, where: str) -> None:
        """A known segment in the wrong place."""
        severity = ERROR if self.strict else WARNING
        self.issue(offset, seg_id, None, "unexpected_segment",
                   f"{seg_id} is not valid {where}; it was skipped", severity)

    def missing(self, offset: int, seg_id: str, where: str) -> None:
        """A required segment that is absent."""
        self.issue(offset, seg_id, None, "missing_segment", f"required {seg_id} segment is missing {where}")

    def bad_segment(self, offset: int, elements: list[str], exc: Exception) -> None:
        """Turn a failure while reading one segment into located issues (the slow, careful path)."""
        seg_id = elements[0] if elements else None
        if isinstance(exc, ElementError):
            self.issue(offset, seg_id, exc.element, exc.code, f"{seg_id}{exc.element:02d}: {exc}",
                       value=exc.value)
            return
        spec = spec_for(seg_id or "", self.transaction_type)
        problems = validate_segment(elements, spec, self.repetition) if spec else []
        if problems:
            for position, code, message, value in problems:
                self.issue(offset, seg_id, position, code, message, value=value)
            return
        self.issue(offset, seg_id, None, "missing_element",
                   f"{seg_id} could not be read ({type(exc).__name__}: {exc})")

    def validate(self, offset: int, elements: list[str]) -> bool:
        """Check one segment against its table definition; record problems; True when valid."""
        spec = spec_for(elements[0], self.transaction_type)
        if spec is None:
            return True
        problems = validate_segment(elements, spec, self.repetition)
        for position, code, message, value in problems:
            self.issue(offset, elements[0], position, code, message, value=value)
        return not problems


def element(elements: list[str], position: int) -> str:
    """The element at ``position`` or "" when the segment is shorter (trailing empties are omitted)."""
    return elements[position] if position < len(elements) else ""


def to_date(text: str, position: int) -> date:
    """CCYYMMDD to a date, or ElementError naming the element."""
    if len(text) == 8 and text.isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            pass
    raise ElementError(position, "bad_date", f"{text!r} is not a valid CCYYMMDD date", text)


def to_optional_date(text: str, position: int) -> date | None:
    """Like ``to_date`` but "" gives None."""
    return to_date(text, position) if text else None


def to_amount(text: str, position: int) -> Decimal:
    """A strict X12 decimal, or ElementError naming the element."""
    if is_valid_decimal(text):
        return Decimal(text)
    raise ElementError(position, "bad_number", f"{text!r} is not a decimal number", text)


def to_optional_amount(text: str, position: int) -> Decimal | None:
    """Like ``to_amount`` but "" gives None."""
    return to_amount(text, position) if text else None


def to_period(fmt: str, text: str, position: int) -> tuple[date, date | None, str]:
    """A DTP value by its format qualifier: D8 date, RD8 range, DT date-time; (start, end, time)."""
    if fmt == "RD8":
        start, sep, end = text.partition("-")
        if not sep:
            raise ElementError(position, "bad_date", f"{text!r} is not a CCYYMMDD-CCYYMMDD range", text)
        return to_date(start, position), to_date(end, position), ""
    if fmt == "DT":
        return to_date(text[:8], position), None, text[8:]
    return to_date(text, position), None, ""


def finite(value: Decimal) -> bool:
    """True unless the value is NaN or infinite (which ``Decimal`` accepts but X12 never sends)."""
    try:
        return value.is_finite()
    except InvalidOperation:
        return False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects.

    Building a 100,000-claim remittance makes millions of tuples; each generation-0 threshold
    crossing would rescan them all, which costs more than the parsing itself. The objects built
    here hold no reference cycles, so reference counting frees them.

    On the way out the new objects are moved straight to the oldest generation (``freeze`` then
    ``unfreeze``): left young, the first collection after the pause would walk all of them at once,
    a quarter of a second for a 27 MB remittance, to learn nothing. The cost is that other young
    objects of the process are promoted too, so a cycle among them waits for the next full collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
