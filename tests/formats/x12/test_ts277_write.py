"""The 277 and 277CA writers: samples, hand-made acknowledgments and status responses, and generated
responses round trip through the readers; what cannot be read back is refused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rcmflow.domain.claim_status import (
    ClaimStatus,
    ClaimStatusResponse,
    LevelStatus,
    ServiceLineStatus,
    Status,
    StatusEntry,
)
from rcmflow.domain.parties import Contact, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedAmount, QualifiedDate
from rcmflow.formats.x12.parser import X12Document, parse
from rcmflow.formats.x12.tokenizer import Delimiters
from rcmflow.formats.x12.ts277_write import (
    FUNCTIONAL_ID,
    IMPLEMENTATION,
    IMPLEMENTATION_277CA,
    write_277,
    write_277_interchange,
    write_277ca,
)
from rcmflow.formats.x12.writing import CountingControlNumbers, FunctionalGroup, WriteError, build_interchange
from rcmflow.formats.x12.writing import Party as Envelope
from tests.formats.x12.builders import sample_files

CREATED = datetime(2026, 1, 16, 8, 0)


def wrap(segments: list[str], implementation: str) -> bytes:
    group = FunctionalGroup(FUNCTIONAL_ID, implementation, [segments])
    return build_interchange([group], Envelope("PAYER"), Envelope("CLINIC"), CountingControlNumbers(),
                             created=CREATED).encode()


def round_trip(response: ClaimStatusResponse) -> tuple[ClaimStatusResponse, X12Document]:
    """Write with the writer of the response's guide, parse strictly, read back."""
    if response.is_claim_acknowledgment:
        segments, implementation = write_277ca(response, response.control_number), IMPLEMENTATION_277CA
    else:
        segments, implementation = write_277(response, response.control_number), IMPLEMENTATION
    document = parse(wrap(segments, implementation), strict=True)
    (transaction,) = document.transactions
    assert transaction.type == ("277CA" if response.is_claim_acknowledgment else "277")
    return transaction.content, document


@pytest.mark.parametrize("path", sample_files("277_005010X212"), ids=lambda p: p.name)
def test_samples_round_trip(path) -> None:
    original = parse(path).transactions[0].content
    again, document = round_trip(original)
    assert document.issues == []
    assert again == original


# -- a 277CA: a batch accepted but for one claim, rejected with a line ------------------------------

CLEARINGHOUSE = Party("AY", "CLEARINGHOUSE", entity_type="2", id_qualifier="46", id="CH001")
SUBMITTER = Party("41", "GOOD CLINIC", entity_type="2", id_qualifier="46", id="SUB01")
BILLING = Party("85", "GOOD CLINIC", entity_type="2", id_qualifier="XX", id="1234567893")
JANE = Party("QC", "DOE", "JANE", entity_type="1", id_qualifier="MI", id="MEMBER01")
RICHARD = Party("QC", "ROE", "RICHARD", entity_type="1", id_qualifier="MI", id="MEMBER02")
ACCEPTED = StatusEntry((Status("A2", "20", "PR"),), date(2026, 1, 15), "WQ", Decimal("800.00"))


