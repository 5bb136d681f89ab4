"""The envelope walker: transaction sets with their envelope facts, and every envelope error located."""

from __future__ import annotations

import io

import pytest

from rcmflow.formats.x12 import envelope
from rcmflow.formats.x12.envelope import EnvelopeReader, RawTransaction, transaction_type
from rcmflow.formats.x12.issues import ERROR, ISSUE_CODES
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.tokenizer import Tokenizer
from tests.formats.x12.builders import (
    BODY_835,
    BODY_837P,
    IMPL_835,
    IMPL_837P,
    functional_group,
    interchange,
    interchange_of,
    transaction,
)

SET_SIZE = len(BODY_835) + 2  # ST + body + SE
LAST = 2 + SET_SIZE  # position of the SE of a single-set interchange (ISA 1, GS 2, ST 3)


def walk(data: bytes) -> tuple[list[RawTransaction], EnvelopeReader]:
    reader = EnvelopeReader(data)
    return list(reader), reader


def located(reader: EnvelopeReader) -> list[tuple[int, str | None, int | None, str]]:
    return [(i.segment_index, i.segment_id, i.element, i.code) for i in reader.issues]


def test_one_transaction_with_its_envelope_facts() -> None:
    (raw,), reader = walk(interchange(*BODY_835))
    assert reader.issues == []
    assert (raw.transaction_set, raw.control_number, raw.implementation, raw.functional_id) == (
        "835", "0001", IMPL_835, "HP")
    assert (raw.group_control_number, raw.interchange_control_number, raw.sender_id, raw.receiver_id, raw.usage) == (
        "1", "000000001", "SENDER", "RECEIVER", "T")
    assert (raw.start_index, raw.complete, len(raw.segments)) == (3, True, SET_SIZE)
    assert raw.segments[0] == "ST*835*0001*005010X221A1" and raw.segments[-1] == f"SE*{SET_SIZE}*0001"
    assert reader.interchanges == 1
    (group,) = reader.groups
    assert (group.functional_id, group.control_number, group.version, group.declared_count,
            group.transaction_count, group.issues) == ("HP", "1", IMPL_835, 1, 1, ())
    assert (group.interchange_sender_id, group.interchange_receiver_qualifier, group.usage) == ("SENDER", "ZZ", "T")


def test_several_groups_and_transaction_sets() -> None:
    first = functional_group(*transaction(*BODY_835, control="0001"), *transaction(*BODY_835, control="0002"),
                             control="11")
    second = functional_group(*transaction(*BODY_837P, st01="837", control="0003", implementation=IMPL_837P),
                              control="12", functional_id="HC", implementation=IMPL_837P)
    third = functional_group(*transaction(*BODY_835, control="0004"), control="13")
    raws, reader = walk(interchange_of(first, second, third))
    assert reader.issues == []
    assert [(raw.control_number, raw.group_control_number, raw.functional_id, raw.start_index) for raw in raws] == [
        ("0001", "11", "HP", 3), ("0002", "11", "HP", 3 + SET_SIZE),
        ("0003", "12", "HC", 3 + 2 * SET_SIZE + 2),
        ("0004", "13", "HP", 3 + 2 * SET_SIZE + 2 + len(BODY_837P) + 2 + 2),
    ]
    assert [(g.control_number, g.declared_count, g.transaction_count) for g in reader.groups] == [
        ("11", 2, 2), ("12", 1, 1), ("13", 1, 1)]
    assert [transaction_type(raw.transaction_set, raw.implementation) for raw in raws] == ["835", "835", "837P", "835"]


def test_several_interchanges_with_different_delimiters() -> None:
    data = (interchange(*BODY_835, element="|", component="}", repetition="!", terminator="\n", line_break="")
            + interchange(*BODY_835, component=">", terminator="'", line_break="\r\n", control="000000002")
            + interchange(*BODY_835, pad=False, control="000000003"))
    raws, reader = walk(data)
    assert reader.issues == [] and reader.interchanges == 3
    assert [raw.interchange_control_number for raw in raws] == ["000000001", "000000002", "000000003"]
    assert [raw.start_index for raw in raws] == [3, 3 + SET_SIZE + 4, 3 + 2 * (SET_SIZE + 4)]
    assert [raw.delimiters.element + raw.delimiters.component + raw.delimiters.segment for raw in raws] == [
        "|}\n", "*>'", "*:~"]
    document = parse(data)
    first, second, third = (tx.content for tx in document.transactions)
    assert first == second == third
    assert document.issues == []


