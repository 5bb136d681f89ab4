"""Walk the ISA/GS/ST envelopes of a segment stream and hand out one transaction set at a time.

Checks every envelope rule of X12.5: ISA13 = IEA02 and IEA01 = number of groups, GS06 = GE02 and
GE01 = number of transaction sets, ST02 = SE02 and SE01 = number of segments from ST to SE.
Problems become located issues; the walk goes on with the next envelope wherever it can, so one
bad transaction set does not hide the good ones around it. Memory is bounded by the largest
transaction set: segments are kept only from ST to SE.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from rcmflow.formats.x12.issues import ERROR, X12Issue
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters, Tokenizer

# GS08 / ST03 implementation guide references and the transaction type each names.
IMPLEMENTATIONS = {
    "005010X221A1": "835",
    "005010X221": "835",
    "005010X222A1": "837P",
    "005010X222A2": "837P",
    "005010X222": "837P",
    "005010X223A1": "837I",
    "005010X223A2": "837I",
    "005010X223A3": "837I",
    "005010X223": "837I",
    "005010X231A1": "999",
    "005010X231": "999",
    "005010X214": "277CA",
    "005010X212": "27X",  # 276 or 277 claim status; resolved by ST01
    "005010X279A1": "27X",
    "005010X279": "27X",
}
SIMPLE_TYPES = {"835": "835", "999": "999", "276": "276", "270": "270", "271": "271"}


def transaction_type(st01: str, implementation: str) -> str | None:
    """The rcmflow transaction type ("835", "837P", "277CA", ...) or None when unsupported."""
    if st01 in SIMPLE_TYPES:
        return SIMPLE_TYPES[st01]
    named = IMPLEMENTATIONS.get(implementation)
    if st01 == "837":
        return named if named in ("837P", "837I") else None
    if st01 == "277":
        if named == "277CA":
            return "277CA"
        return "277" if implementation.startswith("005010X212") or not implementation else None
    return None


class RawTransaction(NamedTuple):
    """One transaction set's segments (ST to SE) with the envelope facts around it."""

    transaction_set: str  # ST01
    control_number: str  # ST02
    implementation: str  # ST03, else GS08
    functional_id: str  # GS01
    group_control_number: str  # GS06
    interchange_control_number: str  # ISA13
    sender_id: str  # ISA06
    receiver_id: str  # ISA08
    usage: str  # ISA15: P production, T test
    start_index: int  # 1-based position of the ST segment in the file
    segments: list[str]  # raw segment texts, ST first; split them with delimiters.element
    delimiters: Delimiters
    complete: bool  # False when the input ended before SE
    envelope_issues: tuple[X12Issue, ...] = ()  # SE/ST problems of this set (also in the file's issues)


class GroupSummary(NamedTuple):
    """A functional group as the 999 acknowledges it."""

    functional_id: str
    control_number: str
    version: str
    sender_id: str
    receiver_id: str
    interchange_control_number: str
    declared_count: int | None  # GE01, None when GE is missing
    transaction_count: int
    issues: tuple[X12Issue, ...]  # group-level problems (GE counts and control numbers)
    # The enclosing ISA's parties and usage, so that an acknowledgment can be addressed back.
    interchange_sender_qualifier: str = ""  # ISA05
    interchange_sender_id: str = ""  # ISA06, trimmed
    interchange_receiver_qualifier: str = ""  # ISA07
    interchange_receiver_id: str = ""  # ISA08, trimmed
    usage: str = ""  # ISA15


