"""The 271 writer: samples, hand-made responses (active coverage with its cost sharing, a rejection) and
generated responses round trip through the reader; what cannot be read back is refused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rcmflow.domain.eligibility import (
    Benefit,
    EligibilityResponse,
    MemberEligibility,
    RequestError,
    Trace,
    coverage_on,
    is_active_on,
)
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.x12.parser import X12Document, parse
from rcmflow.formats.x12.tokenizer import Delimiters
from rcmflow.formats.x12.ts271_write import FUNCTIONAL_ID, IMPLEMENTATION, write_271, write_271_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers, FunctionalGroup, WriteError, build_interchange
from rcmflow.formats.x12.writing import Party as Envelope
from tests.formats.x12.builders import sample_files

CREATED = datetime(2026, 1, 15, 12, 0)


def wrap(segments: list[str]) -> bytes:
    group = FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, [segments])
    return build_interchange([group], Envelope("PAYER"), Envelope("CLINIC"), CountingControlNumbers(),
                             created=CREATED).encode()


def round_trip(response: EligibilityResponse, payer: Party | None = None) -> tuple[EligibilityResponse, X12Document]:
    document = parse(wrap(write_271(response, response.control_number, payer=payer)), strict=True)
    (transaction,) = document.transactions
    assert transaction.type == "271"
    return transaction.content, document


@pytest.mark.parametrize("path", sample_files("271_005010X279A1"), ids=lambda p: p.name)
def test_samples_round_trip(path) -> None:
    original = parse(path).transactions[0].content
    again, document = round_trip(original)
    assert document.issues == []
    assert again == original


# -- active coverage with plan dates, copay, deductible (and what remains of it), coinsurance ------

ACME = Party("PR", "ACME HEALTH PLAN", entity_type="2", id_qualifier="PI", id="PAYER01",
             contacts=(Contact("IC", "PROVIDER SERVICES", (("TE", "8005551212"), ("UR", "WWW.ACME.EXAMPLE"))),))
CLINIC = Party("1P", "GOOD CLINIC", entity_type="2", id_qualifier="XX", id="1234567893", taxonomy="207Q00000X")
JANE = Party("IL", "DOE", "JANE", "Q", entity_type="1", id_qualifier="MI", id="MEMBER01",
             address=Address("5 ELM STREET", "APT 2", "HARTFORD", "CT", "06101"),
             references=(Reference("6P", "GROUP01"),), birth_date=date(1980, 1, 1), gender="F")
PCP = Party("P3", "SMITH", "ANNA", entity_type="1", id_qualifier="XX", id="1497758544",
            address=Address("1 CLINIC ROAD", city="HARTFORD", state="CT", postal_code="06103"),
            contacts=(Contact("IC", "FRONT DESK", (("TE", "8605551212"),)),), taxonomy="207Q00000X")
IN_NETWORK_YEAR = QualifiedDate("292", date(2026, 1, 1), date(2026, 12, 31))


def active_coverage() -> EligibilityResponse:
    member = MemberEligibility(
        ACME, CLINIC, JANE, traces=(Trace("2", "T1", "9877281234"), Trace("1", "PAYERTRACE", "9999999999")),
        provider_code="BI", insured=("Y", "18"),
        dates=(QualifiedDate("346", date(2026, 1, 1)), QualifiedDate("347", date(2026, 12, 31))),
        benefits=(
            Benefit("1", "IND", ("30",), "PR", "GOLD PPO"),
            Benefit("B", "IND", ("98",), "PR", time_period="27", amount=Decimal("25.00"), in_network="Y",
                    messages=("COPAY APPLIES PER OFFICE VISIT",)),
            Benefit("C", "IND", ("30",), time_period="23", amount=Decimal("1500.00"), in_network="Y",
                    dates=(IN_NETWORK_YEAR,)),
            Benefit("C", "IND", ("30",), time_period="29", amount=Decimal("350.00"), in_network="Y",
                    dates=(IN_NETWORK_YEAR,)),
            Benefit("A", "IND", ("30", "98"), time_period="27", percent=Decimal("0.2"), in_network="Y"),
            Benefit("L", entities=(PCP,)),
        ),
    )
    return EligibilityResponse("0001", (member,), reference="REQ1", created=date(2026, 1, 15), created_time="1200")


def test_active_coverage_written_segments() -> None:
    response = active_coverage()
    assert write_271(response, "0001") == [
        "ST*271*0001*005010X279A1",
        "BHT*0022*11*REQ1*20260115*1200",
        "HL*1**20*1", "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01",
        "PER*IC*PROVIDER SERVICES*TE*8005551212*UR*WWW.ACME.EXAMPLE",
        "HL*2*1*21*1", "NM1*1P*2*GOOD CLINIC*****XX*1234567893", "PRV*BI*PXC*207Q00000X",
        "HL*3*2*22*0", "TRN*2*T1*9877281234", "TRN*1*PAYERTRACE*9999999999",
        "NM1*IL*1*DOE*JANE*Q***MI*MEMBER01", "REF*6P*GROUP01", "N3*5 ELM STREET*APT 2", "N4*HARTFORD*CT*06101",
        "DMG*D8*19800101*F", "INS*Y*18", "DTP*346*D8*20260101", "DTP*347*D8*20261231",
        "EB*1*IND*30*PR*GOLD PPO",
        "EB*B*IND*98*PR**27*25*****Y", "MSG*COPAY APPLIES PER OFFICE VISIT",
        "EB*C*IND*30***23*1500*****Y", "DTP*292*RD8*20260101-20261231",
        "EB*C*IND*30***29*350*****Y", "DTP*292*RD8*20260101-20261231",
        "EB*A*IND*30^98***27**0.2****Y",
        "EB*L", "LS*2120", "NM1*P3*1*SMITH*ANNA****XX*1497758544", "N3*1 CLINIC ROAD", "N4*HARTFORD*CT*06103",
        "PER*IC*FRONT DESK*TE*8605551212", "PRV*PC*PXC*207Q00000X", "LE*2120",
        "SE*36*0001",
    ]
    again, document = round_trip(response)
    assert document.issues == [] and again == response
    (member,) = again.members
    assert is_active_on(again, date(2026, 6, 1)) and not is_active_on(again, date(2027, 1, 1))
    copay, deductible, remaining, coinsurance = member.benefits[1:5]
    assert (copay.amount, deductible.amount, remaining.amount, coinsurance.percent) == (
        Decimal(25), Decimal(1500), Decimal(350), Decimal("0.2"))


# -- rejections -------------------------------------------------------------------------------------

JOHN = Party("IL", "DOE", "JOHN", entity_type="1", id_qualifier="MI", id="M1", birth_date=date(1980, 1, 1),
             gender="M")


def test_subscriber_not_found() -> None:
    """The subscriber named in the 270 is echoed with AAA*N**75 and its trace; no benefits."""
    member = MemberEligibility(ACME._replace(contacts=()), CLINIC._replace(taxonomy=""), JOHN,
                               traces=(Trace("2", "T2", "9877281234"),),
                               errors=(RequestError("2100C", "N", "75", "C", JOHN),))
    response = EligibilityResponse("0002", (member,), reference="REQ2", created=date(2026, 1, 15),
                                   created_time="1200")
    assert write_271(response, "0002") == [
        "ST*271*0002*005010X279A1",
        "BHT*0022*11*REQ2*20260115*1200",
        "HL*1**20*1", "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01",
        "HL*2*1*21*1", "NM1*1P*2*GOOD CLINIC*****XX*1234567893",
        "HL*3*2*22*0", "TRN*2*T2*9877281234", "NM1*IL*1*DOE*JOHN****MI*M1", "AAA*N**75*C", "DMG*D8*19800101*M",
        "SE*12*0002",
    ]
    again, document = round_trip(response)
    assert document.issues == [] and again == response
    assert coverage_on(again.members[0], date(2026, 1, 15)) == "unknown"
    assert [error.meaning for error in again.all_errors] == ["Subscriber/insured not found"]


def test_errors_at_the_source_and_receiver_levels() -> None:
    """Source errors keep their loop and order (2100A before 2000A opens a second source level); a receiver
    error sits on the receiver level of the member below it."""
    own = MemberEligibility(ACME, CLINIC, JOHN, provider_code="BI", traces=(Trace("2", "T3"),),
                            benefits=(Benefit("6", service_types=("35",), errors=(
                                RequestError("2110C", "Y", "41", "C", JOHN),)),))
    errors = (RequestError("2100A", "Y", "79", "C", ACME), RequestError("2000A", "N", "42", "R", ACME),
              RequestError("2100B", "N", "43", "C", CLINIC))
    response = EligibilityResponse("0003", (own,), errors, reference="REQ3")
    segments = write_271(response, "0003")
    assert [s for s in segments if s.startswith(("HL", "AAA"))] == [
        "HL*1**20*0", "AAA*Y**79*C",
        "HL*2**20*1", "AAA*N**42*R", "HL*3*2*21*1", "AAA*N**43*C", "HL*4*3*22*0", "AAA*Y**41*C"]
    again, document = round_trip(response)
    assert document.issues == [] and again == response


def test_a_receiver_error_alone_names_the_payer_given() -> None:
    error = RequestError("2100B", "Y", "50", "N", CLINIC._replace(taxonomy=""))
    response = EligibilityResponse("0004", errors=(error,))
    assert write_271(response, "0004")[2:4] == ["HL*1**20*1", "NM1*PR*2"]
    assert write_271(response, "0004", payer=ACME)[3] == "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01"
    for payer in (None, ACME):
        again, document = round_trip(response, payer)
        assert document.issues == [] and again == response


def test_subscriber_record_without_data_keeps_a_level_of_its_own() -> None:
    """The reader makes no record of a subscriber level with dependents unless it has data: so a bare
    subscriber record does not share its level with the dependent after it."""
    bare = MemberEligibility(ACME, CLINIC, JOHN, provider_code="BI")
    kid = MemberEligibility(ACME, CLINIC, JOHN, Party("03", "DOE", "KID", entity_type="1"), provider_code="BI",
                            insured=("N", "19"), benefits=(Benefit("1", service_types=("30",)),))
    response = EligibilityResponse("0005", (bare, kid, kid))
    assert [s for s in write_271(response, "0005") if s.startswith("HL")] == [
        "HL*1**20*1", "HL*2*1*21*1", "HL*3*2*22*0", "HL*4*2*22*1", "HL*5*4*23*0", "HL*6*4*23*0"]
    again, document = round_trip(response)
    assert document.issues == [] and again == response


def test_interchange() -> None:
    responses = [active_coverage(), active_coverage()._replace(control_number="0002", reference="REQ9")]
    text = write_271_interchange(responses, Envelope("PAYER"), Envelope("CLINIC"), CountingControlNumbers(),
                                 created=CREATED)
    document = parse(text.encode(), strict=True)
    assert document.issues == []
    assert [group.functional_id for group in document.groups] == ["HB"]
    assert [tx.content for tx in document.transactions] == [
        responses[0], responses[1]._replace(control_number="0002")]


def test_other_delimiters() -> None:
    """Repetitions (EB03) and composites follow the interchange's delimiters; a value holding one is refused."""
    delimiters = Delimiters("|", "}", "!", "\n")
    response = active_coverage()
    text = write_271_interchange([response], Envelope("PAYER"), Envelope("CLINIC"), CountingControlNumbers(),
                                 created=CREATED, delimiters=delimiters, line_breaks=False)
    assert "EB|A|IND|30!98|||27||0.2||||Y\n" in text
    document = parse(text.encode(), strict=True)
    assert document.issues == [] and document.transactions[0].content == response
    member = response.members[0]
    with pytest.raises(WriteError, match="delimiter"):
        write_271(response._replace(members=(member._replace(insured=("Y", "18|")),)), "0001", delimiters)