def acknowledgment() -> ClaimStatusResponse:
    parties = {"payer": CLEARINGHOUSE, "receiver": SUBMITTER, "provider": BILLING}
    levels = (
        LevelStatus("20", CLEARINGHOUSE, "BATCH0001", trace_type="1",
                    dates=(QualifiedDate("050", date(2026, 1, 15)), QualifiedDate("009", date(2026, 1, 16)))),
        LevelStatus("21", SUBMITTER, "SUBMISSION1", trace_type="2", payer=CLEARINGHOUSE,
                    statuses=(StatusEntry((Status("A1", "19", "PR"),), date(2026, 1, 15), "WQ",
                                          Decimal("1900.00")),),
                    quantities=(QualifiedAmount("90", Decimal(2)), QualifiedAmount("AA", Decimal(1))),
                    amounts=(QualifiedAmount("YU", Decimal("1000.00")), QualifiedAmount("YY", Decimal("900.00")))),
        LevelStatus("19", BILLING, "PROVIDER1", trace_type="1", payer=CLEARINGHOUSE,
                    statuses=(StatusEntry((Status("A1", "19", "PR"),), date(2026, 1, 15), "WQ",
                                          Decimal("1900.00")),),
                    references=(Reference("TJ", "123456789"),),
                    quantities=(QualifiedAmount("90", Decimal(2)), QualifiedAmount("AA", Decimal(1))),
                    amounts=(QualifiedAmount("YU", Decimal("1000.00")), QualifiedAmount("YY", Decimal("900.00")))),
    )
    claims = (
        ClaimStatus("PCN001", (ACCEPTED,), "PAYERCLAIM1", patient=JANE,
                    references=(Reference("D9", "CHTRACE1"),),
                    dates=(QualifiedDate("472", date(2026, 1, 5), date(2026, 1, 6)),), **parties),
        ClaimStatus("PCN002", (ACCEPTED._replace(charge=Decimal("200.00")),), "PAYERCLAIM2", patient=JANE,
                    references=(Reference("D9", "CHTRACE2"),), dates=(QualifiedDate("472", date(2026, 1, 7)),),
                    **parties),
        ClaimStatus(
            "PCN003",
            (StatusEntry((Status("A7", "562", "85"), Status("A7", "21", "QC")), date(2026, 1, 15), "U",
                         Decimal("900.00"), message="BILLING PROVIDER NPI INVALID"),),
            patient=RICHARD, references=(Reference("D9", "CHTRACE3"),),
            dates=(QualifiedDate("472", date(2026, 1, 7)),),
            lines=(ServiceLineStatus(Procedure("HC", "99213", ("25",)), Decimal("900.00"), units=Decimal(1),
                                     statuses=(StatusEntry((Status("A7", "453"),), date(2026, 1, 15), "U"),),
                                     line_item_control_number="LINE1",
                                     dates=(QualifiedDate("472", date(2026, 1, 7)),)),),
            **parties),
    )
    return ClaimStatusResponse("0001", IMPLEMENTATION_277CA, "08", "BATCH0001", date(2026, 1, 16), "0800", "TH",
                               levels, claims)


def test_277ca_written_segments() -> None:
    response = acknowledgment()
    assert write_277ca(response, "0001") == [
        "ST*277*0001*005010X214",
        "BHT*0085*08*BATCH0001*20260116*0800*TH",
        "HL*1**20*1", "NM1*AY*2*CLEARINGHOUSE*****46*CH001",
        "TRN*1*BATCH0001", "DTP*050*D8*20260115", "DTP*009*D8*20260116",
        "HL*2*1*21*1", "NM1*41*2*GOOD CLINIC*****46*SUB01",
        "TRN*2*SUBMISSION1", "STC*A1:19:PR*20260115*WQ*1900", "QTY*90*2", "QTY*AA*1", "AMT*YU*1000", "AMT*YY*900",
        "HL*3*2*19*1", "NM1*85*2*GOOD CLINIC*****XX*1234567893",
        "TRN*1*PROVIDER1", "STC*A1:19:PR*20260115*WQ*1900", "REF*TJ*123456789", "QTY*90*2", "QTY*AA*1",
        "AMT*YU*1000", "AMT*YY*900",
        # Two claims of one patient share the patient level.
        "HL*4*3*PT", "NM1*QC*1*DOE*JANE****MI*MEMBER01",
        "TRN*2*PCN001", "STC*A2:20:PR*20260115*WQ*800", "REF*1K*PAYERCLAIM1", "REF*D9*CHTRACE1",
        "DTP*472*RD8*20260105-20260106",
        "TRN*2*PCN002", "STC*A2:20:PR*20260115*WQ*200", "REF*1K*PAYERCLAIM2", "REF*D9*CHTRACE2",
        "DTP*472*D8*20260107",
        "HL*5*3*PT", "NM1*QC*1*ROE*RICHARD****MI*MEMBER02",
        "TRN*2*PCN003", "STC*A7:562:85*20260115*U*900******A7:21:QC**BILLING PROVIDER NPI INVALID",
        "REF*D9*CHTRACE3", "DTP*472*D8*20260107",
        "SVC*HC:99213:25*900*****1", "STC*A7:453*20260115*U", "REF*FJ*LINE1", "DTP*472*D8*20260107",
        "SE*47*0001",
    ]
    again, document = round_trip(response)
    assert document.issues == []
    assert again == response
    assert [claim.patient_control_number for claim in again.accepted_claims] == ["PCN001", "PCN002"]
    (rejected,) = again.rejected_claims
    assert rejected.statuses[0].statuses[1] == Status("A7", "21", "QC") and rejected.lines[0].statuses[0].rejected


