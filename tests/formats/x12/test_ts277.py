"""The 277 and 277CA readers: the public 277 samples to exact values, a 277CA that rejects at every
level, and located issues (never exceptions) for malformed input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.claim_status import ClaimStatusResponse, Status
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedAmount, QualifiedDate
from rcmflow.formats.x12.issues import ERROR, WARNING
from rcmflow.formats.x12.parser import X12Document, parse
from tests.formats.x12.builders import SAMPLES, interchange, replace, sample_files
from tests.formats.x12.mutate import assert_located, mutated

SAMPLE_DIR = SAMPLES / "277_005010X212"
needs_samples = pytest.mark.skipif(not SAMPLE_DIR.is_dir(), reason="shared x12 samples are absent")

IMPL_277CA = "005010X214"
BODY_277CA = (
    "BHT*0085*08*BATCH0001*20260115*1200*TH",
    "HL*1**20*1",
    "NM1*AY*2*CLEARINGHOUSE*****46*CH001",
    "TRN*1*BATCH0001",
    "DTP*050*D8*20260115",
    "DTP*009*D8*20260116",
    "HL*2*1*21*1",
    "NM1*41*2*GOOD CLINIC*****46*SUB01",
    "TRN*2*SUBMISSION1",
    "STC*A1:19:PR*20260115*WQ*1700",
    "QTY*90*1",
    "QTY*AA*1",
    "AMT*YU*800",
    "AMT*YY*900",
    "HL*3*2*19*1",
    "NM1*85*2*GOOD CLINIC*****XX*1234567893",
    "TRN*1*PROVIDER1",
    "STC*A1:19:PR*20260115*WQ*1700",
    "REF*TJ*123456789",
    "QTY*90*1",
    "AMT*YU*800",
    "HL*4*3*PT",
    "NM1*QC*1*DOE*JANE****MI*MEMBER01",
    "TRN*2*PCN001",
    "STC*A2:20:PR*20260115*WQ*800",
    "REF*1K*PAYERCLAIM1",
    "REF*D9*CHTRACE1",
    "DTP*472*RD8*20260105-20260106",
    "HL*5*3*PT",
    "NM1*QC*1*ROE*RICHARD****MI*MEMBER02",
    "TRN*2*PCN002",
    "STC*A7:562:85*20260115*U*900******A7:21:QC**BILLING PROVIDER NPI INVALID",
    "DTP*472*D8*20260107",
    "SVC*HC:99213:25*900*****1",
    "STC*A7:453*20260115*U",
    "REF*FJ*LINE1",
    "DTP*472*D8*20260107",
)


def at(body: tuple[str, ...] | list[str], segment: str) -> int:
    """File position of a body segment once wrapped (ISA 1, GS 2, ST 3)."""
    return list(body).index(segment) + 4


def read(body: tuple[str, ...] | list[str], *, strict: bool = False, st01: str = "277",
         implementation: str = IMPL_277CA) -> tuple[ClaimStatusResponse, X12Document]:
    document = parse(interchange(*body, st01=st01, implementation=implementation), strict=strict)
    assert len(document.transactions) == 1
    transaction = document.transactions[0]
    assert transaction.type == ("277CA" if implementation == IMPL_277CA else "277")
    return transaction.content, document


def codes(document: X12Document) -> list[tuple[int, str | None, int | None, str, str]]:
    return [(i.segment_index, i.segment_id, i.element, i.code, i.severity) for i in document.issues]


# -- the public samples -----------------------------------------------------------------------------

@needs_samples
@pytest.mark.parametrize("path", sample_files("277_005010X212"), ids=lambda p: p.name)
@pytest.mark.parametrize("strict", [False, True])
def test_every_sample_reads_without_issues(path, strict: bool) -> None:
    document = parse(path, strict=strict)
    assert document.issues == []
    assert [tx.type for tx in document.transactions] == ["277"]


@needs_samples
def test_claim_level_sample() -> None:
    response = parse(SAMPLE_DIR / "claim-level-status.277").transactions[0].content
    assert (response.control_number, response.implementation, response.purpose, response.reference) == (
        "0001", "005010X212", "08", "277X212")
    assert (response.created, response.created_time, response.transaction_type) == (date(2005, 9, 16), "0810", "DG")
    assert response.levels == ()
    assert [c.patient_control_number for c in response.claims] == ["ABCXYZ1", "ABCXYZ2", "ABCXYC3"]
    first, second, third = response.claims
    assert first.payer == Party("PR", "ABC INSURANCE", entity_type="2", id_qualifier="PI", id="12345")
    assert first.receiver == Party("41", "XYZ SERVICE", entity_type="2", id_qualifier="46", id="X67E")
    assert first.provider.name == "HOME HOSPITAL" and first.provider.id == "1666666661"
    assert first.subscriber == Party("IL", "SMITH", "FRED", entity_type="1", id_qualifier="MI", id="123456789A")
    assert first.patient is None and first.member == first.subscriber
    assert first.payer_claim_control_number == "05347006051"
    assert first.references == (Reference("BLT", "111"), Reference("EJ", "SM123456"))
    assert first.service_period == (date(2005, 8, 31), date(2005, 9, 6))
    (entry,) = first.statuses
    assert entry.statuses == (Status("P3", "317"),)
    assert entry.effective_date == date(2005, 9, 13)
    assert entry.pending and entry.charge == Decimal("8513.88") and entry.paid is None
    assert second.statuses[0].statuses == (Status("F0", "3"),)
    assert (second.charge, second.paid) == (Decimal("7599.00"), Decimal("7599.00"))
    assert second.payer_claim_control_number == "0529675341"
    # The third claim is a dependent's, under another provider, with one service line.
    assert third.provider.name == "HOME HOSPITAL PHYSICIANS" and third.provider.id == "166666666"
    assert third.subscriber.name == "MANN" and third.subscriber.first_name == "JOHN"
    assert third.patient == Party("QC", "MANN", "JOSEPH", entity_type="1")
    assert third.statuses[0].statuses == (Status("F2", "88", "QC"),)
    assert third.statuses[0].finalized
    assert (third.charge, third.paid) == (Decimal("150.00"), Decimal("0.00"))
    (line,) = third.lines
    assert line.procedure == Procedure("HC", "99203")
    assert (line.charge, line.paid, line.units) == (Decimal("150.00"), Decimal("0.00"), Decimal("1.00"))
    assert line.statuses[0].statuses == (Status("F2", "88", "QC"),)
    assert line.statuses[0].effective_date == date(2005, 6, 12)
    assert line.service_date == date(2005, 5, 1)


@needs_samples
def test_ncpdp_sample_keeps_the_code_list_qualifier() -> None:
    (claim,) = parse(SAMPLE_DIR / "claim-level-status-ncpdp.277").transactions[0].content.claims
    assert claim.statuses[0].statuses == (Status("F2", "80", "", "RX"),)
    assert claim.references == (Reference("XZ", "7654321"),)
    assert claim.dates == (QualifiedDate("472", date(2006, 3, 1)),)


@needs_samples
def test_receiver_and_provider_level_samples() -> None:
    receiver = parse(SAMPLE_DIR / "information-receiver-level-status.277").transactions[0].content
    assert receiver.claims == ()
    (level,) = receiver.levels
    assert (level.level, level.trace_number, level.trace_type) == ("21", "ABC276XXX", "2")
    assert level.party.name == "XYZ SERVICE" and level.payer.name == "ABC INSURANCE"
    assert level.statuses[0].statuses == (Status("E0", "0"),)
    assert level.rejected

    provider = parse(SAMPLE_DIR / "provider-level-status.277").transactions[0].content
    (level,) = provider.levels
    assert (level.level, level.trace_number) == ("19", "0")
    assert level.party.name == "HOME HOSPITAL PHYSICIANS" and level.party.id == "6166666666"
    assert level.statuses[0].statuses == (Status("E0", "24", "85"),)
    assert [c.patient_control_number for c in provider.claims] == ["ABCXYZ1"]


# -- 277CA ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("strict", [False, True])
def test_277ca_reads_every_level(strict: bool) -> None:
    response, document = read(BODY_277CA, strict=strict)
    assert document.issues == []
    assert response.is_claim_acknowledgment and response.transaction_type == "TH"
    source, receiver, provider = response.levels
    assert (source.level, source.trace_number, source.party.role) == ("20", "BATCH0001", "AY")
    assert source.dates == (QualifiedDate("050", date(2026, 1, 15)), QualifiedDate("009", date(2026, 1, 16)))
    assert receiver.statuses[0].statuses == (Status("A1", "19", "PR"),)
    assert receiver.statuses[0].action == "WQ" and receiver.statuses[0].charge == Decimal("1700")
    assert receiver.quantities == (QualifiedAmount("90", Decimal(1)), QualifiedAmount("AA", Decimal(1)))
    assert receiver.amounts == (QualifiedAmount("YU", Decimal(800)), QualifiedAmount("YY", Decimal(900)))
    assert provider.references == (Reference("TJ", "123456789"),)
    assert provider.party.id == "1234567893" and provider.payer.role == "AY"

    accepted, rejected = response.claims
    assert accepted.accepted and not accepted.rejected
    assert accepted.subscriber is None and accepted.patient.id == "MEMBER01"
    assert accepted.payer_claim_control_number == "PAYERCLAIM1"
    assert accepted.reference("D9") == "CHTRACE1"
    assert rejected.rejected
    (entry,) = rejected.statuses
    assert entry.statuses == (Status("A7", "562", "85"), Status("A7", "21", "QC"))
    assert entry.message == "BILLING PROVIDER NPI INVALID"
    (line,) = rejected.lines
    assert line.procedure == Procedure("HC", "99213", ("25",))
    assert line.line_item_control_number == "LINE1"
    assert line.statuses[0].statuses == (Status("A7", "453"),) and line.statuses[0].rejected
    assert response.rejected_claims == (rejected,)
    assert response.claim("PCN001") is accepted


# -- malformed input: located issues, never exceptions ----------------------------------------------

def test_bad_status_date_is_located_and_the_claim_kept() -> None:
    body = replace(BODY_277CA, BODY_277CA.index("STC*A2:20:PR*20260115*WQ*800"), "STC*A2:20:PR*20261340*WQ*800")
    response, document = read(body)
    assert codes(document) == [(at(body, "STC*A2:20:PR*20261340*WQ*800"), "STC", 2, "bad_date", ERROR)]
    assert document.issues[0].value == "20261340"
    assert response.claims[0].patient_control_number == "PCN001"
    assert response.claims[0].statuses == ()


def test_unknown_and_misplaced_segments() -> None:
    body = list(BODY_277CA)
    body.insert(body.index("REF*1K*PAYERCLAIM1"), "ZZZ*1")
    body.insert(body.index("REF*D9*CHTRACE1"), "PER*IC*JOHN")
    _, lenient = read(body)
    assert codes(lenient) == [
        (at(body, "ZZZ*1"), "ZZZ", None, "unknown_segment", WARNING),
        (at(body, "PER*IC*JOHN"), "PER", None, "unexpected_segment", WARNING),
    ]
    _, strict = read(body, strict=True)
    assert [(i.code, i.severity) for i in strict.issues] == [("unknown_segment", ERROR),
                                                             ("unexpected_segment", ERROR)]


def test_hl_problems() -> None:
    body = replace(BODY_277CA, BODY_277CA.index("HL*5*3*PT"), "HL*5*9*PT")
    response, document = read(body)
    # An unknown parent is reported; the level is placed under the last provider level.
    assert codes(document) == [(at(body, "HL*5*9*PT"), "HL", 2, "bad_code", ERROR)]
    assert response.claims[1].provider.id == "1234567893"

    body = replace(BODY_277CA, BODY_277CA.index("HL*5*3*PT"), "HL*5*3*QQ")
    response, document = read(body)
    assert codes(document) == [(at(body, "HL*5*3*QQ"), "HL", 3, "bad_code", ERROR)]
    assert [c.patient_control_number for c in response.claims] == ["PCN001"]  # its segments were skipped

    body = replace(BODY_277CA, BODY_277CA.index("NM1*QC*1*DOE*JANE****MI*MEMBER01"), "")
    response, document = read(body)
    assert codes(document) == [(at(body, "HL*4*3*PT") + 1, "NM1", None, "missing_segment", ERROR)]
    assert response.claims[0].patient is None


def test_bad_service_line_does_not_leak_into_the_previous_one() -> None:
    body = replace(BODY_277CA, BODY_277CA.index("SVC*HC:99213:25*900*****1"), "SVC*HC:99213:25*NINE")
    response, document = read(body)
    assert codes(document) == [(at(body, "SVC*HC:99213:25*NINE"), "SVC", 2, "bad_number", ERROR)]
    rejected = response.claims[1]
    assert rejected.lines == ()
    assert len(rejected.statuses) == 1  # the line's STC did not land on the claim


def test_missing_status_category() -> None:
    body = replace(BODY_277CA, BODY_277CA.index("STC*A2:20:PR*20260115*WQ*800"), "STC**20260115")
    _, document = read(body)
    assert codes(document) == [(at(body, "STC**20260115"), "STC", 1, "missing_element", ERROR)]


def test_empty_and_headless_transactions() -> None:
    response, document = read([])
    assert response.claims == () and response.levels == ()
    assert {(i.segment_id, i.code) for i in document.issues} == {("BHT", "missing_segment"),
                                                                ("HL", "missing_segment")}
    _, document = read(BODY_277CA[1:])
    assert codes(document) == [(4, "BHT", None, "missing_segment", ERROR)]


def test_claim_status_277_levels_d_and_e() -> None:
    body = (
        "BHT*0010*08*REF1*20260115*1200*DG",
        "HL*1**20*1", "NM1*PR*2*ACME*****PI*PAYER1", "PER*IC*CLAIMS*TE*8005551212",
        "HL*2*1*21*1", "NM1*41*2*CLINIC*****46*REC1",
        "HL*3*2*19*1", "NM1*1P*2*CLINIC*****XX*1234567893",
        "HL*4*3*22*1", "NM1*IL*1*DOE*JOHN****MI*M1",
        "TRN*2*OWN1", "STC*F1:65*20260110**100*80*20260109*CHK*20260111*CHK123",
        "HL*5*4*23", "NM1*QC*1*DOE*KID",
        "TRN*2*KID1", "STC*P1:1*20260110", "TRN*2*KID2", "STC*F2:88*20260110",
    )
    response, document = read(body, implementation="005010X212", strict=True)
    assert document.issues == []
    own, kid1, kid2 = response.claims
    assert own.patient is None and kid1.patient.first_name == "KID" and kid2.subscriber.first_name == "JOHN"
    entry = own.statuses[0]
    assert (entry.adjudication_date, entry.payment_method, entry.check_date, entry.check_number) == (
        date(2026, 1, 9), "CHK", date(2026, 1, 11), "CHK123")
    assert own.payer.contacts[0].numbers == (("TE", "8005551212"),)
    assert [c.patient_control_number for c in response.claims] == ["OWN1", "KID1", "KID2"]


@settings(max_examples=50, deadline=None)
@given(mutated(BODY_277CA), st.booleans())
def test_damaged_input_gives_located_issues_never_exceptions(body: list[str], strict: bool) -> None:
    document = parse(interchange(*body, st01="277", implementation=IMPL_277CA), strict=strict)
    (transaction,) = document.transactions
    assert transaction.content is not None
    assert_located(document)