# -- refusals ---------------------------------------------------------------------------------------

def test_values_holding_a_delimiter_are_refused() -> None:
    response = active_coverage()
    member = response.members[0]
    with pytest.raises(WriteError, match="delimiter"):
        write_271(response._replace(members=(member._replace(benefits=(Benefit("1", plan_description="GOLD*PPO"),)),
                                             )), "0001")
    with pytest.raises(WriteError, match="delimiter"):
        write_271(response._replace(members=(member._replace(benefits=(Benefit("1", ("30^98",)),)),)), "0001")


@pytest.mark.parametrize("change, message", [
    (lambda r: r._replace(errors=(RequestError("2110C", "N", "75", "C", JANE),)), "2000A, 2100A or 2100B"),
    (lambda r: r._replace(errors=(RequestError("2100B", "N", "43", "C"),)), "party"),
    (lambda r: r._replace(errors=(RequestError("2000A", "", "42", "R", ACME),)), "AAA01"),
    (lambda r: r._replace(members=(r.members[0]._replace(benefits=(Benefit(""),)),)), "EB01"),
    (lambda r: r._replace(members=(r.members[0]._replace(benefits=(Benefit("C", amount=Decimal("Infinity")),)),)),
     "finite"),
    (lambda r: r._replace(members=(r.members[0]._replace(
        benefits=(Benefit("1", procedure=Procedure("HC", "99213", ("1", "2", "3", "4", "5"))),)),)), "modifiers"),
    (lambda r: r._replace(members=()), "at least one hierarchical level"),
])
def test_what_cannot_be_read_back_is_refused(change, message: str) -> None:
    with pytest.raises(WriteError, match=message):
        write_271(change(active_coverage()), "0001")