def test_provider_level_rejection_without_claims_goes_under_the_claims_receiver() -> None:
    """A provider level status does not record its receiver: it is written under the claims' one, after them."""
    other = Party("85", "OTHER CLINIC", entity_type="2", id_qualifier="XX", id="1999999992")
    rejected = LevelStatus("19", other, "PROVIDER2", trace_type="1", payer=CLEARINGHOUSE,
                           statuses=(StatusEntry((Status("A3", "562", "85"),), date(2026, 1, 15), "U"),))
    response = acknowledgment()._replace(levels=(rejected,))
    segments = write_277ca(response, "0001")
    assert [s for s in segments if s.startswith(("HL", "NM1"))][-2:] == [
        "HL*6*2*19*0", "NM1*85*2*OTHER CLINIC*****XX*1999999992"]
    again, document = round_trip(response)
    assert document.issues == [] and again == response
    assert again.levels[0].rejected


def test_level_statuses_keep_their_order() -> None:
    """A source level status after the levels below its source opens a new source level."""
    base = acknowledgment()
    late = LevelStatus("20", CLEARINGHOUSE, "BATCH0002", trace_type="1",
                       dates=(QualifiedDate("050", date(2026, 1, 17)),))
    response = base._replace(levels=(*base.levels, late))
    segments = write_277ca(response, "0001")
    assert segments.count("NM1*AY*2*CLEARINGHOUSE*****46*CH001") == 2
    again, document = round_trip(response)
    assert document.issues == [] and again == response


# -- a 277: a paid claim and a pending one ---------------------------------------------------------

ACME = Party("PR", "ACME HEALTH PLAN", entity_type="2", id_qualifier="PI", id="PAYER01",
             contacts=(Contact("IC", "CLAIMS", (("TE", "8005551212"),)),))
RECEIVER = Party("41", "GOOD CLINIC", entity_type="2", id_qualifier="46", id="REC01")
PROVIDER = Party("1P", "GOOD CLINIC", entity_type="2", id_qualifier="XX", id="1234567893")
JOHN = Party("IL", "DOE", "JOHN", entity_type="1", id_qualifier="MI", id="M1")
KID = Party("QC", "DOE", "KID", entity_type="1")


def status_response() -> ClaimStatusResponse:
    parties = {"payer": ACME, "receiver": RECEIVER, "provider": PROVIDER, "subscriber": JOHN}
    paid = StatusEntry((Status("F1", "65"),), date(2026, 1, 20), "", Decimal("150.00"), Decimal("120.00"),
                       date(2026, 1, 18), "CHK", date(2026, 1, 21), "CHK123456")
    claims = (
        ClaimStatus("PCN100", (paid,), "PC100", references=(Reference("BLT", "131"), Reference("EJ", "PCN100")),
                    dates=(QualifiedDate("472", date(2026, 1, 2)),),
                    lines=(ServiceLineStatus(Procedure("HC", "99213"), Decimal("150.00"), Decimal("120.00"),
                                             units=Decimal(1), statuses=(paid._replace(check_number=""),),
                                             line_item_control_number="L100"),),
                    **parties),
        ClaimStatus("PCN101", (StatusEntry((Status("P1", "1"),), date(2026, 1, 20)),), patient=KID, **parties),
    )
    return ClaimStatusResponse("0002", IMPLEMENTATION, "08", "REQ1", date(2026, 1, 20), "1015", "DG", (), claims)


