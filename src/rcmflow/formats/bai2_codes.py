"""BAI2 code lists: the published type codes, which way each moves money, currency minor units."""

from __future__ import annotations

from rcmflow.domain.deposit import CREDIT, DEBIT

# Type codes of the BAI Cash Management Balance Reporting Specifications v2 (status 001-099, credits
# 100-399, debits 400-699, loans 7xx, 8xx). Ranges written compactly; 900-999 is the custom range banks
# define in their own guides, accepted without a warning.
_PUBLISHED = (
    "010-012 015 020-022 024-025 030 037 039-045 050-051 054-057 059-063 065-068 070 072-088 100-102 105-110 "
    "115-116 118 120-123 130-131 135-136 140 142-143 145-147 150 155-156 158-160 162-176 178 180 182 184-191 "
    "195-196 198 200-202 205-208 210 212-216 218 221-222 224 226-227 229-252 254-258 260-261 263 266 268 "
    "270-271 274-278 280-281 285-286 294-295 301-310 315-316 318-321 324-332 336 338 340-364 366-370 372-374 "
    "376-379 381-395 397-403 405-406 408-410 412 415-416 420-423 430 435 445-447 450-452 455 458-459 462-472 "
    "474-482 484-487 489-491 493 495-496 498 500-502 505-508 510 512-516 518 522 524 526-527 529-544 546-552 "
    "554-558 560-561 563-564 566-568 570 574-575 577-578 580-581 583-588 590 594-597 601-602 610-618 621-623 "
    "625-634 640-641 644 646 650-651 654-659 661-670 672-674 676-679 681-699 701 703 705-709 720-728 760 "
    "827-829 890"
)


def _expand(ranges: str) -> frozenset[str]:
    codes: set[str] = set()
    for part in ranges.split():
        low, _, high = part.partition("-")
        codes.update(f"{n:03d}" for n in range(int(low), int(high or low) + 1))
    return frozenset(codes)


PUBLISHED_TYPE_CODES = _expand(_PUBLISHED)
_LOAN_CREDITS = frozenset({"706", "708", "720", "721", "722", "723", "724", "725", "726", "727", "728", "827", "829"})
_LOAN_DEBITS = frozenset({"760", "828"})

# ISO 4217 currencies whose minor unit is not the cent; BAI2 amounts are integers in the minor unit.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}

# Funds types (16 record field 3, 03 summary field 4) and how many fields follow each: a fixed count,
# or "D" whose first following field says how many (days, amount) pairs come next.
FUNDS_TYPES = {"": 0, "Z": 0, "0": 0, "1": 0, "2": 0, "S": 3, "V": 2, "D": -1}


def is_known_type_code(code: str) -> bool:
    """True for published type codes and the custom 900-999 range."""
    return code in PUBLISHED_TYPE_CODES or (len(code) == 3 and code.isdigit() and code >= "900")


def type_direction(code: str) -> str | None:
    """CREDIT or DEBIT for a transaction type code; None for status and informational codes."""
    if not (len(code) == 3 and code.isdigit()):
        return None
    number = int(code)
    if 100 <= number <= 399 or 920 <= number <= 959 or code in _LOAN_CREDITS:
        return CREDIT
    if 400 <= number <= 699 or 960 <= number <= 999 or code in _LOAN_DEBITS:
        return DEBIT
    return None


def minor_units(currency: str) -> int:
    """Digits after the decimal point implied by a BAI2 amount in this currency (2 unless listed)."""
    return _MINOR_UNITS.get(currency.upper(), 2)
