"""``rcmflow claims scrub`` and ``claims export``: the documented JSON contract, exit statuses, and an 837 of
only the clean claims that reads back as valid 5010."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcmflow.entrypoints.cli import app
from rcmflow.formats.x12.parser import parse

runner = CliRunner()
FIXTURES = Path(__file__).parents[1] / "formats" / "fixtures"

HEADER = ("claim_id,claim_type,patient_last_name,patient_first_name,patient_birth_date,patient_sex,patient_address,"
          "patient_city,patient_state,patient_zip,member_id,payer_id,payer_name,billing_npi,billing_name,"
          "billing_tax_id,billing_taxonomy,billing_address,billing_city,billing_state,billing_zip,place_of_service,"
          "diagnoses,coverage_active,service_date,procedure_code,modifiers,units,charge,diagnosis_pointers,"
          "bill_type,revenue_code")
PATIENT = "Rivera,Ana,1984-07-19,F,12 Oak St,Hartford,CT,06105,XKB884120301"
CLINIC = "Valley Clinic,12-3456789,207Q00000X,1 Main St,Hartford,CT,06101"
CHARGES = "\n".join([
    HEADER,
    # clean: an office visit and a strep test
    f"V1,P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,J02.9,Y,2026-03-02,99213,,1,125.00,1,,",
    "V1,,,,,,,,,,,,,,,,,,,,,,,,2026-03-02,87880,,1,28.50,1,,",
    # held: a category code (E11) and an NPI whose check digit is wrong
    f"V2,P,{PATIENT},60054,ACME HEALTH PLAN,1234567890,{CLINIC},11,E11,Y,2026-03-03,99214,,1,180.00,1,,",
    # warning only: no eligibility on file
    f"V3,P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,I10,,2026-03-04,99213,,1,125.00,1,,",
    # institutional, clean
    f"H1,I,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},,R10.9,Y,2026-03-05,,,1,900.00,,131,0450",
    # unreadable: the charge is not an amount
    f"V4,P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,I10,Y,2026-03-04,99213,,1,12.x,1,,",
]) + "\n"


@pytest.fixture
def charges(tmp_path: Path, empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    path = tmp_path / "charges.csv"
    path.write_text(CHARGES, encoding="utf-8")
    return path


def scrub_json(path: Path, *extra: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["claims", "scrub", str(path), "--json", "--today", "2026-03-20", *extra])
    return result.exit_code, json.loads(result.stdout)


def test_scrub_json_follows_the_contract(charges: Path) -> None:
    code, output = scrub_json(charges)
    assert code == 1  # some claim has an error finding
    assert list(output) == ["claims"]
    by_id = {claim["id"]: claim for claim in output["claims"]}
    assert {claim_id: claim["status"] for claim_id, claim in by_id.items()} == {
        "V1": "clean", "V2": "error", "V3": "warning", "H1": "clean", "V4": "error"}
    for claim in output["claims"]:
        assert set(claim) == {"id", "status", "findings"}
        for finding in claim["findings"]:
            assert {"rule", "severity", "message"} <= set(finding)
            assert finding["severity"] in {"error", "warning"} and isinstance(finding["message"], str)
    assert {f["rule"] for f in by_id["V2"]["findings"]} == {"icd10-not-billable", "billing-npi-invalid"}
    assert [f["rule"] for f in by_id["V3"]["findings"]] == ["eligibility-not-on-file"]
    assert [f["rule"] for f in by_id["V4"]["findings"]] == ["source-unreadable"]
    assert "row 7, charge" in by_id["V4"]["findings"][0]["message"]


def test_a_file_of_clean_claims_exits_zero(charges: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(CHARGES.splitlines()[:3]) + "\n", encoding="utf-8")
    code, output = scrub_json(clean)
    assert code == 0 and [claim["status"] for claim in output["claims"]] == ["clean"]


def test_a_fhir_bundle_is_scrubbed_by_claim_id(charges: Path) -> None:
    code, output = scrub_json(FIXTURES / "fhir" / "professional_visit.json")
    assert [claim["id"] for claim in output["claims"]] == ["clm-1001"]
    assert code in {0, 1}


def test_a_file_that_is_not_a_charge_file_exits_2(charges: Path, tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello\n", encoding="utf-8")
    result = runner.invoke(app, ["claims", "scrub", str(other)])
    assert result.exit_code != 0 and "neither a FHIR R4 Bundle" in str(result.exception)


def test_export_writes_only_claims_without_errors_as_valid_5010(charges: Path, tmp_path: Path) -> None:
    out = tmp_path / "claims.837"
    result = runner.invoke(app, ["claims", "export", str(charges), "--format", "837p", "-o", str(out),
                                 "--today", "2026-03-20"])
    assert result.exit_code == 0, result.output
    document = parse(out.read_bytes(), strict=True)
    assert document.issues == []
    [batch] = document.of_type("837P")
    assert [claim.patient_control_number for claim in batch.claims] == ["V1", "V3"]
    assert all(line.line_item_control_number for claim in batch.claims for line in claim.service_lines)
    assert batch.claims[0].payer.id == "60054"

    institutional = tmp_path / "claims.837i"
    result = runner.invoke(app, ["claims", "export", str(charges), "--format", "837i", "-o", str(institutional),
                                 "--today", "2026-03-20"])
    assert result.exit_code == 0, result.output
    [batch] = parse(institutional.read_bytes(), strict=True).of_type("837I")
    assert [claim.patient_control_number for claim in batch.claims] == ["H1"]
    assert batch.claims[0].facility_code == "13" and batch.claims[0].service_lines[0].revenue_code == "0450"


def test_two_exports_never_share_an_interchange_control_number(charges: Path, tmp_path: Path) -> None:
    numbers = []
    for name in ("a.837", "b.837"):
        runner.invoke(app, ["claims", "export", str(charges), "--format", "837p", "-o", str(tmp_path / name),
                            "--today", "2026-03-20"])
        numbers.append((tmp_path / name).read_text().split("*")[13])
    assert numbers[0] != numbers[1]


def test_export_with_nothing_clean_fails_and_writes_nothing(charges: Path, tmp_path: Path) -> None:
    held = tmp_path / "held.csv"
    held.write_text("\n".join([CHARGES.splitlines()[0], CHARGES.splitlines()[3]]) + "\n", encoding="utf-8")
    out = tmp_path / "none.837"
    result = runner.invoke(app, ["claims", "export", str(held), "--format", "837p", "-o", str(out)])
    assert result.exit_code != 0 and not out.exists()
    assert "no claim of type 837p without error findings" in str(result.exception)


def test_export_refuses_an_unknown_format(charges: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["claims", "export", str(charges), "--format", "837d", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and "use 837p or 837i" in result.output
