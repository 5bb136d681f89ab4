"""Identifiers with check rules: NPI (Luhn with the 80840 prefix) and taxpayer identification numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.identifiers import is_valid_npi, is_valid_tin, make_npi, npi_check_digit


def luhn_valid(number: str) -> bool:
    """The textbook Luhn check over all digits, written independently of the module under test."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


# 1234567893 is the example of the CMS NPI check digit paper; the others are made with the 80840 prefix.
VALID_NPIS = ["1234567893", "1245319599", "1003000126", "2000000002", "1999999984", "1111111112", "1987654328"]


@pytest.mark.parametrize("npi", VALID_NPIS)
def test_valid_npis(npi: str) -> None:
    assert luhn_valid("80840" + npi)
    assert is_valid_npi(npi)
    assert make_npi(npi[:9]) == npi
    assert npi_check_digit(npi[:9]) == int(npi[9])


@pytest.mark.parametrize("npi", [
    "1234567890", "1234567894", "1234567839",  # wrong check digit, swapped digits
    "123456789", "12345678933", "",  # wrong length
    "3234567893", "0234567893",  # must start with 1 or 2
    "12345678a3", "1234 67893", "-123456789", "１２３４５６７８９３",  # not ASCII digits
])
def test_invalid_npis(npi: str) -> None:
    assert not is_valid_npi(npi)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from("12"), st.text("0123456789", min_size=8, max_size=8), st.integers(min_value=0, max_value=9))
def test_npi_check_digit_agrees_with_luhn(first: str, middle: str, check: int) -> None:
    npi = first + middle + str(check)
    assert is_valid_npi(npi) == luhn_valid("80840" + npi)
    assert is_valid_npi(make_npi(first + middle))


@pytest.mark.parametrize("tin", ["123456789", "12-3456789", "123-45-6789", "000000001"])
def test_valid_tins(tin: str) -> None:
    assert is_valid_tin(tin)


@pytest.mark.parametrize("tin", [
    "000000000", "00-0000000", "000-00-0000",  # all zeros
    "12345678", "1234567890", "",  # wrong length
    "12-345-6789", "123-456789", "1234-56789", "1-23456789", "123-45-67-89", "12--3456789",  # misplaced hyphens
    "12345678A", "12 3456789", "１２３４５６７８９",
])
def test_invalid_tins(tin: str) -> None:
    assert not is_valid_tin(tin)