def test_unpadded_isa() -> None:
    (raw,), reader = walk(interchange(*BODY_835, pad=False))
    assert reader.issues == []
    assert (raw.sender_id, raw.receiver_id, raw.interchange_control_number) == ("SENDER", "RECEIVER", "000000001")


@pytest.mark.parametrize(("data", "expected"), [
    (interchange(*BODY_835, iea_control="000000009"), [(LAST + 2, "IEA", 2, "control_number_mismatch")]),
    (interchange(*BODY_835, iea_count=2), [(LAST + 2, "IEA", 1, "count_mismatch")]),
    (interchange(*BODY_835, iea_count=0), [(LAST + 2, "IEA", 1, "count_mismatch")]),
    (interchange(*BODY_835, ge_control="7"), [(LAST + 1, "GE", 2, "control_number_mismatch")]),
    (interchange(*BODY_835, ge_count=3), [(LAST + 1, "GE", 1, "count_mismatch")]),
    (interchange(*BODY_835, ge_count=0, ge_control="2"),
     [(LAST + 1, "GE", 1, "count_mismatch"), (LAST + 1, "GE", 2, "control_number_mismatch")]),
    (interchange(*transaction(*BODY_835, se_control="0002")), [(LAST, "SE", 2, "control_number_mismatch")]),
    (interchange(*transaction(*BODY_835, se_count=SET_SIZE + 1)), [(LAST, "SE", 1, "count_mismatch")]),
    (interchange(*transaction(*BODY_835, se_count=SET_SIZE - 1)), [(LAST, "SE", 1, "count_mismatch")]),
    (interchange(*BODY_835, control="12345"), [(1, "ISA", 13, "bad_number")]),
])
def test_envelope_errors_are_located(data: bytes, expected: list[tuple]) -> None:
    raws, reader = walk(data)
    assert located(reader) == expected
    assert len(raws) == 1 and raws[0].complete
    assert all(issue.severity == ERROR and issue.code in ISSUE_CODES for issue in reader.issues)


def test_se_problems_travel_with_their_transaction() -> None:
    data = interchange(*transaction(*BODY_835, se_count=5, se_control="9999"))
    document = parse(data)
    (tx,) = document.transactions
    assert [(i.segment_index, i.element, i.code) for i in tx.issues] == [
        (LAST, 1, "count_mismatch"), (LAST, 2, "control_number_mismatch")]
    assert tx.content.claim_payment_total == 950  # the content is still read
    assert [(i.segment_index, i.code) for i in document.issues] == [
        (LAST, "count_mismatch"), (LAST, "control_number_mismatch")]


def test_segments_outside_a_transaction_set() -> None:
    data = interchange(*transaction(*BODY_835), "BPR*I*1*C*CHK", "TRN*1*X", *transaction(*BODY_835, control="0002"))
    raws, reader = walk(data)
    assert located(reader) == [(LAST + 1, "BPR", None, "envelope")]
    assert "2 segments outside a transaction set" in reader.issues[0].message
    assert [raw.control_number for raw in raws] == ["0001", "0002"]
    assert reader.groups[0].transaction_count == 2


def test_missing_se_is_found_when_the_next_st_arrives() -> None:
    data = interchange(*transaction(*BODY_835)[:-1], *transaction(*BODY_835, control="0002"))
    raws, reader = walk(data)
    assert located(reader) == [(LAST, "ST", None, "envelope")]
    assert [(raw.control_number, raw.complete, len(raw.segments)) for raw in raws] == [
        ("0001", False, SET_SIZE - 1), ("0002", True, SET_SIZE)]
    assert raws[0].envelope_issues == tuple(reader.issues)
    document = parse(data)
    assert len(document.transactions[1].content.claims) == 2
    # The incomplete set is read as far as it goes; its balance is not judged.
    assert not any(issue.code == "unbalanced" for issue in document.issues)


def test_missing_se_before_ge() -> None:
    data = interchange(*transaction(*BODY_835)[:-1])
    raws, reader = walk(data)
    assert located(reader) == [(LAST, "GE", None, "envelope")]
    assert raws[0].complete is False


