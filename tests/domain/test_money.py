"""Exact money: strict parsing, whole cents, rounding only where asked, X12 and JSON renderings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rcmflow.domain.money import (
    CENT,
    ZERO,
    MoneyError,
    format_amount,
    format_x12_amount,
    from_cents,
    parse_amount,
    round_cents,
    to_cents,
    total,
)


@pytest.mark.parametrize(("text", "value"), [
    ("12.50", Decimal("12.50")),
    ("0", ZERO),
    ("-5", Decimal("-5")),
    ("-0.01", Decimal("-0.01")),
    (".5", Decimal("0.5")),
    ("5.", Decimal("5")),
    ("150000.00", Decimal("150000")),
    ("0.0000001", Decimal("1E-7")),
])
def test_parse_amount_reads_x12_decimals_exactly(text: str, value: Decimal) -> None:
    parsed = parse_amount(text)
    assert parsed == value and isinstance(parsed, Decimal)
    assert parsed.as_tuple() == Decimal(text).as_tuple()  # exact: the digits sent are the digits kept


@pytest.mark.parametrize("text", [
    "", "-", ".", "-.", "+5", " 5", "5 ", "1,000.00", "1.2.3", "--5", "1e2", "1E+2", "1_000", "NaN", "nan", "-NaN",
    "sNaN", "Infinity", "-Infinity", "inf", "$5", "5-", "0x10",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit, not an X12 one
    "\u00b2",  # SUPERSCRIPT TWO: isdigit() is true, Decimal() refuses it
    "1\u00b2",
])
def test_parse_amount_refuses_anything_else_with_money_error(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text)


def test_money_error_is_a_value_error() -> None:
    assert issubclass(MoneyError, ValueError)


@pytest.mark.parametrize(("amount", "cents"), [
    (Decimal("12.34"), 1234), (Decimal("12.340"), 1234), (Decimal("-0.05"), -5), (ZERO, 0), (Decimal("1E+3"), 100000),
    (Decimal("99999999999.99"), 9999999999999),
])
def test_to_cents(amount: Decimal, cents: int) -> None:
    assert to_cents(amount) == cents
    assert from_cents(cents) == amount


@pytest.mark.parametrize("amount", [Decimal("12.345"), Decimal("0.001"), Decimal("-0.005"), Decimal("1E-10")])
def test_to_cents_refuses_fractions_of_a_cent(amount: Decimal) -> None:
    with pytest.raises(MoneyError, match="fractions of a cent"):
        to_cents(amount)


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_to_cents_and_round_cents_refuse_non_finite_amounts(amount: str) -> None:
    with pytest.raises(MoneyError):
        to_cents(Decimal(amount))
    with pytest.raises(MoneyError):
        round_cents(Decimal(amount))


def test_from_cents_is_exact() -> None:
    assert from_cents(1) == CENT
    assert str(from_cents(1234)) == "12.34"
    assert str(from_cents(-5)) == "-0.05"
    assert from_cents(0) == ZERO


@pytest.mark.parametrize(("amount", "rounded"), [
    ("2.345", "2.35"), ("2.344", "2.34"), ("-2.345", "-2.35"), ("0.005", "0.01"), ("10", "10.00"), ("1.1", "1.10"),
])
def test_round_cents_half_up(amount: str, rounded: str) -> None:
    assert str(round_cents(Decimal(amount))) == rounded


@pytest.mark.parametrize(("amount", "text"), [
    ("12.5", "12.50"), ("12", "12.00"), ("-0.5", "-0.50"), ("0", "0.00"), ("1E+2", "100.00"), ("0.10", "0.10"),
])
def test_format_amount_has_two_places(amount: str, text: str) -> None:
    assert format_amount(Decimal(amount)) == text


@pytest.mark.parametrize(("amount", "text"), [
    ("12.50", "12.5"), ("100", "100"), ("100.00", "100"), ("0.00", "0"), ("-0", "0"), ("-0.00", "0"),
    ("-12.50", "-12.5"), ("1E+2", "100"), ("1E-7", "0.0000001"), ("150000.00", "150000"), ("0.10", "0.1"),
])
def test_format_x12_amount_has_no_trailing_zeros_and_no_exponent(amount: str, text: str) -> None:
    assert format_x12_amount(Decimal(amount)) == text
    assert parse_amount(text) == Decimal(amount)


def test_total_is_exact_and_refuses_floats() -> None:
    assert total([]) == ZERO and isinstance(total([]), Decimal)
    assert total(Decimal("0.1") for _ in range(10)) == Decimal("1")
    assert sum(0.1 for _ in range(10)) != 1  # what floats would have done
    with pytest.raises(TypeError):
        total([Decimal("1"), 0.1])  # type: ignore[list-item]
