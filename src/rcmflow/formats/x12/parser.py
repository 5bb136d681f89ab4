"""Parse X12 input into canonical objects: envelope walk, then one reader per transaction set.

``X12Stream`` streams (memory bounded by the largest transaction set); ``parse`` collects a whole
file into an ``X12Document``. Neither raises for bad content: every problem is a located issue.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from rcmflow.formats.x12.digest import segments_digest
from rcmflow.formats.x12.envelope import EnvelopeReader, GroupSummary, RawTransaction, transaction_type
from rcmflow.formats.x12.issues import ERROR, X12Issue
from rcmflow.formats.x12.reading import ReadContext, gc_paused
from rcmflow.formats.x12.registry import READERS

# Each module registers its readers on import; listed here so the wiring is explicit.
READER_MODULES = ("ts835", "ts837", "ts999", "ts277", "ts276", "ts270")
for _module in READER_MODULES:
    importlib.import_module(f"rcmflow.formats.x12.{_module}")


class ParsedTransaction(NamedTuple):
    """One transaction set read into its canonical object, with its envelope and issues."""

    type: str | None  # "835", "837P", "837I", "999", "277", "277CA", "276", "270", "271"; None unsupported
    transaction_set: str  # ST01
    control_number: str  # ST02
    implementation: str
    functional_id: str
    group_control_number: str
    interchange_control_number: str
    sender_id: str
    receiver_id: str
    start_index: int
    segment_count: int
    complete: bool
    content: Any  # Remittance, ClaimBatch, FunctionalAck, ... ; None when unreadable
    issues: tuple[X12Issue, ...]  # the reader's issues plus this set's envelope issues
    # SHA-256 of the canonical segments between ST and SE (``digest.segments_digest``), when asked for; "" otherwise.
    digest: str = ""

    @property
    def errors(self) -> tuple[X12Issue, ...]:
        return tuple(issue for issue in self.issues if issue.severity == ERROR)


def read_transaction(raw: RawTransaction, strict: bool = False, digest: bool = False) -> ParsedTransaction:
    """Read one raw transaction set with the reader registered for its type; with ``digest``, also its content
    digest (what intake identifies a resent transaction set by)."""
    tx_type = transaction_type(raw.transaction_set, raw.implementation)
    context = ReadContext(raw, strict)
    content = None
    reader = READERS.get(tx_type or "")
    if reader is None:
        what = f"{raw.transaction_set} ({raw.implementation or 'no implementation reference'})"
        context.issue(0, "ST", 1, "unsupported_transaction",
                      f"transaction set {what} is not supported", value=raw.transaction_set)
    else:
        if strict:
            element = context.element
            for offset, segment in enumerate(raw.segments):
                context.validate(offset, segment.split(element))
        with gc_paused():
            content = reader(raw, context)
    issues = tuple(_first_of_each(sorted(context.issues, key=_position))) + raw.envelope_issues
    return ParsedTransaction(
        tx_type, raw.transaction_set, raw.control_number, raw.implementation, raw.functional_id,
        raw.group_control_number, raw.interchange_control_number, raw.sender_id, raw.receiver_id,
        raw.start_index, len(raw.segments), raw.complete, content, issues,
        segments_digest(raw.segments, raw.delimiters) if digest else "",
    )


class X12Stream:
    """Iterate ``ParsedTransaction``s of an input; afterwards ``issues`` holds the envelope-level
    issues, ``interchanges`` the number of interchanges and ``groups`` the functional groups."""

    def __init__(self, source: BinaryIO | bytes | str | Path, strict: bool = False, digests: bool = False) -> None:
        self._envelopes = EnvelopeReader(source)
        self.strict = strict
        self.digests = digests

    def __iter__(self) -> Iterator[ParsedTransaction]:
        for raw in self._envelopes:
            yield read_transaction(raw, self.strict, self.digests)

    @property
    def issues(self) -> list[X12Issue]:
        return self._envelopes.issues

    @property
    def interchanges(self) -> int:
        return self._envelopes.interchanges

    @property
    def groups(self) -> list[GroupSummary]:
        return self._envelopes.groups

    @property
    def bytes_read(self) -> int:
        return self._envelopes.tokenizer.bytes_read


class X12Document(NamedTuple):
    """A whole input, parsed."""

    interchanges: int
    transactions: tuple[ParsedTransaction, ...]
    groups: tuple[GroupSummary, ...]
    envelope_issues: tuple[X12Issue, ...]

    @property
    def issues(self) -> list[X12Issue]:
        """Every issue, envelope and content, in file order, without repeats."""
        seen: set[X12Issue] = set()
        merged: list[X12Issue] = []
        for issue in list(self.envelope_issues) + [i for tx in self.transactions for i in tx.issues]:
            if issue not in seen:
                seen.add(issue)
                merged.append(issue)
        return sorted(merged, key=_position)

    @property
    def errors(self) -> list[X12Issue]:
        return [issue for issue in self.issues if issue.severity == ERROR]

    def of_type(self, tx_type: str) -> list[Any]:
        """The canonical contents of every transaction of one type."""
        return [tx.content for tx in self.transactions if tx.type == tx_type and tx.content is not None]

    def digests_of_type(self, tx_type: str) -> list[str]:
        """The content digests of the transactions ``of_type`` returns, in the same order."""
        return [tx.digest for tx in self.transactions if tx.type == tx_type and tx.content is not None]


def parse(source: BinaryIO | bytes | str | Path, strict: bool = False, digests: bool = False) -> X12Document:
    """Parse a whole input (bytes, path or binary file)."""
    stream = X12Stream(source, strict, digests)
    transactions = tuple(stream)
    return X12Document(stream.interchanges, transactions, tuple(stream.groups), tuple(stream.issues))


def _position(issue: X12Issue) -> int:
    return issue.segment_index


def _first_of_each(issues: list[X12Issue]) -> list[X12Issue]:
    """One issue per place and code: strict validation and the reader may both find one bad element."""
    seen: set[tuple[int, str | None, int | None, str]] = set()
    kept = []
    for issue in issues:
        key = (issue.segment_index, issue.segment_id, issue.element, issue.code)
        if key not in seen:
            seen.add(key)
            kept.append(issue)
    return kept
