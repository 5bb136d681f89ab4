"""Every built-in scrubber rule on a claim it must flag (positive) and on the clean claim it must pass
(negative), plus the service around the rules: eligibility from the source, duplicates against stored
claims, unreadable claims kept as findings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.charges import ChargeFile, CoverageFact, SourceClaim, SourceIssue
from rcmflow.domain.claim import Claim, ClaimBatch, HealthCareCode, ServiceLine, Subscriber
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.domain.rule_packs import builtin_pack_texts, parse_rule_pack
from rcmflow.domain.scrubber import ScrubResult
from rcmflow.services.claims import store_claims
from rcmflow.services.scrubbing import Scrubber, build_scrubber, stored_duplicates, unreadable_results

DOS = date(2026, 3, 2)
TODAY = DOS + timedelta(days=10)
ADDRESS = Address("12 ELM ST", "", "HARTFORD", "CT", "06105")
BILLING = Party("85", "VALLEY CLINIC", entity_type="2", id_qualifier="XX", id="1234567893", address=ADDRESS,
                references=(Reference("EI", "123456789"),), taxonomy="207Q00000X")
RENDERING = Party("82", "SMITH", "ANA", entity_type="1", id_qualifier="XX", id="1245319599", taxonomy="207Q00000X")
ACME = Party("PR", "ACME HEALTH PLAN", entity_type="2", id_qualifier="PI", id="60054")


def line(number: int, code: str, charge: str, *, modifiers: tuple[str, ...] = (), units: str = "1",
         pointers: tuple[str, ...] = ("1",), day: date = DOS) -> ServiceLine:
    return ServiceLine(number, Decimal(charge), Procedure("HC", code, modifiers), unit_basis="UN",
                       units=Decimal(units), diagnosis_pointers=pointers, dates=(QualifiedDate("472", day),),
                       line_item_control_number=f"L{number}")


def professional(*lines: ServiceLine, **changes: object) -> Claim:
    lines = lines or (line(1, "99213", "150.00"), line(2, "36415", "20.00"))
    claim = Claim(
        "P", "PCN1", sum((item.charge for item in lines), Decimal(0)), "11", "B", "1", "Y", "A", "Y", "Y",
        billing_provider=BILLING,
        subscriber=Subscriber("P", "18", "GRP1", "", "", "CI",
                              Party("IL", "DOE", "JANE", entity_type="1", id_qualifier="MI", id="M100200",
                                    address=ADDRESS, birth_date=date(1971, 6, 1), gender="F")),
        payer=ACME, health_care_codes=(HealthCareCode("ABK", "E119"), HealthCareCode("ABF", "I10")),
        providers=(RENDERING,), service_lines=lines)
    return claim._replace(**changes)


def institutional(**changes: object) -> Claim:
    lines = (ServiceLine(1, Decimal("400.00"), None, "0450", "UN", Decimal(1), dates=(QualifiedDate("472", DOS),),
                         line_item_control_number="I1"),
             ServiceLine(2, Decimal("90.00"), Procedure("HC", "85025"), "0300", "UN", Decimal(1),
                         dates=(QualifiedDate("472", DOS),), line_item_control_number="I2"))
    return professional(*lines, **{"claim_type": "I", "facility_code": "13", "facility_qualifier": "A", **changes})


COVERED = CoverageFact("60054", "M100200", True, date(2026, 1, 1), date(2026, 12, 31))


def source(claim: Claim, source_id: str = "C1", coverage: CoverageFact | None = COVERED) -> SourceClaim:
    return SourceClaim(source_id, claim, coverage, "test")


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return build_scrubber()


def scrub(scrubber: Scrubber, *sources: SourceClaim, today: date = TODAY) -> list[ScrubResult]:
    return scrubber.scrub(list(sources), today=today)


def fired(result: ScrubResult) -> set[str]:
    return {finding.rule for finding in result.findings}


def with_patient(**person: object) -> Claim:
    claim = professional()
    party = claim.subscriber.party._replace(**person)
    return claim._replace(subscriber=claim.subscriber._replace(party=party))


def with_line(**changes: object) -> Claim:
    claim = professional()
    first = claim.service_lines[0]._replace(**changes)
    return claim._replace(service_lines=(first, *claim.service_lines[1:]))


def with_dx(*codes: str) -> Claim:
    return professional(health_care_codes=tuple(HealthCareCode("ABK" if n == 0 else "ABF", code)
                                                for n, code in enumerate(codes)))


def lines_of(*lines: ServiceLine) -> Claim:
    return professional(*lines)


# rule id -> a claim (or claims and a date) on which it must fire
POSITIVE: dict[str, Callable[[], tuple[list[SourceClaim], date]]] = {
    "diagnosis-missing": lambda: ([source(professional(health_care_codes=()))], TODAY),
    "icd10-invalid": lambda: ([source(with_dx("E119", "ZZ999"))], TODAY),
    "icd10-not-billable": lambda: ([source(with_dx("E11"))], TODAY),
    "procedure-code-missing": lambda: ([source(with_line(procedure=None))], TODAY),
    "procedure-code-invalid": lambda: ([source(with_line(procedure=Procedure("HC", "9921")))], TODAY),
    "modifier-invalid": lambda: ([source(with_line(procedure=Procedure("HC", "99213", ("2",))))], TODAY),
    "revenue-code-invalid": lambda: ([source(institutional()._replace(service_lines=(
        institutional().service_lines[0]._replace(revenue_code="45"), institutional().service_lines[1])))], TODAY),
    "diagnosis-sex-conflict": lambda: ([source(with_dx("N400"))], TODAY),
    "diagnosis-age-conflict": lambda: ([source(with_dx("P0730"))], TODAY),
    "procedure-sex-conflict": lambda: ([source(lines_of(line(1, "55700", "300.00")))], TODAY),
    "ncci-ptp-not-separately-payable": lambda: ([source(lines_of(line(1, "80053", "40.00"),
                                                                  line(2, "80048", "30.00")))], TODAY),
    "ncci-ptp-modifier-required": lambda: ([source(lines_of(line(1, "11042", "200.00"),
                                                             line(2, "97597", "90.00")))], TODAY),
    "mue-exceeded": lambda: ([source(lines_of(line(1, "80053", "80.00", units="2")))], TODAY),
    "subscriber-id-missing": lambda: ([source(with_patient(id=""))], TODAY),
    "subscriber-name-missing": lambda: ([source(with_patient(name=""))], TODAY),
    "payer-id-missing": lambda: ([source(professional(payer=ACME._replace(id="")))], TODAY),
    "patient-birth-date-missing": lambda: ([source(with_patient(birth_date=None))], TODAY),
    "patient-sex-missing": lambda: ([source(with_patient(gender=""))], TODAY),
    "subscriber-address-missing": lambda: ([source(with_patient(address=None))], TODAY),
    "billing-npi-missing": lambda: ([source(professional(billing_provider=BILLING._replace(id="")))], TODAY),
    "billing-npi-invalid": lambda: ([source(professional(billing_provider=BILLING._replace(id="1234567890")))],
                                    TODAY),
    "rendering-npi-invalid": lambda: ([source(professional(providers=(RENDERING._replace(id="1245319590"),)))],
                                      TODAY),
    "billing-tax-id-missing": lambda: ([source(professional(billing_provider=BILLING._replace(references=())))],
                                       TODAY),
    "billing-tax-id-invalid": lambda: ([source(professional(billing_provider=BILLING._replace(
        references=(Reference("EI", "12345"),))))], TODAY),
    "billing-taxonomy-missing": lambda: ([source(professional(billing_provider=BILLING._replace(taxonomy="")))],
                                         TODAY),
    "taxonomy-invalid": lambda: ([source(professional(providers=(RENDERING._replace(taxonomy="207Q0000"),)))],
                                 TODAY),
    "place-of-service-invalid": lambda: ([source(with_line(place_of_service="98"))], TODAY),
    "bill-type-missing": lambda: ([source(institutional(facility_code=""))], TODAY),
    "diagnosis-pointer-invalid": lambda: ([source(with_line(diagnosis_pointers=("3",)))], TODAY),
    "line-charge-not-positive": lambda: ([source(lines_of(line(1, "99213", "0.00"), line(2, "36415", "20.00")))],
                                         TODAY),
    "claim-total-mismatch": lambda: ([source(professional(total_charge=Decimal("171.00")))], TODAY),
    "service-date-missing": lambda: ([source(with_line(dates=()))], TODAY),
    "service-date-in-future": lambda: ([source(professional())], DOS - timedelta(days=1)),
    "replacement-without-payer-claim-number": lambda: ([source(professional(frequency="7"))], TODAY),
    "line-control-number-missing": lambda: ([source(with_line(line_item_control_number=""))], TODAY),
    "eligibility-not-on-file": lambda: ([source(professional(), coverage=None)], TODAY),
    "coverage-inactive": lambda: ([source(professional(), coverage=COVERED._replace(end=DOS - timedelta(days=1)))],
                                  TODAY),
    "prior-authorization-missing": lambda: ([source(lines_of(line(1, "70551", "900.00")))], TODAY),
    "timely-filing-exceeded": lambda: ([source(professional())], DOS + timedelta(days=91)),
    "timely-filing-approaching": lambda: ([source(professional())], DOS + timedelta(days=70)),
    "duplicate-claim": lambda: ([source(professional(), "C0"), source(professional(patient_control_number="PCN2"))],
                                TODAY),
    "possible-duplicate-claim": lambda: ([source(professional(), "C0"), source(lines_of(
        line(1, "99213", "175.00"), line(2, "36415", "20.00")))], TODAY),
}


def test_every_built_in_rule_has_a_positive_case() -> None:
    built_in = {rule.id for name, text in builtin_pack_texts() for rule in parse_rule_pack(text, source=name).rules}
    assert built_in - {"cpt-unknown"} == set(POSITIVE)  # cpt-unknown needs a licensed CPT file: tested below


def test_the_clean_claims_pass_every_rule(scrubber: Scrubber) -> None:
    results = scrub(scrubber, source(professional()), source(institutional(), "C2"))
    assert [(r.status, r.findings) for r in results] == [("clean", ()), ("clean", ())]


@pytest.mark.parametrize("rule", sorted(POSITIVE))
def test_rule_fires_on_its_case_and_only_where_expected(scrubber: Scrubber, rule: str) -> None:
    sources, today = POSITIVE[rule]()
    result = scrub(scrubber, *sources, today=today)[-1]
    assert rule in fired(result), result.findings
    finding = next(f for f in result.findings if f.rule == rule)
    assert finding.version == "1" and finding.pack.count("@") == 1
    assert finding.inputs, "a finding records the inputs its rule saw"
    assert result.status == ("warning" if finding.severity == "warning" and all(
        f.severity == "warning" for f in result.findings) else result.status)


def test_a_finding_names_the_line_and_the_values_it_saw(scrubber: Scrubber) -> None:
    sources, _ = POSITIVE["mue-exceeded"]()
    result = scrub(scrubber, *sources)[0]
    finding = next(f for f in result.findings if f.rule == "mue-exceeded")
    assert finding.line == 1 and finding.severity == "error" and finding.category == "coding"
    assert finding.inputs == {"line.mue_limit": 1, "line.mue_units": 2}
    assert "2 units of 80053 exceed the medically unlikely edit of 1" in finding.message


def test_a_distinct_service_modifier_bypasses_a_modifier_1_pair(scrubber: Scrubber) -> None:
    claim = lines_of(line(1, "11042", "200.00"), line(2, "97597", "90.00", modifiers=("XS",)))
    assert "ncci-ptp-modifier-required" not in fired(scrub(scrubber, source(claim))[0])
    claim = lines_of(line(1, "80053", "40.00"), line(2, "80048", "30.00", modifiers=("59",)))
    assert "ncci-ptp-not-separately-payable" in fired(scrub(scrubber, source(claim))[0])


def test_pairs_on_different_dates_do_not_collide(scrubber: Scrubber) -> None:
    claim = lines_of(line(1, "80053", "40.00"), line(2, "80048", "30.00", day=DOS + timedelta(days=1)))
    assert not {"ncci-ptp-not-separately-payable"} & fired(scrub(scrubber, source(claim))[0])


def test_a_replacement_is_not_a_duplicate_of_its_original(scrubber: Scrubber) -> None:
    replacement = professional(frequency="7", references=(Reference("F8", "ICN1"),))
    results = scrub(scrubber, source(professional(), "C0"), source(replacement))
    assert not {"duplicate-claim", "possible-duplicate-claim"} & fired(results[1])


def test_prior_authorisation_on_file_satisfies_the_payer(scrubber: Scrubber) -> None:
    claim = lines_of(line(1, "70551", "900.00"))._replace(references=(Reference("G1", "AUTH77"),))
    assert "prior-authorization-missing" not in fired(scrub(scrubber, source(claim))[0])
    other_payer = lines_of(line(1, "70551", "900.00"))._replace(payer=ACME._replace(id="99999", name="OTHER"))
    assert "prior-authorization-missing" not in fired(scrub(scrubber, source(other_payer))[0])


def test_the_licensed_cpt_file_makes_unknown_codes_errors(tmp_path: Path) -> None:
    cpt = tmp_path / "cpt.txt"
    cpt.write_text("99213\tOffice or other outpatient visit\n36415\tVenipuncture\n", encoding="utf-8")
    licensed = build_scrubber(cpt_file=cpt)
    assert scrub(licensed, source(professional()))[0].status == "clean"
    result = scrub(licensed, source(lines_of(line(1, "99999", "10.00"))))[0]
    assert "cpt-unknown" in fired(result)
    assert "cpt-unknown" not in fired(scrub(build_scrubber(), source(lines_of(line(1, "99999", "10.00"))))[0])


def test_a_site_pack_overrides_severity_for_one_payer_and_switches_a_rule_off(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "pack: site\nversion: '1'\noverrides:\n"
        "  - {rule: timely-filing-exceeded, scope: {payers: ['60054']}, severity: warning}\n"
        "  - {rule: billing-taxonomy-missing, enabled: false}\n", encoding="utf-8")
    site = build_scrubber(pack_paths=[tmp_path])
    late = professional(billing_provider=BILLING._replace(taxonomy=""))
    result = scrub(site, source(late), today=DOS + timedelta(days=120))[0]
    assert {(f.rule, f.severity) for f in result.findings} == {("timely-filing-exceeded", "warning")}
    assert result.status == "warning"
    other = late._replace(payer=ACME._replace(id="00590", name="BLUE RIVER BCBS"))
    assert scrub(site, source(other), today=DOS + timedelta(days=200))[0].status == "error"


def test_stored_claims_are_duplicates_but_the_same_claim_resent_is_not(engine: Engine) -> None:
    stored = professional()
    batch = ClaimBatch("0001", "P", "005010X222A1", "00", "B1", DOS, "1200", "CH", claims=(stored,))
    with engine.begin() as conn:
        store_claims(conn, None, [batch], actor="test", now=utc_now())
    again = source(stored, "RESENT")
    other_pcn = source(stored._replace(patient_control_number="PCN9"), "COPY")
    repriced = source(lines_of(line(1, "99213", "160.00"), line(2, "36415", "20.00"))._replace(
        patient_control_number="PCN8"), "NEAR")
    with engine.connect() as conn:
        found = stored_duplicates(conn, [again, other_pcn, repriced])
    assert set(found) == {"COPY", "NEAR"}
    assert found["COPY"].exact_of.startswith("claim ") and not found["COPY"].near_of
    assert found["NEAR"].near_of.startswith("claim ") and not found["NEAR"].exact_of


def test_claims_a_reader_left_out_are_error_results() -> None:
    charge_file = ChargeFile("charge-csv", (), (
        SourceIssue("C7", "row 3", "charge", "'12.x' is not an amount"),
        SourceIssue("", "row 1", "header", "file-level problems are the command's to report")))
    [result] = unreadable_results(charge_file)
    assert result.source_id == "C7" and result.status == "error"
    assert result.findings[0].rule == "source-unreadable" and "row 3, charge" in result.findings[0].message