# -- generated responses ----------------------------------------------------------------------------

ids = st.from_regex(r"[A-Z0-9]{2,10}", fullmatch=True)
names = st.from_regex(r"[A-Z]{1,8}( [A-Z]{1,8})?", fullmatch=True)
days = st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31))
maybe = st.one_of(st.just(""), names)
maybe_amount = st.one_of(st.none(), st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2))
reasons = st.sampled_from(["41", "42", "43", "50", "72", "75", "79"])
follow_ups = st.sampled_from(["C", "N", "R", "W"])


@st.composite
def addresses(draw: st.DrawFn) -> Address | None:
    if not draw(st.booleans()):
        return None
    return Address(draw(names), draw(maybe), draw(names), draw(st.sampled_from(["CT", "MO", "NY"])),
                   draw(st.from_regex(r"[0-9]{5}", fullmatch=True)))


contacts = st.lists(st.builds(Contact, st.just("IC"), names, st.lists(
    st.tuples(st.sampled_from(["TE", "UR", "FX"]), ids), min_size=1, max_size=3).map(tuple)), max_size=2).map(tuple)


@st.composite
def periods(draw: st.DrawFn, qualifiers: list[str]) -> QualifiedDate:
    start = draw(days)
    end = draw(st.one_of(st.none(), st.dates(min_value=start, max_value=date(2060, 12, 31))))
    return QualifiedDate(draw(st.sampled_from(qualifiers)), start, end)


