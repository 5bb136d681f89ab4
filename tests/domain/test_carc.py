"""CARC denial categories: which adjustments are denials, and which team's playbook each one needs."""

from __future__ import annotations

import pytest

from rcmflow.domain.carc import (
    CARC_MEANINGS,
    CATEGORIES,
    DENIAL_CATEGORIES,
    PRICING_REASONS,
    carc_meaning,
    denial_category,
    is_denial,
)


def test_the_categories_are_the_agreed_eleven() -> None:
    assert set(CATEGORIES) == {"eligibility", "authorization", "coding", "medical necessity", "timely filing",
                               "duplicate", "coordination of benefits", "missing information", "non-covered",
                               "bundling", "other"}
    assert set(DENIAL_CATEGORIES.values()) <= set(CATEGORIES)


@pytest.mark.parametrize(("reason", "category"), [
    ("27", "eligibility"), ("31", "eligibility"), ("109", "eligibility"), ("200", "eligibility"),
    ("15", "authorization"), ("197", "authorization"), ("62", "authorization"), ("288", "authorization"),
    ("4", "coding"), ("11", "coding"), ("181", "coding"), ("189", "coding"), ("B7", "coding"),
    ("50", "medical necessity"), ("55", "medical necessity"), ("151", "medical necessity"),
    ("167", "medical necessity"),
    ("29", "timely filing"), ("18", "duplicate"),
    ("22", "coordination of benefits"), ("129", "coordination of benefits"),
    ("16", "missing information"), ("252", "missing information"), ("226", "missing information"),
    ("96", "non-covered"), ("204", "non-covered"), ("119", "non-covered"), ("283", "non-covered"),
    ("97", "bundling"), ("234", "bundling"), ("236", "bundling"),
])
def test_denial_reasons_fall_in_their_category(reason: str, category: str) -> None:
    assert denial_category(reason) == category


def test_an_unknown_code_is_category_other() -> None:
    assert denial_category("999") == "other"
    assert denial_category(" b7 ") == "coding"  # as a user might type it


def test_every_listed_code_has_a_meaning_shown_to_users() -> None:
    assert set(DENIAL_CATEGORIES) <= set(CARC_MEANINGS)
    assert PRICING_REASONS <= set(CARC_MEANINGS)
    assert carc_meaning("45").startswith("Charge exceeds the fee schedule")
    assert carc_meaning("ZZ9") == "CARC ZZ9 (meaning not in rcmflow's table)"


def test_pricing_reasons_are_never_denial_reasons() -> None:
    assert not PRICING_REASONS & set(DENIAL_CATEGORIES)


@pytest.mark.parametrize(("group", "reason"), [("CO", "50"), ("OA", "18"), ("PI", "16"), ("CO", "97"),
                                               ("CO", "B7"), ("co", "29")])
def test_a_contractual_other_or_payer_adjustment_with_a_denial_code_is_a_denial(group: str, reason: str) -> None:
    assert is_denial(group, reason)


@pytest.mark.parametrize(("group", "reason"), [
    ("PR", "204"),  # the patient owes it: collected from the patient, not appealed
    ("PR", "1"), ("PR", "2"), ("PR", "3"),
    ("CO", "45"), ("CO", "253"), ("CO", "59"), ("CO", "94"), ("CO", "131"), ("CO", "144"),
    ("OA", "23"),  # the prior payer paid: a secondary's normal adjustment
    ("CO", "24"),  # capitation
    ("CR", "16"),  # a correction restates an earlier adjudication
    ("CO", "999"),  # unknown: posted as an adjustment, not a flood of unclassified denials
])
def test_patient_pricing_correction_and_unknown_adjustments_are_not_denials(group: str, reason: str) -> None:
    assert not is_denial(group, reason)
