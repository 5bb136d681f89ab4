"""The 999 reader: every loop and context kept, located issues for malformed acknowledgments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.acknowledgment import Context, ElementError, FunctionalAck, SegmentError, TransactionAck
from rcmflow.formats.x12.issues import ERROR, WARNING
from rcmflow.formats.x12.parser import X12Document, parse
from tests.formats.x12.builders import interchange, replace
from tests.formats.x12.mutate import assert_located, mutated

IMPL = "005010X231A1"
BODY_999 = (
    "AK1*HC*17456*005010X222A1",
    "AK2*837*0001*005010X222A1",
    "IK5*A",
    "AK2*837*0002*005010X222A1",
    "IK3*NM1*8*2010BA*8",
    "CTX*CLM01:PCN001",
    "IK4*9*67*7*ABC",
    "CTX*SITUATIONAL TRIGGER*NM1*8*2010BA*8:1*C040:127",
    "IK4*4:2:1*66*1",
    "IK3*ZZZ*12**2",
    "IK5*R*5",
    "AK2*837*0003",
    "IK5*R*4*3",
    "AK9*P*3*3*1",
)


def at(body: tuple[str, ...] | list[str], segment: str) -> int:
    return list(body).index(segment) + 4


def read(body: tuple[str, ...] | list[str], *, strict: bool = False) -> tuple[FunctionalAck, X12Document]:
    document = parse(interchange(*body, st01="999", implementation=IMPL), strict=strict)
    (transaction,) = document.transactions
    assert transaction.type == "999"
    return transaction.content, document


def codes(document: X12Document) -> list[tuple[int, str | None, int | None, str, str]]:
    return [(i.segment_index, i.segment_id, i.element, i.code, i.severity) for i in document.issues]


@pytest.mark.parametrize("strict", [False, True])
def test_every_loop_is_read(strict: bool) -> None:
    ack, document = read(BODY_999, strict=strict)
    assert document.issues == []
    assert (ack.functional_id, ack.group_control_number, ack.version) == ("HC", "17456", "005010X222A1")
    assert (ack.status, ack.sets_included, ack.sets_received, ack.sets_accepted, ack.codes) == ("P", 3, 3, 1, ())
    assert ack.partially_accepted
    first, second, third = ack.transactions
    assert first == TransactionAck("837", "0001", "005010X222A1", "A")
    assert second.status == "R" and second.codes == ("5",)
    assert second.segment_errors == (
        SegmentError("NM1", 8, "8", "2010BA", (Context("CLM01", "PCN001"),), (
            ElementError(9, "7", "67", value="ABC", contexts=(
                Context("SITUATIONAL TRIGGER", "", "NM1", 8, "2010BA", ("8", "1"), ("C040", "127")),)),
            ElementError(4, "1", "66", component=2, repetition=1),
        )),
        SegmentError("ZZZ", 12, "2"),
    )
    assert third == TransactionAck("837", "0003", "", "R", ("4", "3"))
    assert ack.rejected_transactions == (second, third)
    assert third.reasons == ("Number of included segments does not match actual count",
                             "Transaction set control number in header and trailer do not match")


def test_group_rejection_codes() -> None:
    ack, document = read(("AK1*HP*1*005010X221A1", "AK2*835*1001", "IK5*A", "AK9*R*2*1*1*5*4"))
    assert document.issues == []
    assert ack.rejected and ack.codes == ("5", "4")
    assert ack.reasons[0] == "Number of included transaction sets does not match actual count"


def test_bad_segment_position_drops_its_element_notes() -> None:
    body = replace(BODY_999, BODY_999.index("IK3*NM1*8*2010BA*8"), "IK3*NM1*X*2010BA*8")
    ack, document = read(body)
    assert codes(document) == [(at(body, "IK3*NM1*X*2010BA*8"), "IK3", 2, "bad_number", ERROR)]
    assert ack.transactions[1].segment_errors == (SegmentError("ZZZ", 12, "2"),)


def test_missing_and_misplaced_segments() -> None:
    body = ["IK4*1*66*1", *BODY_999[:-1], "XXX*1"]
    ack, document = read(body)
    assert codes(document) == [
        (4, "IK4", None, "unexpected_segment", WARNING),
        (at(body, "XXX*1"), "XXX", None, "unknown_segment", WARNING),
        (at(body, "XXX*1") + 1, "AK9", None, "missing_segment", ERROR),
    ]
    assert (ack.status, ack.sets_received) == ("", 0)


def test_missing_trailers_and_header() -> None:
    body = ("AK2*837*0001", "IK5*A", "AK9*A*1*1*1")
    ack, document = read(body)
    assert codes(document) == [(4, "AK1", None, "missing_segment", ERROR)]
    assert ack.transactions == (TransactionAck("837", "0001", "", "A"),) and ack.status == "A"
    body = ("AK1*HC*1*005010X222A1", "AK2*837*0001", "AK9*R*1*1*0")
    ack, document = read(body)
    assert codes(document) == [(at(body, "AK9*R*1*1*0") + 1, "IK5", None, "missing_segment", ERROR)]
    assert ack.transactions == (TransactionAck("837", "0001", "", ""),)


def test_bad_counts_and_codes() -> None:
    body = ("AK1*HC*1*005010X222A1", "AK2*837*0001", "IK5", "AK9*A*ONE*1*1")
    ack, document = read(body)
    assert codes(document) == [
        (at(body, "IK5"), "IK5", 1, "missing_element", ERROR),
        (at(body, "AK9*A*ONE*1*1"), "AK9", 2, "bad_number", ERROR),
    ]
    assert ack.sets_included == 0 and ack.sets_received == 1


@settings(max_examples=50, deadline=None)
@given(mutated(BODY_999), st.booleans())
def test_damaged_input_gives_located_issues_never_exceptions(body: list[str], strict: bool) -> None:
    document = parse(interchange(*body, st01="999", implementation=IMPL), strict=strict)
    (transaction,) = document.transactions
    assert transaction.content is not None
    assert_located(document)