def test_277_written_segments() -> None:
    response = status_response()
    assert write_277(response, "0002") == [
        "ST*277*0002*005010X212",
        "BHT*0010*08*REQ1*20260120*1015*DG",
        "HL*1**20*1", "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01", "PER*IC*CLAIMS*TE*8005551212",
        "HL*2*1*21*1", "NM1*41*2*GOOD CLINIC*****46*REC01",
        "HL*3*2*19*1", "NM1*1P*2*GOOD CLINIC*****XX*1234567893",
        "HL*4*3*22*1", "NM1*IL*1*DOE*JOHN****MI*M1",
        "TRN*2*PCN100", "STC*F1:65*20260120**150*120*20260118*CHK*20260121*CHK123456", "REF*1K*PC100",
        "REF*BLT*131", "REF*EJ*PCN100", "DTP*472*D8*20260102",
        "SVC*HC:99213*150*120****1", "STC*F1:65*20260120**150*120*20260118*CHK*20260121", "REF*FJ*L100",
        "HL*5*4*23", "NM1*QC*1*DOE*KID",
        "TRN*2*PCN101", "STC*P1:1*20260120",
        "SE*25*0002",
    ]
    again, document = round_trip(response)
    assert document.issues == [] and again == response
    first = again.claims[0]
    assert first.statuses[0].finalized
    assert (first.charge, first.paid) == (Decimal(150), Decimal(120))


def test_a_subscriber_claim_after_a_dependent_one_opens_a_new_subscriber_level() -> None:
    kid_claim, own_claim = status_response().claims[1], status_response().claims[0]
    response = status_response()._replace(claims=(kid_claim, own_claim))
    assert [s for s in write_277(response, "0002") if s.startswith("HL")] == [
        "HL*1**20*1", "HL*2*1*21*1", "HL*3*2*19*1", "HL*4*3*22*1", "HL*5*4*23", "HL*6*3*22*0"]
    again, document = round_trip(response)
    assert document.issues == [] and again == response


def test_interchange_groups_each_guide() -> None:
    responses = [acknowledgment(), status_response(), status_response()]
    text = write_277_interchange(responses, Envelope("PAYER"), Envelope("CLINIC"), CountingControlNumbers(),
                                 created=CREATED)
    assert [line for line in text.splitlines() if line.startswith("GS")] == [
        "GS*HN*PAYER*CLINIC*20260116*0800*1*X*005010X214~", "GS*HN*PAYER*CLINIC*20260116*0800*2*X*005010X212~"]
    document = parse(text.encode(), strict=True)
    assert document.issues == []
    assert [tx.type for tx in document.transactions] == ["277CA", "277", "277"]
    assert [tx.content._replace(control_number="") for tx in document.transactions] == [
        response._replace(control_number="") for response in responses]


def test_other_delimiters() -> None:
    delimiters = Delimiters("|", "}", "!", "\n")
    response = acknowledgment()
    text = write_277_interchange([response], Envelope("PAYER"), Envelope("CLINIC"), CountingControlNumbers(),
                                 created=CREATED, delimiters=delimiters, line_breaks=False)
    assert "STC|A7}562}85|20260115|U|900||||||A7}21}QC||BILLING PROVIDER NPI INVALID\n" in text
    document = parse(text.encode(), strict=True)
    assert document.issues == [] and document.transactions[0].content == response


# -- refusals ---------------------------------------------------------------------------------------

def test_values_holding_a_delimiter_are_refused() -> None:
    response = acknowledgment()
    claim = response.claims[0]._replace(patient_control_number="PCN*1")
    with pytest.raises(WriteError, match="delimiter"):
        write_277ca(response._replace(claims=(claim,)), "0001")
    entry = ACCEPTED._replace(message="NPI:INVALID")
    with pytest.raises(WriteError, match="delimiter"):
        write_277ca(response._replace(claims=(claim._replace(patient_control_number="PCN1", statuses=(entry,)),)),
                    "0001")


@pytest.mark.parametrize("change, message", [
    (lambda r: r._replace(levels=(r.levels[0]._replace(references=(Reference("TJ", "1"),)),)), "no references"),
    (lambda r: r._replace(levels=(r.levels[1]._replace(dates=(QualifiedDate("050", date(2026, 1, 1)),)),)),
     "no dates"),
    (lambda r: r._replace(levels=(r.levels[1]._replace(level="22"),)), "level 20, 21 or 19"),
    (lambda r: r._replace(levels=(r.levels[1]._replace(payer=None),)), "payer"),
    (lambda r: r._replace(claims=(r.claims[0]._replace(references=(Reference("1K", "X"),)),)),
     "payer_claim_control_number"),
    (lambda r: r._replace(claims=(r.claims[2]._replace(lines=(r.claims[2].lines[0]._replace(
        references=(Reference("FJ", "X"),)),)),)), "line_item_control_number"),
    (lambda r: r._replace(claims=(r.claims[0]._replace(subscriber=JOHN),)), "not a subscriber"),
    (lambda r: r._replace(claims=(r.claims[0]._replace(patient=None),)), "patient"),
    (lambda r: r._replace(claims=(r.claims[0]._replace(statuses=(StatusEntry((Status(""),)),)),)), "STC01-1"),
    (lambda r: r._replace(claims=(r.claims[0]._replace(statuses=(StatusEntry((Status("A1"),) * 4),)),)),
     "at most 3"),
    (lambda r: r._replace(claims=(r.claims[0]._replace(statuses=(ACCEPTED._replace(charge=Decimal("NaN")),)),)),
     "finite"),
])
def test_what_cannot_be_read_back_is_refused(change, message: str) -> None:
    with pytest.raises(WriteError, match=message):
        write_277ca(change(acknowledgment()), "0001")


