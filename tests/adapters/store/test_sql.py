"""Bulk helpers: every row lands with the values SQLAlchemy would bind, in one operation per call."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event, select

from rcmflow.adapters.store.schema import claims, event_log
from rcmflow.adapters.store.sql import (
    BULK_LOAD_ANALYZE_ROWS,
    COPY_THRESHOLD,
    analyze_after_bulk_load,
    as_date,
    bulk_insert,
    bulk_update,
    raw,
    reserve_ids,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _claim(number: int) -> dict[str, object]:
    return {"organisation_id": "default", "payer_id": "60054", "claim_type": "P",
            "patient_control_number": f"PCN{number}", "frequency": "1", "filing_order": "P",
            "total_charge": Decimal("110.35"), "line_count": 1, "state": "submitted",
            "content_digest": f"{number:064d}", "created_at": NOW, "service_from": date(2026, 10, 3)}


@pytest.mark.parametrize("count", [1, 3, COPY_THRESHOLD + 250])
def test_bulk_insert_returns_ids_in_row_order_and_keeps_every_value(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        ids = bulk_insert(conn, claims, [_claim(n) for n in range(count)], with_ids=True)
        rows = {row.id: row for row in conn.execute(select(claims))}
    assert len(set(ids)) == count
    assert [rows[claim_id].patient_control_number for claim_id in ids] == [f"PCN{n}" for n in range(count)]
    last = rows[ids[-1]]
    assert (last.total_charge, last.service_from, last.created_at) == (Decimal("110.35"), date(2026, 10, 3), NOW)


@pytest.mark.parametrize("count", [2, COPY_THRESHOLD + 250])
def test_bulk_update_sets_each_row_its_own_values(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        ids = bulk_insert(conn, claims, [_claim(n) for n in range(count)], with_ids=True)
        bulk_update(conn, claims, ("payer_claim_number", "total_charge"),
                    [(f"ICN{claim_id}", Decimal(claim_id) / 100, claim_id) for claim_id in ids])
        rows = conn.execute(select(claims.c.id, claims.c.payer_claim_number, claims.c.total_charge)).all()
    assert {row.id: (row.payer_claim_number, row.total_charge) for row in rows} == {
        claim_id: (f"ICN{claim_id}", Decimal(claim_id) / 100) for claim_id in ids}


def test_sqlite_multi_row_inserts_respect_the_bound_parameter_limit(engine: Engine, database_backend: str) -> None:
    """Rows go in as multi-row INSERTs: a connection that allows few bound values (an old SQLite build) gets
    more, smaller statements, and every row still lands once, in order."""
    if database_backend != "sqlite":
        pytest.skip("SQLite's bound-parameter limit")
    statements: list[int] = []
    with engine.begin() as conn:
        driver = conn.connection.dbapi_connection
        usual = driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        try:  # the pooled connection serves later tests: its limit is put back
            event.listen(conn, "before_cursor_execute",
                         lambda *args: statements.append(len(args[3])) if args[2].startswith("INSERT") else None)
            ids = bulk_insert(conn, claims, [_claim(n) for n in range(300)], with_ids=True)
            numbers = dict(conn.execute(select(claims.c.id, claims.c.patient_control_number)).all())
        finally:
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, usual)
    assert [numbers[claim_id] for claim_id in ids] == [f"PCN{n}" for n in range(300)]
    assert len(statements) > 1 and max(statements) <= 999 and sum(statements) == 300 * (len(_claim(0)) + 1)


def test_raw_columns_read_back_as_the_same_values(engine: Engine) -> None:
    with engine.begin() as conn:
        bulk_insert(conn, claims, [_claim(1)])
        charge, day = conn.execute(select(raw(claims.c.total_charge), raw(claims.c.service_from))).one()
    assert Decimal(str(charge)).quantize(Decimal("0.01")) == Decimal("110.35")
    assert as_date(day) == date(2026, 10, 3)


def test_event_rows_inserted_in_bulk_keep_their_json(engine: Engine) -> None:
    rows = [{"organisation_id": "default", "object_type": "claim", "object_id": str(n), "to_state": "paid",
             "activity": "post", "actor": "test", "occurred_at": NOW, "attributes": {"n": n}}
            for n in range(COPY_THRESHOLD + 10)]
    with engine.begin() as conn:
        bulk_insert(conn, event_log, rows)
        stored = dict(conn.execute(select(event_log.c.object_id, event_log.c.attributes)).all())
    assert stored["7"] == {"n": 7} and len(stored) == len(rows)


def test_reserved_ids_are_free_and_this_transactions_alone(engine: Engine) -> None:
    with engine.begin() as conn:
        before = bulk_insert(conn, claims, [_claim(n) for n in range(3)], with_ids=True)
        reserved = reserve_ids(conn, claims, 4)
        bulk_insert(conn, claims, [{**_claim(10 + n), "id": claim_id} for n, claim_id in enumerate(reserved)])
        after = bulk_insert(conn, claims, [_claim(20)], with_ids=True)
        stored = sorted(conn.execute(select(claims.c.id)).scalars())
    assert len(set(reserved)) == 4 and min(reserved) > max(before)
    assert after[0] > max(reserved)  # an insert that draws its own id never lands on a reserved one
    assert stored == sorted([*before, *reserved, *after])


def test_a_bulk_load_refreshes_the_planner_statistics(engine: Engine, database_backend: str) -> None:
    """PostgreSQL plans the next lookups from what the load brought, not from an empty table's guesses."""
    from sqlalchemy import text

    if database_backend != "postgresql":
        pytest.skip("SQLite plans these lookups from its indexes alone")
    reltuples = text("SELECT reltuples FROM pg_class WHERE oid = 'claims'::regclass")
    with engine.begin() as conn:
        bulk_insert(conn, claims, [_claim(n) for n in range(BULK_LOAD_ANALYZE_ROWS)])
        analyze_after_bulk_load(conn, BULK_LOAD_ANALYZE_ROWS - 1, claims)  # too few rows to be worth it
        assert conn.execute(reltuples).scalar_one() != BULK_LOAD_ANALYZE_ROWS
        analyze_after_bulk_load(conn, BULK_LOAD_ANALYZE_ROWS, claims)
        assert conn.execute(reltuples).scalar_one() == BULK_LOAD_ANALYZE_ROWS
