"""Excerpts of stored X12 for people to read: the segments of one claim (an 837's CLM loop) or of one claim
payment (an 835's CLP loop), found with the tokenizer and shown one segment per line.

The loops are cut where the implementation guides end them: an 837 claim (loop 2300 with its service lines,
2400) runs from its CLM to the segment before the next CLM, HL or SE; an 835 claim payment (loop 2100 with its
service payments, 2110) from its CLP to the segment before the next CLP, LX, PLB or SE. Member identifiers
(NM109 of the patient and the insured, REF02 of the person's identifiers) are masked to their last four
characters: a person reading the page recognises the member, the page does not hand out the whole id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from rcmflow.formats.x12.tokenizer import Delimiters, Tokenizer

# NM101 entity codes of the patient side (subscriber, patient, insured, corrected insured, dependents).
PERSON_ENTITIES = frozenset({"IL", "QC", "03", "74", "QD", "GB", "IC"})
# REF01 qualifiers whose REF02 identifies the person: SSN, member id, policy number, subscriber number, medical
# record number, identity card, client number, family unit, Medicare and Medicaid numbers.
PERSON_REFERENCES = frozenset({"SY", "1W", "IG", "0F", "EA", "HJ", "23", "49", "F6", "NQ", "6P"})
_CLAIM_END = frozenset({"CLM", "HL", "SE"})
_CLAIM_PAYMENT_END = frozenset({"CLP", "LX", "PLB", "SE"})
_SHOWN = 4


def mask_identifier(value: str) -> str:
    """"XKB884120301" -> "••••••••0301": the last four characters, the rest hidden (all of a short id)."""
    value = value.strip()
    if not value:
        return value
    shown = value[-_SHOWN:] if len(value) > _SHOWN else ""
    return "•" * (len(value) - len(shown)) + shown


class Excerpt(NamedTuple):
    """Consecutive segments of one transaction set, each split into elements (element 0 is the segment id)."""

    delimiters: Delimiters
    segments: tuple[tuple[str, ...], ...]

    def lines(self, *, mask: bool = True) -> list[str]:
        """Each segment as X12 text with its terminator, member identifiers masked unless ``mask`` is False."""
        join = self.delimiters.element.join
        return [join(_masked(segment) if mask else segment) + self.delimiters.segment for segment in self.segments]


def _masked(segment: tuple[str, ...]) -> tuple[str, ...]:
    seg_id = segment[0]
    if seg_id == "NM1" and len(segment) > 9 and segment[1] in PERSON_ENTITIES:
        return (*segment[:9], mask_identifier(segment[9]), *segment[10:])
    if seg_id == "REF" and len(segment) > 2 and segment[1] in PERSON_REFERENCES:
        return (*segment[:2], mask_identifier(segment[2]), *segment[3:])
    return segment


def transaction_sets(content: bytes) -> Iterator[tuple[Delimiters, list[tuple[str, ...]]]]:
    """Every transaction set (ST to SE) of an interchange file, its segments split into elements."""
    current: list[tuple[str, ...]] | None = None
    delimiters: Delimiters | None = None
    for batch in Tokenizer(content):
        element = batch.delimiters.element
        for raw in batch.segments:
            segment = tuple(raw.split(element))
            seg_id = segment[0].strip()
            if seg_id == "ST":
                current, delimiters = [segment], batch.delimiters
            elif current is not None:
                current.append(segment)
                if seg_id == "SE":
                    yield delimiters or batch.delimiters, current
                    current = None


def _element(segment: tuple[str, ...], position: int) -> str:
    return segment[position].strip() if len(segment) > position else ""


def _loops(segments: list[tuple[str, ...]], start: str, ends: frozenset[str]) -> list[list[tuple[str, ...]]]:
    loops: list[list[tuple[str, ...]]] = []
    current: list[tuple[str, ...]] | None = None
    for segment in segments:
        seg_id = segment[0].strip()
        if seg_id in ends and current is not None:
            loops.append(current)
            current = None
        if seg_id == start:
            current = [segment]
        elif current is not None:
            current.append(segment)
    if current is not None:
        loops.append(current)
    return loops


def claim_payment_loops(content: bytes, *, trace_number: str, control_number: str = "") -> list[Excerpt]:
    """The CLP loops, in file order, of the 835 transaction set whose TRN02 is ``trace_number`` (of those, the one
    whose ST02 is ``control_number`` when several carry it); empty when the file holds no such set."""
    found: tuple[Delimiters, list[tuple[str, ...]]] | None = None
    for delimiters, segments in transaction_sets(content):
        if _element(segments[0], 1) != "835":
            continue
        trn = next((segment for segment in segments if segment[0].strip() == "TRN"), None)
        if trn is None or _element(trn, 2) != trace_number:
            continue
        if found is None or _element(segments[0], 2) == control_number:
            found = (delimiters, segments)
    if found is None:
        return []
    delimiters, segments = found
    return [Excerpt(delimiters, tuple(loop)) for loop in _loops(segments, "CLP", _CLAIM_PAYMENT_END)]


def claim_loop(content: bytes, patient_control_number: str) -> Excerpt | None:
    """The claim loop (CLM with its service lines) whose CLM01 is ``patient_control_number``, from the first 837
    transaction set of the file that has one; None when none has."""
    for delimiters, segments in transaction_sets(content):
        if _element(segments[0], 1) != "837":
            continue
        for loop in _loops(segments, "CLM", _CLAIM_END):
            if _element(loop[0], 1) == patient_control_number:
                return Excerpt(delimiters, tuple(loop))
    return None
