"""999 acknowledgments of any input: clean files are accepted, each kind of syntax error gets its IK3,
IK4, IK5 or AK9 code, semantic problems do not reject, and every 999 reads back to what was found."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.acknowledgment import ElementError, FunctionalAck, SegmentError, TransactionAck
from rcmflow.formats.x12.issues import X12Error, X12Issue
from rcmflow.formats.x12.parser import ParsedTransaction, X12Document, parse
from rcmflow.formats.x12.ts999_write import acknowledge, build_999, write_999
from rcmflow.formats.x12.writing import CountingControlNumbers, Party
from tests.formats.x12.builders import SAMPLES, interchange, replace, sample_files, transaction
from tests.formats.x12.mutate import mutated

CREATED = datetime(2026, 1, 16, 8, 30)
IMPL_276 = "005010X212"
BODY_276 = (
    "BHT*0010*13*REQ0001*20260115*1200",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01",
    "HL*2*1*21*1",
    "NM1*41*2*GOOD CLINIC*****46*REC01",
    "HL*3*2*19*1",
    "NM1*1P*2*GOOD CLINIC*****XX*1234567893",
    "HL*4*3*22*0",
    "NM1*IL*1*DOE*JANE****MI*MEMBER01",
    "TRN*1*TRACE1",
    "AMT*T3*150.5",
    "DTP*472*D8*20260105",
)


def in_set(body: tuple[str, ...] | list[str], segment: str) -> int:
    """IK302: position of a body segment in its transaction set (ST = 1)."""
    return list(body).index(segment) + 2


def acknowledged(source: bytes, *, strict: bool = True) -> tuple[list[FunctionalAck], str]:
    """The acknowledgments of an input, after checking that the written 999 reads back to them."""
    document = parse(source, strict=strict)
    acks = acknowledge(document)
    text = write_999(document, created=CREATED)
    back = parse(text.encode(), strict=True)
    assert back.issues == []
    assert back.of_type("999") == acks
    return acks, text


def single(source: bytes, *, strict: bool = True) -> TransactionAck:
    (ack,), _ = acknowledged(source, strict=strict)
    (tx,) = ack.transactions
    return tx


def test_clean_sample_is_accepted_and_addressed_back() -> None:
    path = SAMPLES / "276_005010X212" / "claim-level-status.276"
    if not path.is_file():
        pytest.skip("shared x12 samples are absent")
    _, text = acknowledged(path.read_bytes())
    assert text.splitlines() == [
        "ISA*00*          *00*          *30*12345          *30*000000005      *260116*0830*^*00501*000000001*0*T*:~",
        "GS*FA*54321*000000005*20260116*0830*1*X*005010X231A1~",
        "ST*999*0001*005010X231A1~",
        "AK1*HR*1*005010X212~",
        "AK2*276*0001*005010X212~",
        "IK5*A~",
        "AK9*A*1*1*1~",
        "SE*6*0001~",
        "GE*1*1~",
        "IEA*1*000000001~",
    ]


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_reads_back(path) -> None:
    acks, _ = acknowledged(path.read_bytes())
    assert len(acks) == 1 and acks[0].sets_received == 1


def test_bad_date_gives_ik4_8() -> None:
    body = replace(BODY_276, BODY_276.index("DTP*472*D8*20260105"), "DTP*472*D8*20260230")
    tx = single(interchange(*body, st01="276", implementation=IMPL_276))
    assert tx == TransactionAck("276", "0001", IMPL_276, "R", ("5",), (
        SegmentError("DTP", in_set(body, "DTP*472*D8*20260230"), "8",
                     elements=(ElementError(3, "8", "1251", value="20260230"),)),))


def test_missing_required_element_gives_ik4_1() -> None:
    body = replace(BODY_276, BODY_276.index("NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01"), "NM1*PR")
    tx = single(interchange(*body, st01="276", implementation=IMPL_276))
    assert tx.status == "R" and tx.codes == ("5",)
    assert tx.segment_errors == (SegmentError("NM1", in_set(body, "NM1*PR"), "8",
                                              elements=(ElementError(2, "1", "1065"),)),)


def test_bad_code_and_too_long_values() -> None:
    body = replace(BODY_276, BODY_276.index("HL*1**20*1"), "HL*1**20*12")
    body = replace(body, body.index("TRN*1*TRACE1"), "TRN*1*" + "T" * 51)
    tx = single(interchange(*body, st01="276", implementation=IMPL_276))
    assert tx.segment_errors == (
        SegmentError("HL", in_set(body, "HL*1**20*12"), "8", elements=(ElementError(4, "5", "736", value="12"),)),
        SegmentError("TRN", in_set(body, "TRN*1*" + "T" * 51), "8",
                     elements=(ElementError(2, "5", "127", value="T" * 51),)),
    )


def test_unknown_segment_rejects_when_strict_and_is_noted_when_lenient() -> None:
    body = list(BODY_276)
    body.insert(body.index("AMT*T3*150.5"), "ZZZ*1")
    source = interchange(*body, st01="276", implementation=IMPL_276)
    expected = (SegmentError("ZZZ", in_set(body, "ZZZ*1"), "2"),)
    strict = single(source)
    assert (strict.status, strict.codes, strict.segment_errors) == ("R", ("5",), expected)
    (ack,), _ = acknowledged(source, strict=False)
    assert ack.transactions[0].status == "E" and ack.transactions[0].segment_errors == expected
    assert (ack.status, ack.sets_accepted) == ("E", 1)


def test_misplaced_and_missing_segments() -> None:
    body = list(BODY_276)
    body.insert(body.index("HL*2*1*21*1"), "AMT*T3*1")
    body = replace(body, body.index("NM1*IL*1*DOE*JANE****MI*MEMBER01"), "")
    tx = single(interchange(*body, st01="276", implementation=IMPL_276))
    assert tx.segment_errors == (
        SegmentError("AMT", in_set(body, "AMT*T3*1"), "7"),
        SegmentError("NM1", in_set(body, "HL*4*3*22*0") + 1, "3"),
    )


def test_segment_count_mismatch_gives_ik5_4() -> None:
    sets = transaction(*BODY_276, st01="276", implementation=IMPL_276, se_count=99)
    tx = single(interchange(*sets, st01="276", implementation=IMPL_276))
    assert (tx.status, tx.codes, tx.segment_errors) == ("R", ("4",), ())


def test_control_number_mismatch_gives_ik5_3() -> None:
    sets = transaction(*BODY_276, st01="276", implementation=IMPL_276, se_control="0002")
    tx = single(interchange(*sets, st01="276", implementation=IMPL_276))
    assert (tx.status, tx.codes) == ("R", ("3",))


def test_unsupported_transaction_set_gives_ik5_1() -> None:
    tx = single(interchange("BEG*00*SA*PO1**20260115", st01="850", implementation="005010"))
    assert tx == TransactionAck("850", "0001", "005010", "R", ("1",))


def test_missing_trailer_gives_ik5_2_and_ak9_3() -> None:
    text = interchange(*BODY_276, st01="276", implementation=IMPL_276).decode()
    cut = text[: text.index("SE*")]
    (ack,), _ = acknowledged(cut.encode())
    assert ack.transactions[0].status == "R" and ack.transactions[0].codes == ("2",)
    assert (ack.status, ack.codes) == ("R", ("3",))


def test_group_count_and_control_number_mismatch_give_ak9_codes() -> None:
    source = interchange(*BODY_276, st01="276", implementation=IMPL_276, ge_count=2, ge_control="9")
    (ack,), _ = acknowledged(source)
    assert ack.transactions[0].status == "A"
    assert (ack.status, ack.sets_included, ack.sets_received, ack.sets_accepted, ack.codes) == (
        "R", 2, 1, 1, ("5", "4"))


def test_partial_acceptance() -> None:
    good = transaction(*BODY_276, st01="276", control="0001", implementation=IMPL_276)
    bad_body = replace(BODY_276, BODY_276.index("AMT*T3*150.5"), "AMT*T3*A")
    bad = transaction(*bad_body, st01="276", control="0002", implementation=IMPL_276)
    (ack,), text = acknowledged(interchange(*good, *bad, st01="276", implementation=IMPL_276))
    assert [tx.status for tx in ack.transactions] == ["A", "R"]
    assert (ack.status, ack.sets_included, ack.sets_received, ack.sets_accepted) == ("P", 2, 2, 1)
    assert f"IK3*AMT*{in_set(bad_body, 'AMT*T3*A')}**8~" in text
    assert "IK4*2*782*6*A~" in text
    assert "AK9*P*2*2*1~" in text


def test_semantic_issues_do_not_reject() -> None:
    document = parse(interchange(*BODY_276, st01="276", implementation=IMPL_276))
    tx = document.transactions[0]
    unbalanced = X12Issue(tx.start_index + 1, "BPR", 2, "unbalanced", "BPR02 does not balance")
    with_issue: ParsedTransaction = tx._replace(issues=(unbalanced,))
    (ack,) = acknowledge(document._replace(transactions=(with_issue,)))
    assert ack.status == "A" and ack.transactions[0] == TransactionAck("276", "0001", IMPL_276, "A")


def test_several_interchanges_are_answered_separately() -> None:
    first = interchange(*BODY_276, st01="276", implementation=IMPL_276, control="000000011")
    second = interchange(*BODY_276, st01="276", implementation=IMPL_276, control="000000012", group_control="7")
    document = parse(first + second, strict=True)
    text = write_999(document, created=CREATED)
    assert text.count("ISA*") == 2 and text.count("IEA*1*") == 2
    assert "AK1*HR*1*005010X212~" in text and "AK1*HR*7*005010X212~" in text
    assert [ack.group_control_number for ack in parse(text.encode()).of_type("999")] == ["1", "7"]


def test_explicit_parties_control_numbers_and_usage() -> None:
    document = parse(interchange(*BODY_276, st01="276", implementation=IMPL_276), strict=True)
    text = write_999(document, sender=Party("PAYERX", "ZZ", "PAYERAPP"), receiver=Party("CLINICX", "01"),
                     control_numbers=CountingControlNumbers(41), created=CREATED, usage="P")
    lines = text.splitlines()
    assert lines[0] == ("ISA*00*          *00*          *ZZ*PAYERX         *01*CLINICX        *260116*0830*^*00501*"
                        "000000041*0*P*:~")
    assert lines[1] == "GS*FA*PAYERAPP*CLINICX*20260116*0830*41*X*005010X231A1~"
    assert lines[2] == "ST*999*0041*005010X231A1~"


def test_build_999_returns_the_transaction_sets() -> None:
    document = parse(interchange(*BODY_276, st01="276", implementation=IMPL_276), strict=True)
    assert build_999(document) == [[
        "ST*999*0001*005010X231A1", "AK1*HR*1*005010X212", "AK2*276*0001*005010X212", "IK5*A", "AK9*A*1*1*1",
        "SE*6*0001",
    ]]


def test_foreign_delimiters_in_a_bad_value_are_dropped() -> None:
    body = replace(BODY_276, BODY_276.index("AMT*T3*150.5"), "AMT|T3|15*0")
    source = interchange(*[segment.replace("*", "|") for segment in body], st01="276", implementation=IMPL_276,
                         element="|").replace(b"15\x7c0", b"15*0")
    tx = single(source)
    assert tx.segment_errors[0].elements == (ElementError(2, "6", "782", value="150"),)


def test_nothing_to_acknowledge_raises() -> None:
    document = parse(b"hello, not x12")
    with pytest.raises(X12Error) as caught:
        write_999(document)
    assert caught.value.issues[0].code == "not_x12"
    assert acknowledge(X12Document(0, (), (), ())) == []


@settings(max_examples=50, deadline=None)
@given(mutated(BODY_276), st.booleans())
def test_damaged_input_is_acknowledged_and_reads_back(body: list[str], strict: bool) -> None:
    (ack,), _ = acknowledged(interchange(*body, st01="276", implementation=IMPL_276), strict=strict)
    (tx,) = ack.transactions
    assert tx.status in ("A", "E", "R")
    assert (tx.status == "R") == (ack.status == "R")
    assert all(error.position >= 1 for error in tx.segment_errors)
