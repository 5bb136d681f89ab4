"""ERA intake stores each 835 once: exact rows and amounts, duplicates skipped, conflicts queued, set-based."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select

from rcmflow.adapters.store.schema import (
    claim_payments,
    event_log,
    payment_adjustments,
    provider_adjustments,
    remittances,
    service_payments,
    work_items,
)
from rcmflow.domain.remittance import Remittance
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers, Party
from rcmflow.services.demo_data import build_network
from rcmflow.services.intake import ingest_file
from rcmflow.services.remittances import (
    content_digest,
    payer_key,
    remittance_summary,
    store_remittances,
)
from tests.x12_text import remittance_835

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TABLES = (remittances, claim_payments, service_payments, payment_adjustments, provider_adjustments)


def _counts(conn: Connection) -> dict[str, int]:
    return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one() for table in TABLES}


def _ingest(conn: Connection, text: str, name: str = "era.835") -> Any:
    return ingest_file(conn, text.encode(), filename=name, channel="sftp", actor="job:intake")


def _network_remittances(claims: int) -> list[Remittance]:
    return [remittance for _, remittance in build_network(claims, seed=11).remittances]


def test_a_one_claim_835_becomes_exact_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        result = _ingest(conn, remittance_835())
        remittance = conn.execute(select(remittances)).one()
        claim = conn.execute(select(claim_payments)).one()
        line = conn.execute(select(service_payments)).one()
        adjustments = conn.execute(select(payment_adjustments).order_by(payment_adjustments.c.id)).all()
        events = conn.execute(select(event_log.c.object_type, event_log.c.object_id, event_log.c.to_state)
                              .where(event_log.c.object_type.in_(("remittance", "claim payment")))).all()
        counts = _counts(conn)

    assert result.status == "parsed"
    assert counts == {"remittances": 1, "claim_payments": 1, "service_payments": 1, "payment_adjustments": 2,
                      "provider_adjustments": 0}
    assert (remittance.document_id, remittance.payer_id, remittance.payer_name, remittance.payee_id) == (
        result.document_id, "ACME HEALTH PLAN", "ACME HEALTH PLAN", "1234567893")
    assert (remittance.trace_number, remittance.payment_amount, remittance.payment_method, remittance.credit_debit,
            remittance.payment_date, remittance.state, remittance.claim_count, remittance.control_number) == (
        "EFT123", Decimal("150.00"), "ACH", "C", date(2026, 11, 1), "received", 1, "0001")
    assert len(remittance.content_digest) == 64
    assert (claim.remittance_id, claim.patient_control_number, claim.status, claim.charge, claim.paid,
            claim.patient_responsibility, claim.filing_indicator, claim.payer_claim_control_number, claim.state) == (
        remittance.id, "PCN1", "1", Decimal("200.00"), Decimal("150.00"), Decimal("30.00"), "12", "PAYERCLAIM1",
        "received")
    assert (line.claim_payment_id, line.procedure_qualifier, line.procedure_code, line.charge, line.paid,
            line.units, line.service_date, line.line_item_control_number) == (
        claim.id, "HC", "99213", Decimal("200.00"), Decimal("150.00"), Decimal("1"), date(2026, 10, 15), "LINE1")
    assert [(a.claim_payment_id, a.service_payment_id, a.group_code, a.reason_code, a.amount) for a in adjustments] == [
        (claim.id, line.id, "CO", "45", Decimal("20.00")), (claim.id, line.id, "PR", "2", Decimal("30.00"))]
    assert sorted(events) == [("claim payment", str(claim.id), "received"),
                              ("remittance", str(remittance.id), "received")]


def test_demo_network_remittances_are_stored_whole(engine: Engine) -> None:
    items = _network_remittances(300)
    text = write_835_interchange(items, Party("PAYERS"), Party("CLINIC"), CountingControlNumbers())
    with engine.begin() as conn:
        assert _ingest(conn, text).status == "parsed"
        counts = _counts(conn)
        summary = remittance_summary(conn)
        plb_total = conn.execute(select(func.sum(provider_adjustments.c.amount))).scalar_one()
        remarks = [row.remarks for row in conn.execute(select(service_payments.c.remarks).where(
            service_payments.c.remarks.is_not(None)))]

    claims = [claim for item in items for claim in item.claims]
    lines = [line for claim in claims for line in claim.service_payments]
    assert counts == {
        "remittances": len(items), "claim_payments": len(claims), "service_payments": len(lines),
        "payment_adjustments": sum(len(c.adjustments) for c in claims) + sum(len(x.adjustments) for x in lines),
        "provider_adjustments": sum(len(item.provider_adjustments) for item in items),
    }
    denied = [line for line in lines if line.remarks]
    assert denied and len(remarks) == len(denied)
    assert sorted(r[0]["code"] for r in remarks) == sorted(line.remarks[0].code for line in denied)
    assert summary.remittances == len(items) and summary.by_state == {"received": len(items)}
    assert summary.payment_total == sum((item.payment_amount for item in items), Decimal(0))
    assert summary.claim_paid_total == sum((claim.paid for claim in claims), Decimal(0))
    assert summary.claim_payments == len(claims) and summary.service_payments == len(lines)
    assert summary.provider_adjustment_total == Decimal(str(plb_total)).quantize(Decimal("0.01"))


def test_the_same_file_again_stores_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        _ingest(conn, remittance_835())
        before = _counts(conn)
        again = _ingest(conn, remittance_835(), name="again.835")
        assert _counts(conn) == before
    assert again.created is False


def test_same_remittance_in_other_bytes_is_a_duplicate(engine: Engine) -> None:
    original = remittance_835()
    # Another interchange (ISA13, date) and transaction control number, the same remittance inside.
    resent = (original.replace("000000042", "000000043").replace("*261101*1200*", "*261103*0815*")
              .replace("ST*835*0001", "ST*835*0002").replace("SE*14*0001", "SE*14*0002"))
    assert resent != original
    with engine.begin() as conn:
        first = _ingest(conn, original)
        before = _counts(conn)
        second = _ingest(conn, resent, name="resent.835")
        stored_id = conn.execute(select(remittances.c.id)).scalar_one()
        assert _counts(conn) == before
        assert conn.execute(select(func.count()).select_from(work_items)).scalar_one() == 0
        direct = store_remittances(conn, second.document_id, _parsed(resent), actor="job:intake", now=NOW)
    assert second.created and second.status == "parsed" and second.document_id != first.document_id
    assert (direct.stored, direct.duplicates, direct.conflicts) == ((), (stored_id,), ())


def _parsed(text: str) -> list[Remittance]:
    from rcmflow.formats.x12.parser import parse

    return parse(text.encode()).of_type("835")


def test_same_payer_and_trace_with_other_content_is_a_conflict_work_item(engine: Engine) -> None:
    changed = remittance_835().replace("*DA*987654321*20261101", "*DA*987654321*20261104")  # BPR16 payment date
    with engine.begin() as conn:
        _ingest(conn, remittance_835())
        before = _counts(conn)
        stored = conn.execute(select(remittances)).one()
        second = _ingest(conn, changed, name="changed.835")
        after = conn.execute(select(remittances)).one()
        items = conn.execute(select(work_items)).all()
        assert _counts(conn) == before

    assert after == stored  # the stored remittance is left exactly as it was
    assert second.status == "parsed"
    [item] = items
    assert (item.queue, item.item_type, item.object_type, item.object_id, item.state) == (
        "posting_exceptions", "conflicting remittance", "remittance", str(stored.id), "open")
    assert item.details["exception_code"] == "EFT123"
    assert item.details["document_id"] == second.document_id
    assert item.details["stored_digest"] == stored.content_digest != item.details["content_digest"]


def test_one_call_classifies_new_duplicate_and_conflicting_remittances(engine: Engine) -> None:
    [base] = _parsed(remittance_835())
    other = base._replace(trace_number="EFT999")
    conflicting = base._replace(payment_date=date(2026, 11, 9))
    with engine.begin() as conn:
        result = store_remittances(conn, None, [base, other, base._replace(control_number="0009"), conflicting],
                                   actor="job:intake", now=NOW)
        ids = dict(conn.execute(select(remittances.c.trace_number, remittances.c.id)).all())
        assert _counts(conn)["remittances"] == 2
        assert conn.execute(select(func.count()).select_from(work_items)).scalar_one() == 1
    assert result.stored == (ids["EFT123"], ids["EFT999"])
    assert result.duplicates == (ids["EFT123"],) and result.conflicts == (ids["EFT123"],)


def test_digest_ignores_the_control_number_and_sees_amounts() -> None:
    [base] = _parsed(remittance_835())
    assert content_digest(base) == content_digest(base._replace(control_number="7777"))
    assert content_digest(base) == content_digest(base._replace(payment_amount=Decimal("150.0")))
    assert content_digest(base) != content_digest(base._replace(payment_amount=Decimal("150.01")))
    assert payer_key(base) == "ACME HEALTH PLAN"
    assert payer_key(base._replace(payer=None)) == "1999999999"  # TRN03 when no N1*PR


def test_a_twenty_thousand_claim_remittance_is_a_handful_of_statements(engine: Engine, database_backend: str) -> None:
    claims = 20_000
    template = max(_network_remittances(60), key=lambda item: len(item.claims))
    pattern = template.claims
    big = template._replace(claims=tuple(
        pattern[i % len(pattern)]._replace(patient_control_number=f"PCN{i:07d}") for i in range(claims)))
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split("(")[0].split(" RETURNING")[0].strip())

    with engine.begin() as conn:
        event.listen(conn, "before_cursor_execute", record)
        try:
            result = store_remittances(conn, None, [big], actor="job:intake", now=NOW)
        finally:
            event.remove(conn, "before_cursor_execute", record)
        counts = _counts(conn)
        last_claim = conn.execute(select(claim_payments).order_by(claim_payments.c.id.desc()).limit(1)).one()
        line_sum = conn.execute(select(func.count()).select_from(service_payments)
                                .where(service_payments.c.claim_payment_id == last_claim.id)).scalar_one()

    lines = [line for claim in big.claims for line in claim.service_payments]
    assert len(result.stored) == 1
    assert counts["claim_payments"] == claims and counts["service_payments"] == len(lines)
    # Ids map back to the right claims: the last row is the last claim, with its own lines.
    assert last_claim.patient_control_number == big.claims[-1].patient_control_number
    assert line_sum == len(big.claims[-1].service_payments)
    # One INSERT per table (the remittance's own "receive" event first), and one id reservation each for claim
    # and service payments (SQLite: a no-op UPDATE takes the write lock, then the current maximum id).
    # PostgreSQL streams the large inserts by COPY, which bypasses SQLAlchemy's execute.
    plb = ["INSERT INTO provider_adjustments"] if big.provider_adjustments else []
    if database_backend == "postgresql":  # a few PLB rows are one plain INSERT: COPY pays off from 500 rows
        assert statements == ["INSERT INTO remittances", "INSERT INTO event_log", *plb, "SELECT array_agg",
                              "SELECT array_agg"]
    else:  # each large insert is a few multi-row INSERTs (SQLITE_INSERT_VALUES values each), one after another:
        assert len(statements) < 100  # row by row, over 100,000 (claims, lines, adjustments, events)
        statements = [statement for statement, _ in itertools.groupby(statements)]
        assert statements == ["INSERT INTO remittances", "INSERT INTO event_log", *plb,
                              "UPDATE claim_payments SET id = id WHERE 0", "SELECT coalesce",
                              "UPDATE service_payments SET id = id WHERE 0", "SELECT coalesce",
                              "INSERT INTO claim_payments", "INSERT INTO service_payments",
                              "INSERT INTO payment_adjustments", "INSERT INTO event_log"]
