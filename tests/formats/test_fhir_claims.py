"""FHIR R4 Bundle charge reading: Claim and Encounter+ChargeItem bundles mapped to canonical 837 claims, located
issues for what cannot be read, and an 837 round trip of everything built."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rcmflow.domain.charges import ChargeFile, CoverageFact, SourceClaim, SourceIssue
from rcmflow.domain.claim import Claim, ClaimBatch, HealthCareCode, Patient, unique_line_control_numbers
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.fhir_claims import read_fhir_bundle
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts837_write import write_837_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as InterchangeParty

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
GOOD_FIXTURES = ["professional_visit.json", "child_dependent.json", "replacement_and_void.json",
                 "institutional_outpatient.json", "encounter_charges.json", "invalid_item_date.json"]


def read(name: str) -> ChargeFile:
    return read_fhir_bundle((FIXTURES / name).read_bytes(), filename=name)


def bundle(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def read_changed(name: str, change: Callable[[dict[str, Any]], object]) -> ChargeFile:
    """Read a fixture after ``change`` edited its JSON (resources addressed by entry index)."""
    document = bundle(name)
    change(document)
    return read_fhir_bundle(json.dumps(document).encode(), filename=name)


def resource(document: dict[str, Any], index: int) -> dict[str, Any]:
    return document["entry"][index]["resource"]


def only_claim(result: ChargeFile) -> SourceClaim:
    assert result.issues == ()
    (claim,) = result.claims
    return claim


def only_issue(result: ChargeFile) -> SourceIssue:
    (issue,) = result.issues
    return issue


def lines(claim: Claim) -> list[tuple]:
    """What billing needs of each line: procedure, revenue code, charge, units, pointers, dates, REF*6R."""
    return [(line.procedure, line.revenue_code, line.charge, line.units, line.diagnosis_pointers, line.dates,
             line.line_item_control_number) for line in claim.service_lines]


def reread(claims: list[Claim]) -> list[Claim]:
    """Write the claims as 837s (one batch per claim type) and read them back strictly, free of issues."""
    batches = [ClaimBatch("0001", kind, "", "00", "FHIR1", date(2024, 7, 1), "1200", "CH",
                          Party("41", "VALLEY BILLING", entity_type="2", id_qualifier="46", id="S1"),
                          Party("40", "CLEARINGHOUSE", entity_type="2", id_qualifier="46", id="R1"),
                          tuple(claim for claim in claims if claim.claim_type == kind))
               for kind in ("P", "I") if any(claim.claim_type == kind for claim in claims)]
    text = write_837_interchange(batches, InterchangeParty("CLINIC"), InterchangeParty("CLEARINGHOUSE"),
                                 CountingControlNumbers(), created=datetime(2024, 7, 1, 12, 0))
    document = parse(text.encode(), strict=True)
    assert [str(issue) for issue in document.issues] == []
    return [claim for transaction in document.transactions for claim in transaction.content.claims]


# ---- Claim bundles -------------------------------------------------------------------------------


def test_professional_visit() -> None:
    source = only_claim(read("professional_visit.json"))
    claim = source.claim
    assert (source.source_id, source.location, source.created) == ("clm-1001", "entry 0 (Claim/clm-1001)",
                                                                   date(2024, 3, 12))
    assert source.coverage == CoverageFact("60054", "W123456789", True, date(2024, 1, 1), date(2024, 12, 31))
    assert (claim.claim_type, claim.patient_control_number, claim.total_charge) == ("P", "VC24031201",
                                                                                  Decimal("227.50"))
    assert (claim.facility_code, claim.facility_qualifier, claim.frequency) == ("11", "B", "1")
    assert (claim.provider_signature, claim.assignment, claim.benefits_assignment,
            claim.release_of_information) == ("Y", "A", "Y", "Y")
    assert claim.billing_provider == Party(
        "85", "Valley Family Clinic", entity_type="2", id_qualifier="XX", id="1234567893",
        address=Address("100 Main Street", "", "Hartford", "CT", "061031234"),
        references=(Reference("EI", "061234567"),), taxonomy="261QP2300X")
    assert claim.payer == Party("PR", "Aetna", entity_type="2", id_qualifier="PI", id="60054")
    # Self: the subscriber carries the patient (official name), no patient level.
    subscriber = claim.subscriber
    assert (subscriber.payer_responsibility, subscriber.relationship, subscriber.group_number,
            subscriber.filing_indicator) == ("P", "18", "GRP-7741", "CI")
    assert subscriber.party == Party("IL", "Garcia", "Maria", "Elena", entity_type="1", id_qualifier="MI",
                                     id="W123456789", address=Address("42 Elm Street", "Apt 3", "Hartford", "CT",
                                                                      "061052210"),
                                     birth_date=date(1979, 6, 14), gender="F")
    assert claim.patient is None
    # The diagnosis typed principal comes first though listed second; pointers follow.
    assert claim.health_care_codes == (HealthCareCode("ABK", "J209"), HealthCareCode("ABF", "R059"))
    assert claim.providers == (Party("82", "Okafor", "Chinedu", "A", entity_type="1", id_qualifier="XX",
                                     id="1987654328", taxonomy="207Q00000X"),)
    assert claim.references == (Reference("G1", "PA-88812"), Reference("EA", "MRN0042187"))
    on_visit = (QualifiedDate("472", date(2024, 3, 11)),)
    assert lines(claim) == [
        (Procedure("HC", "99214", ("25",)), "", Decimal("185.00"), Decimal("1"), ("1", "2"), on_visit,
         "VC24031201-1"),
        (Procedure("HC", "87804", ("QW", "59")), "", Decimal("42.50"), Decimal("2"), ("1",), on_visit,
         "VC24031201-2"),
    ]
    # The line's place of service equals the claim's, so SV105 is left empty.
    assert [line.place_of_service for line in claim.service_lines] == ["", ""]
    # Amounts keep the JSON text's exactness (never read through float): 227.50, not 227.5.
    assert [str(claim.total_charge), str(claim.service_lines[1].charge)] == ["227.50", "42.50"]


def test_child_patient_with_parent_subscriber_in_a_transaction_bundle() -> None:
    source = only_claim(read("child_dependent.json"))
    claim = source.claim
    # No Claim.id: the fullUrl names it; references are urn:uuid fullUrls.
    assert source.source_id == "urn:uuid:5b0c7f8e-0d1a-4c57-9a53-6d2f0f1b0a01"
    assert claim.patient_control_number == "PED-3391"
    assert claim.subscriber.relationship == ""  # SBR02 is only sent (18) when the patient is the subscriber
    assert claim.subscriber.filing_indicator == "BL"
    assert claim.subscriber.party == Party(
        "IL", "Nguyen", "Thao", entity_type="1", id_qualifier="MI", id="XQB882113401",
        address=Address("9 Birch Lane", "", "Springfield", "MA", "01103"), birth_date=date(1986, 2, 21), gender="F")
    assert claim.patient == Patient("19", Party("QC", "Nguyen", "Liam", entity_type="1",
                                                address=Address("9 Birch Lane", "", "Springfield", "MA", "01103"),
                                                birth_date=date(2016, 9, 3), gender="M"))
    assert claim.payer.id == "00700" and source.coverage == CoverageFact("00700", "XQB882113401", True)
    # A practitioner bills; as the care team's only member, no separate rendering provider is sent.
    assert (claim.billing_provider.entity_type, claim.billing_provider.id, claim.billing_provider.taxonomy) == (
        "1", "1547382915", "208000000X")
    assert claim.providers == ()
    assert claim.health_care_codes == (HealthCareCode("ABK", "H6691"),)
    # A servicedPeriod within one day is a single date of service.
    assert lines(claim) == [(Procedure("HC", "99213"), "", Decimal("120"), Decimal("1"), ("1",),
                             (QualifiedDate("472", date(2024, 4, 1)),), "PED-3391-1")]


def test_replacement_and_void_name_the_payer_claim() -> None:
    replacement, void = read("replacement_and_void.json").claims
    assert (replacement.claim.frequency, replacement.claim.payer_claim_control_number) == ("7", "24040E00871")
    assert (void.claim.frequency, void.claim.payer_claim_control_number) == ("8", "24046E01230")
    # Source of Payment Typology 1xx is Medicare: Part B on a professional claim.
    assert replacement.claim.subscriber.filing_indicator == "MB"
    assert replacement.claim.service_lines[0].procedure == Procedure("HC", "97110", ("GP",))
    assert replacement.claim.service_lines[0].units == Decimal("3")


def test_institutional_outpatient_claim() -> None:
    source = only_claim(read("institutional_outpatient.json"))
    claim = source.claim
    assert (claim.claim_type, claim.patient_control_number, claim.total_charge) == ("I", "HA0077120",
                                                                                  Decimal("1759.20"))
    # Type of bill 0131: hospital outpatient (13), admit through discharge (1).
    assert (claim.facility_code, claim.facility_qualifier, claim.frequency) == ("13", "A", "1")
    assert claim.dates == (QualifiedDate("434", date(2024, 5, 6), date(2024, 5, 7)),
                           QualifiedDate("435", date(2024, 5, 6), None, "2240"))
    assert (claim.admission_type, claim.admission_source, claim.patient_status) == ("1", "7", "01")
    assert claim.health_care_codes == (HealthCareCode("ABK", "S52501A", present_on_admission="Y"),
                                       HealthCareCode("ABF", "W01XXXA"))
    assert claim.providers == (Party("71", "Lindqvist", "Erik", entity_type="1", id_qualifier="XX",
                                     id="1324567894", taxonomy="207P00000X"),)
    assert claim.subscriber.filing_indicator == "MA"  # Medicare Part A on an institutional claim
    assert claim.billing_provider.reference("EI") == "391122334"
    assert source.coverage == CoverageFact("06001", "7KT2WX4PN18", True, date(2016, 3, 1))  # partial start date
    assert lines(claim) == [
        (Procedure("HC", "99284", ("25",)), "0450", Decimal("1240.00"), Decimal("1"), (),
         (QualifiedDate("472", date(2024, 5, 6)),), "HA0077120-1"),
        (Procedure("HC", "73090"), "0320", Decimal("385.50"), Decimal("1"), (),
         (QualifiedDate("472", date(2024, 5, 6)),), "HA0077120-2"),
        (Procedure("HC", "J2270"), "0636", Decimal("97.50"), Decimal("2"), (),
         (QualifiedDate("472", date(2024, 5, 6), date(2024, 5, 7)),), "HA0077120-3"),
        (None, "0250", Decimal("36.20"), Decimal("1"), (), (QualifiedDate("472", date(2024, 5, 7)),),
         "HA0077120-4"),
    ]


# ---- Encounter + ChargeItem bundles ----------------------------------------------------------------


def test_encounter_charge_items_become_one_professional_claim() -> None:
    source = only_claim(read("encounter_charges.json"))
    claim = source.claim
    assert (source.source_id, source.location, source.created) == ("enc-9001", "entry 0 (Encounter/enc-9001)", None)
    assert (claim.claim_type, claim.patient_control_number, claim.facility_code, claim.frequency) == (
        "P", "V240603-17", "49", "1")
    # The primary (order 1) coverage, not the secondary listed before it.
    assert source.coverage == CoverageFact("87726", "YHM882200", True, date(2024, 1, 1))
    assert (claim.payer.id, claim.subscriber.group_number, claim.subscriber.filing_indicator) == (
        "87726", "88120", "HM")
    assert (claim.billing_provider.id, claim.billing_provider.reference("EI")) == ("1245319599", "147654321")
    assert claim.provider("82") == Party("82", "Brooks", "Dana", entity_type="1", id_qualifier="XX",
                                         id="1667023455", taxonomy="363LF0000X")
    # Encounter diagnoses by rank (listed in the other order); lines point at their ChargeItem reasons.
    assert claim.health_care_codes == (HealthCareCode("ABK", "E119"), HealthCareCode("ABF", "I10"))
    on_visit = (QualifiedDate("472", date(2024, 6, 3)),)
    assert lines(claim) == [
        (Procedure("HC", "99214"), "", Decimal("165.00"), Decimal("1"), ("1", "2"), on_visit, "V240603-17-1"),
        (Procedure("HC", "83036"), "", Decimal("42.00"), Decimal("1"), ("1",), on_visit, "V240603-17-2"),
        (Procedure("HC", "36415"), "", Decimal("25.00"), Decimal("2"), ("1",), on_visit, "V240603-17-3"),
    ]  # the not-billable ChargeItem is left out
    assert claim.total_charge == Decimal("232.00")
    # A line performed by someone else than the claim's rendering provider names them.
    assert [[p.id for p in line.providers] for line in claim.service_lines] == [[], ["1987654328"], []]


def test_an_encounter_a_claim_covers_is_not_billed_again() -> None:
    def add_claim(document: dict[str, Any]) -> None:
        document["entry"].append({"resource": {
            "resourceType": "Claim", "id": "clm-enc", "status": "active", "use": "claim", "created": "2024-06-04",
            "type": {"coding": [{"code": "professional"}]}, "priority": {"coding": [{"code": "normal"}]},
            "patient": {"reference": "Patient/pt-88"}, "provider": {"reference": "Organization/riverside"},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/cov-88"}}],
            "item": [{"sequence": 1, "encounter": [{"reference": "urn:uuid:enc-9001"}], "servicedDate": "2024-06-03",
                      "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99214"}]},
                      "locationCodeableConcept": {"coding": [{"code": "11"}]}, "net": {"value": 165}}]}})

    result = read_changed("encounter_charges.json", add_claim)
    assert [source.source_id for source in result.claims] == ["clm-enc"]
    assert result.issues == ()


def test_charge_item_problems_are_located_at_the_charge_item() -> None:
    def break_items(document: dict[str, Any]) -> None:
        del resource(document, 3)["context"]  # ci-1
        del resource(document, 4)["priceOverride"]  # ci-2
        resource(document, 5)["context"] = {"reference": "Encounter/enc-404"}  # ci-3

    result = read_changed("encounter_charges.json", break_items)
    assert result.claims == ()
    assert result.issues == (
        SourceIssue("enc-9001", "entry 4 (ChargeItem/ci-2)", "ChargeItem.priceOverride", "no price"),
        SourceIssue("ci-1", "entry 3 (ChargeItem/ci-1)", "ChargeItem.context",
                    "a billable charge without an Encounter to bill it in"),
        SourceIssue("enc-404", "entry 5 (ChargeItem/ci-3)", "ChargeItem.context",
                    "Encounter/enc-404 is not in the bundle"),
    )


# ---- what cannot be read --------------------------------------------------------------------------


def test_not_json_is_a_file_issue() -> None:
    result = read_fhir_bundle(b'{"resourceType": "Bundle", "entry": [', filename="export.json")
    issue = only_issue(result)
    assert result.claims == () and result.file_issues == (issue,)
    assert (issue.source_id, issue.location) == ("", "export.json")
    assert issue.message.startswith("not JSON") and "line 1" in issue.message


@pytest.mark.parametrize("data", [b'{"resourceType": "Patient", "id": "p1"}', b"[1, 2]"])
def test_not_a_bundle_is_a_file_issue(data: bytes) -> None:
    result = read_fhir_bundle(data)
    assert result.claims == ()
    assert result.file_issues == (only_issue(result),)
    assert (only_issue(result).location, only_issue(result).field) == ("bundle", "resourceType")
    assert "not a FHIR Bundle" in only_issue(result).message


def test_a_bundle_failing_validation_names_the_path() -> None:
    result = read_changed("professional_visit.json", lambda document: document["entry"][3].update(fullUrl=7))
    issue = only_issue(result)
    assert result.claims == ()
    assert (issue.source_id, issue.location, issue.field) == ("", "professional_visit.json", "entry[3].fullUrl")
    assert issue.message.startswith("invalid Bundle")


def test_a_bundle_without_charges_is_a_file_issue() -> None:
    result = read_fhir_bundle(b'{"resourceType": "Bundle", "type": "collection", "entry": []}')
    assert result.claims == ()
    assert result.file_issues == (SourceIssue("", "bundle", "entry", "the bundle holds no Claim and no ChargeItem"),)


def test_an_invalid_date_keeps_only_that_claim_out() -> None:
    result = read("invalid_item_date.json")
    assert [source.source_id for source in result.claims] == ["good-1"]
    issue = only_issue(result)
    assert (issue.source_id, issue.location, issue.field) == ("bad-date-2", "entry 1 (Claim/bad-date-2)",
                                                              "Claim.item[0].servicedDate")
    assert "2024-02-30" in issue.message
    assert result.file_issues == ()


def test_a_missing_coverage_keeps_the_claim_out() -> None:
    result = read("missing_coverage.json")
    assert result.claims == ()
    # The focal insurance is the second one.
    assert result.issues == (SourceIssue("clm-no-cov", "entry 0 (Claim/clm-no-cov)", "Claim.insurance[1].coverage",
                                         "Coverage/cov-secondary is not in the bundle"),)


def test_an_invalid_resource_keeps_out_every_claim_using_it() -> None:
    result = read_changed("replacement_and_void.json", lambda document: resource(document, 2).update(
        birthDate="1958-11-31"))
    assert result.claims == ()
    assert [(issue.source_id, issue.location, issue.field) for issue in result.issues] == [
        ("clm-2001-r1", "entry 2 (Patient/pat-600)", "Patient.birthDate"),
        ("clm-2002-void", "entry 2 (Patient/pat-600)", "Patient.birthDate"),
    ]


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set a value in the professional visit's Claim (entry 0) by a dotted path with list indexes."""
    def change(document: dict[str, Any]) -> None:
        target: Any = resource(document, 0)
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        for part in parents:
            target = target[part]
        target[last] = value

    return change


