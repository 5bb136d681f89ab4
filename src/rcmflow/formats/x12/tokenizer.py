"""Turn X12 bytes into segments (lists of element strings), streaming, delimiters from each ISA.

Speed matters here (an 835 can be hundreds of megabytes), so the tokenizer works on large decoded
chunks with ``str.split``, which runs in C, and hands out *batches* of segments rather than one at
a time. Memory is bounded by the chunk size, not the file.

Rules (ASC X12.5 / 5010 implementation guides):
- the ISA is fixed width; its 4th character is the element separator, ISA11 the repetition
  separator, ISA16 the component separator and the character after ISA16 the segment terminator;
- CR, LF or CRLF after a terminator are line breaks for people, not data, unless they are themselves
  a delimiter;
- a file may hold several interchanges, each with its own delimiters.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from rcmflow.formats.x12.issues import WARNING, X12Issue

CHUNK_SIZE = 8 * 1024 * 1024
ISA_LENGTH = 106
_ISA_ELEMENTS = 17  # the segment id plus ISA01..ISA16


class Delimiters(NamedTuple):
    """The four delimiters an interchange declares in its ISA."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"


DEFAULT_DELIMITERS = Delimiters()


class IsaProblem(ValueError):
    """The text at an ISA cannot yield delimiters."""


def read_delimiters(text: str, start: int = 0) -> tuple[Delimiters, int]:
    """Delimiters of the ISA at ``text[start:]`` and the offset just past its terminator."""
    if text[start : start + 3] != "ISA" or len(text) < start + 4:
        raise IsaProblem("the interchange does not start with ISA")
    element = text[start + 3]
    if element.isalnum() or element.isspace():
        raise IsaProblem(f"ISA declares {element!r} as element separator")
    # Walk to the 16th separator rather than trusting fixed offsets: some senders do not pad.
    position = start + 3
    for _ in range(_ISA_ELEMENTS - 2):
        position = text.find(element, position + 1, start + ISA_LENGTH + 64)
        if position < 0:
            raise IsaProblem("ISA has fewer than 16 elements")
    if len(text) < position + 3:
        raise IsaProblem("the input ends inside the ISA")
    component = text[position + 1]
    segment = text[position + 2]
    isa_elements = text[start:position].split(element)
    repetition = isa_elements[11] if len(isa_elements) > 11 else ""
    # In 4010 ISA11 is the standards identifier "U", not a separator.
    if len(repetition) != 1 or repetition.isalnum() or repetition == " ":
        repetition = ""
    chosen = [element, component, segment] + ([repetition] if repetition else [])
    if len(set(chosen)) != len(chosen):
        raise IsaProblem("ISA declares the same character for two delimiters")
    if component.isalnum() or segment.isalnum():
        raise IsaProblem("ISA declares a letter or digit as delimiter")
    return Delimiters(element, component, repetition, segment), position + 3


class SegmentBatch(NamedTuple):
    """Consecutive segments (raw text, terminators removed) that share one set of delimiters.

    ``envelope`` lists, in order, the positions in ``segments`` of the ISA, GS, ST, SE, GE and IEA
    segments, found by C-speed string searches so that the envelope walker never loops in Python
    over the body of a transaction set.
    """

    delimiters: Delimiters
    segments: list[str]
    envelope: list[int]


ENVELOPE_IDS = ("ISA", "IEA", "GS", "GE", "ST", "SE")


@functools.cache
def _envelope_pattern(terminator: str, element: str) -> re.Pattern[str]:
    ids = "|".join(ENVELOPE_IDS)
    return re.compile(f"{re.escape(terminator)}(?:{ids}){re.escape(element)}")


def _envelope_positions(body: str, delimiters: Delimiters, limit: int) -> list[int]:
    """Positions (segment ordinals in ``body``) of envelope segments, in order."""
    terminator, element = delimiters.segment, delimiters.element
    # One regular-expression pass over the text: six str.find scans cost three times as much.
    offsets = [match.start() + 1 for match in _envelope_pattern(terminator, element).finditer(body)]
    if any(body.startswith(seg_id + element) for seg_id in ENVELOPE_IDS):
        offsets.insert(0, 0)
    positions: list[int] = []
    ordinal = 0
    previous = 0
    for offset in offsets:
        ordinal += body.count(terminator, previous, offset)
        previous = offset
        if ordinal < limit:
            positions.append(ordinal)
    return positions


