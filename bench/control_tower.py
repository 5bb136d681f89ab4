"""Benchmark: the control tower's KPIs and pages over a year of a large billing office.

    python bench/control_tower.py [--claims 1000000] [--events 10000000] [--database sqlite|postgresql|both]
                                  [--requests 10] [--postgres URL] [--keep] [--reuse FOLDER]

Fill (its own process; printed with its rows/s, not timed against the goal): a fresh SQLite file in a temp folder
or a fresh schema in PostgreSQL's ``test`` database, migrated by ``ensure_schema``, the chart of accounts and
fiscal periods installed by the ledger services, then bulk rows (one executemany per 50,000 rows on SQLite, COPY
on PostgreSQL, one transaction per table, secondary indexes built after the load, then ANALYZE, and on PostgreSQL
VACUUM too: what autovacuum would have done over the year, and it is off on the reference server) for ``--claims``
claims created over the 365 days before the as-of time, in 6 facilities, 12 payers and 10 departments, each with
its real lifecycle in ``event_log`` (receive, code, scrub, pass scrub or a scrubber hold and rescrub, submit, 277CA
acceptance or front-end rejection and resubmission, adjudication when its 835 is posted): ~10 % with scrubber
findings at their first scrub, ~1.5 % rejected, ~8 % denied and ~3 % partly paid by payer-specific rates, ~10 %
awaiting payment (slow payers), and the rest paid; claim payments on ~2 % as many remittances as claims (CO-45,
patient responsibility, denial CARCs), deposits and their matches, charge, ERA and bank journal entries, work
items in every queue of ``config/queues.yaml`` with due times from the real business calendar (holds, rejections,
denials, underpayments, unapplied cash, unmatched deposits, approvals, unreadable files), a few thousand approval
requests, outbox messages (submission files and escalation notices, plus webhook deliveries when the lifecycles
write fewer events than ``--events``: at 10 per claim they already write ~10.4) and a year of daily KPI snapshots.
Activities, states, queues and ledger accounts are the ones the services use.

Timed (a fresh process over the filled database; as-of = the end of the filled year):

1. ``compute_kpis`` (30-day window) in total and ``by="payer"``, and ``snapshot_kpis`` of the as-of day: median
   of 3 runs after one warm-up, in ms; plus compute_kpis per KPI family (timers around its family functions).
   Then what the worker's schedules do before the pages read it: ``refresh_kpi_report`` of the 30-day window (the
   "kpi reports" schedule stores every window) and ``run_process_maps`` (every object type and window of the process
   map page), once each; then what the same schedules do per facility set a person is limited to, for the two
   largest facilities: ``refresh_kpi_report`` of their 30-day window and ``refresh_process_map`` of their 30-day
   claim map (one of the set's maps), once each.
2. The real app in-process (``fastapi.testclient.TestClient``, no network, ``clock=lambda: AS_OF``), logged in as
   an admin through ``POST /ui/login``: ``GET /ui/tower``, the tower of an admin limited to the largest facility
   (served from the stored report's facility slice) and of one limited to the two largest (served from their
   facility set's stored report), ``/ui/work?queue=<biggest queue>``, ``/ui/work`` and ``/ui/process`` (its first
   render on its own, from the stored map; then the map of the person of the two largest facilities, from their
   set's stored map; then a window no map is stored for, mined in the page), one warm-up then ``--requests``
   requests each: p50 and max in ms; the goal is met when the max is under it. Every answer must be 200 and show
   what the page should (each KPI tile, the charts, the work list, the map, where stored figures came from, and
   for whom). Last, the tower with its stored report made older than ``MAX_AGE`` (no
   worker): ``--requests`` requests served from the stale report while the one background refresh the first of
   them started runs, and how long that refresh took.
3. Anchors, MEASURED IN THE SAME RUN: ``GET /healthz`` through the same client (the HTTP and test-client floor),
   and one ``SELECT count(*)`` of the organisation's events in the 30-day window (the cost of touching the window
   once).
4. Where the tower's time goes: timers around the functions its route calls (compute_kpis, the 20 trend reads,
   daily_throughput, queue_summary, outbox_status, and ``page``, which renders the template), over a few more
   requests; the rest is routing, the session and the chart building. The same for the queue page.

Goal (issue 7) on the 2-core reference machine: each page under 300 ms server time at 1,000,000 claims and
10,000,000 events. ``--keep`` leaves the filled database (and its PHI key file) in place; ``--reuse FOLDER`` times
such a database again without filling it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

AS_OF = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
YEAR_DAYS = 365
START = datetime.combine(AS_OF.date() - timedelta(days=YEAR_DAYS), datetime.min.time(), tzinfo=UTC)
DAY = 86_400
END = int((AS_OF - START).total_seconds())  # the as-of time, in seconds since START: nothing happens after it
NEVER = 10**12  # the time of a step that never happens (every later step of the object stays after END too)
GOAL_MS = 300.0
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BATCH = 50_000
ORG = "default"
PASSWORD = "bench-admin-password"

FACILITIES = ("1806689687", "1756988154", "1251253955", "1437190360", "1962459123", "1528061939")
FACILITY_SHARE = (0.30, 0.22, 0.16, 0.14, 0.10, 0.08)
# (payer id, name, share of claims, denial rate, allowed share of charges, share of slow payments)
PAYERS = (("60054", "AETNA", 0.14, 0.07, 0.62, 0.08), ("00590", "BLUE RIVER BCBS", 0.16, 0.06, 0.66, 0.06),
          ("87726", "UNITEDHEALTHCARE", 0.15, 0.11, 0.58, 0.12), ("62308", "CIGNA", 0.08, 0.08, 0.61, 0.10),
          ("61101", "HUMANA", 0.06, 0.09, 0.55, 0.10), ("04412", "MEDICARE PART B", 0.17, 0.05, 0.45, 0.04),
          ("SKCO0", "MEDICAID", 0.09, 0.14, 0.38, 0.25), ("94265", "ANTHEM", 0.05, 0.08, 0.63, 0.09),
          ("39026", "UMR", 0.03, 0.10, 0.60, 0.15), ("25133", "KAISER", 0.03, 0.04, 0.70, 0.05),
          ("38217", "TRICARE", 0.02, 0.06, 0.50, 0.12), ("13551", "MOLINA", 0.02, 0.13, 0.40, 0.22))
DEPARTMENTS = ("primary care", "cardiology", "orthopedics", "radiology", "laboratory", "emergency", "oncology",
               "surgery", "pediatrics", "obstetrics")
DEPARTMENT_SHARE = (0.22, 0.10, 0.09, 0.12, 0.16, 0.11, 0.06, 0.06, 0.05, 0.03)
WEEKDAY_SHARE = (1.0, 1.0, 1.0, 1.0, 0.95, 0.25, 0.15)  # Monday .. Sunday
# Scrubber rules (rule, pack, category): a hold goes to the queue of its first finding's category.
SCRUB_RULES = (("diagnosis-age-conflict", "age-sex@2026.1", "coding"), ("ncci-ptp-edit", "ncci@2026.1", "coding"),
               ("mue-units", "ncci@2026.1", "coding"), ("missing-subscriber-birth-date", "required-data@2026.1",
                                                        "registration"),
               ("coverage-inactive", "eligibility-authorization@2026.1", "registration"),
               ("prior-authorization-missing", "eligibility-authorization@2026.1", "authorization"),
               ("timely-filing-risk", "timely-filing-duplicates@2026.1", "billing"),
               ("possible-duplicate", "timely-filing-duplicates@2026.1", "billing"))
HOLD_QUEUES = {"coding": "coding_review", "registration": "registration_eligibility",
               "authorization": "authorizations", "billing": "claim_edits"}
# Denial CARCs (group CO) and how often payers send them.
DENIAL_CARCS = (("16", 0.20), ("197", 0.14), ("50", 0.13), ("27", 0.12), ("11", 0.10), ("18", 0.08), ("96", 0.08),
                ("22", 0.07), ("29", 0.05), ("B7", 0.03))
RESOLUTIONS = ("corrected", "resubmitted", "appealed", "written_off", "payer_contacted", "no_action_needed")
CLAIM_STUCK = 0.09  # share of held or rejected claims nobody has corrected yet at the as-of time, whatever their age
ITEM_STUCK = 0.16  # share of the other exceptions (denials, underpayments...) nobody has worked yet
WEBHOOK_DESTINATIONS = ("webhook:1", "webhook:2", "webhook:3")


# ---- text the databases store -----------------------------------------------------------------------------

class Clock:
    """Seconds since START as the text each database is given: ``UtcDateTime`` keeps UTC wall-clock text on SQLite
    ('YYYY-MM-DD HH:MM:SS.ffffff', so text order is time order); PostgreSQL's COPY reads the same with +00."""

    PAST_DAYS = 60  # dates of service run a few days before the first claim

    def __init__(self, postgres: bool) -> None:
        first = np.datetime64(START.date()) - self.PAST_DAYS
        days = np.datetime_as_string(first + np.arange(self.PAST_DAYS + 3 * YEAR_DAYS), unit="D")
        self.dates = days.astype(object)
        self.prefixes = np.strings.add(days, " ").astype(object)
        suffix = "+00" if postgres else ""
        self.times = np.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000{suffix}" for s in range(DAY)],
                              dtype=object)

    def stamps(self, seconds: np.ndarray) -> list[str | None]:
        """Timestamps; NEVER (a step that has not happened) is NULL."""
        seconds = np.asarray(seconds, np.int64)
        late = seconds >= NEVER
        safe = np.where(late, 0, seconds)
        text = self.prefixes[safe // DAY + self.PAST_DAYS] + self.times[safe % DAY]
        if late.any():
            text[late] = None
        return text.tolist()

    def days(self, days: np.ndarray) -> list[str]:
        """Dates, from whole days since START."""
        return self.dates[np.asarray(days, np.int64) + self.PAST_DAYS].tolist()


def money(cents: np.ndarray) -> list[float]:
    """Amounts as SQLAlchemy's Numeric binds them on SQLite (a float of the exact decimal; its repr is the same
    two-place text PostgreSQL's COPY parses)."""
    return (np.asarray(cents, np.int64) / 100).tolist()


def text_of(template: str, *columns: np.ndarray) -> Callable[[int, int], list[str]]:
    """A column of text made from integer columns, built one batch at a time."""
    def batch(lo: int, hi: int) -> list[str]:
        return [template.format(*values) for values in zip(*(column[lo:hi].tolist() for column in columns),
                                                           strict=True)]
    return batch


def pick(values: Any, codes: np.ndarray) -> Callable[[int, int], list[Any]]:
    """A column of ``values[code]``, one batch at a time."""
    table = np.array(values, dtype=object)
    return lambda lo, hi: table[codes[lo:hi]].tolist()


# ---- the loader -------------------------------------------------------------------------------------------

class Loader:
    """Bulk rows into a migrated database on one raw connection: executemany per batch on SQLite, COPY on
    PostgreSQL, one transaction per table; secondary indexes dropped before and built after the load."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import select
        from sqlalchemy.pool import NullPool

        from rcmflow.adapters.store.engine import create_engine_for
        from rcmflow.adapters.store.migrate import ensure_schema
        from rcmflow.adapters.store.schema import ledger_accounts
        from rcmflow.services.fiscal_periods import ensure_periods
        from rcmflow.services.ledger import ensure_ledger

        self.engine = create_engine_for(url, poolclass=NullPool)
        ensure_schema(self.engine)
        with self.engine.begin() as conn:  # the chart and the periods, as the ledger services install them
            ensure_ledger(conn, ORG)
            for year in range(START.year - 1, AS_OF.year + 2):
                ensure_periods(conn, year, organisation_id=ORG)
            self.accounts = dict(conn.execute(select(ledger_accounts.c.key, ledger_accounts.c.id).where(
                ledger_accounts.c.organisation_id == ORG)).all())
        self.postgres = self.engine.dialect.name == "postgresql"
        self.quote = self.engine.dialect.identifier_preparer.quote
        self.raw = self.engine.raw_connection()
        self.rows: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.explicit_ids: set[str] = set()
        if self.postgres:  # a throw-away load: no waiting on the WAL flush, no per-row foreign-key triggers
            settings = ("SET synchronous_commit = off", "SET session_replication_role = replica",
                        "SET maintenance_work_mem = '1GB'")
        else:  # no rollback journal for a file made here; the file goes back to WAL at the end
            settings = ("PRAGMA foreign_keys = OFF", "PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF",
                        "PRAGMA cache_size = -1000000", "PRAGMA temp_store = MEMORY")
        self.execute(*settings)

    def execute(self, *statements: str) -> None:
        cursor = self.raw.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
        self.raw.commit()

    def write(self, table: Any, columns: dict[str, Any], count: int) -> None:
        """Insert ``count`` rows; each column is a scalar, a numpy array, a list or ``batch(lo, hi) -> list``."""
        if count == 0:
            return
        started = time.perf_counter()
        names = list(columns)
        if "id" in names:
            self.explicit_ids.add(table.name)
        target = f"{self.quote(table.name)} ({', '.join(self.quote(name) for name in names)})"
        cursor = self.raw.cursor()
        if self.postgres:
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for rows in _batches(columns, names, count):
                    for row in rows:
                        copy.write_row(row)
        else:
            statement = f"INSERT INTO {target} VALUES ({', '.join('?' * len(names))})"
            for rows in _batches(columns, names, count):
                cursor.executemany(statement, rows)
        cursor.close()
        self.raw.commit()
        self.rows[table.name] += count
        self.seconds[table.name] += time.perf_counter() - started

    def ddl(self, elements: list[Any]) -> None:
        cursor = self.raw.cursor()
        for element in elements:
            cursor.execute(str(element.compile(dialect=self.engine.dialect)))
        cursor.close()
        self.raw.commit()

    def finish(self, tables: list[Any]) -> float:
        """Sequences past the explicit ids and VACUUM ANALYZE (PostgreSQL); ANALYZE and back to WAL (SQLite)."""
        from sqlalchemy import text

        started = time.perf_counter()
        self.raw.close()
        if self.postgres:
            with self.engine.begin() as conn:
                for name in sorted(self.explicit_ids):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                      f"(SELECT max(id) FROM {self.quote(name)}))"))
            vacuum_analyze(self.engine, tables)
        else:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.exec_driver_sql("PRAGMA journal_mode = WAL")
        self.engine.dispose()
        return time.perf_counter() - started


def vacuum_analyze(engine: Any, tables: list[Any]) -> None:
    """PostgreSQL: what autovacuum does to tables that have lived a year (it is off on the reference server):
    planner statistics (the ANALYZE of ``analyze_after_bulk_load``) and the visibility map, without which no
    index-only scan is cheaper than reading the table (a count of the window's events read all 1.5 GB of
    event_log in parallel, 1.0 s instead of tens of milliseconds)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {engine.dialect.identifier_preparer.format_table(table)}")


def _batches(columns: dict[str, Any], names: list[str], count: int) -> Iterator[list[tuple[Any, ...]]]:
    for lo in range(0, count, BATCH):
        hi = min(count, lo + BATCH)
        values = []
        for name in names:
            spec = columns[name]
            if callable(spec):
                values.append(spec(lo, hi))
            elif isinstance(spec, np.ndarray):
                values.append(spec[lo:hi].tolist())
            elif isinstance(spec, list):
                values.append(spec[lo:hi])
            else:
                values.append(itertools.repeat(spec, hi - lo))
        yield list(zip(*values, strict=True))


# ---- the event log, as columns of small codes ------------------------------------------------------------

class Codes:
    """The strings of one event-log field as small integers (0 is NULL)."""

    def __init__(self, *values: str) -> None:
        self.values: list[str | None] = [None]
        self.index: dict[str | None, int] = {None: 0}
        for value in values:
            self(value)

    def __call__(self, value: str | None) -> int:
        if value not in self.index:
            self.index[value] = len(self.values)
            self.values.append(value)
        return self.index[value]

    def many(self, values: tuple[str, ...], index: np.ndarray) -> np.ndarray:
        """The codes of ``values[index]``."""
        return np.array([self(value) for value in values], np.int16)[index]


class EventLog:
    """Every event of the fill, kept as numpy columns until they are written in time order."""

    CODED = ("object_type", "from_state", "to_state", "activity", "actor", "facility", "payer", "department",
             "rule_version", "reason")

    def __init__(self) -> None:
        self.codes = {name: Codes() for name in self.CODED}
        self.codes["facility"] = Codes(*FACILITIES)
        self.codes["payer"] = Codes(*(payer[0] for payer in PAYERS))
        self.codes["department"] = Codes(*DEPARTMENTS)
        self.parts: dict[str, list[np.ndarray]] = defaultdict(list)
        self.count = 0

    def add(self, at: np.ndarray, object_type: str, object_id: np.ndarray, from_state: Any, to_state: Any,
            activity: str, *, where: np.ndarray | None = None, **coded: Any) -> None:
        """Events at ``at`` of the objects ``object_id``, those ``where`` holds and that happened by END. Coded
        fields are a string (or None) for all, or an array of codes (``Codes``) per object."""
        at = np.asarray(at, np.int64)
        keep = at <= END if where is None else np.asarray(where) & (at <= END)
        count = int(np.count_nonzero(keep))
        if count == 0:
            return
        self.parts["at"].append(at[keep])
        self.parts["object_id"].append(np.broadcast_to(np.asarray(object_id, np.int64), at.shape)[keep])
        fields = {"object_type": object_type, "from_state": from_state, "to_state": to_state, "activity": activity,
                  "actor": "system", **coded}
        for name in self.CODED:
            value = fields.get(name)
            if value is None or isinstance(value, str):
                self.parts[name].append(np.full(count, self.codes[name](value), np.int16))
            else:
                self.parts[name].append(np.broadcast_to(np.asarray(value, np.int16), at.shape)[keep])
        self.count += count

    def write(self, loader: Loader, clock: Clock) -> None:
        from rcmflow.adapters.store.schema import event_log

        at = np.concatenate(self.parts.pop("at"))
        order = np.argsort(at, kind="stable")  # time order, each object's steps in the order they were added
        at = at[order]
        object_id = np.concatenate(self.parts.pop("object_id"))[order]
        columns: dict[str, Any] = {"organisation_id": ORG}
        for name in self.CODED:
            codes = np.concatenate(self.parts.pop(name))[order]
            column = {"facility": "facility_id", "payer": "payer_id", "department": "department_id"}.get(name, name)
            columns[column] = pick(self.codes[name].values, codes)
        columns["object_id"] = lambda lo, hi: list(map(str, object_id[lo:hi].tolist()))
        columns["occurred_at"] = lambda lo, hi: clock.stamps(at[lo:hi])
        columns["attributes"] = None
        loader.write(event_log, columns, len(at))


# ---- the fill ---------------------------------------------------------------------------------------------

class Fill:
    """One fill: its random source, clock, loader, event log, and what later parts need of earlier ones."""

    def __init__(self, loader: Loader, claims: int, events: int) -> None:
        self.loader = loader
        self.n = claims
        self.target_events = events
        self.rng = np.random.default_rng(20261130)
        self.clock = Clock(loader.postgres)
        self.events = EventLog()
        self.claim: dict[str, np.ndarray] = {}
        self.payment: dict[str, np.ndarray] = {}
        self.remittance: dict[str, np.ndarray] = {}
        self.deposit: dict[str, np.ndarray] = {}
        self.items: list[dict[str, Any]] = []  # work items, gathered from every source, written at once
        self.escalations = np.zeros(0, np.int64)  # when work items were escalated: each sends a notice
        self.accounts = loader.accounts
        self.shape: dict[str, Any] = {}

    def between(self, low: float, high: float, size: int) -> np.ndarray:
        return self.rng.integers(int(low), int(high), size, dtype=np.int64)

    def chance(self, share: float | np.ndarray, size: int) -> np.ndarray:
        return self.rng.random(size) < share


def fill_claims(f: Fill) -> None:
    """Claims, their lifecycle times and events, scrub findings, and the exceptions their lifecycle opens."""
    from rcmflow.adapters.store.schema import claims

    n, rng = f.n, f.rng
    weights = np.array([WEEKDAY_SHARE[(START.weekday() + d) % 7] for d in range(YEAR_DAYS + 1)])
    created = rng.choice(YEAR_DAYS + 1, n, p=weights / weights.sum()) * DAY + f.between(12 * 3600, 23 * 3600, n)
    created = np.sort(np.where(created > END - 3600, created - DAY, created))
    ids = np.arange(1, n + 1, dtype=np.int64)
    facility = rng.choice(len(FACILITIES), n, p=FACILITY_SHARE)
    payer = rng.choice(len(PAYERS), n, p=[p[2] for p in PAYERS])
    department = rng.choice(len(DEPARTMENTS), n, p=DEPARTMENT_SHARE)
    institutional = f.chance(0.25, n)
    charge = np.clip(np.rint(np.exp(rng.normal(np.log(18_000), 0.8, n)) * np.where(institutional, 4, 1)),
                     2_500, 2_500_000).astype(np.int64)
    service_day = created // DAY - f.between(0, 4, n)

    # The lifecycle: each step's time follows the one before; a step that never happens is NEVER, and so is every
    # step after it. Steps after END have not happened yet.
    coded = created + f.between(60, 2 * 3600, n)
    scrubbed = coded + f.between(30, 1800, n)
    findings = f.chance(0.10, n)
    held = findings & f.chance(0.25, n)
    fixed = np.where(held & ~f.chance(CLAIM_STUCK, n), scrubbed + f.between(3600, 6 * DAY, n), NEVER)
    ready = np.where(held, fixed + 120, scrubbed + f.between(1, 60, n))
    submitted = ready + f.between(600, DAY, n)
    rejected = f.chance(0.015, n)
    answered = submitted + f.between(2 * 3600, 2 * DAY, n)
    corrected = np.where(rejected & ~f.chance(CLAIM_STUCK, n), answered + f.between(3600, 8 * DAY, n), NEVER)
    resubmitted = corrected + 120 + f.between(600, DAY, n)
    accepted = np.where(rejected, resubmitted + f.between(2 * 3600, 2 * DAY, n), answered)
    slow = f.chance(np.array([p[5] for p in PAYERS])[payer], n)
    wait_days = np.where(slow, rng.uniform(35, 200, n), 6 + rng.gamma(2.0, 6.0, n))
    era_day = np.where(accepted < NEVER, (accepted + (wait_days * DAY).astype(np.int64)) // DAY + 1, NEVER)
    roll = rng.random(n)
    deny_rate = np.array([p[3] for p in PAYERS])[payer]
    outcome = np.where(roll < deny_rate, 2, np.where(roll < deny_rate + 0.03, 1, 0))  # paid, partly, denied

    ev, codes = f.events, f.events.codes
    org = {"facility": facility + 1, "payer": payer + 1, "department": department + 1}
    ev.add(created, "claim", ids, None, "registered", "receive claim", **org)
    ev.add(coded, "claim", ids, "registered", "coded", "capture coded charges", **org)
    rules = "rule-packs@bdd6406e6212"
    ev.add(scrubbed, "claim", ids, "coded", "scrubbed", "scrub claim", rule_version=rules, **org)
    ev.add(ready, "claim", ids, "scrubbed", "ready", "pass scrub", where=~held, **org)
    ev.add(fixed, "claim", ids, "scrubbed", "coded", "rescrub claim", where=held, **org)
    ev.add(fixed + 60, "claim", ids, "coded", "scrubbed", "scrub claim", where=held, rule_version=rules, **org)
    ev.add(ready, "claim", ids, "scrubbed", "ready", "pass scrub", where=held, **org)
    ev.add(submitted, "claim", ids, "ready", "submitted", "submit claim", **org)
    ev.add(answered, "claim", ids, "submitted", "accepted", "accept into adjudication (277CA)", where=~rejected, **org)
    ev.add(answered, "claim", ids, "submitted", "rejected", "reject at front end (277CA)", where=rejected, **org)
    ev.add(corrected, "claim", ids, "rejected", "coded", "capture coded charges", where=rejected, **org)
    ev.add(corrected + 60, "claim", ids, "coded", "scrubbed", "scrub claim", where=rejected, rule_version=rules,
           **org)
    ev.add(corrected + 120, "claim", ids, "scrubbed", "ready", "pass scrub", where=rejected, **org)
    ev.add(resubmitted, "claim", ids, "ready", "submitted", "submit claim", where=rejected, **org)
    ev.add(accepted, "claim", ids, "submitted", "accepted", "accept into adjudication (277CA)", where=rejected,
           **org)
    f.claim = {"id": ids, "created": created, "facility": facility, "payer": payer, "department": department,
               "charge": charge, "service_day": service_day, "scrubbed": scrubbed, "held": held, "fixed": fixed,
               "findings": findings, "submitted": submitted, "rejected": rejected, "answered": answered,
               "corrected": corrected, "accepted": accepted, "era_day": era_day, "outcome": outcome,
               "institutional": institutional, "org": org}
    fill_payments(f)  # the adjudication: when each claim's 835 was posted, if it was

    # The claim's state at END: the last step that happened.
    state = np.full(n, codes["to_state"]("registered"), np.int16)
    for step, to in ((coded, "coded"), (scrubbed, "scrubbed"), (np.where(held, NEVER, ready), "ready"),
                     (fixed, "coded"), (fixed + 60, "scrubbed"), (np.where(held, ready, NEVER), "ready"),
                     (submitted, "submitted"), (np.where(rejected, NEVER, answered), "accepted"),
                     (np.where(rejected, answered, NEVER), "rejected"), (corrected, "coded"),
                     (corrected + 60, "scrubbed"), (corrected + 120, "ready"), (resubmitted, "submitted"),
                     (np.where(rejected, accepted, NEVER), "accepted")):
        state[step <= END] = codes["to_state"](to)
    adjudicated = f.claim["adjudicated"]
    state[adjudicated <= END] = codes["to_state"].many(("paid", "partially paid", "denied"), outcome)[
        adjudicated <= END]
    states = np.array(codes["to_state"].values, dtype=object)[state]
    names, counts = np.unique(states.astype(str), return_counts=True)
    f.shape["claims by state"] = {name: int(count) for name, count in zip(names, counts, strict=True)}

    payer_ids = [p[0] for p in PAYERS]
    fill_scrub_findings(f)
    f.loader.write(claims, {
        "id": ids, "organisation_id": ORG, "facility_id": pick(FACILITIES, facility),
        "payer_id": pick(payer_ids, payer),
        "payer_name": pick([p[1] for p in PAYERS], payer), "department_id": pick(DEPARTMENTS, department),
        "claim_type": pick(("P", "I"), institutional.astype(np.int64)),
        "patient_control_number": text_of("PCN{:09d}", ids), "frequency": "1",
        "payer_claim_number": lambda lo, hi: [f"{payer_ids[p]}{i:012d}" if t <= END else None for p, i, t in zip(
            payer[lo:hi].tolist(), ids[lo:hi].tolist(), accepted[lo:hi].tolist(), strict=True)],
        "filing_order": "P", "service_from": lambda lo, hi: f.clock.days(service_day[lo:hi]),
        "service_to": lambda lo, hi: f.clock.days(service_day[lo:hi]), "total_charge": lambda lo, hi: money(
            charge[lo:hi]), "line_count": f.between(1, 7, n), "state": states,
        "content_digest": text_of("{:064x}", ids), "created_at": lambda lo, hi: f.clock.stamps(created[lo:hi]),
        "source_id": text_of("ENC{:09d}", ids),
    }, n)

    # Exceptions of the lifecycle: scrubber holds (in the queue of the first finding's category; cancelled when the
    # claim is scrubbed again) and front-end rejections (resolved when the corrected claim goes out).
    hold_queue = [HOLD_QUEUES[category] for _, _, category in SCRUB_RULES]
    held = held & (scrubbed + 5 <= END)
    rejected = rejected & (answered + 5 <= END)
    f.items.append({"queue": np.array(hold_queue, dtype=object)[f.claim["first_rule"][held]], "item_type":
                    "claim held by scrubber", "object_type": "claim", "object_id": ids[held],
                    "created": scrubbed[held] + 5, "resolved": fixed[held], "cancelled": True, "code": "scrub-1",
                    "title": "Claim ENC{:09d}: held by the scrubber", "org": _subset(org, held)})
    f.items.append({"queue": "claim_rejections", "item_type": "claim rejected (277CA)", "object_type": "claim",
                    "object_id": ids[rejected], "created": answered[rejected] + 5, "resolved": corrected[rejected],
                    "code": "277CA-A3", "title": "Claim ENC{:09d} rejected at the front end (277CA)",
                    "org": _subset(org, rejected)})


def _subset(org: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {key: value[mask] for key, value in org.items()}


def fill_scrub_findings(f: Fill) -> None:
    """One to three findings at the first scrub of ~10 % of claims: errors on the held ones, warnings else."""
    from rcmflow.adapters.store.schema import scrub_findings

    c = f.claim
    which = np.flatnonzero(c["findings"] & (c["scrubbed"] <= END))
    per_claim = 1 + f.chance(0.3, len(which)) + f.chance(0.1, len(which))
    claim_index = np.repeat(which, per_claim)
    rule = f.rng.integers(0, len(SCRUB_RULES), len(claim_index))
    count = len(claim_index)
    first_rule = np.full(f.n, -1, np.int64)
    first_rule[which] = rule[np.cumsum(per_claim) - per_claim]
    c["first_rule"] = first_rule
    message_type = scrub_findings.c.message.type  # encrypted as the column's bind step would
    messages = [message_type.encrypt(f"{name}: the claim fails rule {name} of {pack}")
                for name, pack, _ in SCRUB_RULES]
    f.loader.write(scrub_findings, {
        "organisation_id": ORG, "claim_id": c["id"][claim_index], "scrub_number": 1,
        "rule": pick([r[0] for r in SCRUB_RULES], rule), "rule_version": "1",
        "pack": pick([r[1] for r in SCRUB_RULES], rule),
        "severity": pick(("warning", "error"), c["held"][claim_index].astype(np.int64)),
        "category": pick([r[2] for r in SCRUB_RULES], rule), "message": pick(messages, rule), "line_number": 1,
        "inputs": None, "created_at": lambda lo, hi: f.clock.stamps(c["scrubbed"][claim_index[lo:hi]]),
    }, count)


def fill_payments(f: Fill) -> None:
    """Remittances (one per payer, day and run), their claim payments (with unapplied ones), CAS adjustments,
    and the events of all three; sets each claim's adjudication time."""
    from rcmflow.adapters.store.schema import claim_payments, payment_adjustments, remittances

    c, rng, ev = f.claim, f.rng, f.events
    runs = max(1, round(f.n * 0.02 / (len(PAYERS) * YEAR_DAYS)))  # ERA runs per payer and day
    paid_by_era = c["era_day"] * DAY + 10 * 3600 <= END
    key = (c["era_day"] * len(PAYERS) + c["payer"]) * runs + f.rng.integers(0, runs, f.n)
    unique, claim_remit = np.unique(key[paid_by_era], return_inverse=True)
    r_count = len(unique)
    r_day = unique // runs // len(PAYERS)
    r_payer = unique // runs % len(PAYERS)
    r_created = r_day * DAY + f.between(10 * 3600, 22 * 3600, r_count)
    order = np.argsort(r_created, kind="stable")
    rank = np.empty(r_count, np.int64)
    rank[order] = np.arange(r_count)
    r_day, r_payer, r_created = r_day[order], r_payer[order], r_created[order]
    claim_remit = rank[claim_remit]
    # Most ERAs post within minutes of arriving; a few wait (held for a conflict, a posting backlog).
    r_posted = r_created + np.where(f.chance(0.05, r_count), f.between(2 * 3600, 4 * DAY, r_count),
                                    f.between(30, 900, r_count))

    # Claim payments: one per claim whose ERA arrived by END, plus unapplied ones (no claim matched).
    paying = np.flatnonzero(paid_by_era)
    received_ok = r_created[claim_remit] <= END
    paying, claim_remit = paying[received_ok], claim_remit[received_ok]
    k = len(paying)
    unapplied = max(1, k // 500)
    remit = np.concatenate([claim_remit, rng.integers(0, r_count, unapplied)])
    claim_index = np.concatenate([paying, np.full(unapplied, -1)])
    received = r_created[remit] + f.between(1, 30, len(remit))
    order = np.argsort(received, kind="stable")
    remit, claim_index, received = remit[order], claim_index[order], received[order]
    m = len(remit)
    ids = np.arange(1, m + 1, dtype=np.int64)
    matched_claim = claim_index >= 0
    ci = np.where(matched_claim, claim_index, 0)
    posted = np.where(matched_claim, r_posted[remit] + f.between(0, 60, m), NEVER)
    outcome = np.where(matched_claim, c["outcome"][ci], 0)
    charge = np.where(matched_claim, c["charge"][ci], f.between(5_000, 60_000, m))
    allowed_share = np.array([p[4] for p in PAYERS])[r_payer[remit]] * rng.uniform(0.93, 1.05, m)
    denied = np.where(outcome == 2, charge, np.where(outcome == 1, np.rint(charge * rng.uniform(0.15, 0.5, m)), 0))
    denied = denied.astype(np.int64)
    priced = charge - denied
    allowed = np.minimum(priced, np.rint(priced * allowed_share).astype(np.int64))
    patient = np.where(f.chance(0.4, m), np.rint(allowed * rng.uniform(0.1, 0.3, m)), 0).astype(np.int64)
    patient = np.where(outcome == 2, 0, patient)
    paid = allowed - patient
    contractual = priced - allowed
    paid = np.where(matched_claim, paid, charge)  # an unapplied payment: its amount, nothing to adjust
    contractual = np.where(matched_claim, contractual, 0)
    patient = np.where(matched_claim, patient, 0)
    denied = np.where(matched_claim, denied, 0)
    status = np.where(outcome == 2, 1, 0)  # CLP02 1 processed as primary, 4 denied

    # The claim is adjudicated when its payment is posted.
    adjudicated = np.full(f.n, NEVER, np.int64)
    adjudicated[ci[matched_claim]] = posted[matched_claim] + 1
    c["adjudicated"] = adjudicated
    org = {key: value[ci] for key, value in c["org"].items()}
    payer_code = r_payer[remit] + 1
    ev.add(adjudicated, "claim", c["id"], "accepted", f.events.codes["to_state"].many(
        ("paid", "partially paid", "denied"), c["outcome"]), "record adjudication", **c["org"])
    ev.add(received, "claim payment", ids, None, "received", "receive claim payment", payer=payer_code,
           facility=np.where(matched_claim, org["facility"], 0),
           department=np.where(matched_claim, org["department"], 0))
    ev.add(received + 5, "claim payment", ids, "received", "matched", "match claim payment", where=matched_claim,
           **org)
    ev.add(received + 5, "claim payment", ids, "received", "unapplied", "hold unapplied payment",
           where=~matched_claim, payer=payer_code)
    ev.add(posted, "claim payment", ids, "matched", "posted", "post claim payment", where=matched_claim, **org)
    state = np.where(~matched_claim, "unapplied", np.where(posted <= END, "posted", "matched"))
    payer_ids = [p[0] for p in PAYERS]
    f.loader.write(claim_payments, {
        "id": ids, "organisation_id": ORG, "remittance_id": remit + 1,
        "patient_control_number": lambda lo, hi: [f"PCN{x + 1:09d}" if x >= 0 else f"UNKNOWN{i:08d}" for x, i in zip(
            claim_index[lo:hi].tolist(), ids[lo:hi].tolist(), strict=True)],
        "status": pick(("1", "4"), status), "charge": lambda lo, hi: money(charge[lo:hi]),
        "paid": lambda lo, hi: money(paid[lo:hi]), "patient_responsibility": lambda lo, hi: money(patient[lo:hi]),
        "filing_indicator": "CI", "payer_claim_control_number": lambda lo, hi: [
            f"{payer_ids[p]}{x + 1:012d}" for p, x in zip(r_payer[remit[lo:hi]].tolist(), claim_index[lo:hi].tolist(),
                                                          strict=True)],
        "state": state, "claim_id": lambda lo, hi: [x + 1 if x >= 0 else None for x in claim_index[lo:hi].tolist()],
        "match_method": lambda lo, hi: ["patient_control_number" if x >= 0 else None
                                        for x in claim_index[lo:hi].tolist()],
        "match_confidence": lambda lo, hi: [1.0 if x >= 0 else None for x in claim_index[lo:hi].tolist()],
        "service_from": lambda lo, hi: [None if x < 0 else d for x, d in zip(claim_index[lo:hi].tolist(), f.clock.days(
            c["service_day"][np.maximum(claim_index[lo:hi], 0)]), strict=True)],
        "posted_at": lambda lo, hi: f.clock.stamps(np.where(posted[lo:hi] <= END, posted[lo:hi], NEVER)),
    }, m)

    # CAS: CO-45 on the priced part, PR 1/2/3 for the patient's share, a denial CARC (CO) on what was denied.
    carc = rng.choice(len(DENIAL_CARCS), m, p=[share for _, share in DENIAL_CARCS])
    parts = [(contractual > 0, "CO", np.zeros(m, np.int64), contractual, ("45",)),
             (patient > 0, "PR", rng.integers(0, 3, m), patient, ("1", "2", "3")),
             (denied > 0, "CO", carc, denied, tuple(code for code, _ in DENIAL_CARCS))]
    payment_id, group, reason, amount = [], [], [], []
    for mask, group_code, which, cents, reasons in parts:
        payment_id.append(ids[mask])
        group.append(np.full(int(mask.sum()), group_code, dtype=object))
        reason.append(np.array(reasons, dtype=object)[which[mask]])
        amount.append(cents[mask])
    order = np.argsort(np.concatenate(payment_id), kind="stable")
    adjustments = {"payment": np.concatenate(payment_id)[order], "group": np.concatenate(group)[order],
                   "reason": np.concatenate(reason)[order], "amount": np.concatenate(amount)[order]}
    f.loader.write(payment_adjustments, {
        "organisation_id": ORG, "claim_payment_id": adjustments["payment"], "group_code": adjustments["group"],
        "reason_code": adjustments["reason"], "amount": lambda lo, hi: money(adjustments["amount"][lo:hi]),
    }, len(order))

    # Remittances: received, matched, posted, and reconciled once their deposit is matched (fill_deposits).
    r_ids = np.arange(1, r_count + 1, dtype=np.int64)
    r_amount = np.bincount(remit, weights=paid, minlength=r_count).astype(np.int64)
    r_claims = np.bincount(remit, minlength=r_count)
    f.remittance = {"id": r_ids, "day": r_day, "payer": r_payer, "created": r_created, "posted": r_posted + 61,
                    "amount": r_amount}
    fill_deposits(f)
    reconciled = f.remittance["reconciled"]
    ev.add(r_created, "remittance", r_ids, None, "received", "receive remittance", payer=r_payer + 1)
    ev.add(r_created + 60, "remittance", r_ids, "received", "matched", "match remittance", payer=r_payer + 1)
    ev.add(r_posted + 61, "remittance", r_ids, "matched", "posted", "post remittance", payer=r_payer + 1)
    ev.add(reconciled, "remittance", r_ids, "posted", "reconciled", "reconcile remittance", payer=r_payer + 1)
    r_state = np.where(reconciled <= END, "reconciled", np.where(r_posted + 61 <= END, "posted", np.where(
        r_created + 60 <= END, "matched", "received")))
    f.loader.write(remittances, {
        "id": r_ids, "organisation_id": ORG, "payer_id": pick(payer_ids, r_payer),
        "payer_name": pick([p[1] for p in PAYERS], r_payer), "payee_id": FACILITIES[0],
        "trace_number": lambda lo, hi: [f"{payer_ids[p]}{i:010d}" for p, i in zip(
            r_payer[lo:hi].tolist(), r_ids[lo:hi].tolist(), strict=True)],
        "originator_id": lambda lo, hi: [f"1{payer_ids[p]}" for p in r_payer[lo:hi].tolist()],
        "payment_amount": lambda lo, hi: money(r_amount[lo:hi]), "credit_debit": "C", "payment_method": "ACH",
        "payment_date": lambda lo, hi: f.clock.days(r_day[lo:hi] + 1),
        "production_date": lambda lo, hi: f.clock.days(r_day[lo:hi]),
        "control_number": text_of("{:04d}", r_ids % 10_000), "state": r_state,
        "content_digest": text_of("{:064x}", r_ids), "claim_count": r_claims,
        "created_at": lambda lo, hi: f.clock.stamps(r_created[lo:hi]),
        "reconciled_amount": lambda lo, hi: money(np.where(reconciled[lo:hi] <= END, r_amount[lo:hi], 0)),
    }, r_count)

    f.payment = {"id": ids, "remit": remit, "claim_index": claim_index, "matched": matched_claim, "posted": posted,
                 "received": received, "paid": paid, "contractual": contractual, "patient": patient, "denied": denied,
                 "outcome": outcome, "org": org, "payer": r_payer[remit]}
    f.shape["claim payments"] = m
    f.shape["remittances"] = r_count

    # Exceptions of posting: denials (whole or part), underpayments, unapplied cash. Each links the payment.
    touched = posted <= END
    denial = matched_claim & touched & (denied > 0)
    under = matched_claim & touched & (outcome == 0) & f.chance(0.015, m)
    links = {"links": [("claim payment", ids), ("remittance", remit + 1)]}
    f.items.append({"queue": "denials", "item_type": "denial", "object_type": "claim",
                    "object_id": ci[denial] + 1, "created": posted[denial] + 2, "code": carc[denial],
                    "codes": tuple(code for code, _ in DENIAL_CARCS), "title": "Claim PCN{:09d} denied",
                    "org": _subset(org, denial), "mask": denial, **links})
    f.items.append({"queue": "underpayments", "item_type": "underpayment", "object_type": "claim",
                    "object_id": ci[under] + 1, "created": posted[under] + 2, "code": "variance",
                    "title": "Claim PCN{:09d} paid below contract", "org": _subset(org, under), "mask": under,
                    **links})
    loose = ~matched_claim & (received + 6 <= END)
    f.items.append({"queue": "unapplied_cash", "item_type": "unmatched claim payment", "object_type": "claim payment",
                    "object_id": ids[loose], "created": received[loose] + 6, "code": "no_claim",
                    "title": "Payment {:d} matches no claim", "org": {"payer": r_payer[remit][loose] + 1},
                    "mask": loose, "links": [("remittance", remit + 1)]})


def fill_deposits(f: Fill) -> None:
    """A bank deposit per remittance the morning after its payment date; 1 % do not match (amount or trace)."""
    from rcmflow.adapters.store.schema import deposit_matches, deposits

    r = f.remittance
    count = len(r["id"])
    value_day = r["day"] + 1
    created = (r["day"] + 2) * DAY + f.between(11 * 3600, 13 * 3600, count)
    order = np.argsort(created, kind="stable")
    remit = order  # deposit i (id i + 1) carries remittance order[i]
    created = created[order]
    ids = np.arange(1, count + 1, dtype=np.int64)
    unmatched = f.chance(0.01, count)
    amount = r["amount"][remit] - np.where(unmatched, f.between(100, 5_000, count), 0)
    amount = np.maximum(amount, 1)
    matched_at = np.where(unmatched, NEVER, np.maximum(created, r["posted"][remit]) + 300)
    matched = matched_at <= END
    reconciled = np.full(count, NEVER, np.int64)
    reconciled[remit] = np.where(matched, matched_at + 2, NEVER)
    r["reconciled"] = reconciled
    ev = f.events
    ev.add(created, "bank deposit", ids, None, "received", "receive bank deposit")
    ev.add(matched_at, "bank deposit", ids, "received", "matched", "match bank deposit")
    ev.add(matched_at + 1, "bank deposit", ids, "matched", "reconciled", "reconcile bank deposit")
    ev.add(created + 300, "bank deposit", ids, "received", "unmatched", "flag unmatched bank deposit", where=unmatched)
    state = np.where(matched, "reconciled", np.where(unmatched & (created + 300 <= END), "unmatched", "received"))
    payer_ids = [p[0] for p in PAYERS]
    seen = created <= END
    f.loader.write(deposits, {
        "id": ids[seen], "organisation_id": ORG, "source": "bai2", "bank": "021000021", "account": "9812345678",
        "currency": "USD", "amount": money(amount[seen]), "direction": "credit",
        "value_date": f.clock.days(value_day[remit][seen]), "type_code": "165",
        "bank_reference": text_of("BR{:012d}", ids[seen]),
        "trace_number": [f"{payer_ids[p]}{i + 1:010d}" for p, i in zip(r["payer"][remit][seen].tolist(),
                                                                       remit[seen].tolist(), strict=True)],
        "originator_id": [f"1{payer_ids[p]}" for p in r["payer"][remit][seen].tolist()],
        "payer_name": pick([p[1] for p in PAYERS], r["payer"][remit][seen]), "line": ids[seen] % 1000 + 3,
        "state": state[seen], "matched_amount": money(np.where(matched, amount, 0)[seen]),
        "dedup_key": text_of("{:064x}", ids[seen]), "created_at": f.clock.stamps(created[seen]),
    }, int(seen.sum()))
    m_ids = np.arange(1, int(matched.sum()) + 1, dtype=np.int64)
    m_order = np.argsort(matched_at[matched], kind="stable")
    m_deposit, m_remit, m_at = ids[matched][m_order], remit[matched][m_order] + 1, matched_at[matched][m_order]
    m_amount = amount[matched][m_order]
    f.loader.write(deposit_matches, {
        "id": m_ids, "organisation_id": ORG, "deposit_id": m_deposit, "remittance_id": m_remit,
        "amount": money(m_amount), "method": "trace_number", "confidence": 1.0, "created_at": f.clock.stamps(m_at),
        "actor": "system"}, len(m_ids))
    f.deposit = {"id": ids, "unmatched": unmatched & (created + 300 <= END), "created": created,
                 "match_id": m_ids, "match_at": m_at, "match_amount": m_amount, "match_day": value_day[remit][matched][
                     m_order]}
    f.shape["deposits"] = int(seen.sum())
    loose = f.deposit["unmatched"]
    f.items.append({"queue": "reconciliation", "item_type": "unmatched deposit", "object_type": "bank deposit",
                    "object_id": ids[loose], "created": created[loose] + 300, "code": "no_remittance",
                    "title": "Deposit {:d} matches no remittance", "org": {}})


def fill_ledger(f: Fill) -> None:
    """Journal entries in creation order: charges when a claim is first submitted (dated on the date of service),
    ERA postings (dated on the payment date), unapplied cash, and the bank side of each deposit match."""
    from rcmflow.adapters.store.schema import journal_entries, journal_lines

    c, p, r, d = f.claim, f.payment, f.remittance, f.deposit
    accounts = f.accounts
    kinds = []  # (created, posting day, reference id, kind, lines: [(account, amount>0 debit / <0 credit)])
    charged = c["submitted"] <= END
    kinds.append((c["submitted"][charged], c["service_day"][charged], c["id"][charged], 0,
                  [("ar_insurance", c["charge"][charged]), ("patient_service_revenue", -c["charge"][charged])]))
    posted = p["matched"] & (p["posted"] <= END) & (p["paid"] + p["contractual"] + p["patient"] > 0)
    moved = (p["paid"] + p["contractual"] + p["patient"])[posted]
    kinds.append((p["posted"][posted], r["day"][p["remit"][posted]] + 1, p["id"][posted], 1,
                  [("undeposited_funds", p["paid"][posted]), ("contractual_allowances", p["contractual"][posted]),
                   ("ar_patient", p["patient"][posted]), ("ar_insurance", -moved)]))
    loose = ~p["matched"] & (p["received"] + 5 <= END)
    kinds.append((p["received"][loose] + 5, r["day"][p["remit"][loose]] + 1, p["id"][loose], 2,
                  [("undeposited_funds", p["paid"][loose]), ("unapplied_cash", -p["paid"][loose])]))
    kinds.append((d["match_at"], d["match_day"], d["match_id"], 3,
                  [("bank", d["match_amount"]), ("undeposited_funds", -d["match_amount"])]))
    created = np.concatenate([k[0] for k in kinds])
    order = np.argsort(created, kind="stable")
    created = created[order]
    day = np.concatenate([k[1] for k in kinds])[order]
    reference = np.concatenate([k[2] for k in kinds])[order]
    kind = np.concatenate([np.full(len(k[0]), k[3], np.int64) for k in kinds])[order]
    count = len(created)
    ids = np.arange(1, count + 1, dtype=np.int64)
    entry_of = np.empty(count, np.int64)
    entry_of[order] = ids  # the entry id of each row of ``kinds``, in the order they were listed
    starts = np.cumsum([0] + [len(k[0]) for k in kinds])  # where each kind's rows start
    line_entry, line_no, line_account, line_amount = [], [], [], []
    for k, start in zip(kinds, starts[:-1].tolist(), strict=True):
        entries = entry_of[start:start + len(k[0])]
        position = np.zeros(len(entries), np.int64)
        for account, amount in k[4]:
            nonzero = amount != 0
            position += nonzero
            line_entry.append(entries[nonzero])
            line_no.append(position[nonzero])
            line_account.append(np.full(int(nonzero.sum()), accounts[account], np.int64))
            line_amount.append(amount[nonzero])
    line_entry_all = np.concatenate(line_entry)
    line_no_all = np.concatenate(line_no)
    line_order = np.lexsort((line_no_all, line_entry_all))
    lines = {"entry": line_entry_all[line_order], "no": line_no_all[line_order],
             "account": np.concatenate(line_account)[line_order], "amount": np.concatenate(line_amount)[line_order]}
    journal = ("charges", "era", "era", "bank")
    source = ("claim", "claim payment", "claim payment", "deposit match")
    describe = ("Charges, claim PCN{:09d}", "Claim payment {:d} posted",
                "Unapplied: claim payment {:d} matches no claim", "Deposit match {:d}")
    key = ("charge:{:d}", "claim-payment:{:d}", "unapplied:{:d}", "deposit-match:{:d}")
    f.loader.write(journal_entries, {
        "id": ids, "organisation_id": ORG, "journal": pick(journal, kind),
        "period": lambda lo, hi: [text[:7] for text in f.clock.days(day[lo:hi])],
        "posting_date": lambda lo, hi: f.clock.days(day[lo:hi]),
        "description": lambda lo, hi: [describe[k].format(x) for k, x in zip(kind[lo:hi].tolist(),
                                                                            reference[lo:hi].tolist(), strict=True)],
        "source_type": pick(source, kind), "source_id": lambda lo, hi: list(map(str, reference[lo:hi].tolist())),
        "idempotency_key": lambda lo, hi: [key[k].format(x) for k, x in zip(kind[lo:hi].tolist(),
                                                                           reference[lo:hi].tolist(), strict=True)],
        "created_at": lambda lo, hi: f.clock.stamps(created[lo:hi]), "actor": "system",
    }, count)
    amount = lines["amount"]
    f.loader.write(journal_lines, {
        "organisation_id": ORG, "entry_id": lines["entry"], "line_no": lines["no"], "account_id": lines["account"],
        "debit": lambda lo, hi: money(np.maximum(amount[lo:hi], 0)),
        "credit": lambda lo, hi: money(np.maximum(-amount[lo:hi], 0)),
    }, len(amount))
    f.shape["journal entries"] = count


def fill_approvals(f: Fill) -> None:
    """Supplier invoices awaiting or past approval under the shipped policy (one or two levels)."""
    from rcmflow.adapters.store.schema import approval_decisions, approval_requests
    from rcmflow.domain.approval_policy import chain_to_json
    from rcmflow.services.policies import configured_approval_policy

    policy = configured_approval_policy()
    rules = {rule.id: rule for rule in policy.rules}
    count = max(10, f.n // 300)
    rng = f.rng
    created = np.sort(f.between(0, END - 3600, count))
    ids = np.arange(1, count + 1, dtype=np.int64)
    cents = np.clip(np.rint(np.exp(rng.normal(np.log(300_000), 1.2, count))), 5_000, 9_900_000).astype(np.int64)
    levels = np.where(cents > 1_000_000, 2, 1)
    first = created + (np.exp(rng.normal(np.log(20 * 3600), 0.9, count))).astype(np.int64)
    second = np.where(levels == 2, first + (np.exp(rng.normal(np.log(30 * 3600), 0.9, count))).astype(np.int64),
                      first)
    stuck = f.chance(0.03, count)
    rejected = f.chance(0.08, count)
    decided = np.where(stuck, NEVER, second)
    done = decided <= END
    department = rng.integers(0, len(DEPARTMENTS), count)
    facility = rng.integers(0, len(FACILITIES), count)
    ev = f.events
    org = {"facility": facility + 1, "department": department + 1}
    rule_version = {1: f"{policy.policy_id}@{policy.version}:ap-invoice",
                    2: f"{policy.policy_id}@{policy.version}:ap-invoice-large"}
    ev.add(created, "approval request", ids, None, "pending", "submit for approval", rule_version=rule_version[1],
           **org)
    two = levels == 2
    first_done = two & ~stuck & (first <= END)
    ev.add(first, "approval request", ids, "pending", "pending", "approve", where=first_done, actor="user:approver1",
           **org)
    ev.add(first + 1, "approval request", ids, "pending", "pending", "complete approval level", where=first_done,
           **org)
    ev.add(decided, "approval request", ids, "pending", "pending", "approve", where=~rejected, actor="user:controller1",
           **org)
    ev.add(decided + 1, "approval request", ids, "pending", "approved", "complete approval", where=~rejected, **org)
    ev.add(decided, "approval request", ids, "pending", "rejected", "reject", where=rejected, actor="user:controller1",
           **org)
    state = np.where(done, np.where(rejected, "rejected", "approved"), "pending")
    chains = [json.dumps(chain_to_json(rules[name].levels())) for name in ("ap-invoice", "ap-invoice-large")]
    f.loader.write(approval_requests, {
        "id": ids, "organisation_id": ORG, "object_type": "supplier invoice",
        "object_id": text_of("INV-{:07d}", ids), "maker": text_of("user:ap.clerk{:d}", ids % 7 + 1),
        "amount": money(cents), "attributes": pick([json.dumps({"department": name}) for name in DEPARTMENTS],
                                                   department),
        "policy_id": policy.policy_id, "policy_version": policy.version,
        "rule_id": pick(("ap-invoice", "ap-invoice-large"), levels - 1), "chain": pick(chains, levels - 1),
        "state": state, "current_level": np.where(first_done, 1, 0),
        "created_at": f.clock.stamps(created), "decided_at": f.clock.stamps(np.where(done, decided + 1, NEVER)),
    }, count)
    request = np.concatenate([ids[first_done], ids[done]])
    approver = np.concatenate([np.zeros(int(first_done.sum()), np.int64), np.ones(int(done.sum()), np.int64)])
    decision_level = np.concatenate([np.zeros(int(first_done.sum()), np.int64), levels[done] - 1])
    at = np.concatenate([first[first_done], decided[done]])
    verdict = np.concatenate([np.zeros(int(first_done.sum()), np.int64), rejected[done].astype(np.int64)])
    order = np.argsort(at, kind="stable")
    f.loader.write(approval_decisions, {
        "request_id": request[order], "level": decision_level[order],
        "approver": pick(("user:approver1", "user:controller1"), approver[order]),
        "decision": pick(("approve", "reject"), verdict[order]), "decided_at": f.clock.stamps(at[order]),
    }, len(order))
    f.items.append({"queue": "ap_approvals", "item_type": "approval", "object_type": "approval request",
                    "object_id": ids, "created": created + 1, "resolved": np.where(stuck, NEVER, decided + 2),
                    "code": "level-1", "title": "Approve supplier invoice INV-{:07d}",
                    "org": {"facility": facility + 1, "department": department + 1}})
    f.shape["approval requests"] = count


def fill_work_items(f: Fill) -> None:
    """Every exception gathered above as one work item: due time from the queue's SLA on the business calendar,
    worked (started, escalated when overdue, resolved) over a time drawn against that SLA, or still waiting."""
    from rcmflow.adapters.store.schema import work_item_links, work_items
    from rcmflow.services.policies import configured_queue_policies

    policies = configured_queue_policies()
    calendar = policies.business_calendar
    rng = f.rng
    # Unreadable inbound files, a few a day.
    intake = max(5, f.n // 5_000)
    f.items.append({"queue": "intake_exceptions", "item_type": "unreadable file", "object_type": "document",
                    "object_id": np.arange(1, intake + 1, dtype=np.int64) * 7,
                    "created": np.sort(f.between(0, END - 600, intake)), "code": "ISA-segment",
                    "title": "Document {:d} could not be read", "org": {}})
    parts = [part for part in f.items if len(part["object_id"])]
    sizes = [len(part["object_id"]) for part in parts]
    total = sum(sizes)

    def column(name: str, default: Any, dtype: Any = np.int64) -> np.ndarray:
        values = []
        for part, size in zip(parts, sizes, strict=True):
            value = part.get(name, default)
            values.append(np.broadcast_to(np.asarray(value, dtype=dtype), (size,)))
        return np.concatenate(values)

    created = column("created", 0)
    order = np.argsort(created, kind="stable")
    created = created[order]
    part_of = np.repeat(np.arange(len(parts)), sizes)[order]
    queue = column("queue", "", object)[order]
    item_type = np.concatenate([np.full(size, part["item_type"], dtype=object)
                                for part, size in zip(parts, sizes, strict=True)])[order]
    object_type = np.concatenate([np.full(size, part["object_type"], dtype=object)
                                  for part, size in zip(parts, sizes, strict=True)])[order]
    object_id = column("object_id", 0)[order]
    org = {name: np.concatenate([np.broadcast_to(np.asarray(part["org"].get(name, 0), np.int64), (size,))
                                 for part, size in zip(parts, sizes, strict=True)])[order]
           for name in ("facility", "payer", "department")}
    exception = np.concatenate([np.array(part["codes"], dtype=object)[part["code"]] if "codes" in part
                            else np.full(size, part["code"], dtype=object)
                            for part, size in zip(parts, sizes, strict=True)])[order]
    known_end = column("resolved", -1)[order]  # set by the source (rescrub, correction, decision) or drawn here
    cancelled = column("cancelled", False, bool)[order]
    ids = np.arange(1, total + 1, dtype=np.int64)

    due = np.empty(total, np.int64)
    priority = np.empty(total, np.int64)
    role = np.empty(total, dtype=object)
    rule_version = np.empty(total, dtype=object)
    sla = np.empty(total, np.int64)
    for name in np.unique(queue):
        policy = policies.queue(name)
        duration = policy.sla.on(calendar)
        where = np.flatnonzero(queue == name)
        due[where] = [int((calendar.add_business_time(START + timedelta(seconds=t), duration) - START)
                          .total_seconds()) for t in created[where].tolist()]
        priority[where] = policy.default_priority
        role[where] = policy.default_role
        rule_version[where] = policies.rule_version(name)
        sla[where] = due[where] - created[where]
    # Worked: a time against the SLA (about half finish within it), or nobody has yet (ITEM_STUCK).
    worked = created + np.maximum(600, (sla * np.exp(rng.normal(np.log(0.9), 0.9, total)))).astype(np.int64)
    drawn = np.where(f.chance(ITEM_STUCK, total), NEVER, worked)
    end = np.where(known_end >= 0, known_end, drawn)
    end = np.maximum(end, created + 60)
    done = end <= END
    until = np.minimum(end, END)
    escalated_at = due + 600
    escalated = escalated_at < until
    started = f.chance(0.6, total) & ~cancelled
    start_at = created + (until - created) * 3 // 10
    started &= ~escalated | (start_at < escalated_at)
    waiting = ~done & started & ~escalated & f.chance(0.2, total)
    wait_at = start_at + (until - start_at) // 2
    final = np.where(done, np.where(cancelled, "cancelled", "resolved"), np.where(
        escalated, "escalated", np.where(waiting, "waiting", np.where(started, "in_progress", "open"))))
    level = np.where(escalated, np.where(until - escalated_at > 2 * DAY, 2, 1), 0)
    resolution = np.where(done & ~cancelled, np.array(RESOLUTIONS, dtype=object)[rng.integers(0, len(RESOLUTIONS),
                                                                                                total)], None)
    assigned = f.chance(0.5, total)
    users = np.array([f"user:{r}.{k}" for r in ("biller", "coder", "poster", "analyst") for k in range(1, 13)],
                     dtype=object)
    owner = np.where(assigned | started, users[rng.integers(0, len(users), total)], None)

    ev, codes = f.events, f.events.codes
    actor = np.array([codes["actor"](u) for u in users.tolist()], np.int16)[rng.integers(0, len(users), total)]
    coded_org = {name: value.astype(np.int16) for name, value in org.items()}
    versions = np.array([codes["rule_version"](v) for v in rule_version.tolist()], np.int16)
    ev.add(created, "work item", ids, None, "open", "open work item", rule_version=versions, **coded_org)
    ev.add(created + 300, "work item", ids, "open", "open", "assign work item", where=assigned & (
        created + 300 < np.where(started, start_at, np.minimum(until, escalated_at))), actor=actor, **coded_org)
    ev.add(start_at, "work item", ids, "open", "in_progress", "start work item", where=started, actor=actor,
           **coded_org)
    before = np.where(started & (start_at < escalated_at), codes["from_state"]("in_progress"),
                      codes["from_state"]("open")).astype(np.int16)
    ev.add(escalated_at, "work item", ids, before, "escalated", "escalate work item", where=escalated,
           actor="job:escalation", rule_version=versions, **coded_org)
    ev.add(wait_at, "work item", ids, "in_progress", "waiting", "wait on work item", where=waiting, actor=actor,
           **coded_org)
    last = np.where(escalated, codes["from_state"]("escalated"), before).astype(np.int16)
    ev.add(end, "work item", ids, last, "resolved", "resolve work item", where=~cancelled, actor=actor, **coded_org)
    ev.add(end, "work item", ids, last, "cancelled", "cancel work item", where=cancelled,
           reason="claim scrubbed again", **coded_org)

    titles = [part["title"] for part in parts]
    part_code = part_of
    f.loader.write(work_items, {
        "id": ids, "organisation_id": ORG, "facility_id": pick([None, *FACILITIES], org["facility"]),
        "payer_id": pick([None, *(p[0] for p in PAYERS)], org["payer"]),
        "department_id": pick([None, *DEPARTMENTS], org["department"]), "queue": queue, "item_type": item_type,
        "state": final, "priority": np.where(level > 0, np.maximum(priority - level, 1), priority), "owner": owner,
        "role": role, "object_type": object_type, "object_id": lambda lo, hi: list(map(str, object_id[lo:hi].tolist())),
        "dedup_key": lambda lo, hi: [f"{q}|{t}|{o}|{i}|{c}" for q, t, o, i, c in zip(
            queue[lo:hi], item_type[lo:hi], object_type[lo:hi], object_id[lo:hi].tolist(), exception[lo:hi],
            strict=True)],
        "title": lambda lo, hi: [titles[p].format(i) for p, i in zip(part_code[lo:hi].tolist(),
                                                                   object_id[lo:hi].tolist(), strict=True)],
        "details": lambda lo, hi: [json.dumps({"exception_code": c}) for c in exception[lo:hi]],
        "created_at": lambda lo, hi: f.clock.stamps(created[lo:hi]),
        "due_at": lambda lo, hi: f.clock.stamps(due[lo:hi]), "escalation_level": level,
        "escalated_at": lambda lo, hi: f.clock.stamps(np.where(escalated[lo:hi], escalated_at[lo:hi], NEVER)),
        "resolved_at": lambda lo, hi: f.clock.stamps(np.where(done[lo:hi], end[lo:hi], NEVER)),
        "resolution_code": resolution, "reopened": 0,
    }, total)

    # Links to the further objects of posting's items (the payment and its remittance).
    link_item, link_type, link_id = [], [], []
    position = np.empty(total, np.int64)
    position[order] = np.arange(total)
    offset = 0
    for part, size in zip(parts, sizes, strict=True):
        mask = part.get("mask")
        for kind, values in part.get("links", ()):
            chosen = values[mask] if mask is not None else values
            link_item.append(ids[position[offset:offset + size]])
            link_type.append(np.full(size, kind, dtype=object))
            link_id.append(chosen)
        offset += size
    if link_item:
        items = np.concatenate(link_item)
        link_order = np.argsort(items, kind="stable")
        kinds, objects = np.concatenate(link_type)[link_order], np.concatenate(link_id)[link_order]
        f.loader.write(work_item_links, {
            "work_item_id": items[link_order], "object_type": kinds,
            "object_id": lambda lo, hi: list(map(str, objects[lo:hi].tolist()))}, len(items))
    f.shape["work items"] = total
    f.shape["work items active"] = int((~done).sum())
    active_queues, active_counts = np.unique(queue[~done].astype(str), return_counts=True)
    f.shape["active work items by queue"] = {q: int(c) for q, c in zip(active_queues, active_counts, strict=True)}
    f.shape["active work items overdue"] = int((~done & (due < END)).sum())
    f.escalations = escalated_at[escalated]


def fill_outbox(f: Fill) -> None:
    """Outbox messages: a submission file per payer and day, an escalation notice per escalation, and webhook
    deliveries of claim events: as many as bring the event log to the target. Most delivered at once; some
    failed first, a few dead-lettered, the last minutes' still pending."""
    from rcmflow.adapters.store.schema import outbox

    c, rng, ev = f.claim, f.rng, f.events
    submitted = c["submitted"][c["submitted"] <= END]
    batches = np.unique((submitted // DAY) * len(PAYERS) + c["payer"][c["submitted"] <= END])
    submission_at = (batches // len(PAYERS)) * DAY + 22 * 3600
    submission_at = np.minimum(submission_at, END - 60)
    notices = f.escalations
    fixed = len(batches) + len(notices)
    per_message = 1.04
    webhooks = max(0, int((f.target_events - ev.count - fixed * per_message) / per_message))
    if f.target_events - ev.count - fixed * per_message < 0:
        print(f"  note: the lifecycles alone write {ev.count:,} events, more than --events; no webhooks added",
              file=sys.stderr, flush=True)
    hook_at = np.sort(f.between(0, END, webhooks))
    created = np.concatenate([submission_at, notices, hook_at])
    destination = np.concatenate([np.zeros(len(batches), np.int64), np.ones(len(notices), np.int64),
                                  2 + rng.integers(0, len(WEBHOOK_DESTINATIONS), webhooks)])
    order = np.argsort(created, kind="stable")
    created, destination = created[order], destination[order]
    count = len(created)
    ids = np.arange(1, count + 1, dtype=np.int64)
    fate = rng.random(count)
    failed_first = fate < 0.015
    dead = fate < 0.001
    first_try = created + f.between(1, 30, count)
    retry = first_try + f.between(60, 900, count)
    delivered_at = np.where(dead, NEVER, np.where(failed_first, retry, first_try))
    ev.add(first_try, "outbox message", ids, "in_flight", "failed", "fail outbox delivery", where=failed_first,
           actor="job:outbox-relay", reason="HTTP 503 from the receiver")
    for attempt in (1, 2):
        ev.add(retry + attempt * 600, "outbox message", ids, "in_flight", "failed", "fail outbox delivery",
               where=dead, actor="job:outbox-relay", reason="HTTP 503 from the receiver")
    ev.add(retry + 1800, "outbox message", ids, "in_flight", "dead", "dead-letter outbox message", where=dead,
           actor="job:outbox-relay", reason="HTTP 503 from the receiver")
    ev.add(delivered_at, "outbox message", ids, "in_flight", "delivered", "deliver outbox message",
           actor="job:outbox-relay")
    status = np.where(dead & (retry + 1800 <= END), "dead", np.where(delivered_at <= END, "delivered", np.where(
        failed_first & (first_try <= END), "failed", "pending")))
    attempts = np.where(status == "dead", 4, np.where(status == "delivered", 1 + failed_first, np.where(
        status == "failed", 1, 0)))
    names = ("submission:sandbox", "notifications", *WEBHOOK_DESTINATIONS)
    f.loader.write(outbox, {
        "id": ids, "organisation_id": ORG, "destination": pick(names, destination),
        "payload": lambda lo, hi: [json.dumps({"message": i, "kind": names[k]}) for i, k in zip(
            ids[lo:hi].tolist(), destination[lo:hi].tolist(), strict=True)],
        "idempotency_key": text_of("bench:{:d}", ids), "status": status, "attempts": attempts,
        "created_at": lambda lo, hi: f.clock.stamps(created[lo:hi]),
        "next_attempt_at": lambda lo, hi: f.clock.stamps(np.where(failed_first[lo:hi], retry[lo:hi], created[lo:hi])),
        "delivered_at": lambda lo, hi: f.clock.stamps(np.where(delivered_at[lo:hi] <= END, delivered_at[lo:hi], NEVER)),
        "last_error": lambda lo, hi: ["HTTP 503 from the receiver" if s in ("failed", "dead") else None
                                      for s in status[lo:hi].tolist()],
    }, count)
    f.shape["outbox messages"] = count


def fill_snapshots(f: Fill) -> None:
    """A year of the worker's daily KPI snapshots (totals and every group of every dimension): what the tower's
    trends read. Plausible values; the timed snapshot of the as-of day replaces that day's with real ones."""
    from rcmflow.adapters.store.schema import kpi_snapshots
    from rcmflow.domain.kpis import KPIS

    groups = {"facility": FACILITIES, "payer": tuple(p[0] for p in PAYERS), "department": DEPARTMENTS,
              "queue": ("intake_exceptions", "coding_review", "registration_eligibility", "authorizations",
                        "claim_edits", "claim_rejections", "denials", "underpayments", "posting_exceptions",
                        "unapplied_cash", "reconciliation", "ap_approvals", "refunds"),
              "exception_type": ("claim held by scrubber", "claim rejected (277CA)", "denial", "underpayment",
                                 "unmatched claim payment", "unmatched deposit", "approval", "unreadable file")}
    keys = [(kpi.key, "", "") for kpi in KPIS.values()]
    keys += [(kpi.key, dimension, group) for kpi in KPIS.values() for dimension in kpi.dimensions
             for group in groups[dimension]]
    base = {"percent": 80.0, "count": 5_000.0, "usd": 2_500_000.0, "days": 38.0, "hours": 30.0}
    days = np.arange(YEAR_DAYS + 1)
    key_index = np.tile(np.arange(len(keys)), len(days))
    day = np.repeat(days, len(keys))
    level = np.array([base[KPIS[key].unit] * (0.1 if dimension else 1.0) for key, dimension, _ in keys])
    value = np.round(level[key_index] * (1 + 0.05 * np.sin(day / 9) + f.rng.normal(0, 0.02, len(day))), 4)
    end_of_day = day * DAY + DAY - 1
    f.loader.write(kpi_snapshots, {
        "organisation_id": ORG, "day": lambda lo, hi: f.clock.days(day[lo:hi]),
        "kpi": pick([k[0] for k in keys], key_index), "dimension": pick([k[1] for k in keys], key_index),
        "group_value": pick([k[2] for k in keys], key_index), "value": value, "numerator": None, "denominator": None,
        "computed_at": lambda lo, hi: f.clock.stamps(np.minimum(end_of_day[lo:hi], END)),
    }, len(day))


def fill(url: str, claims: int, events: int) -> dict[str, Any]:
    """Fill a migrated database; one JSON-ready summary of what was written and how fast."""
    from sqlalchemy import Index
    from sqlalchemy.schema import CreateIndex, DropIndex

    from rcmflow.adapters.store import schema

    started = time.perf_counter()
    loader = Loader(url)
    tables = [schema.claims, schema.scrub_findings, schema.remittances, schema.claim_payments,
              schema.payment_adjustments, schema.deposits, schema.deposit_matches, schema.journal_entries,
              schema.journal_lines, schema.approval_requests, schema.approval_decisions, schema.work_items,
              schema.work_item_links, schema.outbox, schema.event_log, schema.kpi_snapshots]
    indexes: list[Index] = [index for table in tables for index in sorted(table.indexes, key=lambda i: i.name)]
    loader.ddl([DropIndex(index) for index in indexes])
    f = Fill(loader, claims, events)
    steps = (("claims, payments, deposits", fill_claims), ("ledger", fill_ledger), ("approvals", fill_approvals),
             ("work items", fill_work_items), ("outbox", fill_outbox),
             ("event log", lambda f: f.events.write(loader, f.clock)), ("KPI snapshots", fill_snapshots))
    for label, step in steps:
        at = time.perf_counter()
        step(f)
        print(f"  fill: {label} done in {time.perf_counter() - at:.1f} s", file=sys.stderr, flush=True)
    at = time.perf_counter()
    loader.ddl([CreateIndex(index) for index in indexes])
    index_seconds = time.perf_counter() - at
    analyze_seconds = loader.finish(tables)
    seconds = time.perf_counter() - started
    rows = dict(loader.rows)
    return {"seconds": seconds, "rows": rows, "total_rows": sum(rows.values()), "index_seconds": index_seconds,
            "analyze_seconds": analyze_seconds, "events": rows.get("event_log", 0), "shape": f.shape,
            "table_seconds": dict(loader.seconds)}


# ---- the timed part ---------------------------------------------------------------------------------------

def _ms(action: Callable[[], Any], runs: int, warmups: int = 1) -> list[float]:
    for _ in range(warmups):
        action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


# What the tower and the queue page call, and what those call in turn (module, function, label): each is timed
# where it exists, so the breakdown follows the routes as they change; a call inside another timed call is shown
# under it.
TOWER_PARTS = (("rcmflow.services.kpi_reports", "tower_report", "tower_report (figures, stored or live)"),
               ("rcmflow.services.kpi_reports", "stored_report", "read the stored report"),
               ("rcmflow.services.kpis", "compute_kpi_slices", "compute the KPIs live"),
               ("rcmflow.services.kpis", "compute_kpis", "compute_kpis"),
               ("rcmflow.services.throughput", "daily_throughput", "daily_throughput"),
               ("rcmflow.services.kpi_snapshots", "kpi_trend", "trend reads"),
               ("rcmflow.services.kpi_snapshots", "kpi_trends", "trend reads (one query)"),
               ("rcmflow.services.work_items", "queue_summary", "queue_summary"),
               ("rcmflow.services.outbox", "outbox_status", "outbox_status"),
               ("rcmflow.entrypoints.web.routes.tower", "page", "render the template (page)"))
WORK_PARTS = (("rcmflow.services.work_items", "list_item_summaries", "list_item_summaries"),
              ("rcmflow.services.work_items", "queue_summary", "queue_summary"),
              ("rcmflow.entrypoints.web.routes.work", "page", "render the template (page)"))
REST = "rest (routing, session, charts, response)"


class Timings:
    """Milliseconds per labelled call, which timed call each ran inside, and the ``source`` a result named."""

    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = defaultdict(list)
        self.parent: dict[str, str | None] = {}
        self.sources: set[str] = set()
        self.stack: list[str] = []


@contextmanager
def _timers(targets: Any) -> Iterator[Timings]:
    """Wrap each ``module.function`` with a timer for the duration of the block (missing ones are skipped)."""
    import importlib

    timings = Timings()
    saved = []
    for module_name, name, label in targets:
        module = importlib.import_module(module_name) if isinstance(module_name, str) else module_name
        original = getattr(module, name, None)
        if original is None:
            continue
        saved.append((module, name, original))

        def timed(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            timings.parent.setdefault(_label, timings.stack[-1] if timings.stack else None)
            timings.stack.append(_label)
            started = time.perf_counter()
            try:
                result = _original(*args, **kwargs)
            finally:
                timings.spent[_label].append((time.perf_counter() - started) * 1000)
                timings.stack.pop()
            if isinstance(getattr(result, "source", None), str):
                timings.sources.add(result.source)
            return result
        setattr(module, name, timed)
    try:
        yield timings
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _progress(text: str) -> None:
    print(f"  timing: {text}", file=sys.stderr, flush=True)


def timed_path(url: str, requests: int) -> dict[str, Any]:
    """Everything the bench times, over a filled database; one JSON-ready dict of milliseconds."""

    from fastapi.testclient import TestClient
    from sqlalchemy import func, select, update

    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema
    from rcmflow.adapters.store.schema import event_log, utc_now
    from rcmflow.adapters.store.schema import kpi_reports as kpi_reports_table
    from rcmflow.domain.kpis import KPIS
    from rcmflow.entrypoints.api.app import create_app
    from rcmflow.services import kpi_reports, kpi_snapshots, kpis, process_maps, work_items
    from rcmflow.services.background import wait_for_background
    from rcmflow.services.principals import create_user
    from rcmflow.services.process_conformance import pm4py_module
    from rcmflow.settings import get_settings

    engine = create_engine_for(url)
    ensure_schema(engine)
    out: dict[str, Any] = {"kpis": {}, "pages": {}, "anchors": {}, "notes": []}
    since = AS_OF - timedelta(days=30)
    in_window = select(func.count()).select_from(event_log).where(event_log.c.organisation_id == ORG,
                                                                   event_log.c.occurred_at > since)
    with engine.connect() as conn:
        out["anchors"]["count(*) of the window's events"] = _ms(lambda: conn.execute(in_window).scalar_one(), 3)
        out["window events"] = conn.execute(in_window).scalar_one()
        _progress("compute_kpis (1 warm-up and 3 runs, in total, by payer, then per family)")
        out["kpis"]["compute_kpis (total)"] = _ms(lambda: kpis.compute_kpis(conn, as_of=AS_OF, window_days=30), 3)
        out["kpis"]["compute_kpis (by payer)"] = _ms(
            lambda: kpis.compute_kpis(conn, as_of=AS_OF, window_days=30, by="payer"), 3)
        families = ["_claims_backlog", "_accounts_receivable", "_clean_claims", "_first_pass_acceptance", "_denials",
                    "_posting", "_work_items", "_approvals", "_rework", "_integrations", "_cash"]
        with _timers([(kpis, name, name.strip("_")) for name in families]) as timings:
            for _ in range(3):
                kpis.compute_kpis(conn, as_of=AS_OF, window_days=30)
        out["kpi families"] = {label: statistics.median(times) for label, times in timings.spent.items()}
        report = kpis.compute_kpis(conn, as_of=AS_OF, window_days=30)
        out["kpi values"] = {v.key: None if v.value is None else str(v.value) for v in report.values
                             if v.group is None}

    def snapshot() -> None:
        with engine.begin() as conn:
            kpi_snapshots.snapshot_kpis(conn, day=AS_OF.date(), now=AS_OF)
    _progress("snapshot_kpis (1 warm-up and 3 runs)")
    out["kpis"]["snapshot_kpis (every slice)"] = _ms(snapshot, 3)
    _progress("the worker's refresh of the stored 30-day tower report (1 run)")
    out["kpis"]["refresh_kpi_report (30-day window; the worker's)"] = _ms(
        lambda: kpi_reports.refresh_kpi_report_apart(engine, as_of=AS_OF, window_days=30, organisation_id=ORG), 1,
        warmups=0)

    started = time.perf_counter()
    pm4py_module()
    out["pm4py import ms"] = (time.perf_counter() - started) * 1000
    _progress("the worker's process maps: every object type and window of the page (1 run)")
    started = time.perf_counter()
    mined = process_maps.run_process_maps(engine, AS_OF)
    out["kpis"][f"run_process_maps ({len(process_maps.OBJECT_TYPES)} object types x {len(process_maps.WINDOWS)} "
                "windows; the worker's)"] = [(time.perf_counter() - started) * 1000]
    out["process maps ms"] = mined["milliseconds"].get(ORG, {})
    two = tuple(sorted(FACILITIES[:2]))  # a person limited to the two largest facilities: their set's own figures
    _progress("the worker's refresh of one facility set: its 30-day tower report and its 30-day claim map (1 run each)")
    out["kpis"]["refresh_kpi_report (30 days, 2 facilities' set; the worker's)"] = _ms(
        lambda: kpi_reports.refresh_kpi_report_apart(engine, as_of=AS_OF, window_days=30, organisation_id=ORG,
                                                     facilities=two), 1, warmups=0)
    out["kpis"]["refresh_process_map (claim, 30 days, 2 facilities' set)"] = _ms(
        lambda: process_maps.refresh_process_map_apart(engine, object_type="claim", window_days=30, until=AS_OF,
                                                       organisation_id=ORG, facilities=two), 1, warmups=0)
    app = create_app(engine, get_settings(), clock=lambda: AS_OF)

    def log_in(client: TestClient, facilities: tuple[str, ...] = ()) -> None:
        username = f"bench.admin.{secrets.token_hex(3)}"
        with engine.begin() as conn:
            create_user(conn, username, PASSWORD, roles=["admin"], facilities=facilities, actor="bench",
                        now=utc_now())
        login = client.post("/ui/login", data={"username": username, "password": PASSWORD, "next": "/ui/tower"},
                            follow_redirects=False)
        if login.status_code != 303:
            raise SystemExit(f"login failed: {login.status_code} {login.text[:300]}")

    with TestClient(app) as client:
        clinic = TestClient(app)  # a second person's cookies, on the same app
        sites = TestClient(app)
        log_in(client)
        log_in(clinic, FACILITIES[:1])  # a person limited to the largest facility
        log_in(sites, two)  # a person limited to the two largest
        with engine.connect() as conn:
            queues = work_items.queue_summary(conn, AS_OF, organisation_id=ORG)
        biggest = max(queues, key=lambda q: q.open).queue
        tower_marks = [f'data-testid="kpi-{key}"' for key in KPIS] + ["chart-aging", "chart-throughput", "chart-sla"]
        work_marks = ['id="work-items"', "/ui/work/"]
        map_marks = ['class="process-map"', "Bottlenecks"]
        # Pages read what is stored only where computing took over the live budget: say so when it did not.
        with engine.connect() as conn:
            report = kpi_reports.stored_report(conn, window_days=30, organisation_id=ORG)
            claim_map = process_maps.stored_process_map(conn, object_type="claim", window_days=30,
                                                        organisation_id=ORG)
            sites_report = kpi_reports.stored_report(conn, window_days=30, organisation_id=ORG, facilities=two)
            sites_map = process_maps.stored_process_map(conn, object_type="claim", window_days=30,
                                                        organisation_id=ORG, facilities=two)
        stored_tower = report is not None and report.duration_ms >= kpi_reports.LIVE_BUDGET_MS
        stored_map = claim_map is not None and claim_map.duration_ms >= process_maps.LIVE_BUDGET_MS
        stored_sites_tower = sites_report is not None and sites_report.duration_ms >= kpi_reports.LIVE_BUDGET_MS
        stored_sites_map = sites_map is not None and sites_map.duration_ms >= process_maps.LIVE_BUDGET_MS
        for stored, what in ((stored_tower, "the tower's figures"), (stored_map, "the claim map"),
                             (stored_sites_tower, "the two facilities' tower figures"),
                             (stored_sites_map, "the two facilities' claim map")):
            if not stored:
                out["notes"].append(f"{what} took under the live budget: the pages compute them live")
        facility_marks = [f"for facility {FACILITIES[0]} (its own figures)"] if stored_tower else []
        sites_marks = [f"over your facilities {', '.join(two)} (their own figures)"] if stored_sites_tower else []
        stored_marks = ["mined"] if stored_map else []
        sites_map_marks = [f"over your facilities {', '.join(two)}"] if stored_sites_map else []
        # (label, who, path, what the page must show, timed requests: 1 = the first render alone)
        pages = [("GET /healthz", client, "/healthz", ['"ok"'], requests),
                 ("GET /ui/tower", client, "/ui/tower", tower_marks, requests),
                 ("GET /ui/tower (one facility's person)", clinic, "/ui/tower",
                  [*tower_marks, *facility_marks], requests),
                 ("GET /ui/tower (two facilities' person)", sites, "/ui/tower", [*tower_marks, *sites_marks],
                  requests),
                 (f"GET /ui/work?queue={biggest}", client, f"/ui/work?queue={biggest}", work_marks, requests),
                 ("GET /ui/work", client, "/ui/work", work_marks, requests),
                 ("GET /ui/process (first, stored map)", client, "/ui/process", [*map_marks, *stored_marks], 1),
                 ("GET /ui/process (stored map)", client, "/ui/process", [*map_marks, *stored_marks], requests),
                 ("GET /ui/process (two facilities' person, their stored map)", sites, "/ui/process",
                  [*map_marks, *sites_map_marks], requests),
                 ("GET /ui/process?days=45 (first; no stored map: mined in the page)", client, "/ui/process?days=45",
                  map_marks, 1)]

        def get(who: TestClient, path: str, marks: list[str]) -> None:
            answer = who.get(path, follow_redirects=False)
            missing = [mark for mark in marks if mark not in answer.text]
            if answer.status_code != 200 or missing:
                raise SystemExit(f"{path}: {answer.status_code}, missing {missing[:3]}: {answer.text[:300]}")

        for label, who, path, marks, runs in pages:
            _progress(f"{label} ({'the first render' if runs == 1 else f'1 warm-up and {runs} requests'})")
            times = _ms(lambda who=who, path=path, marks=marks: get(who, path, marks), runs, warmups=int(runs > 1))
            (out["anchors"] if path == "/healthz" else out["pages"])[label] = times
        _progress("where the tower and the queue page spend their time (3 requests each)")
        out["tower parts"], sources = _breakdown(lambda: get(client, "/ui/tower", tower_marks), TOWER_PARTS)
        out["tower source"] = sorted(sources)
        out["work parts"], _ = _breakdown(lambda: get(client, f"/ui/work?queue={biggest}", work_marks), WORK_PARTS)
        out["biggest queue"] = biggest

        _progress(f"the tower with a stale stored report and no worker ({requests} requests while it is refreshed)")
        with engine.begin() as conn:  # as if no worker had refreshed it for longer than MAX_AGE
            conn.execute(update(kpi_reports_table).values(computed_at=utc_now() - kpi_reports.MAX_AGE - timedelta(
                minutes=1)))
        started = time.perf_counter()
        stale_marks = ["being refreshed now"] if stored_tower else []
        first = _ms(lambda: get(client, "/ui/tower", [*tower_marks, *stale_marks]), 1, warmups=0)
        out["pages"]["GET /ui/tower (stale report, no worker; refreshed meanwhile)"] = first + _ms(
            lambda: get(client, "/ui/tower", tower_marks), requests - 1, warmups=0)
        if not wait_for_background(900):
            raise SystemExit("the tower's background refresh did not finish in 15 minutes")
        out["stale refresh ms"] = (time.perf_counter() - started) * 1000
        with engine.connect() as conn:
            fresh = kpi_reports.stored_report(conn, window_days=30, organisation_id=ORG)
        if fresh is None or utc_now() - fresh.computed_at > kpi_reports.MAX_AGE:
            raise SystemExit("the stale report was not refreshed")
    engine.dispose()
    return out


def _breakdown(request: Callable[[], None], parts: Any, runs: int = 3) -> tuple[list[Any], set[str]]:
    """[label, the label it ran inside (None: called by the route), median ms per request] of every part called,
    over ``runs`` requests, then the rest and the total; and the ``source`` of the figures the route got."""
    per_run: dict[str, list[float]] = defaultdict(list)
    parents: dict[str, str | None] = {}
    sources: set[str] = set()
    for _ in range(runs):
        with _timers(parts) as timings:
            started = time.perf_counter()
            request()
            total = (time.perf_counter() - started) * 1000
        parents.update(timings.parent)
        sources |= timings.sources
        for label in parents:
            per_run[label].append(sum(timings.spent.get(label, [])))
        per_run[REST].append(total - sum(sum(timings.spent[label]) for label, parent in timings.parent.items()
                                         if parent is None))
        per_run["request (total)"].append(total)
    rows = [[label, parents.get(label), statistics.median(times)] for label, times in per_run.items()]
    return rows, sources


# ---- driver -----------------------------------------------------------------------------------------------

def child(*args: str, env: dict[str, str]) -> dict[str, Any]:
    run = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, env=env)
    if run.returncode != 0:
        raise SystemExit(f"child {args[0]} failed (exit {run.returncode})")
    return json.loads(run.stdout.strip().splitlines()[-1])


def database(kind: str, folder: Path, base: str) -> tuple[str, Callable[[], None]]:
    """A fresh database URL and its clean-up."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'tower.db'}", lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"bench_tower_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), drop


def environment(folder: Path, url: str) -> dict[str, str]:
    """The children's settings: this database, a PHI key file in the temp folder, quiet logs."""
    from rcmflow.adapters.crypto.keyfile import generate_keyring, render_keyring

    keys = folder / "phi-keys.json"
    if not keys.exists():
        keys.write_text(render_keyring(generate_keyring()))
        keys.chmod(0o600)
    env = {name: value for name, value in os.environ.items() if name != "RCMFLOW_PHI_KEYS"}
    return {**env, "RCMFLOW_DATABASE_URL": url, "RCMFLOW_DATA_DIR": str(folder), "RCMFLOW_PHI_KEY_FILE": str(keys),
            "RCMFLOW_LOG_LEVEL": "WARNING"}


def run(kind: str, args: argparse.Namespace) -> None:
    if args.reuse:
        folder = Path(args.reuse)
        saved = json.loads((folder / "bench.json").read_text())
        url, drop, made = saved["url"], (lambda: None), saved["fill"]
        kind = saved["kind"]
        print(f"\n{kind}: timing the database kept in {folder}", flush=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="rcmflow-tower-"))
        url, drop = database(kind, folder, args.postgres)
        made = None
    try:
        env = environment(folder, url)
        if made is None:
            print(f"\n{kind}: filling {args.claims:,} claims, ~{args.events:,} events...", flush=True)
            made = child("--fill", url, str(args.claims), str(args.events), env=env)
            (folder / "bench.json").write_text(json.dumps({"url": url, "kind": kind, "fill": made}))
        _print_fill(made)
        result = child("--timed", url, str(args.requests), env=env)
    finally:
        if args.keep or args.reuse:
            print(f"  kept: {folder} (time it again with --reuse {folder})")
        else:
            drop()
            shutil.rmtree(folder, ignore_errors=True)
    _print_result(kind, made, result)


def _print_fill(made: dict[str, Any]) -> None:
    rows = made["total_rows"]
    print(f"  fill: {rows:,} rows in {made['seconds']:.1f} s = {rows / made['seconds']:,.0f} rows/s (indexes built "
          f"after the load in {made['index_seconds']:.1f} s, (VACUUM) ANALYZE {made['analyze_seconds']:.1f} s; not "
          "timed against the goal)")
    widths = sorted(made["rows"].items(), key=lambda item: -item[1])
    print("  rows: " + ", ".join(f"{name} {count:,}" for name, count in widths))
    shape = made["shape"]
    states = ", ".join(f"{state} {count:,}" for state, count in sorted(shape["claims by state"].items(),
                                                                      key=lambda item: -item[1]))
    print(f"  claims by state: {states}")
    print(f"  work items {shape['work items']:,}, active {shape['work items active']:,} (overdue "
          f"{shape['active work items overdue']:,}); active by queue: " + ", ".join(
              f"{q} {c:,}" for q, c in sorted(shape["active work items by queue"].items(), key=lambda item: -item[1])))


def _print_result(kind: str, made: dict[str, Any], result: dict[str, Any]) -> None:
    print(f"\n{kind}: {made['rows'].get('claims', 0):,} claims, {made['events']:,} events "
          f"({result['window events']:,} in the 30-day window); as of {AS_OF:%Y-%m-%d %H:%M} UTC")
    print(f"  {'KPI computation':<50}{'median ms':>10}{'runs ms':>26}")
    for label, times in result["kpis"].items():
        print(f"  {label:<50}{statistics.median(times):>10.0f}    {', '.join(f'{t:.0f}' for t in times):>22}")
    print("  compute_kpis by family (median ms): " + ", ".join(
        f"{label} {ms:.0f}" for label, ms in sorted(result["kpi families"].items(), key=lambda item: -item[1])))
    print(f"\n  {'page (server-side render, in-process)':<66}{'p50 ms':>8}{'max ms':>8}   goal {GOAL_MS:.0f} ms")
    for label, times in result["pages"].items():
        p50, top = statistics.median(times), max(times)
        verdict = "met" if top <= GOAL_MS else ("NOT met" if p50 > GOAL_MS else "NOT met (p50 met)")
        if "mined in the page" in label:
            verdict += " (a window the worker does not store)"
        print(f"  {label:<66}{p50:>8.0f}{top:>8.0f}   {verdict}")
    print(f"  (pm4py imported before, in {result['pm4py import ms']:.0f} ms; a server pays it once)")
    if "stale refresh ms" in result:
        print(f"  the stale report's background refresh finished {result['stale refresh ms'] / 1000:.1f} s after the "
              "first stale page")
    maps = result.get("process maps ms", {})
    if maps:
        print("  the worker's process maps (ms per object type/window): " + ", ".join(
            f"{key} {ms:,}" for key, ms in sorted(maps.items(), key=lambda item: -item[1])))
    print("\n  anchors, measured in the same run:")
    for label, times in result["anchors"].items():
        print(f"  {label:<66}{statistics.median(times):>8.1f}{max(times):>8.1f}")
    for notes in result.get("notes", []):
        print(f"  note: {notes}")
    for title, parts in ((f"GET /ui/tower (figures: {', '.join(result.get('tower source') or ['computed live'])})",
                          result["tower parts"]),
                         (f"GET /ui/work?queue={result['biggest queue']}", result["work parts"])):
        print(f"\n  where {title} spends its time (median of 3 requests, ms):")
        for label, parent, ms in parts:
            if parent is None:
                print(f"    {label:<46}{ms:>9.1f}")
                for inner, outer, inner_ms in parts:
                    if outer == label:
                        print(f"      of which {inner:<35}{inner_ms:>9.1f}")
    print("\n  KPI values (total): " + ", ".join(f"{key} {value}" for key, value in result["kpi values"].items()))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--fill":
        print(json.dumps(fill(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--timed":
        print(json.dumps(timed_path(sys.argv[2], int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=10, help="timed requests per page, after one warm-up")
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--keep", action="store_true", help="keep the filled database and print where it is")
    parser.add_argument("--reuse", metavar="FOLDER", help="time a database kept by --keep again, without filling")
    args = parser.parse_args()
    print(f"rcmflow control tower, {os.cpu_count()} CPU(s), goal {GOAL_MS:.0f} ms per page")
    if args.reuse:
        run("sqlite", args)
        return
    for kind in ("sqlite", "postgresql"):
        if args.database in (kind, "both"):
            run(kind, args)


if __name__ == "__main__":
    main()
