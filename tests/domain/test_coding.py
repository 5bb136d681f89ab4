"""Code-set knowledge: ICD-10-CM validity, procedure code formats, CPT descriptors, MCE-style age and sex edits."""

from __future__ import annotations

from datetime import date
from importlib import metadata

import pytest

from rcmflow.domain.coding import (
    DIAGNOSIS_AGE_RULES,
    FEMALE_DIAGNOSES,
    ICD10CM_RELEASE,
    MALE_DIAGNOSES,
    CodeRange,
    CptDescriptors,
    age_on,
    diagnosis_age_range,
    diagnosis_age_rule,
    diagnosis_sex,
    icd10_billable,
    icd10_description,
    icd10_exists,
    icd10_key,
    is_cpt_format,
    is_hcpcs_level2,
    procedure_code_format_ok,
    procedure_sex,
)

# ---- ICD-10-CM ------------------------------------------------------------------------------------


def test_the_release_named_is_the_one_the_package_ships() -> None:
    # Read from the distribution's file list: importing the package's data module would load the tabular.
    shipped = {item.name for item in metadata.files("simple_icd_10_cm") or ()}
    assert "icd10c-tabular-April-1-2026.xml" in shipped
    assert "FY2026" in ICD10CM_RELEASE and "April 1, 2026" in ICD10CM_RELEASE


@pytest.mark.parametrize(("written", "key"), [
    ("E11.9", "E119"), ("e11.9", "E119"), (" E119 ", "E119"), ("E11", "E11"), ("S72.001A", "S72001A"),
    ("E11.", None), ("E1.19", None), ("E11 9", None), ("", None), ("A00-A09", None), ("1", None),
    ("E11.99999", None), ("11.9", None),
])
def test_icd10_key(written: str, key: str | None) -> None:
    assert icd10_key(written) == key


@pytest.mark.parametrize("code", ["E11", "E11.9", "E119", "e11.9", "S72.001", "S72.001A", "S72001A", "T36.0X1A",
                                  "Z3A", "Z3A.00", "O9A.11", "U07.1", "B99"])
def test_existing_codes(code: str) -> None:
    assert icd10_exists(code)


@pytest.mark.parametrize("code", ["E11.99", "E11.7", "Z99.99", "U99", "A00-A09", "1", "", "E1.19", "S72.001Z"])
def test_codes_that_do_not_exist(code: str) -> None:
    assert not icd10_exists(code)
    assert not icd10_billable(code)


@pytest.mark.parametrize("code", ["E11.9", "e119", "S72.001A", "T36.0X1A", "Z3A.00", "Z00.121", "U07.1", "B99.9"])
def test_billable_codes(code: str) -> None:
    assert icd10_billable(code)


@pytest.mark.parametrize("code", ["E11", "E11.6", "S72.001", "Z3A", "O9A.11", "Z00.12", "B99"])
def test_header_codes_exist_but_are_not_billable(code: str) -> None:
    assert icd10_exists(code)
    assert not icd10_billable(code)


def test_descriptions() -> None:
    assert icd10_description("E11.9") == "Type 2 diabetes mellitus without complications"
    assert icd10_description("e119") == icd10_description("E11.9")
    assert icd10_description("E11") == "Type 2 diabetes mellitus"
    assert icd10_description("E11.99") == ""
    assert icd10_description("A00-A09") == ""


# ---- procedure code formats -----------------------------------------------------------------------

@pytest.mark.parametrize("code", ["J1885", "G0439", "A0425", "V2020", "E0114", "Q0091"])
def test_hcpcs_level2(code: str) -> None:
    assert is_hcpcs_level2(code)
    assert not is_cpt_format(code)
    assert procedure_code_format_ok(code)


@pytest.mark.parametrize("code", ["99213", "00100", "3074F", "0042T", "0001U"])
def test_cpt_formats(code: str) -> None:
    assert is_cpt_format(code)
    assert not is_hcpcs_level2(code)
    assert procedure_code_format_ok(code)


