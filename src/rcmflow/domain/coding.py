"""Code-set knowledge for claim edits: ICD-10-CM validity, procedure code formats, CPT descriptors, age and sex edits.

ICD-10-CM comes from the ``simple_icd_10_cm`` package, which ships the CMS tabular list: version 1.5.0 carries
the FY2026 code set as updated on April 1, 2026 (``icd10c-tabular-April-1-2026.xml``, see ``ICD10CM_RELEASE``).
The package knows one release only, so a code's validity is that of this release whatever the date of service;
upgrading the package moves every check to its release.

CPT descriptors are the AMA's copyright and never ship with rcmflow: ``CptDescriptors`` holds those of a
licensed file the user supplies (``rcmflow.formats.cpt_file``). Code *formats* need no licence.

The age and sex edits follow the categories of the CMS Medicare Code Editor (MCE) "Age conflict" and "Sex
conflict" edits. The MCE lists individual codes and CMS revises them every fiscal year; the tables here are
condensed to category (or subcategory) ranges, are module data meant to be extended, and are rule inputs rather
than verdicts: Medicare lets modifier KX (professional and outpatient claims) or condition code 45
(institutional) override a sex edit, and payers differ on which edits they apply.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from datetime import date
from functools import cache
from types import MappingProxyType, ModuleType
from typing import NamedTuple

ICD10CM_RELEASE = "FY2026 (April 1, 2026 update)"

FEMALE = "F"
MALE = "M"

# An ICD-10-CM code as written on a claim (A00, E119) or in print (E11.9): the dot, if any, follows the category.
_ICD10_CODE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?")
_HCPCS_LEVEL2 = re.compile(r"[A-V][0-9]{4}")
# CPT Category I (99213), Category II (3074F), Category III (0042T), Proprietary Laboratory Analyses (0001U).
_CPT = re.compile(r"[0-9]{5}|[0-9]{4}[FTU]")


# ---- ICD-10-CM ------------------------------------------------------------------------------------

@cache
def _icd() -> ModuleType:
    # Imported on first use: loading the tabular takes about two seconds. The package reads its data with the
    # legacy importlib.resources functions, whose DeprecationWarning would otherwise reach every caller.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".* is deprecated\. Use files\(\) instead",
                                category=DeprecationWarning)
        import simple_icd_10_cm
    return simple_icd_10_cm


def icd10_key(code: str) -> str | None:
    """The dot-less upper-case form of an ICD-10-CM code as written (``e11.9`` -> ``E119``); None if malformed."""
    text = code.strip().upper()
    if not _ICD10_CODE.fullmatch(text):
        return None
    return text.replace(".", "")


def icd10_exists(code: str) -> bool:
    """True for a category or subcategory of the ICD-10-CM release, billable or not (E11 and E11.9 both exist)."""
    key = icd10_key(code)
    # is_category_or_subcategory keeps out chapters ("1") and blocks ("A00-A09"), which the package also knows.
    return key is not None and bool(_icd().is_category_or_subcategory(key))


def icd10_billable(code: str) -> bool:
    """True for a code valid on a claim: one with no subdivisions (E11.9, S72.001A; not the header E11)."""
    key = icd10_key(code)
    return key is not None and icd10_exists(key) and bool(_icd().is_leaf(key))


def icd10_description(code: str) -> str:
    """The tabular description of a code; empty for a code the release does not have."""
    key = icd10_key(code)
    if key is None or not icd10_exists(key):
        return ""
    return str(_icd().get_description(key))


# ---- procedure codes ------------------------------------------------------------------------------
# Formats are checked as sent on a claim: upper case, no spaces.

def is_hcpcs_level2(code: str) -> bool:
    """True for a HCPCS Level II code: a letter A-V and four digits (J1885, G0439)."""
    return _HCPCS_LEVEL2.fullmatch(code) is not None


def is_cpt_format(code: str) -> bool:
    """True for a CPT code: five digits (Category I), or four digits and F (II), T (III) or U (PLA)."""
    return _CPT.fullmatch(code) is not None


def procedure_code_format_ok(code: str) -> bool:
    """True for a well-formed CPT or HCPCS Level II code."""
    return is_cpt_format(code) or is_hcpcs_level2(code)


class CptDescriptors:
    """CPT codes with their descriptors, read from a licensed AMA file (``rcmflow.formats.cpt_file``).

    Empty (not ``loaded``) when the user has supplied none; ``known`` then knows no code, so callers must
    check ``loaded`` before treating an unknown code as an error.
    """

    __slots__ = ("_descriptors", "source")

    def __init__(self, descriptors: Mapping[str, str] | None = None, *, source: str = "") -> None:
        self._descriptors = MappingProxyType({code.strip().upper(): text for code, text in (descriptors or {}).items()})
        self.source = source

    @property
    def loaded(self) -> bool:
        return bool(self._descriptors)

    def __len__(self) -> int:
        return len(self._descriptors)

    def known(self, code: str) -> bool:
        """True when the licensed file lists the code."""
        return code.strip().upper() in self._descriptors

    cpt_known = known

    def descriptor(self, code: str) -> str | None:
        """The code's descriptor from the licensed file, if it lists the code."""
        return self._descriptors.get(code.strip().upper())


