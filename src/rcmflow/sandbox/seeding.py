"""Randomness and identifiers that depend only on what they are about, never on the order of reading.

Each claim draws from its own generator, seeded from (seed, payer id, patient control number): a claim's
fate is the same whichever file or position it arrives in, and whatever else arrives beside it.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta

SEPARATOR = "\x1f"  # a unit separator cannot occur in X12 values, so ("a", "bc") and ("ab", "c") differ


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(SEPARATOR.join(str(part) for part in parts).encode("utf-8")).digest()


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator determined by the seed and the parts (e.g. payer id and patient control number)."""
    return random.Random(int.from_bytes(_digest(seed, *parts)[:16], "big"))


def split(rng: random.Random, count: int) -> list[random.Random]:
    """``count`` independent generators drawn from ``rng``: one per aspect of a decision, so that changing how
    one aspect draws (a rate in a profile) leaves the others' outcomes as they were."""
    return [random.Random(rng.getrandbits(64)) for _ in range(count)]


def digits(count: int, *parts: object) -> str:
    """``count`` decimal digits determined by the parts (stable identifiers)."""
    value = int.from_bytes(_digest(*parts), "big") % 10**count
    return f"{value:0{count}d}"


def chance(rng: random.Random, rate: float) -> bool:
    """True with probability ``rate``; always draws once, so later draws do not shift with the rate's value."""
    return rng.random() < rate


def business_day_on_or_after(day: date, weekdays: tuple[int, ...]) -> date:
    """The first day on or after ``day`` whose weekday (Monday 0) is one of ``weekdays``."""
    allowed = set(weekdays) or {0, 1, 2, 3, 4}
    while day.weekday() not in allowed:
        day += timedelta(days=1)
    return day


def payer_claim_number(payer_id: str, patient_control_number: str, receipt: int, received: date) -> str:
    """The payer's claim number (CLP07, 277CA REF*1K) of one receipt of a claim: payer id, the receipt's year and
    day of year, six digits of the claim, and a two-digit adjustment sequence ("00"; a corrected payment "01")."""
    day = received.timetuple().tm_yday
    return f"{payer_id}{received:%y}{day:03d}{digits(6, payer_id, patient_control_number, receipt)}00"
