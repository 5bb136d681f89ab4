"""How fast this machine is right now: a fixed piece of work timed in the same run as a benchmark.

The 2-core VMs the benchmarks run on changed speed by up to 1.8x within a day (bench/posting.py, 2026-12-06:
the same code's million-line run took 47.5 s one day and 80-106 s the next afternoon). A figure measured on
another day says little without knowing how fast the machine was then. Two probes, each the fastest of three
tries: pure Python of the kind posting runs (Decimal amounts, strings, tuples, dict look-ups), and SQLite
inserting rows into an indexed table in WAL mode and committing, as posting's store stages do.
``REFERENCE`` holds the probes of the run the README quotes; ``speed`` is this machine against that one.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

# The probes in the run of bench/posting.py the README quotes (2026-12-06, evening).
REFERENCE = {"python": 0.209, "sqlite": 0.436}
ROWS = 200_000
TRIES = 3


def python_seconds() -> float:
    best = float("inf")
    for _ in range(TRIES):
        started = time.perf_counter()
        total = Decimal(0)
        by_key: dict[str, tuple[int, str, Decimal]] = {}
        rows: list[tuple[int, str, str]] = []
        for number in range(ROWS):
            amount = Decimal(number % 9_973) / 100
            total += amount
            key = f"PCN{number:09d}"
            by_key[key] = (number, key, amount)
            rows.append((number, key, str(amount)))
        assert len(by_key) == ROWS and total > 0
        best = min(best, time.perf_counter() - started)
    return best


def sqlite_seconds() -> float:
    rows = [(number, f"PCN{number:09d}", number % 97, f"{number % 9_973 / 100:.2f}") for number in range(ROWS)]
    best = float("inf")
    with tempfile.TemporaryDirectory(prefix="rcmflow-machine-") as folder:
        for attempt in range(TRIES):
            path = Path(folder) / f"probe-{attempt}.db"
            connection = sqlite3.connect(path, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("CREATE TABLE payment (id INTEGER PRIMARY KEY, pcn TEXT, payer INTEGER, "
                                   "amount NUMERIC)")
                connection.execute("CREATE INDEX payment_pcn ON payment (pcn)")
                connection.execute("CREATE INDEX payment_payer ON payment (payer, amount)")
                started = time.perf_counter()
                connection.execute("BEGIN")
                connection.executemany("INSERT INTO payment VALUES (?, ?, ?, ?)", rows)
                connection.execute("COMMIT")
                best = min(best, time.perf_counter() - started)
            finally:
                connection.close()
    return best


def measure() -> dict[str, float]:
    return {"python": python_seconds(), "sqlite": sqlite_seconds()}


def speed(probes: dict[str, float]) -> float | None:
    """This machine's speed against the reference run's (1.0: as fast; 0.5: half as fast), the geometric mean
    of the two probes; None when no reference is recorded."""
    if not all(REFERENCE.values()):
        return None
    product = 1.0
    for name, seconds in probes.items():
        product *= REFERENCE[name] / seconds
    return product ** (1 / len(probes))


def describe(probes: dict[str, float]) -> str:
    text = f"machine check: Python {probes['python']:.3f} s, SQLite {probes['sqlite']:.3f} s"
    relative = speed(probes)
    if relative is None:
        return text
    return (f"{text} (the README's run: {REFERENCE['python']:.3f} s, {REFERENCE['sqlite']:.3f} s): "
            f"this machine runs at {relative:.0%} of that one's speed")