class Tokenizer:
    """Streams an X12 input as ``SegmentBatch``es; problems it meets land in ``issues``.

    After iteration, ``segment_count`` is the number of segments handed out and ``issues`` holds
    the located problems of the byte level: not X12, invalid bytes, a truncated final segment.
    """

    def __init__(self, source: BinaryIO | bytes | str | Path, chunk_size: int = CHUNK_SIZE) -> None:
        self._source = source
        self._chunk_size = chunk_size
        self.issues: list[X12Issue] = []
        self.segment_count = 0
        self.bytes_read = 0
        # Byte-level warnings are located at the segment they concern, once per input, so that they do not
        # depend on where chunks happen to end.
        self._replaced = False  # the decoder replaced invalid bytes
        self._replaced_reported = False
        self._empty_reported = False

    def _chunks(self) -> Iterator[bytes]:
        source = self._source
        if isinstance(source, bytes):
            yield source
            return
        if isinstance(source, str | Path):
            with open(source, "rb") as handle:
                yield from self._read_all(handle)
            return
        yield from self._read_all(source)

    def _read_all(self, handle: BinaryIO) -> Iterator[bytes]:
        while chunk := handle.read(self._chunk_size):
            yield chunk

    def _text_chunks(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for chunk in self._chunks():
            self.bytes_read += len(chunk)
            text = decoder.decode(chunk)
            if not self._replaced and "\ufffd" in text:
                self._replaced = True  # reported by _split at the segment that holds it
            yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            self._replaced = self._replaced or "\ufffd" in tail
            yield tail

    def _invalid_character(self, index: int) -> None:
        self._replaced_reported = True
        self.issues.append(X12Issue(index, None, None, "invalid_character",
                                    "the input has bytes that are not UTF-8 text; they were replaced", WARNING))

    def __iter__(self) -> Iterator[SegmentBatch]:
        pending = ""
        delimiters: Delimiters | None = None
        started = False
        for text in self._text_chunks():
            pending += text
            if not started:
                pending = pending.lstrip("\ufeff \t\r\n\x00")
                if len(pending) < ISA_LENGTH:
                    continue  # wait for more text before judging the start (the end of input is judged below)
                started = True
                if not pending.startswith("ISA"):
                    self._not_x12(pending)
                    return
            batches, pending, delimiters = self._split(pending, delimiters, final=False)
            yield from batches
        if not started:
            stripped = pending.lstrip("\ufeff \t\r\n\x00")
            if not stripped:
                self.issues.append(X12Issue(0, None, None, "empty", "the input is empty"))
                return
            if not stripped.startswith("ISA"):
                self._not_x12(stripped)
                return
            pending = stripped
        batches, pending, delimiters = self._split(pending, delimiters, final=True)
        yield from batches
        if self._replaced and not self._replaced_reported:
            self._invalid_character(self.segment_count + 1)
        leftover = pending.strip(" \t\r\n\x00")
        if leftover:
            seg_id = leftover[:3].rstrip((delimiters or DEFAULT_DELIMITERS).element)
            self.issues.append(
                X12Issue(self.segment_count + 1, seg_id or None, None, "truncated",
                         "the input ends inside a segment: its terminator is missing")
            )

    def _not_x12(self, text: str) -> None:
        if "\ufffd" in text[:ISA_LENGTH]:  # the judged start only, whatever was read beyond it
            self._invalid_character(1)
        printable = "".join(ch if ch.isprintable() else "?" for ch in text[:20])
        self.issues.append(
            X12Issue(0, None, None, "not_x12",
                     f"the input is not X12: it starts with {printable!r} instead of an ISA segment")
        )

    def _split(
        self, text: str, delimiters: Delimiters | None, final: bool
    ) -> tuple[list[SegmentBatch], str, Delimiters | None]:
        """Split complete segments off ``text``; return batches, the incomplete rest and delimiters."""
        batches: list[SegmentBatch] = []
        while text:
            if delimiters is None or text.startswith("ISA"):
                try:
                    found, _ = read_delimiters(text)
                except IsaProblem as exc:
                    if not final and len(text) < ISA_LENGTH + 64:
                        return batches, text, delimiters  # the ISA may continue in the next chunk
                    self.issues.append(X12Issue(self.segment_count + 1, "ISA", None, "bad_isa", str(exc)))
                    return batches, "", delimiters
                delimiters = found
            terminator = delimiters.segment
            # The next interchange may declare other delimiters: stop this batch at its ISA.
            end = len(text)
            search_from = 0
            while True:
                next_isa = text.find(terminator + "ISA", search_from)
                if next_isa < 0:
                    break
                try:
                    other, _ = read_delimiters(text, next_isa + 1)
                except IsaProblem:
                    if not final and len(text) - next_isa < ISA_LENGTH + 64:
                        end = next_isa + 1  # judge it when the rest of that ISA has arrived
                        break
                    search_from = next_isa + 1
                    continue
                if other != delimiters:
                    end = next_isa + 1
                    break
                search_from = next_isa + 1
            body, rest = text[:end], text[end:]
            for char in "\r\n":
                if char not in delimiters and char in body:
                    body = body.replace(char, "")
            doubled = terminator + terminator
            # A leading terminator follows the one that ended the previous chunk: an empty segment too.
            leading = body.startswith(terminator)
            if leading or doubled in body:
                if not self._empty_reported:
                    self._empty_reported = True
                    first = 0 if leading else body.index(doubled) + 1
                    message = "empty segments (two terminators in a row) were skipped"
                    self.issues.append(X12Issue(self.segment_count + body.count(terminator, 0, first) + 1, None,
                                                None, "unexpected_segment", message, WARNING))
                while doubled in body:
                    body = body.replace(doubled, terminator)
                if body.startswith(terminator):
                    body = body[1:]
            if self._replaced and not self._replaced_reported:
                bad = body.find("\ufffd")
                if bad >= 0:
                    self._invalid_character(self.segment_count + body.count(terminator, 0, bad) + 1)
            segments = body.split(terminator)
            incomplete = segments.pop()  # text after the last terminator
            if rest and incomplete:
                rest = incomplete + rest
                incomplete = ""
            if segments:
                envelope = _envelope_positions(body, delimiters, len(segments))
                self.segment_count += len(segments)
                batches.append(SegmentBatch(delimiters, segments, envelope))
            if not rest:
                return batches, incomplete, delimiters
            text = rest
        return batches, "", delimiters


def iter_segments(source: BinaryIO | bytes | str | Path) -> Iterator[tuple[Delimiters, list[str]]]:
    """Convenience: every segment split into elements, with its delimiters (for tools and tests)."""
    for batch in Tokenizer(source):
        element = batch.delimiters.element
        for segment in batch.segments:
            yield batch.delimiters, segment.split(element)


