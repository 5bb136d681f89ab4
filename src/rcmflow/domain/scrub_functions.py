"""The functions scrubber rules may call from CEL, and nothing else: code-set lookups and identifier checks.

Each takes and returns plain values (strings, ints, bools). Rules cannot reach anything not listed here,
which is what keeps a rule pack safe to accept from an operations team.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rcmflow.domain.coding import (
    CptDescriptors,
    diagnosis_age_range,
    diagnosis_sex,
    icd10_billable,
    icd10_exists,
    is_cpt_format,
    is_hcpcs_level2,
    procedure_sex,
)
from rcmflow.domain.identifiers import is_valid_npi, is_valid_tin

# CMS place of service code set (https://www.cms.gov/medicare/coding-billing/place-of-service-codes).
PLACE_OF_SERVICE_CODES = frozenset(
    [f"{n:02d}" for n in range(1, 28)] + ["31", "32", "33", "34", "41", "42"]
    + [f"{n:02d}" for n in range(49, 59)] + ["60", "61", "62", "65", "66", "71", "72", "81", "99"]
)
_MODIFIER = re.compile(r"[A-Z0-9]{2}")
_TAXONOMY = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")
_REVENUE_CODE = re.compile(r"0[0-9]{3}")


def _sex_matches(required: str | None, sex: str) -> bool:
    return required is None or sex not in {"M", "F"} or sex == required


def dx_sex_ok(code: str, sex: str) -> bool:
    """False when the diagnosis is for the other sex only (an unknown sex never fails)."""
    return _sex_matches(diagnosis_sex(code), sex)


def dx_age_ok(code: str, age: int) -> bool:
    """False when the patient's age falls outside the diagnosis's age range (an unknown age, -1, never fails)."""
    bounds = diagnosis_age_range(code)
    return age < 0 or bounds is None or bounds[0] <= age <= bounds[1]


def procedure_sex_ok(code: str, sex: str) -> bool:
    """False when the procedure is for the other sex only."""
    return _sex_matches(procedure_sex(code), sex)


def procedure_code_valid(code: str) -> bool:
    """A CPT (Category I, II, III or PLA) or HCPCS Level II code by its format."""
    return is_cpt_format(code) or is_hcpcs_level2(code)


def scrub_functions(cpt: CptDescriptors | None = None) -> dict[str, Callable[..., Any]]:
    """The functions rules may call. ``cpt_known`` checks a licensed CPT file when one is loaded; without
    one it cannot know, and says true (the format check still applies)."""
    def cpt_known(code: str) -> bool:
        return cpt is None or not is_cpt_format(code) or cpt.known(code)

    return {
        "icd10_exists": icd10_exists,
        "icd10_billable": icd10_billable,
        "procedure_code_valid": procedure_code_valid,
        "is_cpt": is_cpt_format,
        "is_hcpcs": is_hcpcs_level2,
        "cpt_known": cpt_known,
        "npi_valid": is_valid_npi,
        "tin_valid": is_valid_tin,
        "pos_valid": lambda code: code in PLACE_OF_SERVICE_CODES,
        "modifier_valid": lambda code: _MODIFIER.fullmatch(code) is not None,
        "taxonomy_valid": lambda code: _TAXONOMY.fullmatch(code) is not None,
        "revenue_code_valid": lambda code: _REVENUE_CODE.fullmatch(code) is not None,
        "dx_sex_ok": dx_sex_ok,
        "dx_age_ok": dx_age_ok,
        "procedure_sex_ok": procedure_sex_ok,
    }
