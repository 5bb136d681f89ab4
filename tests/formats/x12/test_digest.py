"""The content digest of a transaction set: the same segments digest the same, whatever the envelope,
delimiters and number formatting; any change of content changes it."""

from __future__ import annotations

from rcmflow.formats.x12.digest import segments_digest
from rcmflow.formats.x12.tokenizer import Delimiters

DEFAULT = Delimiters()
SEGMENTS = ["ST*835*0001", "BPR*I*150.00*C*ACH", "CLP*PCN1*1*200.00*150.00*30*12*00123",
            "SVC*HC:99213:25*200.50*150**1", "SE*5*0001"]


def _digest(segments: list[str], delimiters: Delimiters = DEFAULT) -> str:
    return segments_digest(segments, delimiters)


def test_control_numbers_and_delimiters_are_not_content() -> None:
    other_control = [SEGMENTS[0].replace("0001", "0042"), *SEGMENTS[1:-1], "SE*5*0042"]
    pipes = Delimiters("|", ">", "^", "~")
    piped = [segment.replace("*", "|").replace(":", ">") for segment in SEGMENTS]
    assert _digest(SEGMENTS) == _digest(other_control) == _digest(piped, pipes)


def test_amounts_compare_by_value_identifiers_by_text() -> None:
    reformatted = ["ST*835*0001", "BPR*I*150*C*ACH", "CLP*PCN1*1*200.0*150.*30.00*12*00123",
                   "SVC*HC:99213:25*200.5*150.000**1", "SE*5*0001"]
    assert _digest(reformatted) == _digest(SEGMENTS)
    assert _digest([*SEGMENTS[:2], SEGMENTS[2].replace("*00123", "*123"), *SEGMENTS[3:]]) != _digest(SEGMENTS)


def test_any_change_of_content_changes_the_digest() -> None:
    base = _digest(SEGMENTS)
    assert _digest([SEGMENTS[0], "BPR*I*150.01*C*ACH", *SEGMENTS[2:]]) != base
    assert _digest([*SEGMENTS[:3], "SVC*HC:99213:59*200.50*150**1", SEGMENTS[4]]) != base
    # An element moving to the next position is other content, though the characters are the same.
    assert _digest([SEGMENTS[0], "BPR*I**150.00*C*ACH", *SEGMENTS[2:]]) != base
    # A set cut short (no SE) digests its segments as they are.
    assert _digest(SEGMENTS[:-1]) == base and _digest(SEGMENTS[:-2]) != base
