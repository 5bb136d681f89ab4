"""Exact money: ``Decimal`` at the edges, integer cents in storage, never float."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

ZERO = Decimal("0")
CENT = Decimal("0.01")


class MoneyError(ValueError):
    """A text or number that is not an exact, finite amount."""


def is_amount_text(text: str) -> bool:
    """True for a strict decimal amount: optional leading minus, ASCII digits, at most one point."""
    body = text[1:] if text[:1] == "-" else text
    # isdigit() alone also passes other scripts' digits and superscripts, which X12 never sends.
    return body.replace(".", "", 1).isdigit() and body.isascii()


def parse_amount(text: str) -> Decimal:
    """Parse an X12/CSV decimal amount strictly (digits, one optional point, optional leading minus)."""
    if not is_amount_text(text):
        raise MoneyError(f"not an amount: {text!r}")
    return Decimal(text)


def to_cents(amount: Decimal) -> int:
    """Whole cents of an amount; refuses sub-cent remainders instead of rounding them away."""
    if not amount.is_finite():
        raise MoneyError(f"{amount} is not a finite amount")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise MoneyError(f"{amount} has fractions of a cent")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """The Decimal amount of an integer number of cents."""
    return Decimal(cents).scaleb(-2)


def round_cents(amount: Decimal) -> Decimal:
    """Round half up to the cent (only for computed amounts such as percentages)."""
    if not amount.is_finite():
        raise MoneyError(f"{amount} is not a finite amount")
    try:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise MoneyError(f"cannot round {amount}") from exc


def format_amount(amount: Decimal) -> str:
    """Two-place decimal string, the contract for JSON output ("12.50")."""
    return f"{amount:.2f}"


def format_x12_amount(amount: Decimal) -> str:
    """X12 R-type rendering: no trailing zeros past the point, no exponent ("12.5", "100")."""
    text = f"{amount:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@lru_cache(maxsize=65_536)
def from_stored(value: Any) -> Decimal:
    """A stored NUMERIC(18,2) amount as exact cents: SQLite hands it back through a float, PostgreSQL as a
    Decimal; two places recover the stored cents either way. Cached: volume reads repeat the same amounts."""
    return Decimal(str(value)).quantize(CENT)


def total(amounts: Iterable[Decimal]) -> Decimal:
    """Exact sum that starts from Decimal zero (``sum`` alone would start from int 0 and hide floats)."""
    result = ZERO
    for amount in amounts:
        result += amount
    return result
