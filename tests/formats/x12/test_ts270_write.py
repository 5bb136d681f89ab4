"""The 270 writer: samples and generated inquiries round trip through the reader."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.eligibility import EligibilityInquiry, MemberInquiry, ServiceInquiry, Trace
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedAmount, QualifiedDate
from rcmflow.formats.x12.parser import X12Document, parse
from rcmflow.formats.x12.ts270_write import FUNCTIONAL_ID, IMPLEMENTATION, write_270
from rcmflow.formats.x12.writing import CountingControlNumbers, FunctionalGroup, build_interchange
from rcmflow.formats.x12.writing import Party as Envelope
from tests.formats.x12.builders import sample_files


def wrap(segments: list[str]) -> bytes:
    group = FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, [segments])
    text = build_interchange([group], Envelope("CLINIC"), Envelope("PAYER"), CountingControlNumbers(),
                             created=datetime(2026, 1, 15, 12, 0))
    return text.encode()


def round_trip(inquiry: EligibilityInquiry) -> tuple[EligibilityInquiry, X12Document]:
    document = parse(wrap(write_270(inquiry, inquiry.control_number)), strict=True)
    (transaction,) = document.transactions
    return transaction.content, document


@pytest.mark.parametrize("path", sample_files("270_005010X279A1"), ids=lambda p: p.name)
def test_samples_round_trip(path) -> None:
    original = parse(path).transactions[0].content
    again, document = round_trip(original)
    assert document.issues == []
    assert again == original


PAYER = Party("PR", "ACME", entity_type="2", id_qualifier="PI", id="PAYER01")
CLINIC = Party("1P", "CLINIC", entity_type="2", id_qualifier="XX", id="1234567893", taxonomy="207Q00000X",
               references=(Reference("TJ", "123456789"),), address=Address("1 MAIN ST", city="HARTFORD", state="CT",
                                                                          postal_code="06101"))
JOHN = Party("IL", "DOE", "JOHN", entity_type="1", id_qualifier="MI", id="M1", birth_date=date(1980, 1, 1))


def test_written_segments() -> None:
    own = MemberInquiry(PAYER, CLINIC, JOHN, traces=(Trace("1", "T1", "9877281234"),), provider_code="BI",
                        insured=("Y", "18"), diagnoses=(("ABK", "J020"),),
                        dates=(QualifiedDate("291", date(2026, 1, 15)),),
                        services=(ServiceInquiry(("30", "98")), ServiceInquiry(
                            procedure=Procedure("HC", "99213"), coverage_level="IND", diagnosis_pointers=("1",),
                            amounts=(QualifiedAmount("R", Decimal(25)),), facility=("ZZ", "11"),
                            references=(Reference("G1", "AUTH1"),), dates=(QualifiedDate("291", date(2026, 1, 15)),))))
    kid = MemberInquiry(PAYER, CLINIC, JOHN, Party("03", "DOE", "KID", entity_type="1"),
                        traces=(Trace("1", "T2"),), provider_code="BI", services=(ServiceInquiry(("35",)),))
    inquiry = EligibilityInquiry("0042", (own, kid), reference="REQ1", created=date(2026, 1, 15), created_time="1200")
    assert write_270(inquiry, "0042") == [
        "ST*270*0042*005010X279A1",
        "BHT*0022*13*REQ1*20260115*1200",
        "HL*1**20*1", "NM1*PR*2*ACME*****PI*PAYER01",
        "HL*2*1*21*1", "NM1*1P*2*CLINIC*****XX*1234567893", "REF*TJ*123456789", "N3*1 MAIN ST",
        "N4*HARTFORD*CT*06101", "PRV*BI*PXC*207Q00000X",
        "HL*3*2*22*1", "TRN*1*T1*9877281234", "NM1*IL*1*DOE*JOHN****MI*M1", "DMG*D8*19800101", "INS*Y*18",
        "HI*ABK:J020", "DTP*291*D8*20260115",
        "EQ*30^98", "EQ**HC:99213*IND**1", "AMT*R*25", "III*ZZ*11", "REF*G1*AUTH1", "DTP*291*D8*20260115",
        "HL*4*3*23*0", "TRN*1*T2", "NM1*03*1*DOE*KID", "EQ*35",
        "SE*28*0042",
    ]
    again, document = round_trip(inquiry)
    assert document.issues == [] and again == inquiry


def test_dependent_before_subscriber_record_keeps_the_order() -> None:
    kid = MemberInquiry(PAYER, CLINIC, JOHN, Party("03", "DOE", "KID", entity_type="1"), traces=(Trace("1", "T2"),),
                        provider_code="BI", services=(ServiceInquiry(("35",)),))
    own = MemberInquiry(PAYER, CLINIC, JOHN, traces=(Trace("1", "T1"),), provider_code="BI",
                        services=(ServiceInquiry(("30",)),))
    inquiry = EligibilityInquiry("0001", (kid, own, own))
    segments = write_270(inquiry, "0001")
    assert [s for s in segments if s.startswith("HL")] == ["HL*1**20*1", "HL*2*1*21*1", "HL*3*2*22*1", "HL*4*3*23*0",
                                                          "HL*5*2*22*0", "HL*6*2*22*0"]
    again, document = round_trip(inquiry)
    assert document.issues == [] and again == inquiry


# -- generated inquiries ----------------------------------------------------------------------------

ids = st.from_regex(r"[A-Z0-9]{2,10}", fullmatch=True)
names = st.from_regex(r"[A-Z]{1,8}( [A-Z]{1,8})?", fullmatch=True)
days = st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31))
maybe = st.one_of(st.just(""), names)


@st.composite
def addresses(draw: st.DrawFn) -> Address | None:
    if not draw(st.booleans()):
        return None
    return Address(draw(names), draw(maybe), draw(names), draw(st.sampled_from(["CT", "MO", "NY"])),
                   draw(st.from_regex(r"[0-9]{5}", fullmatch=True)))


@st.composite
def providers(draw: st.DrawFn) -> tuple[Party, str]:
    code, taxonomy = draw(st.sampled_from([("", ""), ("BI", "207Q00000X"), ("PE", "208D00000X")]))
    references = tuple(draw(st.lists(st.builds(Reference, st.sampled_from(["TJ", "1J"]), ids), max_size=2)))
    party = Party("1P", draw(names), entity_type="2", id_qualifier="XX", id=draw(ids), address=draw(addresses()),
                  references=references, taxonomy=taxonomy)
    return party, code


@st.composite
def people(draw: st.DrawFn, role: str) -> Party:
    references = tuple(draw(st.lists(st.builds(Reference, st.sampled_from(["6P", "18", "SY"]), ids), max_size=2)))
    return Party(role, draw(names), draw(maybe), draw(maybe), entity_type="1",
                 id_qualifier="MI" if role == "IL" else "", id=draw(ids) if role == "IL" else "",
                 address=draw(addresses()), references=references, birth_date=draw(st.one_of(st.none(), days)),
                 gender=draw(st.sampled_from(["", "M", "F"])))


@st.composite
def services(draw: st.DrawFn) -> ServiceInquiry:
    types = tuple(draw(st.lists(st.sampled_from(["30", "1", "98", "AL", "35", "MH"]), min_size=1, max_size=3)))
    detail = draw(st.booleans())
    return ServiceInquiry(
        types, coverage_level=draw(st.sampled_from(["", "IND", "FAM"])),
        procedure=Procedure("HC", draw(ids)) if detail else None,
        diagnosis_pointers=("1",) if detail else (),
        amounts=(QualifiedAmount("R", draw(st.decimals(min_value=0, max_value=999, places=2))),) if detail else (),
        references=(Reference("G1", draw(ids)),) if detail else (),
        dates=(QualifiedDate("291", draw(days)),) if detail else (),
    )


@st.composite
def inquiries(draw: st.DrawFn) -> EligibilityInquiry:
    payers = [Party("PR", draw(names), entity_type="2", id_qualifier="PI", id=draw(ids))
              for _ in range(draw(st.integers(min_value=1, max_value=2)))]
    receivers = draw(st.lists(providers(), min_size=1, max_size=2))
    subscribers = draw(st.lists(people("IL"), min_size=1, max_size=2))
    dependents = draw(st.lists(people("03"), min_size=1, max_size=2))
    members = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        provider, code = draw(st.sampled_from(receivers))
        dependent = draw(st.one_of(st.none(), st.sampled_from(dependents)))
        members.append(MemberInquiry(
            payer=draw(st.sampled_from(payers)), provider=provider, subscriber=draw(st.sampled_from(subscribers)),
            dependent=dependent, provider_code=code,
            traces=tuple(Trace("1", number, originator) for number, originator in draw(st.lists(
                st.tuples(ids, st.from_regex(r"[0-9]{10}", fullmatch=True)), min_size=1, max_size=2))),
            insured=("N", "19") if dependent else draw(st.sampled_from([(), ("Y", "18")])),
            diagnoses=tuple(draw(st.lists(st.tuples(st.sampled_from(["ABK", "ABF"]), ids), max_size=3))),
            dates=tuple(QualifiedDate("291", day) for day in draw(st.lists(days, max_size=1))),
            services=tuple(draw(st.lists(services(), min_size=1, max_size=2))),
        ))
    return EligibilityInquiry("0001", tuple(members), reference=draw(ids), created=draw(days), created_time="0930")


@settings(max_examples=50, deadline=None)
@given(inquiries())
def test_generated_inquiries_round_trip(inquiry: EligibilityInquiry) -> None:
    again, document = round_trip(inquiry)
    assert document.issues == []
    assert again == inquiry
