"""The 276 reader: the public samples to exact values, and located issues for malformed input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.claim_status import ClaimStatusRequest
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.x12.issues import ERROR, WARNING
from rcmflow.formats.x12.parser import X12Document, parse
from tests.formats.x12.builders import SAMPLES, interchange, replace, sample_files
from tests.formats.x12.mutate import assert_located, mutated

SAMPLE_DIR = SAMPLES / "276_005010X212"
needs_samples = pytest.mark.skipif(not SAMPLE_DIR.is_dir(), reason="shared x12 samples are absent")

BODY_276 = (
    "BHT*0010*13*REQ0001*20260115*1200",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01",
    "HL*2*1*21*1",
    "NM1*41*2*GOOD CLINIC*****46*REC01",
    "HL*3*2*19*1",
    "NM1*1P*2*GOOD CLINIC*****XX*1234567893",
    "HL*4*3*22*0",
    "DMG*D8*19800101*F",
    "NM1*IL*1*DOE*JANE****MI*MEMBER01",
    "TRN*1*TRACE1",
    "REF*1K*PAYERCLAIM1",
    "REF*EJ*PCN001",
    "AMT*T3*150.5",
    "DTP*472*D8*20260105",
    "SVC*HC:99213:25*150.5*****1",
    "REF*FJ*LINE1",
    "DTP*472*D8*20260105",
)


def at(body: tuple[str, ...] | list[str], segment: str) -> int:
    return list(body).index(segment) + 4


def read(body: tuple[str, ...] | list[str], *, strict: bool = False) -> tuple[ClaimStatusRequest, X12Document]:
    document = parse(interchange(*body, st01="276", implementation="005010X212"), strict=strict)
    (transaction,) = document.transactions
    assert transaction.type == "276"
    return transaction.content, document


def codes(document: X12Document) -> list[tuple[int, str | None, int | None, str, str]]:
    return [(i.segment_index, i.segment_id, i.element, i.code, i.severity) for i in document.issues]


@needs_samples
@pytest.mark.parametrize("path", sample_files("276_005010X212"), ids=lambda p: p.name)
@pytest.mark.parametrize("strict", [False, True])
def test_every_sample_reads_without_issues(path, strict: bool) -> None:
    document = parse(path, strict=strict)
    assert document.issues == []
    assert [tx.type for tx in document.transactions] == ["276"]


@needs_samples
def test_claim_level_sample() -> None:
    request = parse(SAMPLE_DIR / "claim-level-status.276").transactions[0].content
    assert (request.control_number, request.purpose, request.reference, request.created, request.created_time) == (
        "0001", "13", "ABC276XXX", date(2005, 9, 15), "1425")
    assert [c.trace_number for c in request.claims] == ["ABCXYZ1", "ABCXYZ2", "ABCXYZ3"]
    first, second, third = request.claims
    assert first.payer == Party("PR", "ABC INSURANCE", entity_type="2", id_qualifier="PI", id="12345")
    assert first.receiver.id == "X67E" and first.provider.id == "1666666661"
    assert first.subscriber == Party("IL", "SMITH", "FRED", entity_type="1", id_qualifier="MI", id="123456789A",
                                     birth_date=date(1930, 12, 10), gender="M")
    assert first.patient is None
    assert first.references == (Reference("BLT", "111"), Reference("EJ", "SM123456"))
    assert first.patient_account_number == "SM123456"
    assert first.charge == Decimal("8513.88")
    assert first.service_period == (date(2005, 8, 31), date(2005, 9, 6))
    assert second.subscriber.name == "JONES" and second.subscriber.birth_date == date(1930, 11, 15)
    assert second.charge == Decimal("7599.00")
    # The dependent's claim: subscriber without demographics, dependent with them, one service line.
    assert third.provider.name == "HOME HOSPITAL PHYSICANS"
    assert third.subscriber == Party("IL", "MANN", "JOHN", entity_type="1", id_qualifier="MI", id="345678901")
    assert third.patient == Party("QC", "MANN", "JOSEPH", entity_type="1", birth_date=date(1995, 11, 1),
                                  gender="M")
    assert third.charge is None and third.dates == ()
    (line,) = third.lines
    assert line.procedure == Procedure("HC", "99203")
    assert (line.charge, line.paid, line.units) == (Decimal("150.00"), None, Decimal("1.00"))
    assert line.dates == (QualifiedDate("472", date(2005, 5, 1)),)


@needs_samples
def test_ncpdp_sample() -> None:
    (claim,) = parse(SAMPLE_DIR / "claim-level-status-ncpdp.276").transactions[0].content.claims
    assert claim.provider.name == "HOME HOSPITAL PHARMACY"
    assert claim.references == (Reference("XZ", "7654321"),)
    assert claim.charge == Decimal("85.00")
    assert claim.dates == (QualifiedDate("472", date(2006, 3, 1)),)


@pytest.mark.parametrize("strict", [False, True])
def test_built_request(strict: bool) -> None:
    request, document = read(BODY_276, strict=strict)
    assert document.issues == []
    (claim,) = request.claims
    assert claim.payer_claim_control_number == "PAYERCLAIM1"
    assert claim.references == (Reference("EJ", "PCN001"),)
    assert claim.charge == Decimal("150.5")
    (line,) = claim.lines
    assert line.procedure == Procedure("HC", "99213", ("25",))
    assert line.line_item_control_number == "LINE1" and line.references == ()


def test_bad_amount_and_date_are_located() -> None:
    body = replace(BODY_276, BODY_276.index("AMT*T3*150.5"), "AMT*T3*15O.5")
    body = replace(body, body.index("DTP*472*D8*20260105"), "DTP*472*D8*20260230")
    request, document = read(body)
    assert codes(document) == [
        (at(body, "AMT*T3*15O.5"), "AMT", 2, "bad_number", ERROR),
        (at(body, "DTP*472*D8*20260230"), "DTP", 3, "bad_date", ERROR),
    ]
    assert request.claims[0].charge is None and request.claims[0].dates == ()


def test_bad_date_format_qualifier() -> None:
    body = replace(BODY_276, BODY_276.index("DTP*472*D8*20260105"), "DTP*472*XX*20260105")
    _, document = read(body)
    assert codes(document) == [(at(body, "DTP*472*XX*20260105"), "DTP", 2, "bad_code", ERROR)]


def test_segments_out_of_place() -> None:
    body = list(BODY_276)
    body.insert(body.index("NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01") + 1, "AMT*T3*1")
    body.insert(body.index("TRN*1*TRACE1"), "STC*A1:19")
    _, document = read(body)
    assert codes(document) == [
        (at(body, "AMT*T3*1"), "AMT", None, "unexpected_segment", WARNING),
        (at(body, "STC*A1:19"), "STC", None, "unknown_segment", WARNING),
    ]


def test_missing_names_and_hierarchy() -> None:
    body = replace(BODY_276, BODY_276.index("NM1*IL*1*DOE*JANE****MI*MEMBER01"), "")
    request, document = read(body)
    assert codes(document) == [(at(body, "DMG*D8*19800101*F"), "NM1", None, "missing_segment", ERROR)]
    assert request.claims[0].trace_number == "TRACE1"
    assert request.claims[0].subscriber == Party("")

    body = replace(BODY_276, BODY_276.index("HL*4*3*22*0"), "HL*4*2*22*0")
    request, document = read(body)
    assert codes(document) == [(at(body, "HL*4*2*22*0"), "HL", 2, "bad_code", ERROR)]
    assert request.claims[0].provider.id == "1234567893"

    body = replace(BODY_276, BODY_276.index("HL*1**20*1"), "HL***20*1")
    _, document = read(body)
    assert codes(document)[0] == (at(body, "HL***20*1"), "HL", 1, "missing_element", ERROR)


def test_truncated_transaction_is_read_as_far_as_it_goes() -> None:
    text = interchange(*BODY_276, st01="276", implementation="005010X212").decode()
    cut = text[: text.index("SVC*")]
    document = parse(cut.encode())
    (transaction,) = document.transactions
    assert not transaction.complete
    assert transaction.content.claims[0].charge == Decimal("150.5")
    assert "truncated" in {issue.code for issue in document.issues}


@settings(max_examples=50, deadline=None)
@given(mutated(BODY_276), st.booleans())
def test_damaged_input_gives_located_issues_never_exceptions(body: list[str], strict: bool) -> None:
    document = parse(interchange(*body, st01="276", implementation="005010X212"), strict=strict)
    (transaction,) = document.transactions
    assert transaction.content is not None
    assert_located(document)