def test_a_provider_level_status_needs_a_receiver_to_go_under() -> None:
    lonely = acknowledgment()._replace(levels=(acknowledgment().levels[2],), claims=())
    with pytest.raises(WriteError, match="information receiver"):
        write_277ca(lonely, "0001")


def test_an_empty_response_is_refused() -> None:
    with pytest.raises(WriteError, match="at least one hierarchical level"):
        write_277(status_response()._replace(claims=()), "0001")


def test_a_277_claim_needs_its_subscriber() -> None:
    with pytest.raises(WriteError, match="subscriber"):
        write_277(acknowledgment(), "0001")


# -- generated responses ----------------------------------------------------------------------------

ids = st.from_regex(r"[A-Z0-9]{2,10}", fullmatch=True)
names = st.from_regex(r"[A-Z]{1,8}( [A-Z]{1,8})?", fullmatch=True)
optional = st.one_of(st.just(""), ids)
days = st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31))
maybe_day = st.one_of(st.none(), days)
amounts = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)
maybe_amount = st.one_of(st.none(), amounts)
counts = st.integers(min_value=0, max_value=999).map(Decimal)


@st.composite
def periods(draw: st.DrawFn, qualifier: str = "472") -> QualifiedDate:
    start = draw(days)
    end = draw(st.one_of(st.none(), st.dates(min_value=start, max_value=date(2060, 12, 31))))
    return QualifiedDate(qualifier, start, end)


@st.composite
def parties(draw: st.DrawFn, role: str, person: bool = False, contacts: bool = False) -> Party:
    """A party as a 277 carries it: its NM1, and PER for the information source."""
    found = tuple(draw(st.lists(st.builds(Contact, st.just("IC"), names, st.lists(
        st.tuples(st.sampled_from(["TE", "FX", "EM"]), ids), min_size=1, max_size=3).map(tuple)), max_size=2))
                  ) if contacts else ()
    if person:
        return Party(role, draw(names), draw(st.one_of(st.just(""), names)), entity_type="1", id_qualifier="MI",
                     id=draw(ids), suffix=draw(st.sampled_from(["", "JR"])))
    return Party(role, draw(names), entity_type="2", id_qualifier=draw(st.sampled_from(["PI", "XX", "46"])),
                 id=draw(ids), contacts=found)


statuses = st.builds(Status, st.sampled_from(["A1", "A2", "A3", "A7", "F1", "F2", "P1", "E0"]),
                     st.sampled_from(["", "19", "20", "21", "65", "88", "562"]),
                     st.sampled_from(["", "PR", "QC", "85"]), st.sampled_from(["", "RX"]))


@st.composite
def entries(draw: st.DrawFn) -> StatusEntry:
    return StatusEntry(
        tuple(draw(st.lists(statuses, min_size=1, max_size=3))), draw(maybe_day),
        draw(st.sampled_from(["", "WQ", "U"])),
        draw(maybe_amount), draw(maybe_amount), draw(maybe_day), draw(st.sampled_from(["", "CHK", "ACH"])),
        draw(maybe_day), draw(optional), draw(st.one_of(st.just(""), names)),
    )


