"""The KPI engine on small, hand-computed stories: each test writes a few claims, payments, work items or events
with explicit timestamps, works every figure out by hand (the arithmetic is in the comments) and expects exactly
that, in total, per group of each dimension, and within a facility scope.

Every story is seen at AS_OF = 2026-06-30 12:00 UTC over the default 30-day window: timestamps in
(2026-05-31 12:00, 2026-06-30 12:00], dates 2026-06-01 to 2026-06-30."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from rcmflow.adapters.store.schema import (
    approval_requests,
    claim_payments,
    claims,
    deposits,
    payment_adjustments,
    remittances,
    scrub_findings,
    work_item_links,
    work_items,
)
from rcmflow.domain.kpis import AGING_BUCKETS, KPIS, NO_GROUP
from rcmflow.domain.ledger import JournalEntryDraft, credit, debit
from rcmflow.errors import InputError
from rcmflow.services.events import Event, append_events
from rcmflow.services.kpis import AgingRow, KpiReport, compute_kpis
from rcmflow.services.ledger import post_entries, trial_balance

D = Decimal
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
START = AS_OF - timedelta(days=30)
_numbers = count(1)


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _digest() -> str:
    return hashlib.sha256(str(next(_numbers)).encode()).hexdigest()


# ---- writing a story ---------------------------------------------------------------------------------------

def add_claim(conn: Connection, *, facility: str | None, payer: str, state: str, created: datetime, total: str,
              department: str | None = None, source: str | None = "src", findings: Sequence[int] = ()) -> int:
    """A claim, and one scrub finding per scrub number in ``findings``."""
    claim_id = conn.execute(claims.insert().returning(claims.c.id), {
        "facility_id": facility, "payer_id": payer, "department_id": department, "claim_type": "P",
        "patient_control_number": f"PCN{next(_numbers)}", "frequency": "1", "filing_order": "P",
        "total_charge": D(total), "line_count": 1, "state": state, "content_digest": _digest(),
        "created_at": created, "source_id": None if source is None else f"{source}-{next(_numbers)}"}).scalar_one()
    for number in findings:
        conn.execute(scrub_findings.insert(), {
            "claim_id": claim_id, "scrub_number": number, "rule": "r1", "rule_version": "1", "pack": "p@1",
            "severity": "error", "category": "coding", "message": "finding", "created_at": created})
    return claim_id


def add_remittance(conn: Connection, *, payer: str, created: datetime) -> int:
    return conn.execute(remittances.insert().returning(remittances.c.id), {
        "payer_id": payer, "trace_number": f"T{next(_numbers)}", "payment_amount": D("0"), "credit_debit": "C",
        "payment_method": "ACH", "control_number": "0001", "state": "posted", "content_digest": _digest(),
        "claim_count": 1, "created_at": created}).scalar_one()


def add_payment(conn: Connection, remittance_id: int, claim_id: int | None, *, status: str, charge: str, paid: str,
                posted: datetime | None, adjustments: Sequence[tuple[str, str, str]] = ()) -> int:
    payment_id = conn.execute(claim_payments.insert().returning(claim_payments.c.id), {
        "remittance_id": remittance_id, "patient_control_number": "PCN", "status": status, "charge": D(charge),
        "paid": D(paid), "state": "posted" if posted else "unapplied", "claim_id": claim_id,
        "posted_at": posted}).scalar_one()
    for group, reason, amount in adjustments:
        conn.execute(payment_adjustments.insert(), {"claim_payment_id": payment_id, "group_code": group,
                                                    "reason_code": reason, "amount": D(amount)})
    return payment_id


def add_work_item(conn: Connection, *, queue: str, item_type: str, state: str, created: datetime,
                  facility: str | None = None, payer: str | None = None, department: str | None = None,
                  due: datetime | None = None, resolved: datetime | None = None, escalation: int = 0,
                  object_type: str = "claim", object_id: str = "0") -> int:
    return conn.execute(work_items.insert().returning(work_items.c.id), {
        "facility_id": facility, "payer_id": payer, "department_id": department, "queue": queue,
        "item_type": item_type, "state": state, "priority": 3, "object_type": object_type, "object_id": object_id,
        "dedup_key": f"key-{next(_numbers)}", "title": "an item", "created_at": created, "due_at": due,
        "escalation_level": escalation, "resolved_at": resolved, "reopened": 0}).scalar_one()


def event(object_type: str, object_id: object, from_state: str | None, to_state: str, when: datetime, *,
          activity: str = "move", facility: str | None = None, payer: str | None = None) -> Event:
    return Event(object_type, str(object_id), to_state, activity, "tester", from_state=from_state, occurred_at=when,
                 facility_id=facility, payer_id=payer)


def entry(key: str, journal: str, day: date, source_type: str, source_id: object, *lines: Any) -> JournalEntryDraft:
    return JournalEntryDraft(journal, day, f"entry {key}", source_type, str(source_id), key, tuple(lines))


def report(engine: Engine, **kwargs: Any) -> KpiReport:
    with engine.connect() as conn:
        return compute_kpis(conn, as_of=AS_OF, **kwargs)


def figure(found: KpiReport, key: str, group: str | None = None) -> Decimal | None:
    value = found.value(key, group)
    assert value is not None, f"{key} {group} is not in the report"
    return value.value


def groups(found: KpiReport, key: str) -> dict[str, Decimal | None]:
    return {v.group: v.value for v in found.values if v.key == key and v.group is not None}


def aging(found: KpiReport, subject: str, group: str | None = None) -> dict[str, tuple[int, Decimal]]:
    return {row.bucket: (row.count, row.amount) for row in found.aging
            if row.subject == subject and row.group == group and row.count}


# ---- claims: backlog, aging, clean-claim rate, insurance A/R, days in A/R -------------------------------------

@pytest.fixture
def claim_story(engine: Engine) -> dict[str, int]:
    """Nine claims (facility, payer, department, state, captured, total, first-scrub findings):

    C1 F1 P1 D1 submitted  06-20 12:00  100.00  clean
    C2 F1 P2 -  denied     05-10 12:00  200.00  clean     (captured before the window)
    C3 F2 P1 D1 paid       06-05 12:00  300.00  a finding
    C4 F2 P2 -  scrubbed   06-29 00:00   50.00  a finding
    C5 F1 P1 D1 rejected   02-01 12:00  400.00  (imported 837: no source, never scrubbed)
    C6 F2 P1 -  voided     06-10 12:00   60.00  clean at the first scrub, a finding at the second
    C7 F1 P1 D1 appealed   07-05 12:00   70.00  clean     (captured after the as-of time)
    C8 F1 P2 -  coded      05-31 12:00   80.00  clean     (exactly at the window's start: outside)
    C9 F2 P2 -  ready      06-30 12:00   10.00  a finding (exactly at the as-of time: inside)

    and the ledger: charges C1 100.00 (06-15), C2 200.00 (05-01), C3 300.00 (06-02), C5 400.00 (02-01), C9 10.00
    (07-01, after the as-of date); payments out of insurance A/R: C3 300.00 (240 paid + 60 contractual, 06-10),
    C2 50.00 (06-20)."""
    with engine.begin() as conn:
        ids = {
            "C1": add_claim(conn, facility="F1", payer="P1", department="D1", state="submitted",
                            created=at(6, 20), total="100.00"),
            "C2": add_claim(conn, facility="F1", payer="P2", state="denied", created=at(5, 10), total="200.00"),
            "C3": add_claim(conn, facility="F2", payer="P1", department="D1", state="paid", created=at(6, 5),
                            total="300.00", findings=[1]),
            "C4": add_claim(conn, facility="F2", payer="P2", state="scrubbed", created=at(6, 29, 0), total="50.00",
                            findings=[1]),
            "C5": add_claim(conn, facility="F1", payer="P1", department="D1", state="rejected", created=at(2, 1),
                            total="400.00", source=None),
            "C6": add_claim(conn, facility="F2", payer="P1", state="voided", created=at(6, 10), total="60.00",
                            findings=[2]),
            "C7": add_claim(conn, facility="F1", payer="P1", department="D1", state="appealed", created=at(7, 5),
                            total="70.00"),
            "C8": add_claim(conn, facility="F1", payer="P2", state="coded", created=at(5, 31), total="80.00"),
            "C9": add_claim(conn, facility="F2", payer="P2", state="ready", created=at(6, 30), total="10.00",
                            findings=[1]),
        }
        remittance = add_remittance(conn, payer="P1", created=at(4, 1))  # outside every window
        pay_c3 = add_payment(conn, remittance, ids["C3"], status="1", charge="300.00", paid="240.00",
                             posted=at(4, 1))
        pay_c2 = add_payment(conn, remittance, ids["C2"], status="1", charge="200.00", paid="50.00",
                             posted=at(4, 1))

        def charge(name: str, day: date, amount: str) -> JournalEntryDraft:
            return entry(f"charge:{name}", "charges", day, "claim", ids[name], debit("ar_insurance", D(amount)),
                         credit("patient_service_revenue", D(amount)))

        post_entries(conn, [
            charge("C1", date(2026, 6, 15), "100.00"), charge("C2", date(2026, 5, 1), "200.00"),
            charge("C3", date(2026, 6, 2), "300.00"), charge("C5", date(2026, 2, 1), "400.00"),
            charge("C9", date(2026, 7, 1), "10.00"),
            entry("pay:C3", "era", date(2026, 6, 10), "claim payment", pay_c3, debit("undeposited_funds", D("240.00")),
                  debit("contractual_allowances", D("60.00")), credit("ar_insurance", D("300.00"))),
            entry("pay:C2", "era", date(2026, 6, 20), "claim payment", pay_c2, debit("undeposited_funds", D("50.00")),
                  credit("ar_insurance", D("50.00"))),
        ], actor="tester", now=at(7, 2))
    return ids


def test_open_claims_and_their_aging(engine: Engine, claim_story: dict[str, int]) -> None:
    found = report(engine)
    # Open (not paid, closed, patient billed or voided) and captured by the as-of time: C1, C2, C4, C5, C8, C9.
    assert figure(found, "claims_backlog") == D(6)
    # Ages at 06-30 12:00: C1 10 days, C4 1.5, C8 exactly 30.0 (still 0-30), C9 0 -> 0-30: 4 claims,
    # 100 + 50 + 80 + 10 = 240.00; C2 51 days -> 31-60, 200.00; C5 149 days (Feb 28, Mar 31, Apr 30, May 31,
    # Jun 29) -> 120+, 400.00.
    assert aging(found, "claims") == {"0-30": (4, D("240.00")), "31-60": (1, D("200.00")), "120+": (1, D("400.00"))}
    # Every bucket is in the report for the charts, the empty ones too.
    assert [row.bucket for row in found.aging if row.subject == "claims" and row.group is None] == list(AGING_BUCKETS)


def test_open_claims_by_facility_payer_and_department(engine: Engine, claim_story: dict[str, int]) -> None:
    # F1: C1, C2, C5, C8; F2: C4, C9.
    assert groups(report(engine, by="facility"), "claims_backlog") == {"F1": D(4), "F2": D(2)}
    # P1: C1, C5; P2: C2, C4, C8, C9.
    by_payer = report(engine, by="payer")
    assert groups(by_payer, "claims_backlog") == {"P1": D(2), "P2": D(4)}
    assert aging(by_payer, "claims", "P1") == {"0-30": (1, D("100.00")), "120+": (1, D("400.00"))}
    # D1: C1, C5; no department: C2, C4, C8, C9.
    assert groups(report(engine, by="department"), "claims_backlog") == {"D1": D(2), NO_GROUP: D(4)}
    # Claims have no queue: a report by queue has the total only.
    assert groups(report(engine, by="queue"), "claims_backlog") == {}


def test_clean_claim_rate(engine: Engine, claim_story: dict[str, int]) -> None:
    found = report(engine)
    # Captured from a source in (05-31 12:00, 06-30 12:00]: C1 clean, C3 finding, C4 finding, C6 clean (its finding
    # is from the second scrub), C9 finding. C2 and C8 before, C7 after, C5 has no source -> 2 / 5 = 40.00 %.
    value = found.value("clean_claim_rate")
    assert value is not None and (value.value, value.numerator, value.denominator) == (D("40.00"), D(2), D(5))
    # F1: C1 -> 1/1; F2: C3, C4, C6, C9 -> 1/4.
    assert groups(report(engine, by="facility"), "clean_claim_rate") == {"F1": D("100.00"), "F2": D("25.00")}
    # P1: C1, C3, C6 -> 2/3 = 66.67 %; P2: C4, C9 -> 0/2.
    assert groups(report(engine, by="payer"), "clean_claim_rate") == {"P1": D("66.67"), "P2": D("0.00")}


def test_insurance_ar_its_aging_and_days_in_ar(engine: Engine, claim_story: dict[str, int]) -> None:
    found = report(engine)
    # Per claim at 06-30: C1 100.00 (charged 06-15), C2 200 - 50 = 150.00 (charged 05-01), C3 300 - 300 = 0
    # (not aged), C5 400.00 (charged 02-01); C9's charge is dated after the as-of date. 100 + 150 + 400 = 650.00.
    assert figure(found, "ar_balance") == D("650.00")
    with engine.connect() as conn:  # the ledger's own figure, to the cent
        assert trial_balance(conn, as_of=AS_OF.date()).balance_of("ar_insurance") == D("650.00")
    # Aged from the charge date: C1 15 days, C2 60 days (still 31-60), C5 149 days.
    assert aging(found, "ar") == {"0-30": (1, D("100.00")), "31-60": (1, D("150.00")), "120+": (1, D("400.00"))}
    # Charges dated 06-01..06-30: C1 100 + C3 300 = 400.00, 13.33 a day; 650 * 30 / 400 = 48.75 days.
    days = found.value("days_in_ar")
    assert days is not None and (days.value, days.numerator, days.denominator) == (D("48.75"), D("650.00"), D("13.33"))
    by_facility = report(engine, by="facility")
    # F1: C1 + C2 + C5 = 650.00; F2: only C3, settled.
    assert groups(by_facility, "ar_balance") == {"F1": D("650.00")}
    # F1: 650 * 30 / 100 (C1's charge) = 195.00; F2: 0 * 30 / 300 = 0.00.
    assert groups(by_facility, "days_in_ar") == {"F1": D("195.00"), "F2": D("0.00")}
    by_payer = report(engine, by="payer")
    # P1: C1 100 + C5 400 = 500.00, charges 400 -> 37.50 days; P2: C2 150.00 and no charge in the window.
    assert groups(by_payer, "ar_balance") == {"P1": D("500.00"), "P2": D("150.00")}
    assert groups(by_payer, "days_in_ar") == {"P1": D("37.50"), "P2": None}
    assert aging(by_payer, "ar", "P2") == {"31-60": (1, D("150.00"))}


def test_a_facility_scope_sees_only_its_claims(engine: Engine, claim_story: dict[str, int]) -> None:
    found = report(engine, facilities=("F2",))
    # F2's open claims: C4, C9; clean: C3, C4, C6, C9 -> 1/4; no insurance A/R left (C3 settled).
    assert figure(found, "claims_backlog") == D(2)
    assert figure(found, "clean_claim_rate") == D("25.00")
    assert figure(found, "ar_balance") == D("0.00")
    # F2's window charges: C3 300 -> 0 * 30 / 300.
    assert figure(found, "days_in_ar") == D("0.00")
    # Organisation-wide figures have no facility: a scoped caller gets no value.
    for key in ("cash_posted", "cash_deposited", "cash_gap", "integration_failure_rate"):
        assert figure(found, key) is None
    assert figure(report(engine, facilities=()), "claims_backlog") == D(0)


# ---- remittances and claim payments: denial rates and categories, straight-through posting, latency ------------

@pytest.fixture
def payment_story(engine: Engine) -> None:
    """Remittances R1 (P1, received 06-10 08:00), R2 (P2, 06-20 08:00), R3 (P1, 05-20 08:00: before the window);
    claims C3 (F2), C2 (F1), C1 (F1), C6 (F2). Claim payments (status, charge, paid, CAS, posted):

    CPa R1 C3 1  300.00 240.00 CO-45 60 (pricing)                 posted 06-10 10:00  untouched
    CPb R2 C2 1  200.00  50.00 CO-197 150 (authorization denial)  posted 06-20 14:00  a denial item links it
    CPc R2 C1 4  100.00   0.00 CO-16 100 (missing information)    posted 06-21 08:00  untouched
    CPd R2 -  1   40.00  40.00                                    unapplied (never posted)
    CPe R1 C5 22 reversal                                         posted 06-11 (reversals never count)
    CPf R3 C2 4  200.00   0.00 CO-50 200                          posted 05-20 09:00 (before the window)
    CPg R1 C6 4   60.00   0.00 CO-999 50 (unknown CARC on a denied claim: denied), CO-45 10 (pricing)
                                                                  posted 06-12 10:00  an exception item is about it
    and a denial item on C3's claim that links no payment (it does not touch CPa)."""
    with engine.begin() as conn:
        c1 = add_claim(conn, facility="F1", payer="P2", state="denied", created=at(5, 1), total="100.00")
        c2 = add_claim(conn, facility="F1", payer="P2", state="partially paid", created=at(5, 1), total="200.00")
        c3 = add_claim(conn, facility="F2", payer="P1", state="paid", created=at(5, 1), total="300.00")
        c5 = add_claim(conn, facility="F1", payer="P1", state="paid", created=at(5, 1), total="400.00")
        c6 = add_claim(conn, facility="F2", payer="P1", state="denied", created=at(5, 1), total="60.00")
        r1 = add_remittance(conn, payer="P1", created=at(6, 10, 8))
        r2 = add_remittance(conn, payer="P2", created=at(6, 20, 8))
        r3 = add_remittance(conn, payer="P1", created=at(5, 20, 8))
        add_payment(conn, r1, c3, status="1", charge="300.00", paid="240.00", posted=at(6, 10, 10),
                    adjustments=[("CO", "45", "60.00")])
        cpb = add_payment(conn, r2, c2, status="1", charge="200.00", paid="50.00", posted=at(6, 20, 14),
                          adjustments=[("CO", "197", "150.00")])
        add_payment(conn, r2, c1, status="4", charge="100.00", paid="0.00", posted=at(6, 21, 8),
                    adjustments=[("CO", "16", "100.00")])
        add_payment(conn, r2, None, status="1", charge="40.00", paid="40.00", posted=None)
        add_payment(conn, r1, c5, status="22", charge="-400.00", paid="-400.00", posted=at(6, 11),
                    adjustments=[("CO", "16", "-400.00")])
        add_payment(conn, r3, c2, status="4", charge="200.00", paid="0.00", posted=at(5, 20, 9),
                    adjustments=[("CO", "50", "200.00")])
        cpg = add_payment(conn, r1, c6, status="4", charge="60.00", paid="0.00", posted=at(6, 12, 10),
                          adjustments=[("CO", "999", "50.00"), ("CO", "45", "10.00")])
        denial = add_work_item(conn, queue="denials", item_type="denial", state="open", created=at(6, 20, 14),
                               object_id=str(c2))
        conn.execute(work_item_links.insert(), {"work_item_id": denial, "object_type": "claim payment",
                                                "object_id": str(cpb)})
        add_work_item(conn, queue="posting_exceptions", item_type="no claim", state="resolved", created=at(6, 12),
                      object_type="claim payment", object_id=str(cpg))
        add_work_item(conn, queue="denials", item_type="denial", state="open", created=at(6, 10), object_id=str(c3))


def test_denial_rates_and_categories(engine: Engine, payment_story: None) -> None:
    found = report(engine)
    # On R1 and R2 (received in the window), reversals aside: CPa, CPb, CPc, CPd, CPg. Denied in full or in part:
    # CPb (a denial CARC), CPc (CLP02 4), CPg (CLP02 4) -> 3 / 5 = 60.00 %.
    rate = found.value("denial_rate")
    assert rate is not None and (rate.value, rate.numerator, rate.denominator) == (D("60.00"), D(3), D(5))
    # Charged 300 + 200 + 100 + 40 + 60 = 700.00; denied CPb 150 + CPc 100 + CPg 50 (CO-45 is pricing) = 300.00;
    # 300 / 700 = 42.857... -> 42.86 %.
    dollars = found.value("denial_rate_dollars")
    assert dollars is not None
    assert (dollars.value, dollars.numerator, dollars.denominator) == (D("42.86"), D("300.00"), D("700.00"))
    assert found.denials_by_category == [("authorization", 1, D("150.00")), ("missing information", 1, D("100.00")),
                                         ("other", 1, D("50.00"))]
    by_payer = report(engine, by="payer")
    # The remittance's payer. P1 (R1): CPa, CPg -> 1/2, 50 / 360 = 13.89 %; P2 (R2): CPb, CPc, CPd -> 2/3,
    # 250 / 340 = 73.53 %.
    assert groups(by_payer, "denial_rate") == {"P1": D("50.00"), "P2": D("66.67")}
    assert groups(by_payer, "denial_rate_dollars") == {"P1": D("13.89"), "P2": D("73.53")}
    # F1: CPb, CPc -> 2/2; F2: CPa, CPg -> 1/2; the unmatched CPd has no facility -> 0/1.
    assert groups(report(engine, by="facility"), "denial_rate") == {"F1": D("100.00"), "F2": D("50.00"),
                                                                    NO_GROUP: D("0.00")}


def test_straight_through_posting_and_posting_latency(engine: Engine, payment_story: None) -> None:
    found = report(engine)
    # Posted in the window, reversals aside: CPa, CPb, CPc, CPg. Touched: CPb (linked), CPg (the item's object).
    # 2 / 4 = 50.00 %. The item on C3's claim links no payment: CPa stays straight through.
    stp = found.value("straight_through_posting_rate")
    assert stp is not None and (stp.value, stp.numerator, stp.denominator) == (D("50.00"), D(2), D(4))
    # ERA received -> posted: CPa 2 h (120 min), CPb 6 h (360), CPc 24 h (1440), CPg 50 h (3000); median of four =
    # (360 + 1440) / 2 = 900 min = 15.00 h.
    latency = found.value("posting_latency_hours")
    assert latency is not None and (latency.value, latency.denominator) == (D("15.00"), D(4))
    by_payer = report(engine, by="payer")
    # P1: CPa, CPg -> 1/2 straight through, median (120 + 3000) / 2 = 1560 min = 26.00 h; P2: CPb, CPc -> 1/2,
    # (360 + 1440) / 2 = 900 min = 15.00 h.
    assert groups(by_payer, "straight_through_posting_rate") == {"P1": D("50.00"), "P2": D("50.00")}
    assert groups(by_payer, "posting_latency_hours") == {"P1": D("26.00"), "P2": D("15.00")}
    # F1: CPb (touched), CPc -> 1/2; F2: CPa, CPg (touched) -> 1/2. Department: none of the claims has one.
    assert groups(report(engine, by="department"), "straight_through_posting_rate") == {NO_GROUP: D("50.00")}
    scoped = report(engine, facilities=("F1",))
    # F1 only: CPb, CPc; latencies 360 and 1440 -> 15.00 h; denials 2/2.
    assert figure(scoped, "straight_through_posting_rate") == D("50.00")
    assert figure(scoped, "posting_latency_hours") == D("15.00")
    assert figure(scoped, "denial_rate") == D("100.00")
    assert scoped.denials_by_category == [("authorization", 1, D("150.00")), ("missing information", 1, D("100.00"))]


# ---- work items: backlog, aging, SLA breaches and breach rate, resolution time; approvals ---------------------

@pytest.fixture
def work_story(engine: Engine) -> None:
    """Work items (facility, payer, department, queue, type, state, opened, due, resolved, escalation level):

    W1  F1 P1 D1 denials         denial      open         06-25 12:00  due 06-29 12:00 (overdue)
    W2  F1 P2 -  denials         denial      in_progress  05-15 12:00  due 07-01
    W3  F2 P1 D1 coding_review   held        escalated    01-01 12:00  due 06-30 11:00 (overdue), level 1
    W4  F2 P2 -  coding_review   review      resolved     06-01 12:00  due 06-03, resolved 06-02 12:00 (24 h)
    W5  F1 P1 D1 denials         denial      resolved     06-10 12:00  due 06-11 12:00, resolved 06-12 18:00 (54 h)
    W6  F2 P1 -  underpayments   underpaid   resolved     06-20 00:00  due 06-21, resolved 06-20 06:30 (6.5 h), lvl 1
    W7  F1 P2 -  denials         denial      resolved     06-29 12:00  due 06-30 10:00, resolved 07-01 (after as-of)
    W8  F2 P2 -  coding_review   review      cancelled    06-05 12:00
    W9  F1 P1 D1 denials         denial      resolved     05-01 12:00  resolved 05-20 (before the window)
    W10 F1 P1 D1 denials         denial      open         07-02 12:00  (opened after the as-of time)
    W11 F2 -  -  reconciliation  unmatched   waiting      06-30 12:00  no due time

    Approval requests (submitted by an event naming facility and payer; created, decided):
    A1 F1 P1 approved 06-01 12:00 -> 06-02 12:00 (1440 min); A2 F2 P2 rejected 06-10 00:00 -> 02:00 (120 min);
    A3 F1 P2 approved 06-20 00:00 -> 10:00 (600 min); A4 pending; A5 cancelled 06-15; A6 approved 05-19 -> 05-20."""
    with engine.begin() as conn:
        add_work_item(conn, facility="F1", payer="P1", department="D1", queue="denials", item_type="denial",
                      state="open", created=at(6, 25), due=at(6, 29))
        add_work_item(conn, facility="F1", payer="P2", queue="denials", item_type="denial", state="in_progress",
                      created=at(5, 15), due=at(7, 1))
        add_work_item(conn, facility="F2", payer="P1", department="D1", queue="coding_review", item_type="held",
                      state="escalated", created=at(1, 1), due=at(6, 30, 11), escalation=1)
        add_work_item(conn, facility="F2", payer="P2", queue="coding_review", item_type="review", state="resolved",
                      created=at(6, 1), due=at(6, 3), resolved=at(6, 2))
        add_work_item(conn, facility="F1", payer="P1", department="D1", queue="denials", item_type="denial",
                      state="resolved", created=at(6, 10), due=at(6, 11), resolved=at(6, 12, 18))
        add_work_item(conn, facility="F2", payer="P1", queue="underpayments", item_type="underpaid",
                      state="resolved", created=at(6, 20, 0), due=at(6, 21), resolved=at(6, 20, 6, 30), escalation=1)
        add_work_item(conn, facility="F1", payer="P2", queue="denials", item_type="denial", state="resolved",
                      created=at(6, 29), due=at(6, 30, 10), resolved=at(7, 1))
        add_work_item(conn, facility="F2", payer="P2", queue="coding_review", item_type="review", state="cancelled",
                      created=at(6, 5))
        add_work_item(conn, facility="F1", payer="P1", department="D1", queue="denials", item_type="denial",
                      state="resolved", created=at(5, 1), resolved=at(5, 20))
        add_work_item(conn, facility="F1", payer="P1", department="D1", queue="denials", item_type="denial",
                      state="open", created=at(7, 2))
        add_work_item(conn, facility="F2", queue="reconciliation", item_type="unmatched", state="waiting",
                      created=at(6, 30))
        requests = [("F1", "P1", "approved", at(6, 1), at(6, 2)), ("F2", "P2", "rejected", at(6, 10, 0), at(6, 10, 2)),
                    ("F1", "P2", "approved", at(6, 20, 0), at(6, 20, 10)), ("F1", "P1", "pending", at(6, 25), None),
                    ("F2", "P1", "cancelled", at(6, 14), at(6, 15)), ("F1", "P1", "approved", at(5, 19), at(5, 20))]
        for facility, payer, state, created, decided in requests:
            request_id = conn.execute(approval_requests.insert().returning(approval_requests.c.id), {
                "object_type": "supplier invoice", "object_id": str(next(_numbers)), "maker": "user:maker",
                "policy_id": "policy", "policy_version": "1", "rule_id": "rule", "chain": [], "state": state,
                "created_at": created, "decided_at": decided}).scalar_one()
            append_events(conn, [event("approval request", request_id, None, "pending", created,
                                       activity="submit for approval", facility=facility, payer=payer)])


def test_work_item_backlog_aging_and_sla_breaches(engine: Engine, work_story: None) -> None:
    found = report(engine)
    # Active at 06-30 12:00: W1, W2, W3, W11 and W7 (resolved only after it) -> 5.
    assert figure(found, "work_items_backlog") == D(5)
    # Ages: W1 5 days, W7 1, W11 0 -> 0-30: 3; W2 46 -> 31-60; W3 180 -> 120+.
    assert aging(found, "work_items") == {"0-30": (3, D(0)), "31-60": (1, D(0)), "120+": (1, D(0))}
    # Overdue at the as-of time: W1 (06-29), W3 (06-30 11:00), W7 (06-30 10:00) -> 3.
    assert figure(found, "sla_breaches") == D(3)
    by_queue = report(engine, by="queue")
    assert groups(by_queue, "work_items_backlog") == {"denials": D(3), "coding_review": D(1), "reconciliation": D(1)}
    assert groups(by_queue, "sla_breaches") == {"denials": D(2), "coding_review": D(1), "reconciliation": D(0)}
    assert aging(by_queue, "work_items", "denials") == {"0-30": (2, D(0)), "31-60": (1, D(0))}
    by_type = report(engine, by="exception_type")
    assert groups(by_type, "work_items_backlog") == {"denial": D(3), "held": D(1), "unmatched": D(1)}
    # W11 has no payer.
    assert groups(report(engine, by="payer"), "work_items_backlog") == {"P1": D(2), "P2": D(2), NO_GROUP: D(1)}
    assert groups(report(engine, by="department"), "sla_breaches") == {"D1": D(2), NO_GROUP: D(1)}


def test_resolution_time_and_breach_rate(engine: Engine, work_story: None) -> None:
    found = report(engine)
    # Resolved in the window: W4 1440 min (on time), W5 3240 min (after its due time), W6 390 min (escalated).
    # Breached: W5, W6 -> 2 / 3 = 66.67 %.
    breach = found.value("sla_breach_rate")
    assert breach is not None and (breach.value, breach.numerator, breach.denominator) == (D("66.67"), D(2), D(3))
    # Sorted 390, 1440, 3240: median 1440 min = 24.00 h; p90 is the ceil(0.9 * 3) = 3rd: 3240 min = 54.00 h.
    assert figure(found, "exception_resolution_hours_median") == D("24.00")
    assert figure(found, "exception_resolution_hours_p90") == D("54.00")
    by_queue = report(engine, by="queue")
    assert groups(by_queue, "sla_breach_rate") == {"coding_review": D("0.00"), "denials": D("100.00"),
                                                   "underpayments": D("100.00")}
    assert groups(by_queue, "exception_resolution_hours_median") == {"coding_review": D("24.00"),
                                                                     "denials": D("54.00"), "underpayments": D("6.50")}
    by_facility = report(engine, by="facility")
    # F2: W4 1440, W6 390 -> median (390 + 1440) / 2 = 915 min = 15.25 h; p90 the ceil(1.8) = 2nd: 24.00 h.
    assert groups(by_facility, "exception_resolution_hours_median") == {"F1": D("54.00"), "F2": D("15.25")}
    assert groups(by_facility, "exception_resolution_hours_p90") == {"F1": D("54.00"), "F2": D("24.00")}
    assert groups(by_facility, "sla_breach_rate") == {"F1": D("100.00"), "F2": D("50.00")}
    assert groups(report(engine, by="exception_type"), "exception_resolution_hours_p90") == {
        "review": D("24.00"), "denial": D("54.00"), "underpaid": D("6.50")}


def test_approval_cycle_time(engine: Engine, work_story: None) -> None:
    found = report(engine)
    # Decided (approved or rejected) in the window: A2 120, A3 600, A1 1440 min -> median 600 min = 10.00 h.
    cycle = found.value("approval_cycle_hours")
    assert cycle is not None and (cycle.value, cycle.denominator) == (D("10.00"), D(3))
    # F1: A1, A3 -> (600 + 1440) / 2 = 1020 min = 17.00 h; F2: A2 -> 2.00 h.
    assert groups(report(engine, by="facility"), "approval_cycle_hours") == {"F1": D("17.00"), "F2": D("2.00")}
    # P1: A1 -> 24.00 h; P2: A2, A3 -> (120 + 600) / 2 = 360 min = 6.00 h.
    assert groups(report(engine, by="payer"), "approval_cycle_hours") == {"P1": D("24.00"), "P2": D("6.00")}
    scoped = report(engine, facilities=("F2",))
    assert figure(scoped, "approval_cycle_hours") == D("2.00")
    # F2's items: active W3, W11 (W3 overdue); resolved W4, W6.
    assert (figure(scoped, "work_items_backlog"), figure(scoped, "sla_breaches")) == (D(2), D(1))
    assert figure(scoped, "exception_resolution_hours_median") == D("15.25")


# ---- the event log: first-pass acceptance, rework, integration failures -----------------------------------------

ACCEPT, REJECT_277, REJECT_999 = ("accept into adjudication (277CA)", "reject at front end (277CA)",
                                  "reject at front end (999)")


def test_first_pass_acceptance_rate(engine: Engine) -> None:
    """Front-end answers per claim (facility, payer):

    K1 F1 P1: accepted 06-21                              -> first answer in the window, accepted: counts, passes
    K2 F1 P2: rejected (999) 05-15, accepted 06-02        -> first answer before the window: not counted
    K3 F2 P1: accepted 06-06, rejected by the payer 06-07 -> counts, fails
    K4 F2 P2: rejected 06-29                              -> counts, fails
    K5 F1 P2: rejected (999) 06-01, accepted 06-03        -> counts, fails
    K6 F2 P1: accepted 07-01 (after the as-of time)       -> not counted
    K7 F2 P1: accepted exactly at the window's start      -> not counted
    -> 1 / 4 = 25.00 %."""
    answers = [("K1", "F1", "P1", ACCEPT, at(6, 21)), ("K2", "F1", "P2", REJECT_999, at(5, 15)),
               ("K2", "F1", "P2", ACCEPT, at(6, 2)), ("K3", "F2", "P1", ACCEPT, at(6, 6)),
               ("K3", "F2", "P1", REJECT_277, at(6, 7)), ("K4", "F2", "P2", REJECT_277, at(6, 29)),
               ("K5", "F1", "P2", REJECT_999, at(6, 1)), ("K5", "F1", "P2", ACCEPT, at(6, 3)),
               ("K6", "F2", "P1", ACCEPT, at(7, 1)), ("K7", "F2", "P1", ACCEPT, START)]
    with engine.begin() as conn:
        append_events(conn, [event("claim", name, "submitted", "accepted" if activity == ACCEPT else "rejected", when,
                                   activity=activity, facility=facility, payer=payer)
                             for name, facility, payer, activity, when in answers])
    found = report(engine)
    value = found.value("first_pass_acceptance_rate")
    assert value is not None and (value.value, value.numerator, value.denominator) == (D("25.00"), D(1), D(4))
    # F1: K1 passes, K5 fails -> 50.00 %; F2: K3, K4 fail.
    assert groups(report(engine, by="facility"), "first_pass_acceptance_rate") == {"F1": D("50.00"),
                                                                                   "F2": D("0.00")}
    # P1: K1, K3 -> 50.00 %; P2: K4, K5 -> 0.00 %.
    assert groups(report(engine, by="payer"), "first_pass_acceptance_rate") == {"P1": D("50.00"), "P2": D("0.00")}
    assert figure(report(engine, facilities=("F2",)), "first_pass_acceptance_rate") == D("0.00")


def test_rework_rate(engine: Engine) -> None:
    """Objects that changed state in the window, and whether they re-entered a state they had been in:

    X1 claim F1 P1: registered, coded (05-01), submitted 06-02, rejected 06-03, ready 06-04, submitted 06-05 -> yes
    X2 claim F2 P1: registered, coded 06-10                                                             -> no
    X3 claim F1 P2: adjudicated 05-19, paid 05-20, adjudicated and paid again 06-15 (written last)        -> yes
    X4 claim F2 P2: adjudicated, paid and adjudicated again in one batch at 06-20 (same time)            -> yes
    X5 claim F1 P1: scrubbed 06-07                                                                      -> no
    W  work item F1 P2: opened 06-01, assigned 06-02 (no move), started 06-03, back to open 06-04        -> yes
    V  work item F1: opened 05-01, only assigned in the window (no move)                                  -> not counted
    an outbox message failing twice in the window                                                         -> not counted
    -> 4 / 6 = 66.67 %."""
    claim, item = "claim", "work item"
    with engine.begin() as conn:
        append_events(conn, [
            event(claim, "X1", None, "registered", at(5, 1), facility="F1", payer="P1"),
            event(claim, "X1", "registered", "coded", at(5, 1), facility="F1", payer="P1"),
            event(claim, "X1", "coded", "submitted", at(6, 2), facility="F1", payer="P1"),
            event(claim, "X1", "submitted", "rejected", at(6, 3), facility="F1", payer="P1"),
            event(claim, "X1", "rejected", "ready", at(6, 4), facility="F1", payer="P1"),
            event(claim, "X1", "ready", "submitted", at(6, 5), facility="F1", payer="P1"),
            event(claim, "X2", None, "registered", at(6, 10), facility="F2", payer="P1"),
            event(claim, "X2", "registered", "coded", at(6, 10), facility="F2", payer="P1"),
            event(claim, "X3", "paid", "adjudicated", at(6, 15), facility="F1", payer="P2"),
            event(claim, "X3", "adjudicated", "paid", at(6, 15), facility="F1", payer="P2"),
            event(claim, "X4", "accepted", "adjudicated", at(6, 20), facility="F2", payer="P2"),
            event(claim, "X4", "adjudicated", "paid", at(6, 20), facility="F2", payer="P2"),
            event(claim, "X4", "paid", "adjudicated", at(6, 20), facility="F2", payer="P2"),
            event(claim, "X5", "coded", "scrubbed", at(6, 7), facility="F1", payer="P1"),
            event(item, "W", None, "open", at(6, 1), facility="F1", payer="P2"),
            event(item, "W", "open", "open", at(6, 2), facility="F1", payer="P2"),
            event(item, "W", "open", "in_progress", at(6, 3), facility="F1", payer="P2"),
            event(item, "W", "in_progress", "open", at(6, 4), facility="F1", payer="P2"),
            event(item, "V", None, "open", at(5, 1), facility="F1"),
            event(item, "V", "open", "open", at(6, 5), facility="F1"),
            event("outbox message", "1", "in_flight", "failed", at(6, 5)),
            event("outbox message", "1", "in_flight", "failed", at(6, 6)),
        ])
        # X3's earlier entries are written after its later ones: time order decides, not the row order.
        append_events(conn, [event(claim, "X3", "accepted", "adjudicated", at(5, 19), facility="F1", payer="P2"),
                             event(claim, "X3", "adjudicated", "paid", at(5, 20), facility="F1", payer="P2")])
    found = report(engine)
    value = found.value("rework_rate")
    assert value is not None and (value.value, value.numerator, value.denominator) == (D("66.67"), D(4), D(6))
    # F1: X1 yes, X3 yes, X5 no, W yes -> 75.00 %; F2: X2 no, X4 yes -> 50.00 %.
    assert groups(report(engine, by="facility"), "rework_rate") == {"F1": D("75.00"), "F2": D("50.00")}
    # P1: X1 yes, X2 no, X5 no -> 33.33 %; P2: X3, X4, W -> 100.00 %.
    assert groups(report(engine, by="payer"), "rework_rate") == {"P1": D("33.33"), "P2": D("100.00")}


def test_integration_failure_rate(engine: Engine) -> None:
    # Delivery outcomes in the window: 3 delivered, 1 failed, 1 dead -> 2 / 5 = 40.00 %; two failures before the
    # window and a replay (not an outcome) do not count.
    outcomes = ([("delivered", at(6, 2))] * 3 + [("failed", at(6, 3)), ("dead", at(6, 4))]
                + [("failed", at(5, 2))] * 2)
    with engine.begin() as conn:
        append_events(conn, [event("outbox message", str(n), "in_flight", state, when)
                             for n, (state, when) in enumerate(outcomes)]
                      + [event("outbox message", "9", "dead", "pending", at(6, 5), activity="replay outbox message")])
    value = report(engine).value("integration_failure_rate")
    assert value is not None and (value.value, value.numerator, value.denominator) == (D("40.00"), D(2), D(5))
    # The outbox has no facility: no groups, and nothing for a facility-scoped caller.
    assert groups(report(engine, by="facility"), "integration_failure_rate") == {}
    assert figure(report(engine, facilities=("F1",)), "integration_failure_rate") is None


# ---- cash posted versus deposited ---------------------------------------------------------------------------

def test_cash_posted_versus_deposited(engine: Engine) -> None:
    with engine.begin() as conn:
        # ERA journal, undeposited funds, dated 06-01..06-30: +240 +50 +40 (unapplied) -5 (a PLB withholding)
        # = 325.00; an ERA entry dated 05-25 and a bank-journal entry do not count.
        post_entries(conn, [
            entry("e1", "era", date(2026, 6, 10), "claim payment", 1, debit("undeposited_funds", D("240.00")),
                  credit("ar_insurance", D("240.00"))),
            entry("e2", "era", date(2026, 6, 20), "claim payment", 2, debit("undeposited_funds", D("50.00")),
                  credit("ar_insurance", D("50.00"))),
            entry("e3", "era", date(2026, 6, 20), "claim payment", 3, debit("undeposited_funds", D("40.00")),
                  credit("unapplied_cash", D("40.00"))),
            entry("e4", "era", date(2026, 6, 25), "provider adjustment", 4, debit("payer_withholdings", D("5.00")),
                  credit("undeposited_funds", D("5.00"))),
            entry("e5", "era", date(2026, 5, 25), "provider adjustment", 5, debit("undeposited_funds", D("999.00")),
                  credit("interest_income", D("999.00"))),
            entry("e6", "bank", date(2026, 6, 26), "deposit match", 6, debit("bank", D("290.00")),
                  credit("undeposited_funds", D("290.00"))),
        ], actor="tester", now=at(7, 1))
        # Deposits with a value date 06-01..06-30: +300 -20 (a debit); +7 with no value date, created 06-29;
        # 05-30 and 05-31 (the window's start date) are outside -> 287.00.
        for amount, direction, value_date, created in [
                ("300.00", "credit", date(2026, 6, 12), at(6, 12)), ("20.00", "debit", date(2026, 6, 15), at(6, 15)),
                ("500.00", "credit", date(2026, 5, 30), at(5, 30)), ("7.00", "credit", None, at(6, 29)),
                ("11.00", "credit", date(2026, 5, 31), at(6, 1))]:
            conn.execute(deposits.insert(), {
                "source": "bai2", "account": "123", "currency": "USD", "amount": D(amount), "direction": direction,
                "value_date": value_date, "line": 1, "state": "received", "dedup_key": _digest(),
                "created_at": created})
    found = report(engine)
    assert figure(found, "cash_posted") == D("325.00")
    assert figure(found, "cash_deposited") == D("287.00")
    # 325 - 287 = 38.00 posted that the bank has not shown.
    gap = found.value("cash_gap")
    assert gap is not None and (gap.value, gap.numerator, gap.denominator) == (D("38.00"), D("325.00"), D("287.00"))


# ---- the report itself ------------------------------------------------------------------------------------

def test_an_empty_database_has_nothing_to_measure(engine: Engine) -> None:
    found = report(engine, by="payer")
    assert [v.key for v in found.values] == list(KPIS)  # one total per KPI, in display order, no groups
    assert figure(found, "claims_backlog") == D(0) and figure(found, "ar_balance") == D("0.00")
    for key in ("clean_claim_rate", "denial_rate", "days_in_ar", "posting_latency_hours", "rework_rate",
                "exception_resolution_hours_p90", "integration_failure_rate"):
        assert figure(found, key) is None, key
    assert found.denials_by_category == []
    assert all(row.count == 0 for row in found.aging) and len(found.aging) == 15


def test_unknown_dimension_and_bad_window_are_refused(engine: Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(InputError, match="facility, payer, department, queue, exception_type"):
            compute_kpis(conn, as_of=AS_OF, by="colour")
        with pytest.raises(InputError, match="window"):
            compute_kpis(conn, as_of=AS_OF, window_days=0)


def test_report_to_dict_is_json_with_decimal_strings(engine: Engine, claim_story: dict[str, int]) -> None:
    found = report(engine, by="payer")
    body = json.loads(json.dumps(found.to_dict()))
    assert (body["as_of"], body["window_start"], body["window_days"], body["by"]) == (
        "2026-06-30T12:00:00+00:00", "2026-05-31T12:00:00+00:00", 30, "payer")
    backlog = [v for v in body["values"] if v["key"] == "claims_backlog"]
    assert backlog == [{"key": "claims_backlog", "group": None, "value": "6", "numerator": "6", "denominator": None},
                       {"key": "claims_backlog", "group": "P1", "value": "2", "numerator": "2", "denominator": None},
                       {"key": "claims_backlog", "group": "P2", "value": "4", "numerator": "4", "denominator": None}]
    assert {"subject": "ar", "bucket": "120+", "group": None, "count": 1, "amount": "400.00"} in body["aging"]
    assert found.value("clean_claim_rate", "P1") == found.values[[
        (v.key, v.group) for v in found.values].index(("clean_claim_rate", "P1"))]
    assert isinstance(found.aging[0], AgingRow)