@pytest.mark.parametrize("code", [
    "W1234", "Z1234",  # letters past V are not HCPCS Level II
    "9921", "992130", "3074X", "0042A", "J188", "J18855", "JJ885",  # wrong length or letters
    "j1885", " 99213", "99213 ", "",  # as sent: upper case, no spaces
    "９９２１３",  # full-width digits are not ASCII digits
])
def test_malformed_procedure_codes(code: str) -> None:
    assert not procedure_code_format_ok(code)


def test_cpt_descriptors_when_loaded() -> None:
    cpt = CptDescriptors({"99213": "Office or other outpatient visit", "0001u": "Red blood cell antigen typing"},
                         source="LONGULT.txt")
    assert cpt.loaded and len(cpt) == 2 and cpt.source == "LONGULT.txt"
    assert cpt.known("99213") and cpt.cpt_known("99213")
    assert cpt.known("0001U") and cpt.known(" 0001u ")
    assert not cpt.known("99214")
    assert cpt.descriptor("99213") == "Office or other outpatient visit"
    assert cpt.descriptor("99214") is None


def test_cpt_descriptors_not_loaded_know_nothing() -> None:
    cpt = CptDescriptors()
    assert not cpt.loaded and len(cpt) == 0
    assert not cpt.known("99213")


# ---- sex edits ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "sex"), [
    ("N80.0", "F"), ("n800", "F"), ("C53.9", "F"), ("C51.0", "F"), ("C58", "F"), ("D07.0", "F"), ("D07.3", "F"),
    ("O80", "F"), ("O9A.11", "F"), ("O99.89", "F"), ("Z3A.20", "F"), ("Z33.1", "F"), ("Z30.430", "F"),
    ("Z12.4", "F"), ("Z01.419", "F"), ("Z87.42", "F"), ("Z85.43", "F"), ("N98.1", "F"), ("A34", "F"),
    ("C61", "M"), ("N40.0", "M"), ("N53.9", "M"), ("B26.0", "M"), ("D07.4", "M"), ("D07.6", "M"), ("Z12.5", "M"),
    ("Z85.46", "M"), ("Q54.0", "M"), ("R86.9", "M"),
    ("J45.909", None), ("E11.9", None), ("N39.0", None), ("N99.89", None), ("N64.4", None), ("C50.911", None),
    ("Z30.40", None), ("Z12.31", None), ("B26.9", None), ("Z80.42", None), ("Z85.3", None), ("bad", None),
])
def test_diagnosis_sex(code: str, sex: str | None) -> None:
    assert diagnosis_sex(code) == sex


def test_sex_tables_name_existing_codes_and_do_not_overlap() -> None:
    for item in (*FEMALE_DIAGNOSES, *MALE_DIAGNOSES):
        assert icd10_exists(item.first), item
        assert icd10_exists(item.last or item.first), item
    for item in FEMALE_DIAGNOSES:
        assert diagnosis_sex(item.first) == "F" and diagnosis_sex(item.last or item.first) == "F", item
    for item in MALE_DIAGNOSES:
        assert diagnosis_sex(item.first) == "M" and diagnosis_sex(item.last or item.first) == "M", item


@pytest.mark.parametrize(("code", "sex"), [
    ("54000", "M"), ("55700", "M"), ("55899", "M"), ("G0102", "M"), ("G0103", "M"), ("g0103", "M"),
    ("56405", "F"), ("58150", "F"), ("58999", "F"), ("59000", "F"), ("59400", "F"), ("59899", "F"),
    ("G0101", "F"), ("G0123", "F"), ("G0124", "F"), ("G0141", "F"), ("G0143", "F"), ("G0148", "F"),
    ("P3000", "F"), ("P3001", "F"), ("Q0091", "F"),
    ("53999", None), ("55920", None), ("56399", None), ("59900", None), ("99213", None), ("G0104", None),
    ("G0142", None), ("G0149", None), ("Q0092", None),
    ("5400F", None), ("5500T", None),  # Category II/III codes are not in the digit ranges
])
def test_procedure_sex(code: str, sex: str | None) -> None:
    assert procedure_sex(code) == sex