@st.composite
def lines(draw: st.DrawFn) -> ServiceLineStatus:
    modifiers = tuple(draw(st.lists(st.from_regex(r"[A-Z0-9]{2}", fullmatch=True), max_size=4)))
    return ServiceLineStatus(
        Procedure(draw(st.sampled_from(["HC", "NU"])), draw(ids), modifiers, draw(st.one_of(st.just(""), names))),
        draw(amounts), draw(maybe_amount),
        revenue_code=draw(st.one_of(st.just(""), st.from_regex(r"0[0-9]{3}", fullmatch=True))),
        units=draw(st.one_of(st.none(), st.decimals(min_value=1, max_value=99, places=0))),
        statuses=tuple(draw(st.lists(entries(), max_size=2))),
        line_item_control_number=draw(optional),
        references=tuple(draw(st.lists(st.builds(Reference, st.sampled_from(["BB", "G1"]), ids), max_size=1))),
        dates=tuple(draw(st.lists(periods(), max_size=1))),
    )


@st.composite
def responses(draw: st.DrawFn) -> ClaimStatusResponse:
    acknowledgment = draw(st.booleans())
    # Small pools, so that records share hierarchy levels as real responses do.
    payers = draw(st.lists(parties("AY" if acknowledgment else "PR", contacts=True), min_size=1, max_size=2))
    receivers = draw(st.lists(parties("41"), min_size=1, max_size=2))
    providers = draw(st.lists(parties("85" if acknowledgment else "1P"), min_size=1, max_size=2))
    people = draw(st.lists(parties("QC" if acknowledgment else "IL", person=True), min_size=1, max_size=2))
    dependents = draw(st.lists(parties("QC", person=True), min_size=1, max_size=2))
    claims = []
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        member = draw(st.sampled_from(people))
        dependent = None if acknowledgment else draw(st.one_of(st.none(), st.sampled_from(dependents)))
        claims.append(ClaimStatus(
            draw(ids), tuple(draw(st.lists(entries(), max_size=2))), draw(optional),
            payer=draw(st.sampled_from(payers)), receiver=draw(st.sampled_from(receivers)),
            provider=draw(st.sampled_from(providers)),
            subscriber=None if acknowledgment else member, patient=member if acknowledgment else dependent,
            references=tuple(draw(st.lists(st.builds(Reference, st.sampled_from(["BLT", "EJ", "D9", "XZ"]), ids),
                                           max_size=3))),
            dates=tuple(draw(st.lists(periods(), max_size=1))),
            lines=tuple(draw(st.lists(lines(), max_size=2))),
            trace_type=draw(st.sampled_from(["1", "2"])),
        ))
    levels = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        code = draw(st.sampled_from(["20", "21", "19"]))
        trace = (draw(ids), draw(st.sampled_from(["1", "2"])))
        if code == "20":
            levels.append(LevelStatus("20", draw(st.sampled_from(payers)), *trace[:1], trace_type=trace[1],
                                      dates=tuple(draw(st.lists(periods("050"), max_size=2)))))
            continue
        quantities = tuple(draw(st.lists(st.builds(QualifiedAmount, st.sampled_from(["90", "AA"]), counts),
                                         max_size=2)))
        totals = tuple(draw(st.lists(st.builds(QualifiedAmount, st.sampled_from(["YU", "YY"]), amounts), max_size=2)))
        found = tuple(draw(st.lists(entries(), max_size=2)))
        if code == "21":
            levels.append(LevelStatus("21", draw(st.sampled_from(receivers)), trace[0], found, quantities=quantities,
                                      amounts=totals, payer=draw(st.sampled_from(payers)), trace_type=trace[1]))
            continue
        # A provider level status goes under a receiver that a claim or receiver status of its payer names.
        hosts = [claim.payer for claim in claims] + [level.payer for level in levels if level.level == "21"]
        if hosts:
            levels.append(LevelStatus(
                "19", draw(st.sampled_from(providers)), trace[0], found,
                references=tuple(draw(st.lists(st.builds(Reference, st.just("TJ"), ids), max_size=1))),
                quantities=quantities, amounts=totals, payer=draw(st.sampled_from(hosts)), trace_type=trace[1]))
    assume(levels or claims)  # an empty 277 has no HL at all
    return ClaimStatusResponse(
        "0001", IMPLEMENTATION_277CA if acknowledgment else IMPLEMENTATION, "08", draw(ids), draw(days), "0930",
        "TH" if acknowledgment else "DG", tuple(levels), tuple(claims))


@settings(max_examples=75, deadline=None)
@given(responses())
def test_generated_responses_round_trip(response: ClaimStatusResponse) -> None:
    again, document = round_trip(response)
    assert document.issues == []
    assert again == response
