"""The 837 writer: what it writes (versions, hierarchy, line control numbers, COB loops), and round trips
(parse, write, parse) for every public sample and for random canonical claims."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.claim import (
    Claim,
    ClaimBatch,
    Drug,
    ExtraSegment,
    HealthCareCode,
    LineAdjudication,
    Note,
    OtherPayer,
    Patient,
    ServiceLine,
    Subscriber,
    assign_line_control_numbers,
)
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import Adjustment, Procedure, QualifiedAmount, QualifiedDate
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts837 import CLAIM_EXTRA_RANK, LINE_EXTRA_RANK
from rcmflow.formats.x12.ts837_write import write_837, write_837_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers, WriteError
from rcmflow.formats.x12.writing import Party as InterchangeParty
from tests.formats.x12.builders import sample_files

SENDER, RECEIVER = InterchangeParty("CLINIC"), InterchangeParty("CLEARINGHOUSE")
CREATED = datetime(2024, 1, 5, 12, 30)
SAMPLE_FILES = sample_files("837_005010X222A2") + sample_files("837_005010X223A3")


def interchange(*batches: ClaimBatch) -> str:
    return write_837_interchange(batches, SENDER, RECEIVER, CountingControlNumbers(), created=CREATED)


def reread(*batches: ClaimBatch) -> list[ClaimBatch]:
    """Write the batches as one interchange and read them back; the read must be free of issues."""
    document = parse(interchange(*batches).encode())
    assert [str(issue) for issue in document.issues] == []
    return [transaction.content for transaction in document.transactions]


def expected_after_write(batch: ClaimBatch, written: ClaimBatch) -> ClaimBatch:
    """What a written batch reads back as: its own control number and version, and a line item control
    number on every line. Everything else is unchanged."""
    return batch._replace(control_number=written.control_number, implementation=written.implementation,
                          claims=tuple(assign_line_control_numbers(claim) for claim in batch.claims))


def elements(segments: list[str], seg_id: str) -> list[list[str]]:
    return [segment.split("*") for segment in segments if segment.split("*", 1)[0] == seg_id]


# ---- a hand-made secondary claim -----------------------------------------------------------------

BILLING = Party("85", "VALLEY CLINIC", entity_type="2", id_qualifier="XX", id="1234567893",
                address=Address("1 MAIN ST", "", "HARTFORD", "CT", "06101"),
                references=(Reference("EI", "123456789"),), taxonomy="207Q00000X")
SUBSCRIBER = Subscriber("S", "18", "GRP1", "", "", "CI",
                        Party("IL", "DOE", "JANE", entity_type="1", id_qualifier="MI", id="M1",
                              birth_date=date(1980, 1, 1), gender="F"))
PAYER = Party("PR", "SECOND PLAN", entity_type="2", id_qualifier="PI", id="P2")
PRIMARY = OtherPayer(
    Subscriber("P", "18", "", "", "", "CI", Party("IL", "DOE", "JANE", entity_type="1", id_qualifier="MI", id="X9")),
    Party("PR", "FIRST PLAN", entity_type="2", id_qualifier="PI", id="P1",
          references=(Reference("F8", "ORIG1"),)),
    adjustments=(Adjustment("CO", "45", Decimal("20")), Adjustment("PR", "1", Decimal("30")),
                 Adjustment("PR", "2", Decimal("10"))),
    amounts=(QualifiedAmount("D", Decimal("90")),), benefits_assignment="Y", patient_signature_source="P",
    release_of_information="Y", adjudication_date=date(2024, 2, 1),
)


def professional_claim(pcn: str, patient: Patient | None = None) -> Claim:
    lines = (
        ServiceLine(1, Decimal("100"), Procedure("HC", "99213", ("25",)), unit_basis="UN", units=Decimal("1"),
                    diagnosis_pointers=("1",), dates=(QualifiedDate("472", date(2024, 1, 2)),),
                    adjudications=(LineAdjudication("P1", Decimal("60"), Procedure("HC", "99213", ("25",)),
                                                    units=Decimal("1"),
                                                    adjustments=(Adjustment("CO", "45", Decimal("10")),),
                                                    dates=(QualifiedDate("573", date(2024, 2, 1)),)),)),
        ServiceLine(2, Decimal("50"), Procedure("HC", "87880"), unit_basis="UN", units=Decimal("1"),
                    diagnosis_pointers=("1",), dates=(QualifiedDate("472", date(2024, 1, 2)),),
                    line_item_control_number="KEPT"),
    )
    return Claim("P", pcn, Decimal("150"), "11", "B", "1", "Y", "A", "Y", "Y", billing_provider=BILLING,
                 subscriber=SUBSCRIBER, payer=PAYER, patient=patient,
                 health_care_codes=(HealthCareCode("ABK", "J209"),), other_payers=(PRIMARY,), service_lines=lines)


CHILD = Patient("19", Party("QC", "DOE", "TOM", entity_type="1", birth_date=date(2012, 3, 4), gender="M"))
BATCH = ClaimBatch("0042", "P", "005010X222A2", "00", "B1", date(2024, 1, 5), "1230", "CH",
                   Party("41", "VALLEY BILLING", entity_type="2", id_qualifier="46", id="S1",
                         contacts=(Contact("IC", "ANA", (("TE", "5551234567"),)),)),
                   Party("40", "SECOND PLAN", entity_type="2", id_qualifier="46", id="R2"),
                   (professional_claim("PCN1"), professional_claim("PCN2"), professional_claim("PCN3", CHILD),
                    professional_claim("PCN4", CHILD)))


def test_writes_the_accepted_implementation_versions() -> None:
    segments = write_837(BATCH)
    assert segments[0] == "ST*837*0042*005010X222A1"
    assert segments[-1] == f"SE*{len(segments)}*0042"
    assert write_837(BATCH._replace(claim_type="I"), "7")[0] == "ST*837*7*005010X223A2"
    text = interchange(BATCH, BATCH._replace(claim_type="I", claims=()), BATCH)
    groups = [line for line in text.splitlines() if line.startswith("GS*")]
    assert [group.split("*")[1] for group in groups] == ["HC", "HC"]
    assert [group.split("*")[8].rstrip("~") for group in groups] == ["005010X222A1", "005010X223A2"]
    assert [line.split("*")[2] for line in text.splitlines() if line.startswith("ST*")] == ["0001", "0003", "0002"]


def test_rebuilds_the_hierarchy_with_parent_links() -> None:
    hls = elements(write_837(BATCH), "HL")
    # One billing provider; subscriber-is-patient claims under one HL 22; the child's claims under an
    # HL 22 with a child HL 23.
    assert hls == [["HL", "1", "", "20", "1"], ["HL", "2", "1", "22", "0"], ["HL", "3", "1", "22", "1"],
                   ["HL", "4", "3", "23", "0"]]


def test_every_line_gets_a_line_item_control_number() -> None:
    refs = [ref[2] for ref in elements(write_837(BATCH), "REF") if ref[1] == "6R"]
    assert refs == ["PCN1-1", "KEPT", "PCN2-1", "KEPT", "PCN3-1", "KEPT", "PCN4-1", "KEPT"]


def test_writes_the_other_payer_loops() -> None:
    segments = write_837(BATCH._replace(claims=BATCH.claims[:1]))
    start = segments.index("SBR*P*18*******CI")
    assert segments[start:start + 9] == [
        "SBR*P*18*******CI",
        "CAS*CO*45*20",
        "CAS*PR*1*30**2*10",
        "AMT*D*90",
        "OI***Y*P**Y",
        "NM1*IL*1*DOE*JANE****MI*X9",
        "NM1*PR*2*FIRST PLAN*****PI*P1",
        "DTP*573*D8*20240201",
        "REF*F8*ORIG1",
    ]
    assert "SVD*P1*60*HC:99213:25**1" in segments
    assert segments[segments.index("SVD*P1*60*HC:99213:25**1") + 1:][:2] == ["CAS*CO*45*10", "DTP*573*D8*20240201"]


def test_hand_made_batch_round_trips() -> None:
    (again,) = reread(BATCH)
    assert again == expected_after_write(BATCH, again)
    assert again.claims[0].other_payers[0].payer.reference("F8") == "ORIG1"


def test_values_holding_a_delimiter_are_refused() -> None:
    broken = BATCH._replace(claims=(professional_claim("PCN*1"),))
    with pytest.raises(WriteError):
        write_837(broken)
    with pytest.raises(WriteError):
        write_837(BATCH._replace(claim_type="D"))


@pytest.mark.skipif(not SAMPLE_FILES, reason="shared x12 samples are absent")
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_round_trips(path: Path) -> None:
    document = parse(path)
    batches = [transaction.content for transaction in document.transactions]
    again = reread(*batches)
    assert len(again) == len(batches)
    for batch, written in zip(batches, again, strict=True):
        assert written == expected_after_write(batch, written)


# ---- random canonical claims ----------------------------------------------------------------------
# Strategies are built once (module constants, ``cache``): hypothesis validates every new strategy
# object on first use, which would otherwise cost more than generating the data.

UPPER, DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"
word = st.text(UPPER + DIGITS, min_size=1, max_size=10)
name = st.text(UPPER, min_size=1, max_size=8) | st.tuples(st.text(UPPER, min_size=1, max_size=8),
                                                           st.text(UPPER, min_size=1, max_size=8)).map(" ".join)
digits = st.text(DIGITS, min_size=4, max_size=10)
money = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2, allow_nan=False, allow_infinity=False)
positive = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2, allow_nan=False,
                       allow_infinity=False)
quantity = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999"), places=3, allow_nan=False,
                       allow_infinity=False)
day = st.dates(min_value=date(1950, 1, 1), max_value=date(2040, 12, 31))
hhmm = st.builds(lambda h, m: f"{h:02d}{m:02d}", st.integers(0, 23), st.integers(0, 59))


T = TypeVar("T")


@cache
def one_of(*values: T) -> st.SearchStrategy[T]:
    return st.sampled_from(values)


@cache
def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def pick(draw: st.DrawFn, *values: T) -> T:
    return draw(one_of(*values))


# Lambdas rather than the NamedTuple class: ``builds`` would invent values for the defaulted fields.
ADDRESSES = st.builds(lambda *fields: Address(*fields), name, st.sampled_from(["", "SUITE 2"]), name,
                      st.sampled_from(["CT", "NY"]), st.sampled_from(["06101", "100010001"]))
CONTACTS = st.lists(st.builds(Contact, st.just("IC"), name | st.just(""),
                              st.lists(st.tuples(st.sampled_from(["TE", "FX", "EM"]), digits), min_size=1,
                                       max_size=3).map(tuple)), max_size=2).map(tuple)


@cache
def references(qualifiers: tuple[str, ...], max_size: int = 2) -> st.SearchStrategy[tuple[Reference, ...]]:
    return st.lists(st.builds(Reference, st.sampled_from(qualifiers), word), max_size=max_size).map(tuple)


@cache
def amounts(qualifiers: tuple[str, ...], values: st.SearchStrategy = money,
            max_size: int = 1) -> st.SearchStrategy[tuple[QualifiedAmount, ...]]:
    return st.lists(st.builds(QualifiedAmount, st.sampled_from(qualifiers), values), max_size=max_size).map(tuple)


@cache
def notes(codes: tuple[str, ...], max_size: int = 1) -> st.SearchStrategy[tuple[Note, ...]]:
    return st.lists(st.builds(Note, st.sampled_from(codes), name), max_size=max_size).map(tuple)


@cache
def parties(role: str, *, person: bool | None = None, address: bool = True, refs: tuple[str, ...] = (),
            contacts: bool = False, demographics: bool = False, taxonomy: bool = False,
            ident: str = "XX") -> st.SearchStrategy[Party]:
    @st.composite
    def build(draw: st.DrawFn) -> Party:
        is_person = draw(st.booleans()) if person is None else person
        return Party(
            role, draw(name), draw(name) if is_person else "", pick(draw, "", "Q") if is_person else "",
            pick(draw, "", "JR") if is_person else "", "1" if is_person else "2", ident,
            draw(digits) if ident else "", draw(optional(ADDRESSES)) if address else None,
            draw(references(refs)) if refs else (), draw(CONTACTS) if contacts else (),
            draw(optional(day)) if demographics else None, pick(draw, "", "F", "M", "U") if demographics else "",
            pick(draw, "", "207Q00000X", "363LP0200N") if taxonomy else "",
        )

    return build()


PROCEDURES = st.builds(lambda code, modifiers, description: Procedure("HC", code, tuple(modifiers), description),
                       st.sampled_from(["99213", "J3490", "A0427", "E0431", "00142"]),
                       st.lists(st.sampled_from(["25", "59", "RT", "LT", "QK"]), max_size=4),
                       st.sampled_from(["", "UNLISTED DRUG"]))


@cache
def dated(qualifiers: tuple[str, ...], ranges: bool = True) -> st.SearchStrategy[QualifiedDate]:
    single = st.builds(lambda q, d: QualifiedDate(q, d), st.sampled_from(qualifiers), day)
    if not ranges:
        return single
    return single | st.builds(lambda q, a, b: QualifiedDate(q, min(a, b), max(a, b)), st.sampled_from(qualifiers),
                              day, day)


ADJUSTMENTS = st.lists(st.builds(Adjustment, st.sampled_from(["CO", "PR", "OA"]),
                                 st.sampled_from(["1", "2", "45", "253"]), money, st.none() | quantity),
                       max_size=8).map(tuple)


@cache
def other_payers(kind: str) -> st.SearchStrategy[OtherPayer]:
    insured = parties("IL", person=True, refs=("SY",), ident="MI")
    payer = parties("PR", person=False, refs=("F8", "G1", "2U"), ident="PI")
    provider = st.lists(parties("82" if kind == "P" else "71", address=False, refs=("G2", "LU"), ident=""),
                        max_size=1).map(tuple)

    @st.composite
    def build(draw: st.DrawFn) -> OtherPayer:
        subscriber = Subscriber(pick(draw, "P", "T"), pick(draw, "18", "01", "19"), pick(draw, "", "GRP9"),
                                pick(draw, "", "EMPLOYER"), "", pick(draw, "CI", "MB", "12"), draw(insured))
        return OtherPayer(
            subscriber, draw(payer), draw(ADJUSTMENTS), draw(amounts(("D", "A8", "EAF"), max_size=3)),
            pick(draw, "Y", "N", "W"), pick(draw, "", "P"), pick(draw, "I", "Y"),
            pick(draw, (), ("0", "", "", "138.34")) if kind == "I" else (),
            pick(draw, (), ("", "", "MA01", "MA18")), draw(optional(day)), draw(provider),
        )

    return build()


LINE_EXTRAS = {
    "P": [ExtraSegment("PWK", ("CT", "AA")), ExtraSegment("CR3", ("R", "MO", "99")),
          ExtraSegment("CRC", ("07", "Y", "04")), ExtraSegment("MEA", ("TR", "HT", "70")),
          ExtraSegment("HCP", ("03", "137.06", "40.94")), ExtraSegment("PS1", ("PN1", "110"))],
    "I": [ExtraSegment("PWK", ("OZ", "BM", "", "", "AC", "DMN0012")), ExtraSegment("HCP", ("03", "10", "2"))],
}
FORMS = [ExtraSegment("LQ", ("UT", "02.03B")), ExtraSegment("FRM", ("1", "Y")), ExtraSegment("FRM", ("5", "", "8"))]
CLAIM_EXTRAS = {
    "P": [ExtraSegment("CR1", ("LB", "275", "", "A", "DH", "21")), ExtraSegment("CRC", ("07", "Y", "04", "06")),
          ExtraSegment("PWK", ("OZ", "BM", "", "", "AC", "X1")), ExtraSegment("K3", ("STATE DATA",)),
          ExtraSegment("HCP", ("00", "0", "", "333001234", "", "", "", "", "", "", "", "", "T1"))],
    "I": [ExtraSegment("CN1", ("02", "550")), ExtraSegment("HCP", ("03", "182.88", "54.62", "123456789")),
          ExtraSegment("CRC", ("ZZ", "Y", "AV"))],
}


@cache
def extras(kind: str, level: str) -> st.SearchStrategy[tuple[ExtraSegment, ...]]:
    """Kept-as-sent segments in the canonical (written) order; DME forms for professional lines."""
    table, rank = (CLAIM_EXTRAS, CLAIM_EXTRA_RANK) if level == "claim" else (LINE_EXTRAS, LINE_EXTRA_RANK)
    chosen = st.lists(st.sampled_from(table[kind]), max_size=3, unique=True)
    if kind == "P" and level == "line":
        chosen = st.tuples(chosen, st.booleans()).map(lambda found: found[0] + (FORMS if found[1] else []))
    return chosen.map(lambda found: tuple(sorted(found, key=lambda seg: rank[seg.id])))


DRUGS = optional(st.builds(Drug, st.just("N4"), st.text(DIGITS, min_size=11, max_size=11), quantity,
                           st.sampled_from(["UN", "ML", "F2"]), references(("XZ",), 1)))
LINE_DATES = st.tuples(dated(("472",)), st.lists(dated(("471", "463"), False), max_size=1)).map(
    lambda found: (found[0], *found[1]))
LINE_PROVIDERS = {
    kind: st.lists(st.sampled_from(roles).flatmap(
        lambda role: parties(role, refs=("G2",), contacts=role == "DK", taxonomy=role == "82")), max_size=2).map(tuple)
    for kind, roles in (("P", ("82", "DK", "DN", "77", "QB")), ("I", ("72", "ZZ", "82", "DN")))
}


def service_line(draw: st.DrawFn, kind: str, number: int, payer_ids: list[str]) -> ServiceLine:
    procedure = draw(PROCEDURES)
    p = kind == "P"
    return ServiceLine(
        number, draw(positive), procedure if p else draw(optional(st.just(procedure))),
        "" if p else pick(draw, "0300", "0450", "0730"), pick(draw, "UN", "MJ") if p else pick(draw, "UN", "DA"),
        draw(quantity), pick(draw, "", "11", "22") if p else "",
        tuple(draw(st.lists(one_of("1", "2", "3", "4"), min_size=1, max_size=4, unique=True))) if p else (),
        pick(draw, "", "Y") if p else "", "", "", "",
        None if p else draw(optional(positive)), None if p else draw(optional(money)),
        draw(LINE_DATES), pick(draw, "", f"LINE-{number}"), draw(references(("9B", "G1", "6R"))),
        draw(amounts(("T", "F4") if p else ("GT",))), draw(amounts(("PT",), quantity)) if p else (),
        draw(notes(("ADD",))), draw(DRUGS), draw(LINE_PROVIDERS[kind]),
        tuple(LineAdjudication(pick(draw, *payer_ids), draw(money), draw(optional(st.just(procedure))),
                               "" if p else pick(draw, "", "0300"), draw(optional(quantity)), pick(draw, "", "1"),
                               draw(ADJUSTMENTS), tuple(draw(st.lists(dated(("573",), False), max_size=1))),
                               draw(amounts(("EAF",))))
              for _ in range(draw(st.integers(0, 2)) if payer_ids else 0)),
        draw(extras(kind, "line")),
    )


CODES = st.tuples(st.sampled_from(UPPER), st.text(DIGITS, min_size=2, max_size=5)).map("".join)
POA = st.sampled_from(["", "Y", "N", "W"])


def health_care_codes(draw: st.DrawFn, kind: str) -> tuple[HealthCareCode, ...]:
    principal = HealthCareCode("ABK", draw(CODES))
    if kind == "P":
        return (principal, *[HealthCareCode("ABF", c) for c in draw(st.lists(CODES, max_size=14))])
    codes = [principal._replace(present_on_admission=draw(POA))]
    codes += [HealthCareCode("ABJ", draw(CODES))] if draw(st.booleans()) else []
    codes += [HealthCareCode("APR", c) for c in draw(st.lists(CODES, max_size=4))]
    codes += [HealthCareCode("ABF", c, present_on_admission=draw(POA)) for c in draw(st.lists(CODES, max_size=13))]
    codes += [HealthCareCode("BBR", draw(CODES), "D8", draw(day))] if draw(st.booleans()) else []
    codes += [HealthCareCode("BBQ", draw(CODES), "D8", draw(day)) for _ in range(draw(st.integers(0, 2)))]
    codes += [HealthCareCode("BI", pick(draw, "70", "74"), "RD8", min(a, b), end_date=max(a, b))
              for a, b in draw(st.lists(st.tuples(day, day), max_size=2))]
    codes += [HealthCareCode("BH", "A1", "D8", draw(day))] if draw(st.booleans()) else []
    codes += [HealthCareCode("BE", "A2", amount=draw(money)) for _ in range(draw(st.integers(0, 2)))]
    codes += [HealthCareCode("BG", pick(draw, "09", "A1"))] if draw(st.booleans()) else []
    return tuple(codes)


CLAIM_PROVIDERS = {
    kind: st.lists(st.sampled_from(roles).flatmap(
        lambda role: parties(role, refs=("G2", "0B"), contacts=role == "77", taxonomy=role in ("82", "71"))),
        max_size=3).map(tuple)
    for kind, roles in (("P", ("DN", "P3", "82", "77", "DQ", "PW", "45")), ("I", ("71", "72", "ZZ", "82", "77", "DN")))
}


def claim(draw: st.DrawFn, kind: str, billing: tuple, subscriber: tuple, patient: Patient | None,
          number: int) -> Claim:
    billing_party, pay_to, plan, currency = billing
    sub, payer = subscriber
    p = kind == "P"
    others = draw(st.lists(other_payers(kind), max_size=2))
    lines = [service_line(draw, kind, n, [o.payer.id for o in others]) for n in range(1, draw(st.integers(1, 2)) + 1)]
    if p:
        dates = tuple(draw(st.lists(dated(("431", "454", "304", "439", "484"), False), max_size=3)))
    else:
        dates = (draw(dated(("434",))),) + ((QualifiedDate("435", draw(day), None, draw(hhmm)),)
                                            if draw(st.booleans()) else ())
    causes, state = pick(draw, ((), ""), (("AA",), "CA"), (("EM", "OA"), ""), ((), "NY")) if p else ((), "")
    return Claim(
        kind, f"PCN{number}{draw(word)}", sum((line.charge for line in lines), Decimal("0")),
        pick(draw, "11", "22") if p else pick(draw, "13", "11"), "B" if p else "A", pick(draw, "1", "7", "8"),
        "Y", pick(draw, "A", "C"), pick(draw, "Y", "N", "W"), pick(draw, "I", "Y"),
        pick(draw, "", "P") if p else "", causes, state, "", pick(draw, "", "02") if p else "",
        pick(draw, "", "1", "7"), billing_party, pay_to, plan, currency, sub, payer, patient, dates,
        "" if p else pick(draw, "", "1130"), "" if p else pick(draw, "1", "3"),
        "" if p else pick(draw, "", "7"), "" if p else pick(draw, "01", "30"),
        draw(references(("G1", "9F", "F8", "EA", "D9"), 3)), draw(amounts(("F5",) if p else ("F3",))),
        draw(notes(("ADD", "CER"), 2)), health_care_codes(draw, kind), draw(CLAIM_PROVIDERS[kind]), tuple(others),
        tuple(lines), draw(extras(kind, "claim")),
    )


@st.composite
def batches(draw: st.DrawFn) -> ClaimBatch:
    kind = pick(draw, "P", "I")
    p = kind == "P"
    billings = [(
        draw(parties("85", refs=("EI", "SY"), contacts=True, taxonomy=True)),
        draw(optional(ADDRESSES.map(lambda address: Party("87", entity_type="2", address=address)))),
        draw(optional(parties("PE", person=False, refs=("EI", "2U"), ident="PI"))),
        pick(draw, "", "USD"),
    ) for _ in range(draw(st.integers(1, 2)))]
    subscribers = [(
        Subscriber(pick(draw, "P", "S", "T"), pick(draw, "18", ""), pick(draw, "", "GRP1"),
                   pick(draw, "", "ACME CO"), pick(draw, "", "12"), pick(draw, "CI", "MB", "HM"),
                   draw(parties("IL", person=True, refs=("SY", "Y4"), contacts=p, demographics=True, ident="MI")),
                   draw(optional(day)), pick(draw, "", "01"), draw(optional(money)), pick(draw, "", "Y")),
        draw(parties("PR", person=False, refs=("2U", "G2"), ident="PI")),
    ) for _ in range(draw(st.integers(1, 2)))]
    patients = [None, Patient(pick(draw, "01", "19", "G8"),
                              draw(parties("QC", person=True, refs=("Y4",), contacts=p, demographics=True, ident="")),
                              draw(optional(day)), pick(draw, "", "01"), draw(optional(money)),
                              pick(draw, "", "Y"))]
    items = tuple(claim(draw, kind, pick(draw, *billings), pick(draw, *subscribers), pick(draw, *patients), n)
                  for n in range(draw(st.integers(1, 3))))
    return ClaimBatch(
        "0001", kind, "", pick(draw, "00", "18"), draw(word), draw(day),
        pick(draw, "1200", "075420", "09460000"), pick(draw, "CH", "RP"),
        draw(parties("41", person=False, address=False, contacts=True, ident="46")),
        draw(parties("40", person=False, address=False, ident="46")), items,
    )


@settings(max_examples=60, deadline=None)
@given(batches())
def test_random_claims_round_trip(batch: ClaimBatch) -> None:
    (again,) = reread(batch)
    assert again == expected_after_write(batch, again)
