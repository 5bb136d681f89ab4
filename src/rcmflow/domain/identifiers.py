"""Identifiers with check rules: National Provider Identifier (Luhn) and taxpayer ids."""

from __future__ import annotations

# The NPI check digit is the Luhn digit of the 9 leading digits prefixed with the
# card-issuer prefix 80840 (CMS NPI standard); adding 24 accounts for that prefix.
_NPI_PREFIX_SUM = 24


def npi_check_digit(first_nine: str) -> int:
    """The Luhn check digit for the first nine digits of an NPI."""
    total = _NPI_PREFIX_SUM
    for position, char in enumerate(reversed(first_nine)):
        digit = ord(char) - 48
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(value: str) -> bool:
    """True for a ten-digit NPI, starting 1 or 2, whose Luhn check digit is right."""
    if len(value) != 10 or not value.isdigit() or value[0] not in "12":
        return False
    return npi_check_digit(value[:9]) == int(value[9])


def make_npi(first_nine: str) -> str:
    """Complete nine digits into a valid NPI (for test data and the sandbox)."""
    return first_nine + str(npi_check_digit(first_nine))


def is_valid_tin(value: str) -> bool:
    """True for a nine-digit EIN or SSN, with or without its hyphen, not all zeros."""
    digits = value.replace("-", "")
    if len(digits) != 9 or not digits.isdigit() or not digits.isascii() or digits == "000000000":
        return False
    # Only the two written forms: EIN 12-3456789 and SSN 123-45-6789.
    hyphens = [index for index, char in enumerate(value) if char == "-"]
    return hyphens in ([], [2], [3, 6])
