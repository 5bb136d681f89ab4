"""The 837 readers: every public sample reads without an issue to exact figures, and malformed input
gives located issues while the claims around it are still read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from rcmflow.domain.claim import (
    ClaimBatch,
    Drug,
    ExtraSegment,
    HealthCareCode,
    LineAdjudication,
    Note,
    claim_charge_difference,
)
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import Adjustment, Procedure, QualifiedAmount, QualifiedDate
from rcmflow.formats.x12.issues import ERROR, WARNING
from rcmflow.formats.x12.parser import X12Document, parse
from rcmflow.formats.x12.segments import spec_for
from tests.formats.x12.builders import SAMPLES, insert, interchange, replace, sample_files

IMPL = "005010X222A2"
PROFESSIONAL = SAMPLES / "837_005010X222A2"
INSTITUTIONAL = SAMPLES / "837_005010X223A3"
needs_samples = pytest.mark.skipif(not PROFESSIONAL.is_dir(), reason="shared x12 samples are absent")

# Two claims of a small 837P. Wrapped by ``interchange`` (ST at 3), BODY[i] is at file position i + 4.
BODY = (
    "BHT*0019*00*B1*20240105*1200*CH",  # 0
    "NM1*41*2*VALLEY BILLING*****46*S123",
    "PER*IC*ANA*TE*5551234567",
    "NM1*40*2*ACME HEALTH PLAN*****46*R456",
    "HL*1**20*1",  # 4
    "PRV*BI*PXC*207Q00000X",
    "NM1*85*2*VALLEY CLINIC*****XX*1234567893",
    "N3*1 MAIN ST",
    "N4*HARTFORD*CT*06101",
    "REF*EI*123456789",
    "HL*2*1*22*0",  # 10
    "SBR*P*18*GRP1******CI",
    "NM1*IL*1*DOE*JANE****MI*M1",
    "DMG*D8*19800101*F",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*P1",
    "CLM*PCN1*150***11:B:1*Y*A*Y*Y",  # 15
    "DTP*431*D8*20240101",
    "HI*ABK:J209*ABF:R05",
    "LX*1",  # 18
    "SV1*HC:99213:25*100*UN*1***1:2",
    "DTP*472*D8*20240102",  # 20
    "REF*6R*L1",
    "LX*2",  # 22
    "SV1*HC:87880*50*UN*1***1",
    "DTP*472*D8*20240102",
    "CLM*PCN2*75***11:B:1*Y*A*Y*Y",  # 25
    "HI*ABK:R51",
    "LX*1",
    "SV1*HC:99212*75*UN*1***1",
    "DTP*472*D8*20240103",  # 29
)


def at(offset: int) -> int:
    """File position of BODY[offset] once wrapped (ISA 1, GS 2, ST 3)."""
    return offset + 4


def read(*segments: str, strict: bool = False, **envelope: object) -> tuple[ClaimBatch | None, X12Document]:
    document = parse(interchange(*segments, st01="837", implementation=IMPL, **envelope), strict=strict)  # type: ignore[arg-type]
    assert len(document.transactions) == 1
    transaction = document.transactions[0]
    assert transaction.type == "837P"
    return transaction.content, document


def issues(document: X12Document) -> list[tuple[int, str | None, int | None, str, str]]:
    return [(i.segment_index, i.segment_id, i.element, i.code, i.severity) for i in document.issues]


# ---- the public samples --------------------------------------------------------------------------

# file: (type, claims, service lines, total charge, billing provider NPI)
FIGURES = {
    "demo.ambulance.example5.837": ("837P", 1, 4, "766.50", "2366554859"),
    "demo.autoaccident.837": ("837P", 1, 2, "185.00", "1253695747"),
    "demo.cob.2ndary.example4.837": ("837P", 1, 1, "145.50", "1234567890"),
    "demo.cob.example3.A.837": ("837P", 1, 3, "79.04", "1999996666"),
    "demo.cob.example3.B.837": ("837P", 1, 3, "79.04", "1999996666"),
    "demo.cob.example3.C.837": ("837P", 1, 3, "79.04", "1999996666"),
    "demo.cob.example4.837": ("837P", 1, 1, "120.00", "0100000009"),
    "demo.drug.example10.1.837": ("837P", 1, 2, "103.37", "1234567893"),
    "demo.drug.example10.2.837": ("837P", 1, 6, "2232.93", "1234567893"),
    "demo.drug.example10.3.837": ("837P", 1, 6, "2232.93", "1234567893"),
    "demo.example1.837": ("837P", 1, 4, "100.00", "1912301953"),
    "demo.example11.837": ("837P", 1, 2, "28.75", "1234567890"),
    "demo.example12.837": ("837P", 1, 1, "252.71", "1122334455"),
    "demo.example2.837": ("837P", 1, 4, "100.00", "9876543210"),
    "demo.example6.837": ("837P", 1, 1, "145.50", "1234567890"),
    "demo.example7.837": ("837P", 1, 2, "520.24", "9992233334"),
    "demo.example8.837": ("837P", 1, 1, "75.00", "7778889999"),
    "demo.example9.837": ("837P", 1, 1, "827.00", "2366554859"),
    "institutional-claim.837i": ("837I", 1, 2, "89.93", "9876540809"),
    "out-of-network-repriced-claim.837i": ("837I", 1, 1, "14.84", "1122334455"),
    "ppo-repriced-claim.837i": ("837I", 1, 2, "237.50", "1257234346"),
    "two-claims-single-provider.837i": ("837I", 2, 3, "139.95", "1234567890"),
}
# Samples that declare ":" in ISA16 but write composites with ">".
OTHER_SEPARATOR = {
    "demo.cob.2ndary.example4.837": 21, "demo.example11.837": 21, "demo.example12.837": 26,
    "demo.example6.837": 21, "demo.example9.837": 20, "out-of-network-repriced-claim.837i": 20,
    "ppo-repriced-claim.837i": 26,
}
SAMPLE_FILES = sample_files("837_005010X222A2") + sample_files("837_005010X223A3")


def separator_warning(name: str) -> list:
    """The one issue of the samples that write ">" where ISA16 declares ":": a located warning."""
    return [(OTHER_SEPARATOR[name], "CLM", 5, "bad_code", WARNING)] if name in OTHER_SEPARATOR else []


def sample(name: str) -> ClaimBatch:
    folder = INSTITUTIONAL if name.endswith(".837i") else PROFESSIONAL
    document = parse(folder / name)
    assert issues(document) == separator_warning(name)
    (batch,) = document.of_type("837I" if name.endswith(".837i") else "837P")
    return batch


@needs_samples
def test_every_sample_is_covered() -> None:
    assert sorted(path.name for path in SAMPLE_FILES) == sorted(FIGURES)


@needs_samples
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_reads_without_any_issue_to_exact_figures(path: Path) -> None:
    tx_type, claims, lines, total, npi = FIGURES[path.name]
    document = parse(path)
    assert issues(document) == separator_warning(path.name)
    (transaction,) = document.transactions
    assert transaction.type == tx_type
    batch = transaction.content
    assert len(batch.claims) == claims
    assert batch.service_line_count == lines
    assert batch.total_charge == Decimal(total)
    assert {claim.billing_provider.id for claim in batch.claims} == {npi}
    assert all(claim_charge_difference(claim) == 0 for claim in batch.claims)


@needs_samples
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_is_clean_in_strict_mode_except_a_mismatched_component_separator(path: Path) -> None:
    document = parse(path, strict=True)
    expected = []
    if path.name in OTHER_SEPARATOR:
        expected = [(OTHER_SEPARATOR[path.name], "CLM", 5, "bad_code", ERROR)]
    assert issues(document) == expected


@needs_samples
def test_ambulance_claim_keeps_certifications_and_places() -> None:
    claim = sample("demo.ambulance.example5.837").claims[0]
    assert claim.billing_provider.taxonomy == "3416L0300X"
    assert claim.billing_provider.reference("EI") == "376985369"
    assert claim.extra_segments == (
        ExtraSegment("CR1", ("LB", "275.00", "", "A", "DH", "21.00", "", "", "", "PATIENT IMOBILIZED")),
        ExtraSegment("CRC", ("07", "Y", "04", "06", "09")),
        ExtraSegment("CRC", ("07", "N", "05", "07", "08")),
    )
    assert claim.dates == (QualifiedDate("439", date(2005, 2, 8)),)
    assert [code.code for code in claim.diagnoses] == ["8628", "E8888", "9592", "8540"]
    assert claim.principal_diagnosis == HealthCareCode("BK", "8628")
    assert claim.providers == (
        Party("PW", entity_type="2", address=Address("1129 REINDEER ROAD", "", "CARR", "CO", "80612")),
        Party("45", entity_type="2", address=Address("10005 BANNOCK ST", "", "CHEYENNE", "WY", "82009")),
    )
    first = claim.service_lines[0]
    assert first.procedure == Procedure("HC", "A0427", ("RH",))
    assert (first.charge, first.unit_basis, first.units) == (Decimal("700.00"), "UN", Decimal("1.00"))
    assert first.diagnosis_pointers == ("1", "2", "3", "4")
    assert first.emergency == "Y"
    assert first.quantities == (QualifiedAmount("PT", Decimal("2.00")),)
    assert first.line_item_control_number == "1001"
    assert first.notes == (Note("ADD", "CARDIAC EMERGENCY"),)
    assert [line.line_item_control_number for line in claim.service_lines] == ["1001", "1002", "1003", "1004"]
    assert claim.subscriber.payer_responsibility == "P"
    assert claim.subscriber.filing_indicator == "MB"
    assert claim.subscriber.party.birth_date == date(1963, 7, 29)
    assert claim.patient is None


@needs_samples
def test_auto_accident_claim_has_patient_level_and_related_causes() -> None:
    batch = sample("demo.autoaccident.837")
    assert (batch.purpose, batch.reference, batch.created, batch.created_time, batch.transaction_type) == (
        "00", "0125", date(2005, 11, 11), "1524", "CH")
    assert batch.submitter.contacts == (Contact("IC", "JANICE HENDRIX", (("TE", "2125557987"),)),)
    claim = batch.claims[0]
    assert (claim.related_causes, claim.accident_state, claim.accident_country) == (("AA",), "CA", "")
    assert (claim.facility_code, claim.facility_qualifier, claim.frequency) == ("11", "B", "1")
    assert claim.patient is not None
    assert claim.patient.relationship == "21"
    assert claim.patient.party.name == "DIMPSON"
    assert claim.patient.party.references == (Reference("Y4", "32323232"),)
    assert claim.patient.party.contacts == (Contact("IC", "DJ DIMPSON", (("TE", "8157665902"),)),)
    assert [item.qualifier for item in claim.dates] == ["439", "444"]
    rendering = claim.provider("82")
    assert rendering is not None and (rendering.id, rendering.taxonomy) == ("2366552595", "208D00000X")
    facility = claim.provider("77")
    assert facility is not None and facility.contacts == (Contact("IC", "KAREN SPARKLE", (("TE", "3425557987"),)),)


@needs_samples
def test_secondary_claim_carries_the_primary_payers_adjudication() -> None:
    claim = sample("demo.cob.example3.B.837").claims[0]
    assert claim.subscriber.payer_responsibility == "S"
    (other,) = claim.other_payers
    assert (other.subscriber.payer_responsibility, other.subscriber.relationship,
            other.subscriber.filing_indicator) == ("P", "01", "12")
    assert other.adjustments == (Adjustment("PR", "1", Decimal("21.89")), Adjustment("PR", "2", Decimal("15.00")))
    assert other.paid == Decimal("39.15")
    assert other.amount("EAF") == Decimal("36.89")
    assert (other.benefits_assignment, other.patient_signature_source, other.release_of_information) == (
        "Y", "P", "Y")
    assert other.subscriber.party.id == "JS00111223333"
    assert other.payer.id == "999996666"
    assert claim.service_lines[0].adjudications == (LineAdjudication(
        "999996666", Decimal("40.00"), Procedure("HC", "99213"), units=Decimal("1.00"),
        adjustments=(Adjustment("CO", "42", Decimal("3.00")),), dates=(QualifiedDate("573", date(2005, 10, 15)),)),)
    # Example C adds the other payer's rendering provider id (2330D).
    other_c = sample("demo.cob.example3.C.837").claims[0].other_payers[0]
    assert other_c.providers == (Party("82", entity_type="1", references=(Reference("G2", "PBS3334"),)),)


@needs_samples
def test_medicare_secondary_claim() -> None:
    claim = sample("demo.cob.example4.837").claims[0]
    assert (claim.subscriber.payer_responsibility, claim.subscriber.group_name, claim.subscriber.insurance_type) == (
        "S", "MEDICARE", "12")
    referring = claim.provider("DN")
    assert referring is not None and referring.references == (Reference("1G", "B01010"),)
    line = claim.service_lines[0]
    assert line.procedure == Procedure("HC", "99203", ("25",))
    (adjudication,) = line.adjudications
    assert adjudication.adjustments == (Adjustment("CO", "42", Decimal("25.00")),
                                        Adjustment("PR", "2", Decimal("15.00")))
    assert adjudication.adjudication_date == date(2005, 1, 28)
    assert claim.other_payers[0].amounts == (QualifiedAmount("D", Decimal("80.00")),
                                             QualifiedAmount("F2", Decimal("15.00")))


@needs_samples
def test_drug_lines() -> None:
    line = sample("demo.drug.example10.1.837").claims[0].service_lines[1]
    assert line.drug == Drug("N4", "00026063512", Decimal("10.00"), "ML")
    assert line.amounts == (QualifiedAmount("T", Decimal("3.37")),)
    assert line.place_of_service == "11"
    home = sample("demo.drug.example10.2.837").claims[0].service_lines[1]
    assert home.dates == (QualifiedDate("472", date(2004, 2, 1), date(2004, 2, 7)),
                          QualifiedDate("471", date(2004, 1, 30)))
    assert home.drug == Drug("N4", "00004196501", Decimal("7.00"), "UN", (Reference("XZ", "2530001"),))
    assert [party.role for party in home.providers] == ["DK"]
    described = sample("demo.drug.example10.3.837").claims[0].service_lines[3]
    assert described.procedure == Procedure("HC", "J3490", (), "Sod Chl 0.9%see NDC#")


@needs_samples
def test_durable_medical_equipment_forms_stay_in_order() -> None:
    line = sample("demo.example7.837").claims[0].service_lines[0]
    ids = [segment.id for segment in line.extra_segments]
    assert ids == ["PWK", "CR3", "LQ"] + ["FRM"] * 9
    assert line.extra_segments[3] == ExtraSegment("FRM", ("1A", "", "056"))
    assert [item.qualifier for item in line.dates] == ["472", "607", "463", "461"]
    (ordering,) = line.providers
    assert ordering.address == Address("1212 NORTH MERIDIAN", "", "RICHMOND", "IN", "46223")
    assert ordering.contacts == (Contact("IC", "LEE", (("TE", "5554446666"),)),)
    wheelchair = sample("demo.example8.837").claims[0]
    assert (wheelchair.subscriber.weight_unit, wheelchair.subscriber.weight) == ("01", Decimal("155.00"))
    assert wheelchair.service_lines[0].procedure == Procedure("HC", "K0001", ("RR", "KH", "BR"))
    assert wheelchair.billing_provider.references == (Reference("EI", "123567989"), Reference("1G", "0426960001"))


@needs_samples
def test_component_separator_other_than_declared_is_followed() -> None:
    claim = sample("demo.example9.837").claims[0]
    assert (claim.facility_code, claim.facility_qualifier, claim.frequency) == ("22", "B", "1")
    line = claim.service_lines[0]
    assert line.procedure == Procedure("HC", "00142", ("QK", "QS", "P1"))
    assert (line.unit_basis, line.units) == ("MJ", Decimal("61.00"))
    repriced = sample("demo.example11.837").claims[0]
    assert repriced.extra_segments == (ExtraSegment("HCP", ("03", "26.75", "2.00", "908231234")),)
    assert repriced.service_lines[0].procedure == Procedure("HC", "E0570", ("RR",))


@needs_samples
def test_institutional_claim() -> None:
    claim = sample("institutional-claim.837i").claims[0]
    assert claim.claim_type == "I"
    assert (claim.facility_code, claim.facility_qualifier, claim.frequency) == ("14", "A", "1")
    assert (claim.admission_type, claim.admission_source, claim.patient_status) == ("3", "", "01")
    assert claim.health_care_codes == (
        HealthCareCode("BK", "3669"), HealthCareCode("BF", "4019"), HealthCareCode("BF", "79431"),
        HealthCareCode("BH", "A1", "D8", date(1926, 11, 11)), HealthCareCode("BH", "A2", "D8", date(1991, 11, 1)),
        HealthCareCode("BH", "B1", "D8", date(1926, 11, 11)), HealthCareCode("BH", "B2", "D8", date(1987, 1, 1)),
        HealthCareCode("BE", "A2", amount=Decimal("15.31")), HealthCareCode("BG", "09"),
    )
    assert claim.diagnoses == claim.health_care_codes[:3]
    attending = claim.provider("71")
    assert attending is not None and attending.references == (Reference("1G", "B99937"),)
    line = claim.service_lines[1]
    assert (line.revenue_code, line.procedure, line.charge, line.units) == (
        "0730", Procedure("HC", "93005"), Decimal("76.54"), Decimal("3.00"))
    assert claim.payer.references == (Reference("G2", "330127"),)
    assert claim.other_payers[0].subscriber.group_name == "STATE TEACHERS"


@needs_samples
def test_institutional_admission_date_and_time() -> None:
    claim = sample("out-of-network-repriced-claim.837i").claims[0]
    assert claim.dates == (QualifiedDate("434", date(2005, 6, 17), date(2005, 6, 17)),
                           QualifiedDate("435", date(2005, 6, 17), None, "0800"))
    assert claim.amount("F3") == Decimal("14.84")
    assert claim.reference("D9") == "32423466233"
    ppo = sample("ppo-repriced-claim.837i").claims[0]
    assert ppo.patient is not None and (ppo.patient.relationship, ppo.patient.party.first_name) == ("19", "JOY")
    assert ppo.other_payers[0].subscriber.group_number == "T&T PLUMBING COMPANY"
    assert ppo.service_lines[0].extra_segments == (ExtraSegment("HCP", ("03", "137.06", "40.94")),)


@needs_samples
def test_two_claims_under_one_billing_provider() -> None:
    first, second = sample("two-claims-single-provider.837i").claims
    assert first.billing_provider == second.billing_provider
    assert first.billing_provider.taxonomy == "282N00000X"
    assert (first.subscriber.party.name, second.subscriber.party.name) == ("DOE", "SMITH")
    assert (first.total_charge, second.total_charge) == (Decimal("89.95"), Decimal("50.00"))
    assert second.provider("71").taxonomy == "363LP0200N"  # type: ignore[union-attr]


# ---- hand-written inputs --------------------------------------------------------------------------


def test_small_claim_reads_cleanly() -> None:
    batch, document = read(*BODY)
    assert issues(document) == []
    assert batch is not None
    first, second = batch.claims
    assert first.patient_control_number == "PCN1"
    assert first.billing_provider.taxonomy == "207Q00000X"
    assert [line.line_item_control_number for line in first.service_lines] == ["L1", ""]
    assert second.total_charge == Decimal("75")
    assert second.subscriber == first.subscriber


def test_declared_component_separator_other_than_colon() -> None:
    batch, document = read(*BODY, component=">", strict=True)
    assert issues(document) == []
    assert batch is not None
    assert batch.claims[0].service_lines[0].procedure == Procedure("HC", "99213", ("25",))


def test_bad_claim_amount_is_located_and_skips_only_that_claim() -> None:
    batch, document = read(*replace(BODY, 15, "CLM*PCN1*15O***11:B:1*Y*A*Y*Y"))
    assert issues(document) == [(at(15), "CLM", 2, "bad_number", ERROR)]
    assert document.issues[0].value == "15O"
    assert batch is not None
    assert [claim.patient_control_number for claim in batch.claims] == ["PCN2"]


def test_missing_patient_control_number() -> None:
    batch, document = read(*replace(BODY, 15, "CLM**150***11:B:1*Y*A*Y*Y"))
    assert issues(document) == [(at(15), "CLM", 1, "missing_element", ERROR)]
    assert batch is not None and len(batch.claims) == 1


def test_bad_service_date_is_located_and_the_line_kept() -> None:
    batch, document = read(*replace(BODY, 20, "DTP*472*D8*20240230"))
    assert issues(document) == [(at(20), "DTP", 3, "bad_date", ERROR)]
    assert batch is not None
    line = batch.claims[0].service_lines[0]
    assert line.dates == ()
    assert line.line_item_control_number == "L1"


def test_bad_date_format_and_range() -> None:
    _, document = read(*replace(BODY, 16, "DTP*431*D6*240101"))
    assert issues(document) == [(at(16), "DTP", 2, "bad_code", ERROR)]
    _, document = read(*replace(BODY, 20, "DTP*472*RD8*20240102"))
    assert issues(document) == [(at(20), "DTP", 3, "bad_date", ERROR)]
    batch, document = read(*replace(BODY, 20, "DTP*472*RD8*20240102-20240104"))
    assert issues(document) == []
    assert batch.claims[0].service_lines[0].dates == (  # type: ignore[union-attr]
        QualifiedDate("472", date(2024, 1, 2), date(2024, 1, 4)),)


def test_bad_health_care_code_date() -> None:
    _, document = read(*replace(BODY, 17, "HI*ABK:J209*BH:A1:D8:20241340"))
    assert issues(document) == [(at(17), "HI", 2, "bad_date", ERROR)]


@pytest.mark.parametrize(("strict", "severity"), [(False, WARNING), (True, ERROR)])
def test_institutional_code_in_a_professional_claim_is_flagged_but_kept(strict: bool, severity: str) -> None:
    batch, document = read(*replace(BODY, 17, "HI*ABK:J209*BH:A1:D8:20240101"), strict=strict)
    assert issues(document) == [(at(17), "HI", 2, "bad_code", severity)]
    assert batch is not None
    assert batch.claims[0].health_care_codes[1] == HealthCareCode("BH", "A1", "D8", date(2024, 1, 1))


@pytest.mark.parametrize(("strict", "severity"), [(False, WARNING), (True, ERROR)])
def test_unknown_segment_is_a_warning_unless_strict(strict: bool, severity: str) -> None:
    batch, document = read(*insert(BODY, 21, "ZZZ*1"), strict=strict)
    assert issues(document) == [(at(21), "ZZZ", None, "unknown_segment", severity)]
    assert batch is not None and batch.service_line_count == 3


def test_professional_reader_refuses_an_institutional_service_line() -> None:
    batch, document = read(*replace(BODY, 23, "SV2*0300*HC:87880*50*UN*1"))
    assert issues(document) == [(at(22), "SV1", None, "missing_segment", ERROR),
                                (at(23), "SV2", None, "unexpected_segment", WARNING)]
    assert batch is not None
    assert [line.line_number for line in batch.claims[0].service_lines] == [1]


def test_claim_without_service_line() -> None:
    batch, document = read(*BODY[:27])
    assert issues(document) == [(at(25), "LX", None, "missing_segment", ERROR)]
    assert "PCN2" in document.issues[0].message
    assert batch is not None
    assert batch.claims[1].service_lines == ()


def test_bad_line_number_skips_that_line_only() -> None:
    batch, document = read(*replace(BODY, 18, "LX*A"))
    assert issues(document) == [(at(18), "LX", 1, "bad_number", ERROR)]
    assert batch is not None
    assert [line.line_number for line in batch.claims[0].service_lines] == [2]


def test_bad_line_charge_drops_the_line() -> None:
    batch, document = read(*replace(BODY, 23, "SV1*HC:87880*5O*UN*1***1"))
    assert issues(document) == [(at(23), "SV1", 2, "bad_number", ERROR)]
    assert batch is not None
    assert len(batch.claims[0].service_lines) == 1


def test_wrong_hierarchical_parent_falls_back_to_the_latest_level() -> None:
    batch, document = read(*replace(BODY, 10, "HL*2*9*22*0"))
    assert issues(document) == [(at(10), "HL", 2, "bad_code", ERROR)]
    assert batch is not None and len(batch.claims) == 2


def test_unknown_hierarchical_level_skips_what_it_holds() -> None:
    batch, document = read(*replace(BODY, 10, "HL*2*1*99*0"))
    assert issues(document) == [(at(10), "HL", 3, "bad_code", ERROR),
                                (at(15), "CLM", None, "unexpected_segment", WARNING),
                                (at(25), "CLM", None, "unexpected_segment", WARNING)]
    assert batch is not None and batch.claims == ()


def test_missing_subscriber_segments_are_reported() -> None:
    body = replace(replace(BODY, 14, ""), 11, "")
    batch, document = read(*body)
    assert issues(document) == [(at(10), "SBR", None, "missing_segment", ERROR),
                                (at(10), "NM1", None, "missing_segment", ERROR)]
    assert batch is not None
    assert batch.claims[0].payer == Party("PR")


def test_other_payer_loop_needs_its_insured_payer_and_oi() -> None:
    batch, document = read(*insert(BODY, 18, "SBR*S*01*******CI", "AMT*D*40"))
    assert issues(document) == [(at(18), "OI", None, "missing_segment", ERROR),
                                (at(18), "NM1", None, "missing_segment", ERROR)]
    assert batch is not None
    (other,) = batch.claims[0].other_payers
    assert other.paid == Decimal("40")
    complete = insert(BODY, 18, "SBR*S*01*******CI", "AMT*D*40", "OI***Y***Y", "NM1*IL*1*DOE*JOHN****MI*M2",
                      "NM1*PR*2*OTHER PLAN*****PI*P9", "DTP*573*D8*20240110", "REF*F8*ORIG")
    batch, document = read(*complete)
    assert issues(document) == []
    other = batch.claims[0].other_payers[0]  # type: ignore[union-attr]
    assert (other.payer.id, other.adjudication_date, other.payer.reference("F8")) == ("P9", date(2024, 1, 10),
                                                                                     "ORIG")


def test_refused_entity_is_skipped_with_its_address() -> None:
    batch, document = read(*insert(BODY, 14, "NM1*QC*1*KID*TOM", "N3*2 ELM ST", "N4*HARTFORD*CT*06101"))
    assert issues(document) == [(at(14), "NM1", None, "unexpected_segment", WARNING)]
    assert batch is not None
    assert batch.claims[0].payer.id == "P1"
    assert batch.claims[0].subscriber.party.address is None


def test_patient_level_and_claim_outside_a_subscriber_level() -> None:
    body = insert(replace(BODY, 10, "HL*2*1*22*1"), 15, "HL*3*2*23*0", "PAT*19", "NM1*QC*1*DOE*TOM",
                  "DMG*D8*20100101*M")
    batch, document = read(*body)
    assert issues(document) == []
    assert batch is not None
    patient = batch.claims[0].patient
    assert patient is not None and (patient.relationship, patient.party.birth_date) == ("19", date(2010, 1, 1))
    assert batch.claims[1].patient == patient
    _, document = read(*insert(BODY, 10, "CLM*PCN0*1***11:B:1*Y*A*Y*Y"))
    assert issues(document)[0] == (at(10), "CLM", None, "unexpected_segment", WARNING)


def test_truncated_file_reports_truncated_and_keeps_claims_read() -> None:
    data = interchange("ST*837*0001*" + IMPL, *BODY[:24], st01="837", implementation=IMPL, trailers=False)
    document = parse(data)
    assert "truncated" in [issue.code for issue in document.issues]
    (transaction,) = document.transactions
    assert not transaction.complete
    batch = transaction.content
    assert [claim.patient_control_number for claim in batch.claims] == ["PCN1"]
    assert batch.service_line_count == 2


def test_segment_tables_are_registered_for_both_claim_types() -> None:
    clm = spec_for("CLM", "837P")
    assert clm is not None and clm.required_positions == (1, 2, 5, 8, 9)
    assert spec_for("SV1", "837P") is not None and spec_for("SV1", "837I") is None
    assert spec_for("SV2", "837I") is not None and spec_for("CL1", "837I") is not None
    for seg_id in ("SBR", "PAT", "HI", "LX", "PWK", "CN1", "K3", "CRC", "HCP", "OI", "MOA", "SVD", "CAS", "LIN",
                   "CTP", "CUR"):
        assert spec_for(seg_id, "837P") is not None and spec_for(seg_id, "837I") is not None, seg_id