@pytest.mark.parametrize(("change", "field", "message"), [
    (_set("type", {"coding": [{"code": "oral"}]}), "Claim.type", "'oral' is neither professional nor institutional"),
    (_set("use", "preauthorization"), "Claim.use", "a preauthorization is not a claim to bill"),
    (_set("identifier.0.value", "VC-2024-03-12-000001-A"), "Claim.identifier[0].value", "longer than the 20"),
    (_set("status", "cancelled"), "Claim.status", "no prior claim to void"),
    (_set("item.1.productOrService", {"coding": [{"system": "http://snomed.info/sct", "code": "6708002"}]}),
     "Claim.item[1].productOrService", "no CPT or HCPCS code"),
    (_set("item.1.unitPrice", None), "Claim.item[1].net", "neither net nor unitPrice"),
    (_set("careTeam.0.provider", {"reference": "Practitioner/gone"}), "Claim.careTeam[0].provider",
     "Practitioner/gone is not in the bundle"),
    (_set("patient", {"display": "Maria Garcia"}), "Claim.patient", "names no resource"),
])
def test_claim_problems_are_located(change: Callable[[dict[str, Any]], None], field: str, message: str) -> None:
    result = read_changed("professional_visit.json", change)
    assert result.claims == ()
    issue = only_issue(result)
    assert (issue.source_id, issue.location, issue.field) == ("clm-1001", "entry 0 (Claim/clm-1001)", field)
    assert message in issue.message


def test_absolute_and_versioned_references_resolve() -> None:
    url = "https://ehr.valleyclinic.example/fhir/Patient/pat-501/_history/3"
    source = only_claim(read_changed("professional_visit.json", _set("patient", {"reference": url})))
    assert source.claim.subscriber.party.id == "W123456789"


# ---- 837 round trip -------------------------------------------------------------------------------


def test_every_claim_read_is_written_and_read_back_as_an_837() -> None:
    claims = [source.claim for name in GOOD_FIXTURES for source in read(name).claims]
    assert len(claims) == 7
    assert all(unique_line_control_numbers(claim) for claim in claims)
    assert reread(claims) == [claim for kind in ("P", "I") for claim in claims if claim.claim_type == kind]