@st.composite
def providers(draw: st.DrawFn) -> tuple[Party, str]:
    code, taxonomy = draw(st.sampled_from([("", ""), ("BI", ""), ("BI", "207Q00000X"), ("PE", "208D00000X")]))
    references = tuple(draw(st.lists(st.builds(Reference, st.sampled_from(["TJ", "1J"]), ids), max_size=2)))
    return Party("1P", draw(names), entity_type="2", id_qualifier="XX", id=draw(ids), address=draw(addresses()),
                 references=references, taxonomy=taxonomy), code


@st.composite
def people(draw: st.DrawFn, role: str) -> Party:
    references = tuple(draw(st.lists(st.builds(Reference, st.sampled_from(["6P", "18", "SY"]), ids), max_size=2)))
    return Party(role, draw(names), draw(maybe), draw(maybe), entity_type="1",
                 id_qualifier="MI" if role == "IL" else "", id=draw(ids) if role == "IL" else "",
                 address=draw(addresses()), references=references, birth_date=draw(st.one_of(st.none(), days)),
                 gender=draw(st.sampled_from(["", "M", "F"])),
                 taxonomy=draw(st.sampled_from(["", "", "", "1223G0001X"])))


@st.composite
def entities(draw: st.DrawFn) -> Party:
    person = draw(st.booleans())
    return Party(draw(st.sampled_from(["P3", "PR", "1P", "X3"])), draw(names), draw(maybe) if person else "",
                 entity_type="1" if person else "2", id_qualifier=draw(st.sampled_from(["", "XX", "PI"])),
                 id=draw(ids), address=draw(addresses()), contacts=draw(contacts),
                 taxonomy=draw(st.sampled_from(["", "207Q00000X"])))