# ---- age and sex edits (after the CMS Medicare Code Editor) ----------------------------------------

class CodeRange(NamedTuple):
    """Codes from ``first`` to ``last`` inclusive, compared on the leading characters of the dot-less code.

    ``CodeRange("C51", "C58")`` covers C51 to C58.9; ``CodeRange("Z3043")`` covers Z30.43 and its subcodes.
    Digits sort before letters, so ``CodeRange("O00", "O9A")`` runs through O99 to O9A.
    """

    first: str
    last: str = ""

    def covers(self, key: str) -> bool:
        last = self.last or self.first
        return self.first <= key[:len(self.first)] and key[:len(last)] <= last


class AgeRule(NamedTuple):
    """Diagnoses of one MCE age category and the ages (in whole years, inclusive) they are plausible at."""

    codes: CodeRange
    category: str
    low: int
    high: int


NEWBORN, PEDIATRIC, MATERNITY, ADULT = "newborn", "pediatric", "maternity", "adult"
_AGES = {NEWBORN: (0, 0), PEDIATRIC: (0, 17), MATERNITY: (9, 64), ADULT: (15, 124)}  # the MCE's age ranges


def _age(category: str, first: str, last: str = "") -> AgeRule:
    low, high = _AGES[category]
    return AgeRule(CodeRange(first, last), category, low, high)


# Derived from the MCE age-conflict lists, condensed to ranges; the first rule that covers a code applies.
DIAGNOSIS_AGE_RULES: tuple[AgeRule, ...] = (
    _age(NEWBORN, "P00", "P96"),  # conditions originating in the perinatal period
    _age(NEWBORN, "Z0011"),  # newborn health examination
    _age(NEWBORN, "Z05"),  # observation and evaluation of newborn for suspected conditions
    _age(NEWBORN, "Z38"),  # liveborn infants
    _age(PEDIATRIC, "Z0012"),  # routine child health examination
    _age(PEDIATRIC, "Z002", "Z003"),  # examination for rapid growth in childhood, adolescent development
    _age(MATERNITY, "O00", "O9A"),  # pregnancy, childbirth and the puerperium
    _age(MATERNITY, "Z33", "Z34"),  # pregnant state, supervision of normal pregnancy
    _age(MATERNITY, "Z36", "Z37"),  # antenatal screening of mother, outcome of delivery
    _age(MATERNITY, "Z39"),  # postpartum care
    _age(MATERNITY, "Z3A"),  # weeks of gestation
    _age(ADULT, "Z000"),  # general adult medical examination
)

# Derived from the MCE "diagnoses for females only" list, condensed to category/subcategory ranges.
FEMALE_DIAGNOSES: tuple[CodeRange, ...] = (
    CodeRange("A34"),  # obstetrical tetanus
    CodeRange("C51", "C58"),  # malignant neoplasms of female genital organs and placenta
    CodeRange("D06"),  # carcinoma in situ of cervix
    CodeRange("D070", "D073"),  # carcinoma in situ of endometrium, vulva, vagina, other female genital
    CodeRange("D25", "D28"),  # benign neoplasms of uterus, ovary, other female genital organs
    CodeRange("D39"),  # neoplasm of uncertain behaviour of female genital organs
    CodeRange("E28"),  # ovarian dysfunction
    CodeRange("N70", "N98"),  # diseases of the female genital tract
    CodeRange("O00", "O9A"),  # pregnancy, childbirth and the puerperium
    CodeRange("Q50", "Q52"),  # congenital malformations of female genitalia
    CodeRange("R87"),  # abnormal findings in specimens from female genital organs
    CodeRange("Z014"),  # gynaecological examination
    CodeRange("Z124"),  # screening for malignant neoplasm of cervix
    CodeRange("Z3043"),  # surveillance of intrauterine contraceptive device
    CodeRange("Z32", "Z34"),  # pregnancy test and childbirth instruction, pregnant state, normal pregnancy
    CodeRange("Z36", "Z37"),  # antenatal screening, outcome of delivery
    CodeRange("Z39"),  # postpartum care
    CodeRange("Z3A"),  # weeks of gestation
    CodeRange("Z8540", "Z8544"),  # personal history of malignant neoplasm of female genital organs
    CodeRange("Z8632"),  # personal history of gestational diabetes
    CodeRange("Z8741", "Z8742"),  # personal history of dysplasia / other diseases of the female genital tract
    CodeRange("Z875"),  # personal history of complications of pregnancy
    CodeRange("Z9071", "Z9072"),  # acquired absence of cervix and uterus, of ovaries
    CodeRange("Z975"),  # presence of intrauterine contraceptive device
    CodeRange("Z9851"),  # tubal ligation status
)