# ---- age edits ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "ages", "category"), [
    ("P07.30", (0, 0), "newborn"), ("P00.0", (0, 0), "newborn"), ("P96.89", (0, 0), "newborn"),
    ("Z38.00", (0, 0), "newborn"), ("Z00.110", (0, 0), "newborn"), ("Z05.1", (0, 0), "newborn"),
    ("Z00.121", (0, 17), "pediatric"), ("Z00.129", (0, 17), "pediatric"), ("Z00.3", (0, 17), "pediatric"),
    ("O80", (9, 64), "maternity"), ("O9A.11", (9, 64), "maternity"), ("Z3A.20", (9, 64), "maternity"),
    ("Z34.00", (9, 64), "maternity"), ("Z33.1", (9, 64), "maternity"), ("Z39.2", (9, 64), "maternity"),
    ("Z00.00", (15, 124), "adult"), ("Z00.01", (15, 124), "adult"),
])
def test_diagnosis_age_ranges(code: str, ages: tuple[int, int], category: str) -> None:
    assert diagnosis_age_range(code) == ages
    rule = diagnosis_age_rule(code)
    assert rule is not None and rule.category == category


@pytest.mark.parametrize("code", ["E11.9", "J45.909", "Z00.8", "Z01.419", "Q99.9", "Z32.01", "bad"])
def test_diagnoses_of_any_age(code: str) -> None:
    assert diagnosis_age_range(code) is None


def test_a_newborn_diagnosis_fits_an_infant_and_not_a_thirty_year_old() -> None:
    ages = diagnosis_age_range("P07.30")
    assert ages == (0, 0)
    thirty = age_on(date(1995, 6, 1), date(2025, 6, 2))
    infant = age_on(date(2025, 6, 1), date(2025, 6, 20))
    assert (thirty, infant) == (30, 0)
    assert not ages[0] <= thirty <= ages[1]
    assert ages[0] <= infant <= ages[1]


def test_age_rules_name_existing_codes_and_the_first_match_is_their_own() -> None:
    for rule in DIAGNOSIS_AGE_RULES:
        assert icd10_exists(rule.codes.first), rule
        assert icd10_exists(rule.codes.last or rule.codes.first), rule
        assert diagnosis_age_rule(rule.codes.first) == rule


def test_code_range_compares_on_the_leading_characters() -> None:
    span = CodeRange("C51", "C58")
    assert span.covers("C51") and span.covers("C569") and span.covers("C58")
    assert not span.covers("C50911") and not span.covers("C60") and not span.covers("C5")
    single = CodeRange("Z3043")
    assert single.covers("Z3043") and single.covers("Z30430")
    assert not single.covers("Z3040") and not single.covers("Z304")
    assert CodeRange("O00", "O9A").covers("O99") and CodeRange("O00", "O9A").covers("O9A11")


# ---- age ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("born", "day", "age"), [
    (date(1980, 3, 15), date(2025, 3, 14), 44),
    (date(1980, 3, 15), date(2025, 3, 15), 45),
    (date(1980, 3, 15), date(2025, 12, 31), 45),
    (date(2025, 1, 1), date(2025, 1, 1), 0),
    (date(2024, 12, 31), date(2025, 12, 30), 0),
    (date(2000, 2, 29), date(2025, 2, 28), 24),  # no 29 February in 2025: the birthday counts from 1 March
    (date(2000, 2, 29), date(2025, 3, 1), 25),
    (date(2000, 2, 29), date(2024, 2, 29), 24),
])
def test_age_on(born: date, day: date, age: int) -> None:
    assert age_on(born, day) == age


def test_age_before_birth_is_refused() -> None:
    with pytest.raises(ValueError, match="before the birth date"):
        age_on(date(2025, 5, 2), date(2025, 5, 1))
