"""HL7 v2 DFT^P03 reading: realistic messages mapped to the canonical 837P claim, located problems that refuse
the message (not a DFT^P03, no PID/FT1) or keep its claim out (a bad value, a credit), the message syntax
(delimiters, escapes, segment endings, character sets) and the round trip through the 837 writer."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from rcmflow.domain.charges import CoverageFact, SourceClaim, SourceIssue
from rcmflow.domain.claim import Claim, ClaimBatch, HealthCareCode, Patient, ServiceLine, Subscriber
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.hl7_dft import (
    Delimiters,
    DftResult,
    HL7BillingProvider,
    Hl7SyntaxError,
    dtm_day,
    escape,
    read_dft_message,
    split_message,
    unescape,
)
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts837_write import write_837_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as InterchangeParty

VALLEY = HL7BillingProvider("1234567893", "Valley Family Medicine", "12-3456789", "207Q00000X",
                            Address("1 Main St", "", "Hartford", "CT", "061011234"))
PEDIATRICS = HL7BillingProvider("1456789019", "Valley Pediatrics", "98-7654321", "208000000X",
                                Address("40 Elm St", "", "Hartford", "CT", "06106"))
BILLING = {"VALLEYMAIN": VALLEY, "VALLEYPEDS": PEDIATRICS}


def message(*segments: str) -> str:
    """Segments as an HL7 message: each ended by CR."""
    return "\r".join(segments) + "\r"


# An office visit: an established-patient E/M with modifier 25 and a chest x-ray (professional component, 26
# and 59), two final diagnoses, the patient insured in her own name. FT1-1 has an extended amount (2.5 CP with
# its currency), FT1-2 only a unit amount.
VISIT = message(
    r"MSH|^~\&|EPIC|VALLEYCLINIC|RCMFLOW|BILLING|20240304153000-0500||DFT^P03^DFT_P03|MSG00001|P|2.5.1|||AL|NE"
    r"||UNICODE UTF-8",
    "EVN|P03|20240304153000-0500",
    "PID|1||999887777^^^SSA^SS~MRN4471^^^VALLEY^MR||Rivera^Ana^M^^^^L||19840719|F|||"
    "12 Oak St^^Hartford^CT^06105^USA^H||^PRN^PH^^1^860^5550101",
    "PV1|1|O|EXAM^3^^VALLEYMAIN||||1987654328^Chen^Wei^^^^MD^^NPI&2.16.840.1.113883.4.6&ISO^L||||||||||||V10231"
    "||||||||||||||||||||VALLEYMAIN|||||20240304150000",
    "FT1|1|CHG0001||20240304150000||CG|99214^Office visit, established, 30-39 min^C4|||1|165.00&USD|||||"
    "EXAM^3^^VALLEYMAIN|||J20.9^Acute bronchitis, unspecified^I10~R05.9^Cough, unspecified^I10|"
    "1987654328^Chen^Wei^^^^MD^^NPI^L^^^NPI|||||99214^^C4|25^Significant, separately identifiable E/M^C4",
    "FT1|2|CHG0002||20240304||CG|71046^X-ray chest 2 views^C4|||1||62.40&USD||||EXAM^3^^VALLEYMAIN|||"
    "R05.9^Cough, unspecified^I10|1987654328^Chen^Wei^^^^MD^^NPI^L^^^NPI|||||71046^^C4|"
    "26^Professional component^C4~59^Distinct procedural service^C4",
    "DG1|1|I10|J20.9^Acute bronchitis, unspecified^I10||20240304|F|||||||||1",
    "DG1|2|I10|R05.9^Cough, unspecified^I10||20240304|F|||||||||2",
    "GT1|1||Rivera^Ana^M||12 Oak St^^Hartford^CT^06105|||19840719|F||SEL",
    "IN1|1|AETNAPOS^Aetna Choice POS II|60054|Aetna|PO Box 981106^^El Paso^TX^79998|||GRP7781||||20240101|20241231"
    "||CI|Rivera^Ana^M|SEL|19840719|12 Oak St^^Hartford^CT^06105|||||||||||||||||XKB884120301",
)

# A well-child visit of a dependent: the father holds the policy (IN1-17 CHD), the chargemaster code in FT1-7
# gives way to the CPT in FT1-25, the immunization line has only a unit amount and a quantity, and there is no
# DG1: the diagnoses come from FT1-19.
CHILD = message(
    r"MSH|^~\&|ATHENA|VALLEYPEDS|RCMFLOW|BILLING|20240305101500-0500||DFT^P03^DFT_P03|MSG00002|P|2.5.1",
    "EVN|P03|20240305101500-0500",
    "PID|1||MRN5102^^^VALLEY^MR||Rivera^Sofia^^^^^L||20150502|F|||12 Oak St^^Hartford^CT^06105^USA^H",
    "PV1|1|O|PEDS^2^^VALLEYPEDS||||1765432103^Patel^Nisha^^^^MD^^^^^^NPI||||||||||||V10232",
    "FT1|1|CHG0101||20240305||CG|PEDWELL5^Well child visit 5-11^CDM|||1|180.00||||||||"
    "Z00.129^Encounter for routine child health exam^I10||||||99393^Preventive visit est 5-11^C4",
    "FT1|2|CHG0102||20240305||CG|90460^Immunization admin^C4|||2||24.00|||||||Z23^Encounter for immunization^I10",
    "GT1|1||Rivera^Luis||12 Oak St^^Hartford^CT^06105|||19800211|M||PAR",
    "IN1|1|ANTHEMPPO^Anthem PPO|00060|Anthem Blue Cross||||GRP2210||||20230101|||BL|Rivera^Luis|CHD|19800211|"
    "12 Oak St^^Hartford^CT^06105|||||||||||||||||XKB884120302|||||||M",
)

OAK_ST = Address("12 Oak St", "", "Hartford", "CT", "06105")
CHEN = Party("82", "Chen", "Wei", entity_type="1", id_qualifier="XX", id="1987654328")


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def segment_replaced(text: str, prefix: str, new: str) -> str:
    """The message with the segment starting ``prefix`` replaced by ``new`` (or removed when ``new`` is empty)."""
    segments = text.rstrip("\r").split("\r")
    matches = [n for n, segment in enumerate(segments) if segment.startswith(prefix)]
    assert len(matches) == 1, prefix
    segments[matches[0]:matches[0] + 1] = [new] if new else []
    return message(*segments)


def reread(claims: list[Claim]) -> list[Claim]:
    """Write the claims as an 837P and read them back strictly, free of issues."""
    batch = ClaimBatch("1", "P", "", "00", "B1", date(2024, 3, 8), "1200", "CH",
                       Party("41", "VALLEY BILLING", entity_type="2", id_qualifier="46", id="S1"),
                       Party("40", "CLEARINGHOUSE", entity_type="2", id_qualifier="46", id="R1"), tuple(claims))
    text = write_837_interchange([batch], InterchangeParty("CLINIC"), InterchangeParty("CH"),
                                 CountingControlNumbers(), created=datetime(2024, 3, 8, 12))
    document = parse(text.encode(), strict=True)
    assert [str(issue) for issue in document.issues] == []
    return [claim for transaction in document.transactions for claim in transaction.content.claims]


def located(result: DftResult) -> list[tuple[str, str, str]]:
    return [(issue.source_id, issue.location, issue.field) for issue in result.problems]


# ---- the clinic visit: every mapped field -------------------------------------------------------


def test_a_clinic_visit_is_the_canonical_professional_claim() -> None:
    result = read_dft_message(VISIT.encode(), BILLING)
    day = (QualifiedDate("472", date(2024, 3, 4)),)
    expected = Claim(
        "P", "V10231", Decimal("227.40"), "11", "B", "1", "Y", "A", "Y", "Y",
        billing_provider=Party("85", "Valley Family Medicine", entity_type="2", id_qualifier="XX", id="1234567893",
                               address=Address("1 Main St", "", "Hartford", "CT", "061011234"),
                               references=(Reference("EI", "123456789"),), taxonomy="207Q00000X"),
        subscriber=Subscriber("P", "18", "GRP7781", "", "", "CI",
                              Party("IL", "Rivera", "Ana", "M", entity_type="1", id_qualifier="MI", id="XKB884120301",
                                    address=OAK_ST, birth_date=date(1984, 7, 19), gender="F")),
        payer=Party("PR", "Aetna", entity_type="2", id_qualifier="PI", id="60054"), patient=None,
        references=(Reference("EA", "MRN4471"),),
        health_care_codes=(HealthCareCode("ABK", "J209"), HealthCareCode("ABF", "R059")),
        providers=(CHEN,),
        service_lines=(
            ServiceLine(1, Decimal("165.00"), Procedure("HC", "99214", ("25",)), unit_basis="UN", units=Decimal("1"),
                        diagnosis_pointers=("1", "2"), dates=day, line_item_control_number="CHG0001"),
            ServiceLine(2, Decimal("62.40"), Procedure("HC", "71046", ("26", "59")), unit_basis="UN",
                        units=Decimal("1"), diagnosis_pointers=("2",), dates=day, line_item_control_number="CHG0002"),
        ),
    )
    assert result == DftResult("MSG00001", "EPIC", "VALLEYCLINIC", result.charges)
    assert result.charges.format == "hl7v2" and result.problems == () and result.ack_code == "AA"
    assert result.charges.claims == (SourceClaim(
        "V10231", expected, CoverageFact("60054", "XKB884120301", None, date(2024, 1, 1), date(2024, 12, 31)),
        "message MSG00001"),)


def test_the_visit_survives_the_837_round_trip() -> None:
    claims = [source.claim for text in (VISIT, CHILD) for source in read_dft_message(text, BILLING).charges.claims]
    assert len(claims) == 2
    assert reread(claims) == claims


def test_a_dependent_child_gets_a_patient_level_and_the_insured_from_in1() -> None:
    result = read_dft_message(CHILD, BILLING)
    assert result.problems == ()
    (source,) = result.charges.claims
    claim = source.claim
    assert claim.patient == Patient("19", Party("QC", "Rivera", "Sofia", entity_type="1", address=OAK_ST,
                                                birth_date=date(2015, 5, 2), gender="F"))
    assert claim.subscriber == Subscriber("P", "", "GRP2210", "", "", "BL", Party(
        "IL", "Rivera", "Luis", entity_type="1", id_qualifier="MI", id="XKB884120302", address=OAK_ST,
        birth_date=date(1980, 2, 11), gender="M"))
    assert claim.payer == Party("PR", "Anthem Blue Cross", entity_type="2", id_qualifier="PI", id="00060")
    # Configured per facility: PV1-3's facility VALLEYPEDS bills as the pediatric practice.
    assert claim.billing_provider.id == "1456789019" and claim.billing_provider.name == "Valley Pediatrics"
    assert claim.providers == (Party("82", "Patel", "Nisha", entity_type="1", id_qualifier="XX", id="1765432103"),)
    assert [code.code for code in claim.health_care_codes] == ["Z00129", "Z23"]
    assert [(line.procedure, line.units, line.charge, line.diagnosis_pointers) for line in claim.service_lines] == [
        (Procedure("HC", "99393"), Decimal("1"), Decimal("180.00"), ("1",)),
        (Procedure("HC", "90460"), Decimal("2"), Decimal("48.00"), ("2",))]
    assert claim.total_charge == Decimal("228.00") and claim.medical_record_number == "MRN5102"
    assert source.coverage == CoverageFact("00060", "XKB884120302", None, date(2023, 1, 1), None)


@pytest.mark.parametrize(("relationship", "expected"), [
    ("SPO", "01"), ("CHD", "19"), ("PAR", "19"), ("DOM", "53"), ("EMC", "G8"), ("OTH", "G8"),
])
def test_in1_17_becomes_the_patient_relationship(relationship: str, expected: str) -> None:
    result = read_dft_message(replaced(CHILD, "|CHD|", f"|{relationship}|"), BILLING)
    (source,) = result.charges.claims
    assert source.claim.patient is not None and source.claim.patient.relationship == expected
    assert source.claim.subscriber.relationship == ""


def test_without_in1_16_the_guarantor_is_the_insured() -> None:
    text = replaced(CHILD, "|BL|Rivera^Luis|CHD|19800211|12 Oak St^^Hartford^CT^06105|", "|BL||CHD|||")
    text = replaced(text, "|||||||M\r", "\r")
    (source,) = read_dft_message(text, BILLING).charges.claims
    assert source.claim.subscriber.party == Party("IL", "Rivera", "Luis", entity_type="1", id_qualifier="MI",
                                                  id="XKB884120302", address=OAK_ST, birth_date=date(1980, 2, 11),
                                                  gender="M")


def test_a_message_without_in1_is_self_pay_for_the_scrubber_to_hold() -> None:
    (source,) = read_dft_message(segment_replaced(VISIT, "IN1|", ""), BILLING).charges.claims
    assert source.coverage is None and source.claim.payer == Party("PR")
    assert source.claim.subscriber.relationship == "18" and source.claim.subscriber.party.name == "Rivera"


# ---- place of service, providers, diagnoses ------------------------------------------------------


@pytest.mark.parametrize(("patient_class", "provider", "expected"), [
    ("O", VALLEY, "11"), ("E", VALLEY, "23"), ("I", VALLEY, "21"), ("R", VALLEY, "11"), ("", VALLEY, "11"),
    ("O", VALLEY._replace(outpatient_place_of_service="22"), "22"),
    ("E", VALLEY._replace(emergency_place_of_service="99"), "99"),
])
def test_place_of_service_follows_the_patient_class(patient_class: str, provider: HL7BillingProvider,
                                                    expected: str) -> None:
    (source,) = read_dft_message(replaced(VISIT, "PV1|1|O|", f"PV1|1|{patient_class}|"), provider).charges.claims
    assert source.claim.facility_code == expected
    assert all(line.place_of_service == "" for line in source.claim.service_lines)
    # An inpatient visit carries its admission date (PV1-44), which 837P requires for inpatient places.
    assert source.claim.dates == ((QualifiedDate("435", date(2024, 3, 4)),) if patient_class == "I" else ())


def test_an_attending_without_an_npi_type_is_named_without_an_id() -> None:
    text = replaced(VISIT, "1987654328^Chen^Wei^^^^MD^^NPI&2.16.840.1.113883.4.6&ISO^L", "CW01^Chen^Wei^^^^MD^^VALLEY")
    (source,) = read_dft_message(text, BILLING).charges.claims
    assert source.claim.providers == (Party("82", "Chen", "Wei", entity_type="1"),)
    # The lines' performer (FT1-20, with its NPI) differs from the claim's rendering provider: named per line.
    assert [line.providers for line in source.claim.service_lines] == [(CHEN,), (CHEN,)]


def test_without_pv1_7_the_first_performer_renders_and_the_billing_npi_is_never_a_rendering_one() -> None:
    text = replaced(VISIT, "1987654328^Chen^Wei^^^^MD^^NPI&2.16.840.1.113883.4.6&ISO^L", "")
    (source,) = read_dft_message(text, BILLING).charges.claims
    assert source.claim.providers == (CHEN,)
    assert all(line.providers == () for line in source.claim.service_lines)
    solo = VALLEY._replace(npi="1987654328")
    (source,) = read_dft_message(text, solo).charges.claims
    assert source.claim.providers == () and source.claim.billing_provider.id == "1987654328"


def test_the_principal_diagnosis_is_priority_1_else_the_first_final_or_admitting() -> None:
    dg1 = ("DG1|1|I10|R05.9^Cough^I10||20240304|W", "DG1|3|I10|E11.9^Type 2 diabetes^I10||20240304|F",
           "DG1|2|I10|J20.9^Acute bronchitis^I10||20240304|W")
    text = segment_replaced(segment_replaced(VISIT, "DG1|1|", "\r".join(dg1)), "DG1|2|I10|R05.9", "")
    (source,) = read_dft_message(text, BILLING).charges.claims
    # Set id order R05.9, J20.9, E11.9; the first final one (E11.9) is principal.
    assert [(code.qualifier, code.code) for code in source.claim.health_care_codes] == [
        ("ABK", "E119"), ("ABF", "R059"), ("ABF", "J209")]
    assert [line.diagnosis_pointers for line in source.claim.service_lines] == [("3", "2"), ("2",)]
    prioritised = replaced(text, "J20.9^Acute bronchitis^I10||20240304|W", "J20.9^Acute bronchitis^I10||20240304|W"
                                                                         "|||||||||1")
    (source,) = read_dft_message(prioritised, BILLING).charges.claims
    assert [code.code for code in source.claim.health_care_codes] == ["J209", "R059", "E119"]


def test_the_source_id_falls_back_to_the_first_transaction_then_the_control_id() -> None:
    without_visit = replaced(VISIT, "|V10231|", "||")
    assert read_dft_message(without_visit, BILLING).charges.claims[0].source_id == "CHG0001"
    no_ids = replaced(replaced(without_visit, "FT1|1|CHG0001|", "FT1|1||"), "FT1|2|CHG0002|", "FT1|2||")
    (source,) = read_dft_message(no_ids, BILLING).charges.claims
    assert source.source_id == source.claim.patient_control_number == "MSG00001"
    # Without FT1-2 the line control numbers are made from the patient control number.
    assert [line.line_item_control_number for line in source.claim.service_lines] == ["MSG00001-1", "MSG00001-2"]


def test_the_billing_provider_is_looked_up_by_facility_and_its_absence_is_located() -> None:
    assert read_dft_message(VISIT, {"VALLEYCLINIC": PEDIATRICS}).charges.claims[0].claim.billing_provider.id == (
        "1456789019")  # MSH-4 is the last key tried
    result = read_dft_message(VISIT, {"ELSEWHERE": VALLEY})
    assert result.charges.claims == () and result.ack_code == "AE"
    assert located(result) == [("V10231", "MSH", "MSH-4")]
    assert "'VALLEYMAIN'" in result.problems[0].message and "'VALLEYCLINIC'" in result.problems[0].message
    assert located(read_dft_message(VISIT)) == [("V10231", "MSH", "MSH-4")]


# ---- escapes, delimiters, segment endings, character sets ----------------------------------------


def test_escape_sequences_in_names_and_addresses_are_resolved() -> None:
    text = replaced(VISIT, "Rivera^Ana^M^^^^L", r"Garc\XC3AD\a Rivera^Ana^M^^^^L")
    text = replaced(text, "|Aetna|", r"|Smith \T\ Jones Health|")
    text = replaced(text, "12 Oak St^^Hartford^CT^06105^USA^H", r"12 Oak St\F\Rear^Unit \E\2^Hartford^CT^06105^USA^H")
    (source,) = read_dft_message(text, BILLING).charges.claims
    party = source.claim.subscriber.party
    assert (party.name, party.first_name) == ("García Rivera", "Ana")
    assert party.address == Address("12 Oak St|Rear", "Unit \\2", "Hartford", "CT", "06105")
    assert source.claim.payer.name == "Smith & Jones Health"
    assert reread([source.claim]) == [source.claim]


def test_a_value_the_837_cannot_carry_is_located() -> None:
    # \S\ is a literal ^, the 837's repetition separator: the claim would not be writable.
    result = read_dft_message(replaced(VISIT, "Rivera^Ana^M^^^^L", r"O\S\Brien^Ana^M^^^^L"), BILLING)
    assert result.charges.claims == () and located(result) == [("V10231", "PID", "PID-5")]
    assert "'O^Brien'" in result.problems[0].message


@pytest.mark.parametrize(("text", "expected"), [
    (r"a\F\b\S\c\T\d\R\e\E\f", "a|b^c&d~e\\f"),
    (r"\H\bold\N\ plain", "bold plain"),  # highlighting is dropped
    (r"line\.br\next", "line\nnext"),
    ("caf\\XC3A9\\ \\X41\\", "café A"),
    (r"\Zlocal\kept", "kept"),  # locally defined sequences are dropped
    ("lone \\ escape", "lone \\ escape"),
    ("plain", "plain"),
])
def test_unescape(text: str, expected: str) -> None:
    assert unescape(text) == expected


def test_escape_and_unescape_with_the_messages_own_delimiters() -> None:
    custom = Delimiters("#", "$", "*", "!", "@")
    assert escape("a#b$c*d!e@f\rg", custom) == "a!F!b!S!c!R!d!E!e!T!f g"
    assert unescape("a!F!b!S!c!R!d!E!e!T!f", custom) == "a#b$c*d!e@f"
    # The same visit written with other delimiters reads the same.
    translation = str.maketrans({"|": "#", "^": "$", "~": "*", "\\": "!", "&": "@"})
    assert read_dft_message(VISIT.translate(translation), BILLING).charges == read_dft_message(VISIT, BILLING).charges


@pytest.mark.parametrize("ending", ["\r\n", "\n"])
def test_segments_ended_by_line_feeds_read_the_same(ending: str) -> None:
    assert read_dft_message(VISIT.replace("\r", ending), BILLING) == read_dft_message(VISIT, BILLING)


def test_repetitions_components_and_subcomponents() -> None:
    parsed = split_message(VISIT)
    pid, ft1 = parsed.first("PID"), parsed.all("FT1")[1]
    assert pid is not None and parsed.repetitions(pid, 3) == ["999887777^^^SSA^SS", "MRN4471^^^VALLEY^MR"]
    assert [parsed.part(rep) for rep in parsed.repetitions(ft1, 26)] == ["26", "59"]
    assert parsed.value(ft1, 12, 1, 2) == "USD" and parsed.value(ft1, 12, 1, 1) == "62.40"
    assert parsed.value(parsed.segments[0], 9, 2) == "P03" and parsed.value(parsed.segments[0], 2) == "^~\\&"
    assert ft1.name == "FT1[2]" and pid.name == "PID" and parsed.value(ft1, 99) == ""


def test_a_latin1_message_is_decoded_by_its_msh_18() -> None:
    text = replaced(replaced(VISIT, "UNICODE UTF-8", "8859/1"), "Rivera^Ana^M^^^^L", "Müller^Jürgen^^^^^L")
    (source,) = read_dft_message(text.encode("latin-1"), BILLING).charges.claims
    assert source.claim.subscriber.party.name == "Müller" and source.claim.subscriber.party.first_name == "Jürgen"


def test_bytes_that_are_not_the_declared_character_set_are_located() -> None:
    result = read_dft_message(replaced(VISIT, "Rivera^Ana^M^^^^L", "Müller^Ana^^^^^L").encode("latin-1"), BILLING)
    assert located(result) == [("", "MSH", "MSH-18")] and result.ack_code == "AR"
    unsupported = read_dft_message(replaced(VISIT, "UNICODE UTF-8", "ISO IR87").encode(), BILLING)
    assert located(unsupported) == [("", "MSH", "MSH-18")]


@pytest.mark.parametrize(("text", "expected"), [
    ("20240304", date(2024, 3, 4)), ("202403041530", date(2024, 3, 4)), ("20240304153000-0500", date(2024, 3, 4)),
    ("20240304235959.1234+1400", date(2024, 3, 4)), ("2024030423", date(2024, 3, 4)),
])
def test_dtm_dates(text: str, expected: date) -> None:
    assert dtm_day(text) == expected


@pytest.mark.parametrize(("text", "why"), [
    ("2024-03-04", "not an HL7 date"), ("202403", "not a full date"), ("20240231", "not a calendar date"),
    ("202403042500", "out of range"), ("20240304-2500", "out of range"), ("", "not an HL7 date"),
])
def test_bad_dtm_dates(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        dtm_day(text)


# ---- refused messages and located problems -------------------------------------------------------


def test_a_credit_is_refused_as_a_located_problem() -> None:
    text = replaced(VISIT, "FT1|2|CHG0002||20240304||CG|", "FT1|2|CHG0002||20240304||CD|")
    result = read_dft_message(text, BILLING)
    assert result.charges.claims == () and result.ack_code == "AE"
    assert located(result) == [("V10231", "FT1[2]", "FT1[2]-6")]
    assert "credit" in result.problems[0].message and result.charges.file_issues == ()


@pytest.mark.parametrize(("kind", "word"), [("PY", "payment"), ("AJ", "adjustment"), ("", "missing")])
def test_only_charges_are_billed(kind: str, word: str) -> None:
    result = read_dft_message(replaced(VISIT, "||CG|71046", f"||{kind}|71046"), BILLING)
    assert located(result) == [("V10231", "FT1[2]", "FT1[2]-6")] and word in result.problems[0].message


def test_a_message_that_is_not_a_dft_p03_is_refused() -> None:
    adt = replaced(VISIT, "DFT^P03^DFT_P03", "ADT^A04^ADT_A01")
    result = read_dft_message(adt, BILLING)
    assert result == DftResult("MSG00001", "EPIC", "VALLEYCLINIC", result.charges)
    assert result.charges.claims == () and result.ack_code == "AR"
    assert result.problems == (SourceIssue("", "MSH", "MSH-9", "message type 'ADT^A04' is not DFT^P03; this channel "
                                                               "takes only detail financial transactions"),)
    assert located(read_dft_message(replaced(VISIT, "DFT^P03^DFT_P03", "DFT^P11"), BILLING)) == [("", "MSH", "MSH-9")]


@pytest.mark.parametrize(("prefix", "expected"), [("PID|", ("", "PID", "PID")), ("FT1|", ("", "FT1", "FT1"))])
def test_a_message_without_a_patient_or_a_charge_is_refused(prefix: str, expected: tuple[str, str, str]) -> None:
    segments = [segment for segment in VISIT.split("\r") if not segment.startswith(prefix)]
    result = read_dft_message("\r".join(segments), BILLING)
    assert located(result) == [expected] and result.ack_code == "AR"


@pytest.mark.parametrize(("text", "location"), [
    (b"", ("", "MSH", "MSH")),
    (b"\x00\x01 not hl7 at all", ("", "MSH", "MSH")),
    (b"MSH", ("", "MSH", "MSH-1")),
    (b"MSH|^~|EPIC|X||||DFT^P03|1|P|2.5.1\rPID|1\r", ("", "MSH", "MSH-2")),
    (VISIT.replace("\rEVN|", "\revn|").encode(), ("", "segment 2", "")),
])
def test_an_unreadable_message_is_refused_as_a_whole(text: bytes, location: tuple[str, str, str]) -> None:
    result = read_dft_message(text, BILLING)
    assert located(result) == [location] and result.charges.claims == () and result.ack_code == "AR"


def test_a_bad_date_is_located_and_keeps_the_claim_out() -> None:
    result = read_dft_message(replaced(VISIT, "FT1|2|CHG0002||20240304|", "FT1|2|CHG0002||20240231|"), BILLING)
    assert result.charges.claims == () and located(result) == [("V10231", "FT1[2]", "FT1[2]-4")]
    assert result.problems[0].message == "FT1-4 '20240231' is not a calendar date"
    with pytest.raises(Hl7SyntaxError):
        split_message("PID|1")


def test_every_problem_of_the_message_is_reported_at_once() -> None:
    text = replaced(VISIT, "|165.00&USD|", "|165,00&USD|")
    text = replaced(text, "||19840719|F|||12 Oak", "||1984|F|||12 Oak")
    text = replaced(text, "|1||62.40&USD|", "|0||62.40&USD|")
    text = replaced(text, "26^Professional component^C4~59^Distinct procedural service^C4",
                    "26~59~76~77~GT")
    text = replaced(text, "|20240101|20241231|", "|20241231|20240101|")
    result = read_dft_message(text, BILLING)
    assert result.charges.claims == ()
    assert located(result) == [("V10231", "PID", "PID-7"), ("V10231", "IN1[1]", "IN1[1]-13"),
                               ("V10231", "FT1[1]", "FT1[1]-11"), ("V10231", "FT1[2]", "FT1[2]-10"),
                               ("V10231", "FT1[2]", "FT1[2]-26")]


@pytest.mark.parametrize(("old", "new", "field", "why"), [
    ("|165.00&USD|", "|-165.00&USD|", "FT1[1]-11", "negative"),
    ("|165.00&USD|", "|165.005&USD|", "FT1[1]-11", "fractions of a cent"),
    ("|165.00&USD|", "|165.00&CAD|", "FT1[1]-11", "not USD"),
    ("|1|165.00&USD|", "||&USD|", "FT1[1]-11", "required"),
    ("FT1|1|CHG0001||20240304150000|", "FT1|1|CHG0001|||", "FT1[1]-4", "required"),
    ("|J20.9^Acute bronchitis, unspecified^I10~", "|J20-9^Acute bronchitis^I10~", "FT1[1]-19", "ICD-10"),
    ("26^Professional component^C4~", "26-X^Professional component^C4~", "FT1[2]-26", "two letters or digits"),
    ("MD^^NPI&2.16.840.1.113883.4.6&ISO^L", "MD^^NPI^L", "PV1-7", None),
    ("1987654328^Chen^Wei^^^^MD^^NPI&", "198765432^Chen^Wei^^^^MD^^NPI&", "PV1-7", "10 digits"),
    ("|V10231|", "|V1023100000000000000000|", "PV1-19", "20 characters"),
])
def test_bad_values_are_located(old: str, new: str, field: str, why: str | None) -> None:
    result = read_dft_message(replaced(VISIT, old, new), BILLING)
    if why is None:  # a valid variation: the assigning authority alone says NPI
        assert result.problems == () and result.charges.claims[0].claim.providers == (CHEN,)
        return
    assert [issue.field for issue in result.problems] == [field] and result.charges.claims == ()
    assert why in result.problems[0].message


@pytest.mark.parametrize(("ft1_7", "ft1_25", "expected"), [
    ("99214^Office visit^C4", "99214^^C4", "99214"),
    ("OV30^Office visit^CDM", "99214^Office visit^CPT4", "99214"),  # the chargemaster code gives way to FT1-25
    ("99214^Office visit^HCPT", "", "99214"),
    ("99214^Office visit", "0W9G30Z^Drainage^I10P", "99214"),  # not CPT/HCPCS in FT1-25: FT1-7 is used
    ("g0008^Flu shot admin", "", "G0008"),
    ("OV30^Office visit^CDM", "", "FT1[1]-7"),
    ("OV30^Office visit^CDM", "0W9G30Z^Drainage^I10P", "FT1[1]-25"),
    ("", "", "FT1[1]-7"),
])
def test_the_procedure_code_is_cpt_or_hcpcs_from_ft1_25_else_ft1_7(ft1_7: str, ft1_25: str, expected: str) -> None:
    text = replaced(VISIT, "|99214^Office visit, established, 30-39 min^C4|", f"|{ft1_7}|")
    result = read_dft_message(replaced(text, "|||||99214^^C4|25^", f"|||||{ft1_25}|25^"), BILLING)
    if expected.startswith("FT1"):
        assert [issue.field for issue in result.problems] == [expected] and result.charges.claims == ()
        assert "CPT/HCPCS" in result.problems[0].message
    else:
        assert result.charges.claims[0].claim.service_lines[0].procedure == Procedure("HC", expected, ("25",))


def test_a_unit_amount_is_multiplied_by_the_quantity_and_rounded_to_the_cent() -> None:
    text = replaced(VISIT, "|1||62.40&USD|", "|3||20.805&USD|")
    (source,) = read_dft_message(text, BILLING).charges.claims
    line = source.claim.service_lines[1]
    assert (line.units, line.charge, source.claim.total_charge) == (Decimal("3"), Decimal("62.42"), Decimal("227.42"))


def test_a_date_range_in_ft1_4_is_the_service_period() -> None:
    text = replaced(VISIT, "FT1|2|CHG0002||20240304|", "FT1|2|CHG0002||20240304^20240306|")
    (source,) = read_dft_message(text, BILLING).charges.claims
    assert source.claim.service_lines[1].dates == (QualifiedDate("472", date(2024, 3, 4), date(2024, 3, 6)),)
    # HL7 2.3 sends a TS whose second component is a precision code, not a range end.
    text = replaced(VISIT, "FT1|2|CHG0002||20240304|", "FT1|2|CHG0002||20240304^D|")
    (source,) = read_dft_message(text, BILLING).charges.claims
    assert source.claim.service_lines[1].dates == (QualifiedDate("472", date(2024, 3, 4)),)


def test_hl7_null_reads_as_empty() -> None:
    (source,) = read_dft_message(replaced(VISIT, "|GRP7781|", '|""|'), BILLING).charges.claims
    assert source.claim.subscriber.group_number == ""