# Derived from the MCE "diagnoses for males only" list. Family-history codes (Z80.42 prostate) are left out on
# purpose: they describe a relative, so any patient may carry them.
MALE_DIAGNOSES: tuple[CodeRange, ...] = (
    CodeRange("B260"),  # mumps orchitis
    CodeRange("C60", "C63"),  # malignant neoplasms of male genital organs
    CodeRange("D074", "D076"),  # carcinoma in situ of penis, prostate, other male genital
    CodeRange("D29"),  # benign neoplasm of male genital organs
    CodeRange("D40"),  # neoplasm of uncertain behaviour of male genital organs
    CodeRange("E29"),  # testicular dysfunction
    CodeRange("N40", "N53"),  # diseases of male genital organs
    CodeRange("Q53", "Q55"),  # undescended testicle, hypospadias, other male genital malformations
    CodeRange("R86"),  # abnormal findings in specimens from male genital organs
    CodeRange("Z125"),  # screening for malignant neoplasm of prostate
    CodeRange("Z8545", "Z8548"),  # personal history of malignant neoplasm of male genital organs
    CodeRange("Z8743"),  # personal history of diseases of male genital organs
    CodeRange("Z9852"),  # vasectomy status
)

# Procedure ranges compare whole codes of the same shape (digits/letters), so 5400F is not in 54000-55899.
FEMALE_PROCEDURES: tuple[CodeRange, ...] = (
    CodeRange("56405", "58999"),  # CPT female genital system
    CodeRange("59000", "59899"),  # CPT maternity care and delivery
    CodeRange("G0101"),  # cervical or vaginal cancer screening; pelvic and clinical breast examination
    CodeRange("G0123", "G0124"),  # screening cytopathology, cervical or vaginal
    CodeRange("G0141"),  # screening cytopathology smears, physician interpretation
    CodeRange("G0143", "G0148"),  # screening cytopathology, thin layer and automated
    CodeRange("P3000", "P3001"),  # screening Papanicolaou smear
    CodeRange("Q0091"),  # screening Papanicolaou smear: obtaining, preparing and conveying
)

MALE_PROCEDURES: tuple[CodeRange, ...] = (
    CodeRange("54000", "55899"),  # CPT male genital system
    CodeRange("G0102", "G0103"),  # prostate cancer screening: digital rectal examination, PSA
)


def _sex_of(key: str, female: tuple[CodeRange, ...], male: tuple[CodeRange, ...]) -> str | None:
    if any(item.covers(key) for item in female):
        return FEMALE
    if any(item.covers(key) for item in male):
        return MALE
    return None


def diagnosis_sex(code: str) -> str | None:
    """``"F"`` for a female-only diagnosis, ``"M"`` for a male-only one, None for either (or a malformed code)."""
    key = icd10_key(code)
    return None if key is None else _sex_of(key, FEMALE_DIAGNOSES, MALE_DIAGNOSES)


def diagnosis_age_rule(code: str) -> AgeRule | None:
    """The MCE age category of a diagnosis, if it has one."""
    key = icd10_key(code)
    if key is None:
        return None
    return next((rule for rule in DIAGNOSIS_AGE_RULES if rule.codes.covers(key)), None)


def diagnosis_age_range(code: str) -> tuple[int, int] | None:
    """The ages (whole years, inclusive) a diagnosis is plausible at, or None when any age is."""
    rule = diagnosis_age_rule(code)
    return None if rule is None else (rule.low, rule.high)


def _shape(code: str) -> str:
    return "".join("9" if char.isdigit() else "A" for char in code)


def _procedure_in(key: str, codes: CodeRange) -> bool:
    last = codes.last or codes.first
    return _shape(key) == _shape(codes.first) and codes.first <= key <= last


def procedure_sex(code: str) -> str | None:
    """``"F"`` for a female-only CPT/HCPCS procedure, ``"M"`` for a male-only one, None for either."""
    key = code.strip().upper()
    if any(_procedure_in(key, codes) for codes in FEMALE_PROCEDURES):
        return FEMALE
    if any(_procedure_in(key, codes) for codes in MALE_PROCEDURES):
        return MALE
    return None


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day``; someone born on 29 February turns a year older on 1 March in other years."""
    if day < birth_date:
        raise ValueError(f"{day} is before the birth date {birth_date}")
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
