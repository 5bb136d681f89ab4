"""The 276 writer: samples and generated requests round trip through the reader."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.claim_status import ClaimInquiry, ClaimStatusRequest, ServiceLineStatus
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.x12.parser import X12Document, parse
from rcmflow.formats.x12.ts276_write import FUNCTIONAL_ID, IMPLEMENTATION, write_276
from rcmflow.formats.x12.writing import CountingControlNumbers, FunctionalGroup, build_interchange
from rcmflow.formats.x12.writing import Party as Envelope
from tests.formats.x12.builders import sample_files


def wrap(segments: list[str]) -> bytes:
    group = FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, [segments])
    text = build_interchange([group], Envelope("CLINIC"), Envelope("PAYER"), CountingControlNumbers(),
                             created=datetime(2026, 1, 15, 12, 0))
    return text.encode()


def round_trip(request: ClaimStatusRequest) -> tuple[ClaimStatusRequest, X12Document]:
    document = parse(wrap(write_276(request, request.control_number)), strict=True)
    (transaction,) = document.transactions
    return transaction.content, document


@pytest.mark.parametrize("path", sample_files("276_005010X212"), ids=lambda p: p.name)
def test_samples_round_trip(path) -> None:
    original = parse(path).transactions[0].content
    again, document = round_trip(original)
    assert document.issues == []
    assert again == original


def test_written_segments() -> None:
    payer = Party("PR", "ACME", entity_type="2", id_qualifier="PI", id="PAYER01")
    receiver = Party("41", "CLINIC", entity_type="2", id_qualifier="46", id="REC01")
    provider = Party("1P", "CLINIC", entity_type="2", id_qualifier="XX", id="1234567893")
    subscriber = Party("IL", "DOE", "JOHN", entity_type="1", id_qualifier="MI", id="M1", birth_date=date(1980, 1, 1),
                       gender="M")
    kid = Party("QC", "DOE", "KID", entity_type="1", birth_date=date(2010, 2, 3), gender="F")
    request = ClaimStatusRequest("0007", (
        ClaimInquiry("T1", payer, receiver, provider, subscriber, payer_claim_control_number="PC1",
                     references=(Reference("EJ", "PCN1"),), charge=Decimal("100.50"),
                     dates=(QualifiedDate("472", date(2026, 1, 2), date(2026, 1, 3)),)),
        ClaimInquiry("T2", payer, receiver, provider, subscriber, kid, lines=(
            ServiceLineStatus(Procedure("HC", "99213", ("25",)), Decimal(80), units=Decimal(1),
                              line_item_control_number="L1", dates=(QualifiedDate("472", date(2026, 1, 2)),)),)),
    ), reference="REQ1", created=date(2026, 1, 15), created_time="1200")
    assert write_276(request, "0007") == [
        "ST*276*0007*005010X212",
        "BHT*0010*13*REQ1*20260115*1200",
        "HL*1**20*1", "NM1*PR*2*ACME*****PI*PAYER01",
        "HL*2*1*21*1", "NM1*41*2*CLINIC*****46*REC01",
        "HL*3*2*19*1", "NM1*1P*2*CLINIC*****XX*1234567893",
        "HL*4*3*22*1", "DMG*D8*19800101*M", "NM1*IL*1*DOE*JOHN****MI*M1",
        "TRN*1*T1", "REF*1K*PC1", "REF*EJ*PCN1", "AMT*T3*100.5", "DTP*472*RD8*20260102-20260103",
        "HL*5*4*23*0", "DMG*D8*20100203*F", "NM1*QC*1*DOE*KID",
        "TRN*1*T2", "SVC*HC:99213:25*80*****1", "REF*FJ*L1", "DTP*472*D8*20260102",
        "SE*24*0007",
    ]
    again, document = round_trip(request)
    assert document.issues == [] and again == request


# -- generated requests -----------------------------------------------------------------------------

ids = st.from_regex(r"[A-Z0-9]{2,10}", fullmatch=True)
names = st.from_regex(r"[A-Z]{1,8}( [A-Z]{1,8})?", fullmatch=True)
optional = st.one_of(st.just(""), ids)
days = st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31))
amounts = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)


@st.composite
def periods(draw: st.DrawFn) -> QualifiedDate:
    start = draw(days)
    end = draw(st.one_of(st.none(), st.dates(min_value=start, max_value=date(2060, 12, 31))))
    return QualifiedDate("472", start, end)


@st.composite
def parties(draw: st.DrawFn, role: str, person: bool = False) -> Party:
    """An NM1 party as a 276 carries it: names and id, and demographics for people."""
    if person:
        return Party(role, draw(names), draw(st.one_of(st.just(""), names)), draw(st.one_of(st.just(""), names)),
                     entity_type="1", id_qualifier="MI", id=draw(ids), birth_date=draw(st.one_of(st.none(), days)),
                     gender=draw(st.sampled_from(["", "M", "F", "U"])))
    return Party(role, draw(names), entity_type="2", id_qualifier=draw(st.sampled_from(["PI", "XX", "46"])),
                 id=draw(ids))


@st.composite
def lines(draw: st.DrawFn) -> ServiceLineStatus:
    modifiers = tuple(draw(st.lists(st.from_regex(r"[A-Z0-9]{2}", fullmatch=True), max_size=2)))
    procedure = Procedure(draw(st.sampled_from(["HC", "NU"])), draw(ids), modifiers,
                          draw(st.one_of(st.just(""), names)))
    return ServiceLineStatus(
        procedure, draw(amounts),
        revenue_code=draw(st.one_of(st.just(""), st.from_regex(r"0[0-9]{3}", fullmatch=True))),
        units=draw(st.one_of(st.none(), st.decimals(min_value=1, max_value=99, places=0))),
        line_item_control_number=draw(optional),
        dates=tuple(draw(st.lists(periods(), max_size=1))),
    )


@st.composite
def requests(draw: st.DrawFn) -> ClaimStatusRequest:
    # Small pools of parties, so that claims share hierarchy levels as real requests do.
    payers = draw(st.lists(parties("PR"), min_size=1, max_size=2))
    receivers = draw(st.lists(parties("41"), min_size=1, max_size=2))
    providers = draw(st.lists(parties("1P"), min_size=1, max_size=2))
    subscribers = draw(st.lists(parties("IL", person=True), min_size=1, max_size=2))
    patients = draw(st.lists(parties("QC", person=True), min_size=1, max_size=2))
    claims = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        claims.append(ClaimInquiry(
            trace_number=draw(ids),
            payer=draw(st.sampled_from(payers)),
            receiver=draw(st.sampled_from(receivers)),
            provider=draw(st.sampled_from(providers)),
            subscriber=draw(st.sampled_from(subscribers)),
            patient=draw(st.one_of(st.none(), st.sampled_from(patients))),
            payer_claim_control_number=draw(optional),
            references=tuple(draw(st.lists(st.builds(Reference, st.sampled_from(["BLT", "EJ", "XZ", "D9"]), ids),
                                           max_size=3))),
            charge=draw(st.one_of(st.none(), amounts)),
            dates=tuple(draw(st.lists(periods(), max_size=1))),
            lines=tuple(draw(st.lists(lines(), max_size=2))),
        ))
    return ClaimStatusRequest("0001", tuple(claims), reference=draw(ids), created=draw(days), created_time="0930")


@settings(max_examples=50, deadline=None)
@given(requests())
def test_generated_requests_round_trip(request: ClaimStatusRequest) -> None:
    again, document = round_trip(request)
    assert document.issues == []
    assert again == request