@pytest.mark.parametrize(("cut", "expected"), [
    (b"CLP*PCN002", [(LAST - 4, None, None, "truncated")]),  # ends mid-transaction, after a terminator
    (b"CLP*PCN002*1*5", [(LAST - 4, "CLP", None, "truncated"), (LAST - 4, None, None, "truncated")]),  # mid-segment
    (b"SE*", [(LAST, None, None, "truncated")]),
    (b"GE*", [(LAST + 1, None, None, "truncated")]),
    (b"IEA*", [(LAST + 2, None, None, "truncated")]),
])
def test_truncated_input(cut: bytes, expected: list[tuple]) -> None:
    data = interchange(*BODY_835)
    end = data.index(cut) + (len(cut) if cut == b"CLP*PCN002*1*5" else 0)
    raws, reader = walk(data[:end])
    assert located(reader) == expected
    assert raws[0].complete is (cut in (b"GE*", b"IEA*"))


def test_truncated_input_is_read_as_far_as_it_goes() -> None:
    data = interchange(*BODY_835)
    document = parse(data[: data.index(b"CLP*PCN002")])
    (tx,) = document.transactions
    assert not tx.complete
    assert [claim.patient_control_number for claim in tx.content.claims] == ["PCN001"]
    assert [(i.segment_index, i.code) for i in document.errors] == [(LAST - 4, "truncated")]


@pytest.mark.parametrize("data", [b"", b"\r\n  \n", b"\xef\xbb\xbf"])
def test_empty_input(data: bytes) -> None:
    raws, reader = walk(data)
    assert raws == []
    assert located(reader) == [(0, None, None, "empty")]


@pytest.mark.parametrize("data", [
    b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n5 0 obj\n<</Length 6 0 R/Filter /FlateDecode>>\nstream\n",
    b"Remittance advice for January: 3 claims paid, see the attached letter.",
    bytes(range(256)) * 3,
    interchange(*BODY_835).decode().encode("utf-16"),
    interchange(*BODY_835).decode().encode("utf-16-be"),
    b"MSH|^~\\&|EPIC|HOSP|||20260105||DFT^P03|1|P|2.5\r",
])
def test_not_x12_never_raises(data: bytes) -> None:
    raws, reader = walk(data)
    assert raws == []
    assert [(i.segment_index, i.code) for i in reader.issues if i.severity == ERROR] == [(0, "not_x12")]
    document = parse(data, strict=True)
    assert document.transactions == () and document.interchanges == 0


def test_envelope_segments_out_of_place() -> None:
    body = transaction(*BODY_835)
    data = interchange(*body).replace(b"GS*", b"GE*0*1~\nGS*", 1)  # a GE before any GS
    _, reader = walk(data)
    assert located(reader) == [(2, "GE", None, "envelope")]
    data = interchange(*body) + b"SE*2*0001~\n"  # an SE after the interchange
    _, reader = walk(data)
    assert located(reader) == [(LAST + 3, "SE", None, "envelope")]


def test_gs_inside_an_open_group_closes_it() -> None:
    group = functional_group(*transaction(*BODY_835), control="1")[:-1]  # no GE
    data = interchange_of(group, functional_group(*transaction(*BODY_835, control="0002"), control="2"),
                          iea_count=2)
    raws, reader = walk(data)
    assert located(reader) == [(LAST + 1, "GS", None, "envelope")]
    assert [(g.control_number, g.declared_count, g.transaction_count) for g in reader.groups] == [
        ("1", None, 1), ("2", 1, 1)]
    assert len(raws) == 2


CHUNKED = {
    "valid": interchange(*BODY_835),
    "three interchanges": interchange(*BODY_835, element="|", component="}", terminator="\n", line_break="")
    + interchange(*BODY_835, terminator="'", control="000000002") + interchange(*BODY_835, control="000000003"),
    "two groups": interchange_of(functional_group(*transaction(*BODY_835), control="1"),
                                 functional_group(*transaction(*BODY_835, control="0002"), control="2")),
    "missing se": interchange(*transaction(*BODY_835)[:-1], *transaction(*BODY_835, control="0002")),
    "outside st": interchange(*transaction(*BODY_835), "BPR*I*1", *transaction(*BODY_835, control="0002")),
    "bad trailers": interchange(*transaction(*BODY_835, se_count=3), ge_count=4, iea_control="000000005"),
    "truncated": interchange(*BODY_835)[:-60],
}


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 200])
@pytest.mark.parametrize("case", sorted(CHUNKED))
def test_parse_does_not_depend_on_chunk_boundaries(case: str, chunk_size: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = CHUNKED[case]
    whole = parse(data)

    class SmallChunks(Tokenizer):
        def __init__(self, source: object) -> None:
            super().__init__(io.BytesIO(source) if isinstance(source, bytes) else source,  # type: ignore[arg-type]
                             chunk_size=chunk_size)

    monkeypatch.setattr(envelope, "Tokenizer", SmallChunks)
    assert parse(data) == whole
