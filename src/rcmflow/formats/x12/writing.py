"""Build X12 text: segments from element values, transaction sets with their SE count, and
interchanges with ISA/GS envelopes and managed control numbers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

from rcmflow.domain.money import format_x12_amount
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters


class Repeated(tuple[str, ...]):
    """An element sent as repetitions (EB03, EQ01): joined by the repetition separator."""


Value = str | Decimal | int | date | None | Sequence[str] | Repeated


class WriteError(ValueError):
    """A value that cannot be written without corrupting the X12 (it holds a delimiter)."""


def render(value: Value, delimiters: Delimiters) -> str:
    """One element: amounts in R form, dates as CCYYMMDD, composites joined by the component separator."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, Decimal):
        return format_x12_amount(value)
    elif isinstance(value, bool):
        raise WriteError("booleans have no X12 form; pass the code (Y/N)")
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, date):
        return value.strftime("%Y%m%d")
    elif isinstance(value, Repeated):
        if len(value) > 1 and not delimiters.repetition:
            raise WriteError("the interchange has no repetition separator for a repeated element")
        return delimiters.repetition.join(render(part, delimiters) for part in value)
    else:
        parts = [render(part, delimiters) for part in value]
        while parts and not parts[-1]:
            parts.pop()
        return delimiters.component.join(parts)
    for delimiter in delimiters:
        if delimiter and delimiter in text:
            raise WriteError(f"value {text!r} contains the delimiter {delimiter!r}")
    return text


class TransactionBuilder:
    """Accumulates the segments of one transaction set; ``finish`` appends SE with the right count."""

    def __init__(self, st01: str, control_number: str, implementation: str = "",
                 delimiters: Delimiters = DEFAULT_DELIMITERS) -> None:
        self.delimiters = delimiters
        self.control_number = control_number
        self.segments: list[str] = []
        self.add("ST", st01, control_number, implementation or None)

    def add(self, seg_id: str, *elements: Value) -> None:
        """Append a segment; trailing empty elements are dropped as X12 requires."""
        rendered = [render(value, self.delimiters) for value in elements]
        while rendered and not rendered[-1]:
            rendered.pop()
        self.segments.append(self.delimiters.element.join([seg_id, *rendered]))

    def finish(self) -> list[str]:
        """The segments from ST to SE."""
        self.add("SE", len(self.segments) + 1, self.control_number)
        return self.segments


class ControlNumbers(Protocol):
    """Source of interchange (ISA13), group (GS06) and transaction set (ST02) control numbers."""

    def next_interchange(self) -> int: ...

    def next_group(self) -> int: ...

    def next_transaction(self) -> int: ...


class CountingControlNumbers:
    """In-memory control numbers counting up from a start (the store keeps durable ones)."""

    def __init__(self, start: int = 1) -> None:
        self._interchange = self._group = self._transaction = start - 1

    def next_interchange(self) -> int:
        self._interchange += 1
        return self._interchange

    def next_group(self) -> int:
        self._group += 1
        return self._group

    def next_transaction(self) -> int:
        self._transaction += 1
        return self._transaction


class Party(NamedTuple):
    """An interchange sender or receiver: ISA qualifier and id, and the GS application code."""

    id: str
    qualifier: str = "ZZ"
    application_code: str = ""

    @property
    def gs_code(self) -> str:
        return self.application_code or self.id


class FunctionalGroup(NamedTuple):
    """Transaction sets of one functional id (HP, HC, FA, HN, HR, HS, HB...) and version."""

    functional_id: str
    version: str
    transactions: list[list[str]]  # each from ST to SE


def build_interchange(
    groups: Iterable[FunctionalGroup],
    sender: Party,
    receiver: Party,
    control_numbers: ControlNumbers,
    *,
    usage: str = "P",
    ack_requested: str = "0",
    created: datetime | None = None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = True,
) -> str:
    """A complete interchange: ISA, one GS/GE per group around its sets, IEA."""
    created = created or datetime.now()
    sep = delimiters.element
    isa_control = f"{control_numbers.next_interchange():09d}"
    isa = sep.join([
        "ISA", "00", " " * 10, "00", " " * 10,
        sender.qualifier, f"{sender.id:<15}"[:15], receiver.qualifier, f"{receiver.id:<15}"[:15],
        created.strftime("%y%m%d"), created.strftime("%H%M"), delimiters.repetition or "^", "00501",
        isa_control, ack_requested, usage, delimiters.component,
    ])
    segments = [isa]
    group_count = 0
    for group in groups:
        group_count += 1
        gs_control = str(control_numbers.next_group())
        segments.append(sep.join([
            "GS", group.functional_id, sender.gs_code, receiver.gs_code, created.strftime("%Y%m%d"),
            created.strftime("%H%M"), gs_control, "X", group.version,
        ]))
        for transaction in group.transactions:
            segments.extend(transaction)
        segments.append(sep.join(["GE", str(len(group.transactions)), gs_control]))
    segments.append(sep.join(["IEA", str(group_count), isa_control]))
    joiner = delimiters.segment + ("\n" if line_breaks else "")
    return joiner.join(segments) + joiner