@st.composite
def benefits(draw: st.DrawFn, loop: str, party: Party) -> Benefit:
    detail = draw(st.booleans())
    return Benefit(
        draw(st.sampled_from(["1", "6", "A", "B", "C", "L", "R"])), draw(st.sampled_from(["", "IND", "FAM"])),
        tuple(draw(st.lists(st.sampled_from(["30", "1", "98", "AL", "35", "MH"]), max_size=3))),
        draw(st.sampled_from(["", "PR", "HM", "MA"])), draw(maybe), draw(st.sampled_from(["", "23", "27", "29"])),
        draw(maybe_amount), draw(st.one_of(st.none(), st.decimals(min_value=0, max_value=1, places=2))),
        *draw(st.sampled_from([("", None), ("VS", Decimal(12)), ("DY", Decimal("1.5"))])),
        draw(st.sampled_from(["", "Y", "N"])), draw(st.sampled_from(["", "Y", "N", "W"])),
        Procedure("HC", draw(ids), tuple(draw(st.lists(st.from_regex(r"[A-Z0-9]{2}", fullmatch=True), max_size=2))))
        if detail else None,
        ("1", "2") if detail else (),
        deliveries=tuple(draw(st.lists(st.sampled_from([("VS", "12"), ("VS", "12", "VS", "1", "34", "1"),
                                                        ("", "", "", "", "27", "1")]), max_size=2))),
        references=tuple(draw(st.lists(st.builds(Reference, st.sampled_from(["18", "1L", "G1"]), ids), max_size=2))),
        dates=tuple(draw(st.lists(periods(["291", "292", "348"]), max_size=2))),
        errors=tuple(RequestError(loop, draw(st.sampled_from(["Y", "N"])), draw(reasons), draw(follow_ups), party)
                     for _ in range(draw(st.integers(min_value=0, max_value=1)))),
        messages=tuple(draw(st.lists(names, max_size=2))),
        additional=tuple(draw(st.lists(st.tuples(st.just("ZZ"), st.sampled_from(["11", "22"])), max_size=2))),
        entities=tuple(draw(st.lists(entities(), max_size=2))) if detail else (),
    )


@st.composite
def responses(draw: st.DrawFn) -> EligibilityResponse:
    # Small pools of parties, so that members share hierarchy levels as real responses do.
    payers = [Party("PR", draw(names), entity_type="2", id_qualifier="PI", id=draw(ids), contacts=draw(contacts))
              for _ in range(draw(st.integers(min_value=1, max_value=2)))]
    receivers = draw(st.lists(providers(), min_size=1, max_size=2))
    subscribers = draw(st.lists(people("IL"), min_size=1, max_size=2))
    dependents = draw(st.lists(people("03"), min_size=1, max_size=2))
    members = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        provider, code = draw(st.sampled_from(receivers))
        dependent = draw(st.one_of(st.none(), st.sampled_from(dependents)))
        subscriber = draw(st.sampled_from(subscribers))
        patient, letter = (dependent, "D") if dependent else (subscriber, "C")
        members.append(MemberEligibility(
            draw(st.sampled_from(payers)), provider, subscriber, dependent,
            traces=tuple(Trace(kind, number, originator) for kind, number, originator in draw(st.lists(
                st.tuples(st.sampled_from(["1", "2"]), ids, st.from_regex(r"[0-9]{10}", fullmatch=True)),
                max_size=2))),
            provider_code=code,
            insured=("N", "19") if dependent else draw(st.sampled_from([(), ("Y", "18"), ("Y", "18", "001", "25")])),
            diagnoses=tuple(draw(st.lists(st.tuples(st.sampled_from(["ABK", "ABF"]), ids), max_size=10))),
            dates=tuple(draw(st.lists(periods(["346", "347", "356", "357", "291"]), max_size=2))),
            military=draw(st.sampled_from([(), ("A", "AO", "A", "ARMY")])),
            errors=tuple(RequestError("2100" + letter, draw(st.sampled_from(["Y", "N"])), draw(reasons),
                                      draw(follow_ups), patient)
                         for _ in range(draw(st.integers(min_value=0, max_value=1)))),
            benefits=tuple(draw(st.lists(benefits("2110" + letter, patient), max_size=3))),
        ))
    errors = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        loop = draw(st.sampled_from(["2000A", "2100A", "2100B"]))
        party = draw(st.sampled_from(payers)) if loop != "2100B" else draw(st.sampled_from(receivers))[0]
        errors.append(RequestError(loop, draw(st.sampled_from(["Y", "N"])), draw(reasons), draw(follow_ups), party))
    assume(members or errors)  # an empty 271 has no HL at all
    return EligibilityResponse("0001", tuple(members), tuple(errors), reference=draw(ids), created=draw(days),
                               created_time="0930")


@settings(max_examples=75, deadline=None)
@given(responses())
def test_generated_responses_round_trip(response: EligibilityResponse) -> None:
    again, document = round_trip(response)
    assert document.issues == []
    assert again == response
