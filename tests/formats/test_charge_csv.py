"""Charge CSV reading: the documented layout, canonical claims as the 837 wants them, located problems that
refuse one claim (a bad value) or the whole file (a bad file), and the round trip through the 837 writer."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.charges import ChargeFile, CoverageFact, SourceClaim, SourceIssue
from rcmflow.domain.claim import Claim, ClaimBatch, HealthCareCode, Patient, ServiceLine, Subscriber
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.charge_csv import CHARGE_CSV_COLUMNS, looks_like_charge_csv, read_charge_csv
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts837_write import write_837_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as InterchangeParty

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = (FIXTURES / "charges_clinic.csv").read_bytes()
DOC = (Path(__file__).resolve().parents[2] / "docs" / "formats" / "charge-csv.md").read_text(encoding="utf-8")


def doc_example() -> bytes:
    """The example file of the documentation, so that the doc and the reader cannot drift apart."""
    blocks = re.findall(r"```csv\n(.*?)```", DOC, re.S)
    assert len(blocks) == 1
    return blocks[0].encode()


def claims_by_id(result: ChargeFile) -> dict[str, SourceClaim]:
    return {source.source_id: source for source in result.claims}


def reread(claims: list[Claim]) -> list[Claim]:
    """Write the claims as 837 batches (one per claim type) and read them back strictly, free of issues."""
    batches = [ClaimBatch("1", kind, "", "00", "B1", date(2024, 3, 8), "1200", "CH",
                          Party("41", "VALLEY BILLING", entity_type="2", id_qualifier="46", id="S1"),
                          Party("40", "CLEARINGHOUSE", entity_type="2", id_qualifier="46", id="R1"),
                          tuple(claim for claim in claims if claim.claim_type == kind)) for kind in "PI"]
    text = write_837_interchange([batch for batch in batches if batch.claims], InterchangeParty("CLINIC"),
                                 InterchangeParty("CH"), CountingControlNumbers(), created=datetime(2024, 3, 8, 12))
    document = parse(text.encode(), strict=True)
    assert [str(issue) for issue in document.issues] == []
    return [claim for transaction in document.transactions for claim in transaction.content.claims]


# ---- the documentation ---------------------------------------------------------------------------


def test_the_documented_example_reads_without_issues() -> None:
    result = read_charge_csv(doc_example())
    assert result.format == "charge-csv" and result.issues == ()
    ana, sofia = result.claims
    assert (ana.source_id, ana.location, sofia.source_id, sofia.location) == ("V10231", "rows 2-3", "V10232", "row 4")
    # Claim-level values given on the first row only apply to the claim's second line too.
    assert ana.claim.total_charge == Decimal("153.50") and ana.claim.patient is None
    assert [line.diagnosis_pointers for line in ana.claim.service_lines] == [("1", "2"), ("1",)]
    assert sofia.claim.patient == Patient("19", Party("QC", "Rivera", "Sofia", entity_type="1",
                                                      address=Address("12 Oak St", "", "Hartford", "CT", "06105"),
                                                      birth_date=date(2015, 5, 2), gender="F"))
    assert sofia.claim.subscriber.party.name == "Rivera" and sofia.claim.subscriber.party.first_name == "Luis"


def test_the_documented_columns_are_the_columns_read() -> None:
    table_rows = [line for line in DOC.split("## Example")[0].splitlines() if line.startswith("| `")]
    documented = [name for row in table_rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])]
    assert sorted(documented) == sorted(CHARGE_CSV_COLUMNS) and len(set(documented)) == len(documented)


# ---- the fixture: mapped fields ------------------------------------------------------------------

BILLING = Party("85", "Valley Family Medicine", entity_type="2", id_qualifier="XX", id="1234567893",
                address=Address("1 Main St", "", "Hartford", "CT", "061011234"),
                references=(Reference("EI", "123456789"),), taxonomy="207Q00000X")
AETNA = Party("PR", "Aetna", entity_type="2", id_qualifier="PI", id="60054")
OAK_ST = Address("12 Oak St", "", "Hartford", "CT", "06105")


def test_a_professional_self_claim_is_the_canonical_claim() -> None:
    source = claims_by_id(read_charge_csv(FIXTURE))["C1001"]
    day = (QualifiedDate("472", date(2024, 3, 4)),)
    expected = Claim(
        "P", "C1001", Decimal("227.40"), "11", "B", "1", "Y", "A", "Y", "Y", billing_provider=BILLING,
        subscriber=Subscriber("P", "18", "GRP7781", "", "", "CI",
                              Party("IL", "Rivera", "Ana", entity_type="1", id_qualifier="MI", id="XKB884120301",
                                    address=OAK_ST, birth_date=date(1984, 7, 19), gender="F")),
        payer=AETNA, patient=None,
        references=(Reference("G1", "PA55012"), Reference("EA", "MRN4471")),
        health_care_codes=(HealthCareCode("ABK", "J209"), HealthCareCode("ABF", "R059"), HealthCareCode("ABF", "E119")),
        providers=(Party("82", "Chen", "Wei", entity_type="1", id_qualifier="XX", id="1987654328"),),
        service_lines=(
            ServiceLine(1, Decimal("165.00"), Procedure("HC", "99214", ("25",)), unit_basis="UN", units=Decimal("1"),
                        diagnosis_pointers=("1", "2", "3"), dates=day, line_item_control_number="C1001-1"),
            ServiceLine(2, Decimal("62.40"), Procedure("HC", "71046", ("26", "59")), unit_basis="UN",
                        units=Decimal("1"), diagnosis_pointers=("2",), dates=day, line_item_control_number="C1001-2"),
        ),
    )
    assert source == SourceClaim("C1001", expected, CoverageFact("60054", "XKB884120301", True, date(2024, 1, 1),
                                                                 date(2024, 12, 31)), "rows 2-3", None)


def test_rows_of_a_claim_need_not_be_adjacent() -> None:
    result = read_charge_csv(FIXTURE)
    assert result.issues == ()
    assert [(source.source_id, source.location) for source in result.claims] == [
        ("C1001", "rows 2-3"), ("C1002", "rows 4, 6"), ("H2001", "rows 5, 7-8"), ("C1003", "row 9")]
    child = claims_by_id(result)["C1002"].claim
    assert [(line.line_number, line.procedure, line.units, line.charge) for line in child.service_lines] == [
        (1, Procedure("HC", "99393"), Decimal("1"), Decimal("180.00")),
        (2, Procedure("HC", "90460"), Decimal("2"), Decimal("48.00"))]
    assert child.total_charge == Decimal("228.00")


def test_a_child_patient_gets_a_patient_level_and_no_rendering_when_it_is_the_billing_npi() -> None:
    source = claims_by_id(read_charge_csv(FIXTURE))["C1002"]
    claim = source.claim
    assert claim.subscriber == Subscriber("P", "", "GRP7781", "", "", "CI", Party(
        "IL", "Rivera", "Luis", entity_type="1", id_qualifier="MI", id="XKB884120302", address=OAK_ST,
        birth_date=date(1980, 2, 11), gender="M"))
    assert claim.patient == Patient("19", Party("QC", "Rivera", "Sofia", entity_type="1", address=OAK_ST,
                                                birth_date=date(2015, 5, 2), gender="F"))
    assert claim.providers == () and claim.medical_record_number == "MRN5102"
    assert source.coverage is None


def test_an_institutional_claim() -> None:
    claim = claims_by_id(read_charge_csv(FIXTURE))["H2001"].claim
    assert (claim.claim_type, claim.facility_code, claim.facility_qualifier, claim.frequency) == ("I", "13", "A", "1")
    # Rows given as lines 1, 3, 2: ordered by line_number; "320" gets its leading zero back.
    assert [(line.line_number, line.revenue_code, line.procedure, line.units, line.service_date)
            for line in claim.service_lines] == [
        (1, "0450", Procedure("HC", "99284", ("25",)), Decimal("1"), date(2024, 3, 6)),
        (2, "0300", None, Decimal("3"), date(2024, 3, 6)),
        (3, "0320", Procedure("HC", "73090"), Decimal("1"), date(2024, 3, 7))]
    assert all(line.diagnosis_pointers == () and line.place_of_service == "" for line in claim.service_lines)
    # The statement period defaults to the span of the lines' dates.
    assert claim.dates == (QualifiedDate("434", date(2024, 3, 6), date(2024, 3, 7)),)
    assert claim.providers == (Party("71", "Patel", "Nisha", entity_type="1", id_qualifier="XX", id="1765432103"),)
    assert claim.patient is not None and claim.patient.relationship == "01"
    assert claim.subscriber.relationship == "" and claim.subscriber.party.first_name == "Ana"
    assert [(code.qualifier, code.code) for code in claim.health_care_codes] == [("ABK", "S52501A"),
                                                                               ("ABF", "W01XXXA")]
    assert claim.total_charge == Decimal("1656.75") and claim.billing_provider.reference("EI") == "061234567"


def test_a_replacement_claim() -> None:
    claim = claims_by_id(read_charge_csv(FIXTURE))["C1003"].claim
    assert claim.frequency == "7" and claim.payer_claim_control_number == "22124031500871"
    assert claim.subscriber.filing_indicator == "MB" and claim.subscriber.relationship == "18"
    assert claim.subscriber.party.address == Address("Apt 4, 22 Elm St", "", "West Hartford", "CT", "06107")
    (line,) = claim.service_lines
    assert line.dates == (QualifiedDate("472", date(2024, 2, 12), date(2024, 2, 16)),)
    assert line.procedure == Procedure("HC", "97110", ("GP", "KX")) and line.units == Decimal("4")
    assert line.line_item_control_number == "C1003-L1" and line.diagnosis_pointers == ("1",)


def test_institutional_bill_type_gives_the_frequency_and_a_replacement_reference() -> None:
    content = (b"claim_id,claim_type,bill_type,original_claim_number,statement_from,statement_to,admission_date,"
               b"service_date,revenue_code,charge\n"
               b"H1,I,0137,PCN998,2024-03-01,2024-03-09,2024-03-01,2024-03-02,0120,900.10\n")
    (source,) = read_charge_csv(content).claims
    claim = source.claim
    assert (claim.facility_code, claim.facility_qualifier, claim.frequency) == ("13", "A", "7")
    assert claim.references == (Reference("F8", "PCN998"),)
    assert claim.dates == (QualifiedDate("434", date(2024, 3, 1), date(2024, 3, 9)),
                           QualifiedDate("435", date(2024, 3, 1)))


def test_a_line_place_of_service_is_kept_only_when_it_differs_from_the_claims() -> None:
    content = (b"claim_id,place_of_service,service_date,procedure_code,line_place_of_service,charge\n"
               b"A,11,2024-03-04,99213,11,80\nA,11,2024-03-04,93000,22,40\n")
    (source,) = read_charge_csv(content).claims
    assert [line.place_of_service for line in source.claim.service_lines] == ["", "22"]


def test_missing_optional_data_is_not_a_reading_problem() -> None:
    content = b"claim_id,service_date,procedure_code,charge\nBARE,2024-03-04,99212,80\n"
    result = read_charge_csv(content)
    assert result.issues == ()
    (source,) = result.claims
    claim = source.claim
    assert claim.subscriber == Subscriber("P", "18", "", "", "", "CI", Party("IL", entity_type="1"))
    assert claim.health_care_codes == () and claim.service_lines[0].diagnosis_pointers == ()
    assert claim.billing_provider == Party("85", entity_type="2") and claim.payer == Party("PR", entity_type="2")
    assert (claim.facility_code, claim.facility_qualifier, claim.frequency) == ("", "B", "1")
    assert source.coverage is None and reread([claim]) == [claim]


def test_self_takes_the_subscriber_columns_when_the_patient_columns_are_blank() -> None:
    content = (b"claim_id,relationship,patient_last_name,subscriber_last_name,subscriber_first_name,subscriber_sex,"
               b"member_id,coverage_active,service_date,procedure_code,charge\n"
               b"S1,18,Moss,,Ed,M,M77,N,2024-03-04,99212,80\n")
    (source,) = read_charge_csv(content).claims
    party = source.claim.subscriber.party
    assert (party.name, party.first_name, party.gender, party.id) == ("Moss", "Ed", "M", "M77")
    assert source.coverage == CoverageFact("", "M77", False, None, None)


# ---- bad values: located, the claim refused, the others kept -------------------------------------

HEADER = ("claim_id,claim_type,frequency,original_claim_number,patient_sex,patient_zip,relationship,"
          "subscriber_last_name,patient_last_name,payer_id,billing_npi,bill_type,place_of_service,diagnoses,"
          "line_number,service_date,service_date_end,procedure_code,modifiers,revenue_code,units,charge,"
          "diagnosis_pointers,line_item_control_number")
ROWS = [  # claim A row 2, claim B rows 3-4, claim C row 5
    {"claim_id": "A", "service_date": "2024-03-01", "procedure_code": "99213", "charge": "100"},
    {"claim_id": "B", "payer_id": "60054", "diagnoses": "J20.9;R05.9", "service_date": "2024-03-02",
     "procedure_code": "99213", "charge": "100.00"},
    {"claim_id": "B", "payer_id": "60054", "service_date": "2024-03-02", "procedure_code": "87880", "charge": "20"},
    {"claim_id": "C", "service_date": "2024-03-03", "procedure_code": "99214", "charge": "150"},
]


def csv_file(changes: dict[int, dict[str, str]]) -> bytes:
    """The base file with some cells changed, by file row (2..5) and column."""
    columns = HEADER.split(",")
    lines = [HEADER]
    for number, row in enumerate(ROWS, start=2):
        values = {**row, **changes.get(number, {})}
        lines.append(",".join(values.get(name, "") for name in columns))
    return ("\n".join(lines) + "\n").encode()


def test_the_base_file_is_clean() -> None:
    result = read_charge_csv(csv_file({}))
    assert result.issues == () and [source.source_id for source in result.claims] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("row", "changes", "field", "found"),
    [
        (3, {"service_date": "2024-02-30"}, "service_date", "'2024-02-30' is not a date; expected YYYY-MM-DD"),
        (4, {"service_date": "03/02/2024"}, "service_date", "'03/02/2024'"),
        (4, {"service_date": ""}, "service_date", "service_date is required"),
        (3, {"service_date_end": "2024-03-01"}, "service_date_end", "is before service_date 2024-03-02"),
        (4, {"charge": "12.345"}, "charge", "'12.345' is not an amount"),
        (4, {"charge": "$20"}, "charge", "'$20'"),
        (3, {"charge": "-5"}, "charge", "'-5'"),
        (4, {"charge": ""}, "charge", "charge is required"),
        (4, {"units": "0"}, "units", "'0' is not a positive number"),
        (4, {"units": "two"}, "units", "'two'"),
        (3, {"patient_sex": "X"}, "patient_sex", "'X' is not one of M, F, U"),
        (3, {"patient_zip": "6105"}, "patient_zip", "'6105' is not a ZIP code"),
        (3, {"relationship": "99"}, "relationship", "'99' is not one of"),
        (3, {"claim_type": "D"}, "claim_type", "'D' is not one of P, I"),
        (3, {"frequency": "7"}, "original_claim_number", "frequency 7 (replacement or void) needs"),
        (3, {"original_claim_number": "X1"}, "original_claim_number", "only for a replacement (7) or void (8)"),
        (4, {"payer_id": "87726"}, "payer_id", "'87726' differs from '60054' on row 3"),
        (4, {"diagnosis_pointers": "3"}, "diagnosis_pointers", "pointer 3 is beyond the claim's 2 diagnoses"),
        (4, {"diagnosis_pointers": "1:x"}, "diagnosis_pointers", "'x' is not a position"),
        (3, {"diagnoses": "J20.9;HEL-LO"}, "diagnoses", "'HEL-LO' is not a code of letters and digits"),
        (3, {"billing_npi": "123456789"}, "billing_npi", "'123456789' is not an NPI of 10 digits"),
        (4, {"procedure_code": ""}, "procedure_code", "procedure_code is required on the lines of a professional"),
        (4, {"procedure_code": "99-21"}, "procedure_code", "'99-21' is not a code of letters and digits"),
        (4, {"modifiers": "25:XYZ"}, "modifiers", "modifier 'XYZ' is not a modifier"),
        (4, {"modifiers": "25:59:76:77:91"}, "modifiers", "5 modifiers given"),
        (4, {"revenue_code": "0450"}, "revenue_code", "only for institutional (I) claims; this claim_type is P"),
        (3, {"bill_type": "131"}, "bill_type", "only for institutional (I) claims"),
        (3, {"place_of_service": "O1"}, "place_of_service", "'O1' is not a two-digit place of service"),
        (3, {"patient_last_name": "Smith*Jones"}, "patient_last_name", "'Smith*Jones' holds"),
        (3, {"patient_last_name": "X" * 61}, "patient_last_name", "61 characters long; the 837 allows at most 60"),
        (3, {"relationship": "18", "subscriber_last_name": "Doe", "patient_last_name": "Roe"},
         "subscriber_last_name", "'Doe' differs from patient_last_name 'Roe'"),
    ],
)
def test_a_bad_value_refuses_its_claim_only(row: int, changes: dict[str, str], field: str, found: str) -> None:
    result = read_charge_csv(csv_file({row: changes}))
    assert [(issue.source_id, issue.location, issue.field) for issue in result.issues] == [("B", f"row {row}", field)]
    assert found in result.issues[0].message
    assert [source.source_id for source in result.claims] == ["A", "C"] and result.file_issues == ()


@pytest.mark.parametrize(
    ("numbers", "row", "found"),
    [
        (("2", ""), 4, "line_number is blank here but given on other rows of the claim"),
        (("1", "3"), 4, "line_number '3' is not a number from 1 to 2"),
        (("0", "1"), 3, "line_number '0' is not a number from 1 to 2"),
        (("2", "2"), 4, "line_number 2 is already used on row 3"),
    ],
)
def test_line_numbers_are_given_on_every_line_or_none(numbers: tuple[str, str], row: int, found: str) -> None:
    result = read_charge_csv(csv_file({3: {"line_number": numbers[0]}, 4: {"line_number": numbers[1]}}))
    (issue,) = result.issues
    assert (issue.source_id, issue.location, issue.field) == ("B", f"row {row}", "line_number")
    assert issue.message.startswith(found)
    assert [source.source_id for source in result.claims] == ["A", "C"]


def test_line_numbers_order_the_lines_and_given_control_numbers_are_kept() -> None:
    result = read_charge_csv(csv_file({3: {"line_number": "2"}, 4: {"line_number": "1",
                                                                    "line_item_control_number": "B-2"}}))
    claim = claims_by_id(result)["B"].claim
    # Row 4 is line 1 and keeps its number; row 3, line 2, cannot take the default B-2 again.
    assert [(line.line_number, line.procedure, line.line_item_control_number) for line in claim.service_lines] == [
        (1, Procedure("HC", "87880"), "B-2"), (2, Procedure("HC", "99213"), "B-2-2")]


def test_a_repeated_line_item_control_number_is_located_on_its_second_row() -> None:
    result = read_charge_csv(csv_file({3: {"line_item_control_number": "L1"}, 4: {"line_item_control_number": "L1"}}))
    (issue,) = result.issues
    assert (issue.source_id, issue.location, issue.field) == ("B", "row 4", "line_item_control_number")
    assert "'L1' is already used on row 3" in issue.message


def test_every_problem_of_a_claim_is_reported_in_row_order() -> None:
    result = read_charge_csv(csv_file({4: {"charge": "abc"}, 3: {"service_date": "tomorrow", "patient_sex": "Q"}}))
    assert [(issue.location, issue.field) for issue in result.issues] == [
        ("row 3", "patient_sex"), ("row 3", "service_date"), ("row 4", "charge")]
    assert [source.source_id for source in result.claims] == ["A", "C"]


def test_institutional_lines_refuse_professional_columns_and_need_a_revenue_code() -> None:
    content = (b"claim_id,claim_type,service_date,revenue_code,line_place_of_service,diagnosis_pointers,charge\n"
               b"H1,I,2024-03-02,,,,10\nH1,I,2024-03-02,0300,22,1,10\n")
    result = read_charge_csv(content)
    assert [(issue.location, issue.field) for issue in result.issues] == [
        ("row 2", "revenue_code"), ("row 3", "line_place_of_service"), ("row 3", "diagnosis_pointers")]
    assert result.claims == ()


def test_a_row_with_a_wrong_field_count_refuses_its_claim() -> None:
    content = csv_file({}) + b"C,,,,,,,,,,,,,,,2024-03-03,,99214,,,,150,,,extra\n"
    result = read_charge_csv(content)
    (issue,) = result.issues
    assert (issue.source_id, issue.location, issue.field) == ("C", "row 6", "")
    assert issue.message == "the row has 25 fields, the header 24"
    assert [source.source_id for source in result.claims] == ["A", "B"]


# ---- file-level problems: every claim refused ----------------------------------------------------


def file_issues(content: bytes, filename: str = "") -> list[tuple[str, str]]:
    result = read_charge_csv(content, filename=filename)
    assert result.claims == () and result.file_issues == result.issues
    return [(issue.location, issue.field) for issue in result.issues]


def test_file_level_problems() -> None:
    latin1 = "claim_id,service_date,charge,patient_last_name\nA,2024-03-01,1,Nu\u00f1ez\n".encode("latin-1")
    assert file_issues(latin1) == [("line 2", "")]
    assert "not UTF-8" in read_charge_csv(latin1).issues[0].message
    assert file_issues(b"") == [("row 1", "")]
    assert file_issues(b"\n\nclaim_id,service_date,charge\n") == [("row 1", "")]
    assert file_issues(b"claim_id,date,amount\nA,2024-03-01,1\n") == [
        ("row 1", "date"), ("row 1", "amount"), ("row 1", "service_date"), ("row 1", "charge")]
    unknown = read_charge_csv(b"claim_id,service_date,charge,Copay\nA,2024-03-01,1,20\n").issues
    assert unknown == (SourceIssue("", "row 1", "Copay", "column 'Copay' is not a charge CSV column "
                                                         "(see docs/formats/charge-csv.md)"),)
    assert file_issues(b"claim_id,service_date,charge,CHARGE\nA,2024-03-01,1,1\n") == [("row 1", "charge")]
    assert file_issues(b"claim_id,service_date,charge,\nA,2024-03-01,1,\n") == [("row 1", "")]
    # Without a claim_id column, the header is the problem, not each of its rows.
    assert file_issues(b"service_date,charge\n2024-03-01,1\n2024-03-01,2\n") == [("row 1", "claim_id")]


def test_a_row_without_claim_id_refuses_the_file() -> None:
    # The row might be a line of any claim: billing the others without it could under-bill.
    assert file_issues(csv_file({4: {"claim_id": ""}})) == [("row 4", "claim_id")]


def test_csv_syntax_and_spreadsheet_files() -> None:
    broken = csv_file({}) + b'D,,,,,,,,,,,,,,,2024-03-03,,"99214\nD,,,,,,,,,,,,,,,2024-03-03\n'
    assert file_issues(broken) == [("line 6", "")]
    xlsx = read_charge_csv(b"PK\x03\x04rest", filename="march.xlsx").issues
    assert xlsx == (SourceIssue("", "line 1", "", "march.xlsx is a spreadsheet workbook, not CSV text; save it as "
                                                  "CSV UTF-8 (comma delimited)"),)
    assert file_issues(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00") == [("line 1", "")]


# ---- syntax: BOM, case, quoting, rows numbered by the line they start on -------------------------


def test_bom_crlf_header_case_quoting_and_blank_rows() -> None:
    content = ("\ufeffCLAIM_ID,Service_Date,Procedure_Code,Charge,Patient_Address\r\n\r\n"
               'A,2024-03-01,99213,100,"12 Oak St, Apt 3"\r\n'
               '"B",2024-03-01,99213,100,"1 ""The"" Mews"\r\n').encode()
    result = read_charge_csv(content)
    assert result.issues == ()
    assert [(source.location, source.claim.subscriber.party.address) for source in result.claims] == [
        ("row 3", Address("12 Oak St, Apt 3")), ("row 4", Address('1 "The" Mews'))]


def test_a_quoted_line_break_is_refused_and_rows_keep_their_file_line() -> None:
    content = (b'claim_id,service_date,procedure_code,charge,patient_address\n'
               b'A,2024-03-01,99213,1,"12 Oak St\nApt 3"\nB,2024-03-01,99213,1,x\n')
    result = read_charge_csv(content)
    assert [(issue.source_id, issue.location, issue.field) for issue in result.issues] == [
        ("A", "row 2", "patient_address")]
    assert [(source.source_id, source.location) for source in result.claims] == [("B", "row 4")]


# ---- the 837 round trip --------------------------------------------------------------------------


def test_claims_read_are_written_and_read_back_as_the_same_837_claims() -> None:
    claims = [source.claim for content in (FIXTURE, doc_example()) for source in read_charge_csv(content).claims]
    assert len(claims) == 6
    ordered = [claim for kind in "PI" for claim in claims if claim.claim_type == kind]
    assert reread(claims) == ordered


# ---- detection and robustness --------------------------------------------------------------------


def test_looks_like_charge_csv() -> None:
    assert looks_like_charge_csv(FIXTURE) and looks_like_charge_csv(doc_example())
    assert looks_like_charge_csv(b"\xef\xbb\xbfCharge,Claim_ID,Service_Date\r\n")
    assert not looks_like_charge_csv((FIXTURES / "lockbox_march.csv").read_bytes())
    assert not looks_like_charge_csv(b"claim_id,charge\nservice_date\n")
    assert not looks_like_charge_csv(b"\x00\xff\xfe")


@settings(max_examples=100, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b",", b'"', b"\n", b"\r", b";", b":", b"1", b".", b"-", b"2024-03-01", b"\xff",
                              b"\x00", b"A", b"99213", b"*"]),
             max_size=40).map(lambda parts: FIXTURE + b"".join(parts)),
))
def test_fuzz_never_raises_and_refused_claims_are_named(data: bytes) -> None:
    result = read_charge_csv(data)
    refused = {issue.source_id for issue in result.issues}
    assert all(source.source_id not in refused for source in result.claims)
    assert not (result.file_issues and result.claims)
    for source in result.claims:
        assert source.claim.total_charge == source.claim.line_charge_total