class EnvelopeReader:
    """Iterate ``RawTransaction``s; after iteration, ``issues``, ``interchanges`` and ``groups`` are set."""

    def __init__(self, source: BinaryIO | bytes | str | Path) -> None:
        self.tokenizer = Tokenizer(source)
        self.issues: list[X12Issue] = []
        self.interchanges = 0
        self.groups: list[GroupSummary] = []

    def _issue(self, index: int, seg_id: str | None, element: int | None, code: str, message: str,
               value: str | None = None) -> X12Issue:
        issue = X12Issue(index, seg_id, element, code, message, ERROR, value)
        self.issues.append(issue)
        return issue

    def __iter__(self) -> Iterator[RawTransaction]:  # noqa: C901 - one state machine, read top to bottom
        base = 0  # segments before the current batch
        isa: list[str] | None = None
        group_count = 0
        gs: list[str] | None = None
        gs_issues: list[X12Issue] = []
        st_count = 0
        tx: list[str] | None = None
        st: list[str] = []
        st_index = 0
        delimiters = DEFAULT_DELIMITERS

        def close_group(declared: int | None) -> None:
            assert gs is not None
            self.groups.append(GroupSummary(
                _at(gs, 1), _at(gs, 6), _at(gs, 8), _at(gs, 2), _at(gs, 3),
                _at(isa, 13), declared, st_count, tuple(gs_issues),
                _at(isa, 5).strip(), _at(isa, 6).strip(), _at(isa, 7).strip(), _at(isa, 8).strip(), _at(isa, 15),
            ))

        def raw(segments: list[str], complete: bool, found: tuple[X12Issue, ...] = ()) -> RawTransaction:
            implementation = _at(st, 3) or _at(gs, 8)
            return RawTransaction(
                _at(st, 1), _at(st, 2), implementation, _at(gs, 1), _at(gs, 6), _at(isa, 13).strip(),
                _at(isa, 6).strip(), _at(isa, 8).strip(), _at(isa, 15), st_index, segments, delimiters,
                complete, found,
            )

        def stray(first: int, count: int, sample: str) -> None:
            seg_id = sample.split(delimiters.element, 1)[0][:3]
            what = f"{count} segments" if count > 1 else "segment"
            message = f"{what} outside a transaction set (no ST before it)"
            self._issue(first, seg_id, None, "envelope", message)

        for batch in self.tokenizer:
            delimiters = batch.delimiters
            segments = batch.segments
            element = delimiters.element
            position = 0
            for k in [*batch.envelope, len(segments)]:
                if k > position:  # body segments between two envelope segments
                    if tx is not None:
                        tx += segments[position:k]
                    else:
                        stray(base + position + 1, k - position, segments[position])
                if k == len(segments):
                    break
                position = k + 1
                index = base + k + 1
                segment = segments[k].split(element)
                seg_id = segment[0]
                if tx is not None:
                    if seg_id == "SE":
                        tx.append(segments[k])
                        found = self._check_se(segment, st, len(tx), index)
                        st_count += 1
                        completed, tx = tx, None
                        yield raw(completed, True, found)
                        continue
                    # A header or trailer inside a transaction set: its SE is missing.
                    missing_se = self._issue(index, seg_id, None, "envelope",
                                             f"{seg_id} found before the SE that closes transaction set "
                                             f"{_at(st, 2)!r}")
                    st_count += 1
                    completed, tx = tx, None
                    yield raw(completed, False, (missing_se,))
                if seg_id == "ST":
                    if gs is None:
                        self._issue(index, "ST", None, "envelope", "ST outside a functional group (no GS)")
                    tx, st, st_index = [segments[k]], segment, index
                elif seg_id == "SE":
                    self._issue(index, "SE", None, "envelope", "SE without an ST")
                elif seg_id == "GS":
                    if isa is None:
                        self._issue(index, "GS", None, "envelope", "GS outside an interchange (no ISA)")
                    if gs is not None:
                        gs_issues.append(self._issue(index, "GS", None, "envelope",
                                                     f"GS before the GE that closes group {_at(gs, 6)!r}"))
                        close_group(None)
                    gs, gs_issues, st_count = segment, [], 0
                    group_count += 1
                    if len(segment) < 9:
                        gs_issues.append(self._issue(index, "GS", len(segment), "missing_element",
                                                     "GS must have 8 elements"))
                elif seg_id == "GE":
                    if gs is None:
                        self._issue(index, "GE", None, "envelope", "GE without a GS")
                        continue
                    declared = _int_or_none(_at(segment, 1))
                    if declared != st_count:
                        gs_issues.append(self._issue(
                            index, "GE", 1, "count_mismatch",
                            f"GE01 says {_at(segment, 1)!r} transaction sets, the group has {st_count}",
                            _at(segment, 1)))
                    if _at(segment, 2) != _at(gs, 6):
                        gs_issues.append(self._issue(
                            index, "GE", 2, "control_number_mismatch",
                            f"GE02 {_at(segment, 2)!r} does not match GS06 {_at(gs, 6)!r}", _at(segment, 2)))
                    close_group(declared)
                    gs = None
                elif seg_id == "ISA":
                    if isa is not None:
                        self._issue(index, "ISA", None, "envelope",
                                    f"ISA before the IEA that closes interchange {_at(isa, 13)!r}")
                        if gs is not None:
                            close_group(None)
                            gs = None
                    self._check_isa(segment, index)
                    isa, group_count = segment, 0
                    self.interchanges += 1
                elif seg_id == "IEA":
                    if isa is None:
                        self._issue(index, "IEA", None, "envelope", "IEA without an ISA")
                        continue
                    if gs is not None:
                        gs_issues.append(self._issue(index, "IEA", None, "envelope",
                                                     f"IEA before the GE that closes group {_at(gs, 6)!r}"))
                        close_group(None)
                        gs = None
                    if _int_or_none(_at(segment, 1)) != group_count:
                        self._issue(index, "IEA", 1, "count_mismatch",
                                    f"IEA01 says {_at(segment, 1)!r} functional groups, the interchange has "
                                    f"{group_count}", _at(segment, 1))
                    if _at(segment, 2) != _at(isa, 13):
                        self._issue(index, "IEA", 2, "control_number_mismatch",
                                    f"IEA02 {_at(segment, 2)!r} does not match ISA13 {_at(isa, 13)!r}",
                                    _at(segment, 2))
                    isa = None
            base += len(segments)
        self.issues[:0] = self.tokenizer.issues  # byte-level problems first: they explain the rest
        end = base + 1
        if tx is not None:
            cut = self._issue(end, None, None, "truncated",
                              f"the input ends inside transaction set {_at(st, 2)!r}: SE, GE and IEA "
                              "are missing")
            st_count += 1
            yield raw(tx, False, (cut,))
        if gs is not None:
            if tx is None:
                gs_issues.append(self._issue(end, None, None, "truncated",
                                             f"the input ends inside functional group {_at(gs, 6)!r}: "
                                             "GE is missing"))
            close_group(None)
        if isa is not None and tx is None and gs is None:
            self._issue(end, None, None, "truncated",
                        f"the input ends inside interchange {_at(isa, 13)!r}: IEA is missing")

    def _check_isa(self, segment: list[str], index: int) -> None:
        if len(segment) != 17:
            self._issue(index, "ISA", None, "bad_isa", f"ISA has {len(segment) - 1} elements instead of 16")
            return
        control = segment[13]
        if not (len(control) == 9 and control.isdigit()):
            self._issue(index, "ISA", 13, "bad_number", f"ISA13 {control!r} must be 9 digits", control)

    def _check_se(self, se: list[str], st: list[str], count: int, index: int) -> tuple[X12Issue, ...]:
        found: list[X12Issue] = []
        declared = _at(se, 1)
        if _int_or_none(declared) != count:
            found.append(self._issue(index, "SE", 1, "count_mismatch",
                        f"SE01 says {declared!r} segments, transaction set {_at(st, 2)!r} has {count}",
                        declared))
        if _at(se, 2) != _at(st, 2):
            message = f"SE02 {_at(se, 2)!r} does not match ST02 {_at(st, 2)!r}"
            found.append(self._issue(index, "SE", 2, "control_number_mismatch", message, _at(se, 2)))
        return tuple(found)



def _at(segment: list[str] | None, position: int) -> str:
    if segment is None or position >= len(segment):
        return ""
    return segment[position]


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None
