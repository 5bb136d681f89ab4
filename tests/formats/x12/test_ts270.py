"""The 270 and 271 readers: the public samples to exact values, a 271 with every loop, AAA errors at
each level, and located issues for malformed input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.eligibility import EligibilityInquiry, EligibilityResponse, RequestError, Trace, is_active_on
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedAmount, QualifiedDate
from rcmflow.formats.x12.issues import ERROR, WARNING
from rcmflow.formats.x12.parser import X12Document, parse
from tests.formats.x12.builders import SAMPLES, interchange, replace, sample_files
from tests.formats.x12.mutate import assert_located, mutated

DIR_270 = SAMPLES / "270_005010X279A1"
DIR_271 = SAMPLES / "271_005010X279A1"
needs_samples = pytest.mark.skipif(not DIR_271.is_dir(), reason="shared x12 samples are absent")
IMPL = "005010X279A1"

BODY_271 = (
    "BHT*0022*11*REQ0001*20260115*1200",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01",
    "PER*IC*PROVIDER SERVICES*TE*8005551212*UR*WWW.ACME.EXAMPLE",
    "HL*2*1*21*1",
    "NM1*1P*2*GOOD CLINIC*****XX*1234567893",
    "REF*TJ*123456789",
    "PRV*PE*PXC*207Q00000X",
    "HL*3*2*22*0",
    "TRN*2*TRACE1*9877281234",
    "TRN*1*PAYERTRACE*9999999999*DEPT1",
    "NM1*IL*1*DOE*JANE*Q***MI*MEMBER01",
    "REF*6P*GROUP01*ACME GROUP",
    "N3*5 ELM STREET",
    "N4*HARTFORD*CT*06101",
    "DMG*D8*19800101*F",
    "INS*Y*18*001*25",
    "HI*ABK:J020*ABF:R05",
    "DTP*356*D8*20260101",
    "DTP*357*D8*20261231",
    "MPI*A*AO*A*ARMY",
    "EB*1*IND*30*PR*GOLD PPO",
    "EB*C*IND*30***23*500*****Y",
    "DTP*292*RD8*20260101-20261231",
    "REF*18*PLAN01",
    "MSG*DEDUCTIBLE APPLIES TO IN-NETWORK SERVICES",
    "EB*A*IND*98^AL***27**0.2****N*HC:99213:25",
    "HSD*VS*12*VS*1*34*1",
    "III*ZZ*11",
    "III*ZZ*22",
    "LS*2120",
    "NM1*P3*1*SMITH*ANNA****XX*1497758544",
    "N3*1 CLINIC ROAD",
    "N4*HARTFORD*CT*06103",
    "PER*IC*FRONT DESK*TE*8605551212",
    "PRV*PC*PXC*207Q00000X",
    "LE*2120",
    "EB*6**35",
    "AAA*Y**41*C",
)


def at(body: tuple[str, ...] | list[str], segment: str) -> int:
    return list(body).index(segment) + 4


def read_271(body: tuple[str, ...] | list[str], *, strict: bool = False) -> tuple[EligibilityResponse, X12Document]:
    document = parse(interchange(*body, st01="271", implementation=IMPL), strict=strict)
    (transaction,) = document.transactions
    assert transaction.type == "271"
    return transaction.content, document


def codes(document: X12Document) -> list[tuple[int, str | None, int | None, str, str]]:
    return [(i.segment_index, i.segment_id, i.element, i.code, i.severity) for i in document.issues]


# -- the public samples -----------------------------------------------------------------------------

@needs_samples
@pytest.mark.parametrize("path", sample_files("270_005010X279A1") + sample_files("271_005010X279A1"),
                         ids=lambda p: p.name)
@pytest.mark.parametrize("strict", [False, True])
def test_every_sample_reads_without_reader_issues(path, strict: bool) -> None:
    document = parse(path, strict=strict)
    (transaction,) = document.transactions
    assert transaction.type == path.suffix[1:]
    issues = [(i.segment_id, i.element, i.code) for i in document.issues]
    if path.name == "subscriber-health-benefit-check-error.271":
        assert issues == [("SE", 2, "control_number_mismatch")]  # the envelope layer's, not the reader's
    else:
        assert issues == []


@needs_samples
def test_subscriber_270_sample() -> None:
    inquiry: EligibilityInquiry = parse(DIR_270 / "subscriber-health-benefit-check.270").transactions[0].content
    assert (inquiry.control_number, inquiry.purpose, inquiry.reference, inquiry.created, inquiry.created_time) == (
        "1234", "13", "10001234", date(2006, 5, 1), "1319")
    (member,) = inquiry.members
    assert member.payer == Party("PR", "ABC COMPANY", entity_type="2", id_qualifier="PI", id="842610001")
    assert member.provider == Party("1P", "BONE AND JOINT CLINIC", entity_type="2", id_qualifier="SV", id="2000035")
    assert member.subscriber == Party("IL", "SMITH", "ROBERT", entity_type="1", id_qualifier="MI", id="11122333301",
                                      birth_date=date(1943, 5, 19))
    assert member.dependent is None and member.patient == member.subscriber
    assert member.traces == (Trace("1", "93175-012547", "9877281234"),)
    assert member.dates == (QualifiedDate("291", date(2006, 5, 1)),)
    assert member.service_types == ("30",)


@needs_samples
def test_dependent_270_sample() -> None:
    inquiry = parse(DIR_270 / "dependent-health-benefit-check.270").transactions[0].content
    (member,) = inquiry.members  # the subscriber level only leads to the dependent: no record of its own
    assert member.provider == Party("1P", "JONES", "MARCUS", entity_type="1", id_qualifier="SV", id="2000034")
    assert member.subscriber == Party("IL", entity_type="1", id_qualifier="MI", id="11122333301")
    assert member.dependent == Party("03", "SMITH", "MARY", entity_type="1", birth_date=date(1978, 10, 14))
    assert member.traces == (Trace("1", "93175-012547", "9877281234"),)
    assert member.services[0].service_types == ("30",)


@needs_samples
def test_dependent_271_sample() -> None:
    response: EligibilityResponse = parse(DIR_271 / "dependent-health-benefit-check.271").transactions[0].content
    assert (response.control_number, response.purpose, response.errors) == ("4321", "11", ())
    (member,) = response.members
    home = Address("15197 BROADWAY AVENUE", "APT 215", "KANSAS CITY", "MO", "64108")
    assert member.subscriber == Party("IL", "SMITH", "JOHN", entity_type="1", id_qualifier="MI", id="123456789",
                                      address=home, birth_date=date(1963, 5, 19), gender="M")
    assert member.dependent == Party("03", "SMITH", "MARY", entity_type="1", address=home,
                                     birth_date=date(1998, 10, 14), gender="F")
    assert member.insured == ("N", "19")
    assert member.traces == (Trace("2", "93175-012547", "9877281234"),)
    assert member.dates == (QualifiedDate("346", date(2006, 1, 1)),)
    assert [b.information for b in member.benefits] == ["1", "L", "1", "B", "B"]
    active, pcp, services, copay_in, copay_out = member.benefits
    assert (active.service_types, active.plan_description) == (("30",), "GOLD 123 PLAN")
    assert pcp.entities == (Party("P3", "JONES", "MARCUS", entity_type="1", id_qualifier="SV", id="0202034"),)
    assert services.service_types == ("1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC")
    assert (copay_in.insurance_type, copay_in.time_period, copay_in.amount, copay_in.in_network) == (
        "HM", "27", Decimal("10.00"), "Y")
    assert (copay_out.amount, copay_out.in_network) == (Decimal("30.00"), "N")
    assert is_active_on(response, date(2006, 5, 1))
    assert not is_active_on(response, date(2005, 12, 31))


@needs_samples
def test_subscriber_271_sample() -> None:
    response = parse(DIR_271 / "subscriber-health-benefit-check.271").transactions[0].content
    (member,) = response.members
    assert member.dependent is None and member.patient.name == "SMITH"
    assert member.provider.name == "BONE AND JOIN CLINIC"
    assert len(member.benefits) == 5
    assert is_active_on(member, date(2006, 5, 1), "98")


@needs_samples
def test_error_271_sample() -> None:
    response = parse(DIR_271 / "subscriber-health-benefit-check-error.271").transactions[0].content
    assert response.members == ()
    (error,) = response.errors
    assert error == RequestError("2100B", "Y", "50", "N", Party("1P", "BONE AND JOIN CLINIC", entity_type="2",
                                                                 id_qualifier="SV", id="2000035"))
    assert error.meaning == "Provider ineligible for inquiries"


# -- a 271 with every loop --------------------------------------------------------------------------

@pytest.mark.parametrize("strict", [False, True])
def test_full_271(strict: bool) -> None:
    response, document = read_271(BODY_271, strict=strict)
    assert document.issues == []
    (member,) = response.members
    assert member.payer.contacts == (Contact("IC", "PROVIDER SERVICES",
                                             (("TE", "8005551212"), ("UR", "WWW.ACME.EXAMPLE"))),)
    assert member.provider.references == (Reference("TJ", "123456789"),)
    assert (member.provider.taxonomy, member.provider_code) == ("207Q00000X", "PE")
    assert member.traces == (Trace("2", "TRACE1", "9877281234"), Trace("1", "PAYERTRACE", "9999999999", "DEPT1"))
    assert member.subscriber.middle_name == "Q"
    assert member.subscriber.references == (Reference("6P", "GROUP01"),)
    assert member.subscriber.address == Address("5 ELM STREET", "", "HARTFORD", "CT", "06101")
    assert member.insured == ("Y", "18", "001", "25")
    assert member.diagnoses == (("ABK", "J020"), ("ABF", "R05"))
    assert member.military == ("A", "AO", "A", "ARMY")
    active, deductible, coinsurance, dental = member.benefits
    assert (active.coverage_level, active.insurance_type, active.plan_description) == ("IND", "PR", "GOLD PPO")
    assert (deductible.time_period, deductible.amount, deductible.in_network) == ("23", Decimal(500), "Y")
    assert deductible.dates == (QualifiedDate("292", date(2026, 1, 1), date(2026, 12, 31)),)
    assert deductible.references == (Reference("18", "PLAN01"),)
    assert deductible.messages == ("DEDUCTIBLE APPLIES TO IN-NETWORK SERVICES",)
    assert coinsurance.service_types == ("98", "AL")
    assert (coinsurance.percent, coinsurance.in_network) == (Decimal("0.2"), "N")
    assert coinsurance.procedure == Procedure("HC", "99213", ("25",))
    assert coinsurance.deliveries == (("VS", "12", "VS", "1", "34", "1"),)
    assert coinsurance.additional == (("ZZ", "11"), ("ZZ", "22"))
    (pcp,) = coinsurance.entities
    assert pcp.name == "SMITH" and pcp.taxonomy == "207Q00000X"
    assert pcp.address == Address("1 CLINIC ROAD", "", "HARTFORD", "CT", "06103")
    assert pcp.contacts == (Contact("IC", "FRONT DESK", (("TE", "8605551212"),)),)
    assert dental.inactive and dental.errors == (RequestError("2110C", "Y", "41", "C", member.subscriber),)
    assert is_active_on(member, date(2026, 6, 1))
    assert not is_active_on(member, date(2027, 1, 1))  # DTP*357 ended eligibility
    assert not is_active_on(member, date(2026, 6, 1), "35")


def test_request_errors_at_every_level() -> None:
    body = (
        "BHT*0022*11*REQ0001*20260115*1200",
        "HL*1**20*1", "AAA*Y**42*R", "NM1*PR*2*ACME*****PI*PAYER01", "AAA*Y**79*C",
        "HL*2*1*21*1", "NM1*1P*2*CLINIC*****XX*1234567893", "AAA*N**43*C",
        "HL*3*2*22*1", "NM1*IL*1*DOE*JOHN****MI*M1", "AAA*Y**72*C",
        "HL*4*3*23*0", "NM1*03*1*DOE*KID", "AAA*N**75*N",
    )
    response, document = read_271(body, strict=True)
    assert document.issues == []
    assert [(e.loop, e.reason, e.follow_up) for e in response.errors] == [
        ("2000A", "42", "R"), ("2100A", "79", "C"), ("2100B", "43", "C")]
    subscriber, dependent = response.members  # the subscriber has an error of its own: it is a record
    assert subscriber.errors == (RequestError("2100C", "Y", "72", "C", subscriber.subscriber),)
    assert dependent.errors[0].reason == "75" and dependent.errors[0].loop == "2100D"
    assert [e.reason for e in response.all_errors] == ["42", "79", "43", "72", "75"]


# -- malformed input --------------------------------------------------------------------------------

def test_bad_benefit_values_are_located() -> None:
    body = replace(BODY_271, BODY_271.index("EB*C*IND*30***23*500*****Y"), "EB*C*IND*30***23*5OO*****Y")
    response, document = read_271(body)
    assert codes(document) == [(at(body, "EB*C*IND*30***23*5OO*****Y"), "EB", 7, "bad_number", ERROR)]
    # The benefit is lost, and its DTP/REF/MSG do not land on the one before.
    assert [b.information for b in response.members[0].benefits] == ["1", "A", "6"]
    assert response.members[0].benefits[0].dates == ()


def test_bad_aaa_and_missing_benefit_code() -> None:
    body = replace(BODY_271, BODY_271.index("AAA*Y**41*C"), "AAA*Y")
    body = replace(body, body.index("EB*6**35"), "EB**IND*35")
    response, document = read_271(body)
    assert codes(document) == [
        (at(body, "EB**IND*35"), "EB", 1, "missing_element", ERROR),
        (at(body, "AAA*Y"), "AAA", 3, "missing_element", ERROR),
    ]
    assert all(not b.errors for b in response.members[0].benefits)


def test_misplaced_and_unknown_segments() -> None:
    body = list(BODY_271)
    body.insert(body.index("EB*1*IND*30*PR*GOLD PPO"), "EQ*30")
    body.insert(body.index("LE*2120"), "XYZ*1")
    body.insert(body.index("DMG*D8*19800101*F"), "LE*2120")
    response, document = read_271(body)
    assert codes(document) == [
        (at(body, "LE*2120"), "LE", None, "unexpected_segment", WARNING),
        (at(body, "EQ*30"), "EQ", None, "unknown_segment", WARNING),
        (at(body, "XYZ*1"), "XYZ", None, "unknown_segment", WARNING),
    ]
    assert len(response.members[0].benefits) == 4


def test_repeated_service_types_without_a_repetition_separator() -> None:
    text = interchange(*BODY_271, st01="271", implementation=IMPL).replace(b"*^*00501", b"*U*00501")
    document = parse(text)
    member = document.transactions[0].content.members[0]
    assert member.benefits[2].service_types == ("98^AL",)  # 4010-style ISA11: no repetitions to split


def test_270_with_inquiry_details() -> None:
    body = (
        "BHT*0022*13*REQ0001*20260115*1200",
        "HL*1**20*1", "NM1*PR*2*ACME*****PI*PAYER01",
        "HL*2*1*21*1", "NM1*1P*2*CLINIC*****XX*1234567893", "REF*TJ*123456789", "N3*1 MAIN ST",
        "N4*HARTFORD*CT*06101", "PRV*BI*PXC*207Q00000X",
        "HL*3*2*22*1", "TRN*1*T1*9877281234", "NM1*IL*1*DOE*JOHN****MI*M1", "INS*Y*18", "HI*ABK:J020",
        "DTP*291*RD8*20260101-20260131",
        "EQ*30^98**IND", "EQ**HC:99213*IND**1:2", "AMT*R*25", "III*ZZ*11", "REF*G1*AUTH1",
        "DTP*291*D8*20260115",
        "HL*4*3*23*0", "TRN*1*T2*9877281234", "NM1*03*1*DOE*KID", "DMG*D8*20100101*M", "INS*N*19", "EQ*35",
    )
    document = parse(interchange(*body, st01="270", implementation=IMPL), strict=True)
    assert document.issues == []
    own, kid = document.transactions[0].content.members
    assert own.provider_code == "BI" and own.provider.address.city == "HARTFORD"
    assert own.insured == ("Y", "18") and own.diagnoses == (("ABK", "J020"),)
    assert own.dates == (QualifiedDate("291", date(2026, 1, 1), date(2026, 1, 31)),)
    first, second = own.services
    assert (first.service_types, first.coverage_level) == (("30", "98"), "IND")
    assert second.procedure == Procedure("HC", "99213") and second.diagnosis_pointers == ("1", "2")
    assert second.amounts == (QualifiedAmount("R", Decimal(25)),)
    assert second.facility == ("ZZ", "11") and second.references == (Reference("G1", "AUTH1"),)
    assert second.dates == (QualifiedDate("291", date(2026, 1, 15)),)
    assert kid.dependent.first_name == "KID" and kid.subscriber.first_name == "JOHN"
    assert kid.insured == ("N", "19") and kid.service_types == ("35",)


def test_270_eq_needs_a_service_type_or_procedure() -> None:
    body = ("BHT*0022*13*R*20260115", "HL*1**20*1", "NM1*PR*2*ACME", "HL*2*1*21*1", "NM1*1P*2*CLINIC",
            "HL*3*2*22*0", "TRN*1*T1", "NM1*IL*1*DOE", "EQ***IND")
    document = parse(interchange(*body, st01="270", implementation=IMPL))
    assert codes(document) == [(at(body, "EQ***IND"), "EQ", 1, "missing_element", ERROR)]
    assert document.transactions[0].content.members[0].services == ()


@settings(max_examples=50, deadline=None)
@given(mutated(BODY_271), st.booleans())
def test_damaged_input_gives_located_issues_never_exceptions(body: list[str], strict: bool) -> None:
    document = parse(interchange(*body, st01="271", implementation=IMPL), strict=strict)
    (transaction,) = document.transactions
    assert transaction.content is not None
    assert_located(document)
