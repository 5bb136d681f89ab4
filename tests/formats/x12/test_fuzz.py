"""Fuzzing ``parse``: random bytes and mutated valid 835/837 interchanges never raise, and every problem
comes back as a located ``X12Issue`` with a catalogued code."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rcmflow.formats.x12.issues import ERROR, ISSUE_CODES, WARNING, X12Issue
from rcmflow.formats.x12.parser import X12Document, parse
from tests.formats.x12.builders import BODY_835, BODY_837P, IMPL_837P, interchange

VALID_835 = interchange(*BODY_835)
VALID_837P = interchange(*BODY_837P, st01="837", implementation=IMPL_837P)
# Bytes that matter to X12: delimiters, segment ids' letters, digits, signs, line ends, a non-UTF-8 byte.
INTERESTING = st.sampled_from([b"*", b"~", b":", b"^", b"\n", b"\r", b"ISA", b"ST*", b"SE*", b"CLP*", b"-", b".",
                               b"NaN", b"0", b"9", b"\xff", b"\xc3", b" "])


def check(document: X12Document) -> None:
    """The invariants every parse result keeps, whatever the input."""
    for issue in [*document.issues, *document.envelope_issues, *(i for tx in document.transactions for i in tx.issues)]:
        assert isinstance(issue, X12Issue)
        assert isinstance(issue.segment_index, int) and issue.segment_index >= 0
        assert issue.code in ISSUE_CODES
        assert issue.severity in (ERROR, WARNING)
        assert issue.element is None or (isinstance(issue.element, int) and issue.element >= 0)
        assert isinstance(issue.message, str) and issue.message
        assert issue.to_dict()["code"] == issue.code
        str(issue)
    for tx in document.transactions:
        assert tx.start_index >= 1 and tx.segment_count >= 1


def parse_both(data: bytes) -> None:
    for strict in (False, True):
        check(parse(data, strict=strict))


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """A valid interchange after one to four byte- or segment-level mutations."""
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not data:
            break
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "interesting", "truncate", "duplicate", "drop"]))
        if kind == "flip":
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=40))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif kind == "interesting":
            data[at:at] = draw(INTERESTING)
        elif kind == "truncate":
            del data[at:]
        else:
            segments = bytes(data).split(b"~\n")
            index = draw(st.integers(min_value=0, max_value=len(segments) - 1))
            if kind == "duplicate":
                segments.insert(index, segments[index])
            else:
                del segments[index]
            data = bytearray(b"~\n".join(segments))
    return bytes(data)


FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    parse_both(data)


@FUZZ
@given(st.binary(max_size=300).map(lambda tail: VALID_835[:106] + tail))
def test_a_valid_isa_followed_by_random_bytes(data: bytes) -> None:
    parse_both(data)


@FUZZ
@given(mutated(VALID_835))
def test_mutated_835(data: bytes) -> None:
    parse_both(data)


@FUZZ
@given(mutated(VALID_837P))
def test_mutated_837p(data: bytes) -> None:
    parse_both(data)


def test_the_unmutated_inputs_are_clean() -> None:
    assert parse(VALID_835, strict=True).issues == []
    assert [tx.type for tx in parse(VALID_837P).transactions] == ["837P"]
