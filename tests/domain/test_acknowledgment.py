"""The 999 acknowledgment records: verdict helpers and code meanings."""

from __future__ import annotations

import pytest

from rcmflow.domain.acknowledgment import (
    ElementError,
    FunctionalAck,
    SegmentError,
    TransactionAck,
    group_status,
)


def ack(status: str, *transactions: TransactionAck, codes: tuple[str, ...] = ()) -> FunctionalAck:
    accepted = sum(1 for tx in transactions if tx.accepted)
    return FunctionalAck("HC", "17", "005010X222A1", status, len(transactions), len(transactions), accepted, codes,
                         transactions)


@pytest.mark.parametrize(("received", "accepted", "noted", "codes", "expected"), [
    (2, 2, False, (), "A"),
    (2, 2, True, (), "E"),
    (2, 1, False, (), "P"),
    (2, 0, False, (), "R"),
    (2, 2, False, ("5",), "R"),
    (0, 0, False, (), "A"),
])
def test_group_status_follows_the_set_verdicts(received: int, accepted: int, noted: bool,
                                               codes: tuple[str, ...], expected: str) -> None:
    assert group_status(received, accepted, noted, codes) == expected


def test_transaction_verdicts() -> None:
    good = TransactionAck("837", "0001", "005010X222A1", "A")
    noted = TransactionAck("837", "0002", "005010X222A1", "E", ("5",))
    bad = TransactionAck("837", "0003", "005010X222A1", "R", ("5", "4"))
    assert good.accepted and not good.rejected
    assert noted.accepted and not noted.rejected
    assert bad.rejected and not bad.accepted
    assert bad.reasons == ("One or more segments in error", "Number of included segments does not match actual count")


def test_functional_ack_helpers() -> None:
    good = TransactionAck("837", "0001", status="A")
    bad = TransactionAck("837", "0002", status="R", codes=("5",))
    partial = ack("P", good, bad)
    assert partial.partially_accepted and not partial.accepted and not partial.rejected
    assert partial.rejected_transactions == (bad,)
    assert partial.transaction("0002") is bad
    assert partial.transaction("9999") is None
    rejected = ack("R", bad, codes=("4",))
    assert rejected.rejected
    assert rejected.reasons == ("Group control number in the functional group header and trailer do not agree",)
    assert ack("E", good).accepted


def test_error_meanings() -> None:
    element = ElementError(2, "8", "373", value="20261340")
    segment = SegmentError("DTP", 14, "8", "2300", elements=(element,))
    assert element.meaning == "Invalid date"
    assert segment.meaning == "Segment has data element errors"
    assert SegmentError("ZZZ", 3, "2").meaning == "Unexpected segment"
    assert ElementError(1, "Q9").meaning == "element error Q9"
