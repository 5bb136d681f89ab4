"""Column types behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import StatementError

from rcmflow.adapters.store.schema import event_log

EASTERN = timezone(timedelta(hours=-5))


def _event_row(occurred_at: datetime) -> dict[str, object]:
    return {
        "object_type": "claim",
        "object_id": "C1",
        "to_state": "registered",
        "activity": "register claim",
        "actor": "tester",
        "occurred_at": occurred_at,
    }


def test_timestamps_round_trip_timezone_aware_in_utc(engine: Engine) -> None:
    moment = datetime(2024, 3, 10, 1, 59, 59, 123456, tzinfo=EASTERN)
    with engine.begin() as conn:
        conn.execute(insert(event_log), [_event_row(moment)])
        stored = conn.execute(select(event_log.c.occurred_at)).scalar_one()

    assert stored == moment
    assert stored.tzinfo is UTC
    assert stored.isoformat() == "2024-03-10T06:59:59.123456+00:00"


def test_timestamp_comparisons_use_the_instant_not_the_wall_clock(engine: Engine) -> None:
    moment = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(event_log), [_event_row(moment)])
        # 07:00 in UTC-5 is 12:00 UTC: same instant, different wall clock.
        same = select(event_log.c.id).where(event_log.c.occurred_at >= moment.astimezone(EASTERN))
        assert conn.execute(same).scalar_one_or_none() is not None


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(StatementError, match="naive datetime"):
        conn.execute(insert(event_log), [_event_row(datetime(2024, 3, 10, 12, 0))])
