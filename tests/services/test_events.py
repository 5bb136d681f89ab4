"""The event log appends transitions in bulk, in the caller's transaction, and reads them back in order."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from rcmflow.adapters.store.schema import event_log
from rcmflow.adapters.store.sql import SQLITE_INSERT_VALUES
from rcmflow.services.events import EVENT_COLUMNS, TIMELINE_COLUMNS, Event, append_events, events_for, timeline_of

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _claim_event(to_state: str, minutes: int, from_state: str | None = None, **extra: Any) -> Event:
    return Event(
        object_type="claim",
        object_id="CLM-1",
        to_state=to_state,
        activity=f"to {to_state}",
        actor="biller:ana",
        from_state=from_state,
        occurred_at=T0 + timedelta(minutes=minutes),
        **extra,
    )


def test_history_comes_back_in_time_order_with_every_field(engine: Engine) -> None:
    scrubbed = Event(
        object_type="claim",
        object_id="CLM-1",
        to_state="charge_reviewed",
        activity="scrub claim",
        actor="system",
        from_state="registered",
        reason="NCCI pair 99213/36415 ok",
        rule_version="scrubber.ncci@2024.2",
        organisation_id="north-health",
        facility_id="F01",
        payer_id="60054",
        department_id="RAD",
        occurred_at=T0 + timedelta(minutes=5),
        attributes={"edits": ["ncci"], "amount_cents": 12500},
    )
    with engine.begin() as conn:
        # Appended out of order on purpose: the log reads by occurrence time.
        append_events(conn, [scrubbed, _claim_event("registered", 0, organisation_id="north-health")])
        history = events_for(conn, "claim", "CLM-1")

    assert [e.to_state for e in history] == ["registered", "charge_reviewed"]
    assert history[1] == scrubbed


def test_same_instant_keeps_insertion_order(engine: Engine) -> None:
    states = [f"s{i}" for i in range(20)]
    with engine.begin() as conn:
        append_events(conn, [_claim_event(state, 0) for state in states])
        assert [e.to_state for e in events_for(conn, "claim", "CLM-1")] == states


def test_history_is_per_object_and_per_organisation(engine: Engine) -> None:
    with engine.begin() as conn:
        append_events(
            conn,
            [
                _claim_event("registered", 0),
                Event("claim", "CLM-2", "registered", "register", "system", occurred_at=T0),
                Event("remittance", "CLM-1", "received", "receive", "system", occurred_at=T0),
                _claim_event("coded", 1, organisation_id="other-org"),
            ],
        )
        assert [e.to_state for e in events_for(conn, "claim", "CLM-1")] == ["registered", "coded"]
        assert [e.to_state for e in events_for(conn, "claim", "CLM-1", organisation_id="other-org")] == [
            "coded"
        ]


def test_missing_time_means_now_in_utc(engine: Engine) -> None:
    before = datetime.now(UTC)
    with engine.begin() as conn:
        append_events(conn, [Event("claim", "CLM-9", "registered", "register", "system")])
        (logged,) = events_for(conn, "claim", "CLM-9")
    after = datetime.now(UTC)

    assert logged.occurred_at is not None
    assert logged.occurred_at.tzinfo is UTC
    assert before - timedelta(seconds=1) <= logged.occurred_at <= after + timedelta(seconds=1)


def test_times_in_other_zones_are_the_same_instant(engine: Engine) -> None:
    local = datetime(2024, 11, 3, 1, 30, tzinfo=timezone(timedelta(hours=-4)))
    with engine.begin() as conn:
        append_events(conn, [Event("claim", "CLM-3", "paid", "post payment", "system", occurred_at=local)])
        (logged,) = events_for(conn, "claim", "CLM-3")

    assert logged.occurred_at == local
    assert logged.occurred_at is not None and logged.occurred_at.utcoffset() == timedelta(0)


def test_ten_thousand_events_are_one_bulk_operation(engine: Engine, database_backend: str) -> None:
    events = [
        Event("claim", f"CLM-{i}", "submitted", "submit claim", "system", payer_id=f"P{i % 7}")
        for i in range(10_000)
    ]
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split("(")[0].strip())

    with engine.begin() as conn:
        event.listen(conn, "before_cursor_execute", record)
        try:
            assert append_events(conn, events) == 10_000
        finally:
            event.remove(conn, "before_cursor_execute", record)
        assert conn.execute(select(func.count()).select_from(event_log)).scalar_one() == 10_000

    # On SQLite multi-row INSERTs of as many rows as SQLITE_INSERT_VALUES values hold, not one per event; on
    # PostgreSQL one COPY, which bypasses SQLAlchemy's execute entirely.
    if database_backend == "postgresql":
        assert statements == []
    else:
        rows_per_statement = SQLITE_INSERT_VALUES // len(EVENT_COLUMNS)
        assert statements == ["INSERT INTO event_log"] * math.ceil(10_000 / rows_per_statement)


def test_bulk_events_keep_every_column_and_roll_back_with_the_caller(engine: Engine) -> None:
    when = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    events = [Event("claim", f"CLM-{i}", "paid", "post payment", "job:posting", from_state="adjudicated",
                    reason="835", rule_version="posting@3", facility_id="F1", payer_id="P1",
                    department_id="D1", occurred_at=when, attributes={"amount": "12.50", "lines": [1, 2]})
              for i in range(1_200)]
    with engine.connect() as conn:
        with conn.begin() as transaction:
            append_events(conn, events)
            transaction.rollback()
        assert conn.execute(select(func.count()).select_from(event_log)).scalar_one() == 0
    with engine.begin() as conn:
        append_events(conn, events)
    with engine.connect() as conn:
        rows = conn.execute(select(event_log).order_by(event_log.c.id)).all()
    assert len(rows) == 1_200
    first = rows[0]
    assert (first.object_id, first.from_state, first.to_state, first.reason, first.rule_version, first.facility_id,
            first.department_id, first.occurred_at, first.attributes) == (
        "CLM-0", "adjudicated", "paid", "835", "posting@3", "F1", "D1", when, {"amount": "12.50", "lines": [1, 2]})


def test_events_share_the_callers_transaction(engine: Engine) -> None:
    with engine.connect() as conn:
        with conn.begin() as transaction:
            append_events(conn, [_claim_event("registered", 0)])
            transaction.rollback()
        assert events_for(conn, "claim", "CLM-1") == []


def test_nothing_to_append_executes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        assert append_events(conn, []) == 0


def test_integer_object_ids_are_stored_as_text(engine: Engine) -> None:
    with engine.begin() as conn:
        append_events(conn, [Event("document", 42, "received", "receive", "system")])  # type: ignore[arg-type]
        assert [e.object_id for e in events_for(conn, "document", "42")] == ["42"]


@pytest.mark.parametrize(
    "bad",
    [
        {"occurred_at": datetime(2024, 5, 1, 9, 0)},
        {"actor": ""},
        {"to_state": ""},
    ],
)
def test_invalid_events_are_refused_when_built(bad: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "object_type": "claim",
        "object_id": "CLM-1",
        "to_state": "registered",
        "activity": "register",
        "actor": "system",
    }
    with pytest.raises(ValueError):
        Event(**(fields | bad))


def test_events_are_frozen() -> None:
    logged = _claim_event("registered", 0)
    with pytest.raises(AttributeError):
        logged.to_state = "paid"  # type: ignore[misc]


def test_event_rows_log_what_the_same_events_would(engine: Engine) -> None:
    """``EventRows``: many objects, each with the steps of one path, logged as those ``Event``s would be."""
    from rcmflow.services.events import EventRows, append_event_rows

    steps = [_claim_event("registered", 0, attributes={"via": "bulk"}),
             _claim_event("scrubbed", 0, from_state="registered", reason="clean", rule_version="scrubber@1")]
    rows = EventRows(*steps)
    for number in range(3):
        rows.add(f"CLM-{number}", organisation_id="north-health", payer_id="60054", facility_id="F01")
    with engine.begin() as conn:
        assert append_event_rows(conn, rows.rows) == 6
        histories = [events_for(conn, "claim", f"CLM-{number}") for number in range(3)]
    for number, history in enumerate(histories):
        assert history == [replace(step, object_id=f"CLM-{number}", organisation_id="north-health", payer_id="60054",
                                   facility_id="F01") for step in steps]


def test_event_rows_check_what_an_event_checks() -> None:
    from rcmflow.services.events import EventRows

    with pytest.raises(ValueError, match="object_id"):
        EventRows(_claim_event("registered", 0)).add("")
    with pytest.raises(ValueError, match="timezone-aware"):
        EventRows(Event("claim", "-", "registered", "register", "system", occurred_at=datetime(2024, 5, 1)))
    with pytest.raises(ValueError, match="occurred_at"):
        EventRows(Event("claim", "-", "registered", "register", "system"))
    with pytest.raises(ValueError, match="one object type"):
        EventRows(_claim_event("registered", 0), Event("payment", "-", "posted", "post", "system", occurred_at=T0))


def test_a_timeline_is_the_history_with_its_shown_fields(engine: Engine) -> None:
    with engine.begin() as conn:
        append_events(conn, [_claim_event("coded", 1, "registered", reason="ok", rule_version="r@1"),
                             _claim_event("registered", 0), Event("claim", "CLM-2", "registered", "register",
                                                                  "system", occurred_at=T0)])
        timeline = timeline_of(conn, "claim", "CLM-1")
        assert timeline == [{name: getattr(e, name) for name in TIMELINE_COLUMNS}
                            for e in events_for(conn, "claim", "CLM-1")]
        assert [(e["from_state"], e["to_state"], e["reason"]) for e in timeline] == [
            (None, "registered", None), ("registered", "coded", "ok")]
        assert timeline_of(conn, "remittance", "CLM-1") == []
