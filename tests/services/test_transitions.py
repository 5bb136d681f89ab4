"""A transition is one guarded UPDATE with its event row; illegal or stale moves change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, insert, select

from rcmflow.adapters.store.schema import event_log, work_items
from rcmflow.adapters.store.sql import UnexpectedRowCount
from rcmflow.adapters.store.write_behind import queued_writer, write_behind
from rcmflow.domain.states import IllegalTransitionError
from rcmflow.services.transitions import (
    StaleStateError,
    history,
    transition,
    transition_known,
    transition_many,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _items(engine: Engine, count: int, state: str = "open") -> list[int]:
    rows = [{"queue": "denials", "item_type": "denial", "state": state, "priority": 3, "object_type": "claim",
             "object_id": f"C{i}", "dedup_key": f"denial:C{i}", "title": "t", "created_at": NOW,
             "facility_id": "F1", "payer_id": "P1"} for i in range(count)]
    with engine.begin() as conn:
        conn.execute(insert(work_items), rows)
        return list(conn.execute(select(work_items.c.id).order_by(work_items.c.id)).scalars())


def _state(engine: Engine, item_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(work_items.c.state).where(work_items.c.id == item_id)).scalar_one()


def test_transition_updates_and_logs_with_organisation_keys(engine: Engine) -> None:
    [item] = _items(engine, 1)
    with engine.begin() as conn:
        transition(conn, "work item", item, "open", "in_progress", activity="start work", actor="user:ana", at=NOW)
    assert _state(engine, item) == "in_progress"
    with engine.connect() as conn:
        row = conn.execute(select(event_log)).one()
    assert (row.from_state, row.to_state, row.activity, row.actor, row.facility_id, row.payer_id) == (
        "open", "in_progress", "start work", "user:ana", "F1", "P1")


def test_illegal_transition_raises_and_changes_nothing(engine: Engine) -> None:
    [item] = _items(engine, 1, state="resolved")
    with pytest.raises(IllegalTransitionError), engine.begin() as conn:
        transition(conn, "work item", item, "resolved", "escalated", activity="escalate", actor="job:sla")
    with pytest.raises(StaleStateError), engine.begin() as conn:
        transition(conn, "work item", item, "open", "in_progress", activity="start work", actor="user:ana")
    assert _state(engine, item) == "resolved"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(event_log)).scalar_one() == 0


def test_event_log_matches_the_state_history(engine: Engine) -> None:
    [item] = _items(engine, 1)
    path = [("open", "in_progress", "start"), ("in_progress", "waiting", "wait"), ("waiting", "resolved", "resolve"),
            ("resolved", "open", "reopen")]
    with engine.begin() as conn:
        for a, b, activity in path:
            transition(conn, "work item", item, a, b, activity=activity, actor="user:ana")
        assert history(conn, "work item", item) == path
    assert _state(engine, item) == "open"


def test_bulk_transition_moves_thousands_in_one_go_and_reports_the_rest(engine: Engine) -> None:
    ids = _items(engine, 12_000)
    with engine.begin() as conn:
        transition(conn, "work item", ids[0], "open", "waiting", activity="wait", actor="user:ana")
        result = transition_many(conn, "work item", ids, "open", "resolved", activity="bulk resolve",
                                 actor="user:lead", values={"resolution_code": "PAID"}, at=NOW)
    assert len(result.moved) == 11_999 and result.not_moved == (ids[0],)
    with engine.connect() as conn:
        resolved = conn.execute(select(func.count()).select_from(work_items)
                                .where(work_items.c.state == "resolved", work_items.c.resolution_code == "PAID"))
        logged = conn.execute(select(func.count()).select_from(event_log)
                              .where(event_log.c.activity == "bulk resolve"))
        assert resolved.scalar_one() == 11_999 and logged.scalar_one() == 11_999


def test_bulk_transition_sets_each_moved_object_its_own_value_and_keeps_the_rest(engine: Engine) -> None:
    ids = _items(engine, 6)
    owners = {ids[0]: "ana", ids[1]: "ben", ids[4]: "eve"}
    with engine.begin() as conn:
        transition(conn, "work item", ids[4], "open", "waiting", activity="wait", actor="user:ana")
        result = transition_many(conn, "work item", ids[:5], "open", "in_progress", activity="start", actor="system",
                                 values_by_id=("owner", owners), at=NOW)
        rows = dict(conn.execute(select(work_items.c.id, work_items.c.owner)).all())
    assert result.not_moved == (ids[4],)
    # Moved with a value: set; moved without one: left as it was; not moved: untouched, value and all.
    assert rows == {ids[0]: "ana", ids[1]: "ben", ids[2]: None, ids[3]: None, ids[4]: None, ids[5]: None}
    assert [_state(engine, item_id) for item_id in ids] == ["in_progress"] * 4 + ["waiting", "open"]


def _moves(engine: Engine) -> tuple[dict[int, str | None], dict[int, str], list[tuple[object, ...]]]:
    """Each item's owner and state, and the events, with the events' own ids left out."""
    with engine.connect() as conn:
        items = conn.execute(select(work_items.c.id, work_items.c.owner, work_items.c.state)
                             .order_by(work_items.c.id)).all()
        events = conn.execute(select(*(c for c in event_log.c if c.name != "id")).order_by(event_log.c.id)).all()
    return ({row.id: row.owner for row in items}, {row.id: row.state for row in items},
            [tuple(row) for row in events])


def _keys(ids: list[int]) -> dict[int, tuple[str, str, str, None]]:
    return dict.fromkeys(ids, ("default", "F1", "P1", None))


def test_a_known_transition_is_queued_on_sqlite_and_ends_as_transition_many_does(
        engine: Engine, database_backend: str) -> None:
    ids = _items(engine, 7_000)  # three UPDATEs of 2,500 ids at most
    owners = {ids[0]: "ana", ids[6_999]: "eve"}
    with engine.begin() as conn:
        conn.execute(select(func.count()).select_from(work_items))
        with write_behind(conn):
            result = transition_known(conn, "work item", _keys(ids), "open", "in_progress", activity="start",
                                      actor="system", at=NOW, values_by_id=("owner", owners))
            queued = queued_writer(conn)._queued if result is not None else []  # noqa: SLF001
            assert (result is not None) == (database_backend == "sqlite")  # PostgreSQL keeps RETURNING
            if result is None:
                result = transition_many(conn, "work item", ids, "open", "in_progress", activity="start",
                                         actor="system", at=NOW, values_by_id=("owner", owners))
            else:
                assert len(queued) >= 4  # the three UPDATEs and the events' INSERTs, on the writer thread
    queued_owners, queued_states, queued_events = _moves(engine)
    assert result.moved == tuple(ids) and result.not_moved == ()
    # The same end as transition_many on a fresh copy of the items.
    with engine.begin() as conn:
        conn.execute(event_log.delete())
        conn.execute(work_items.delete())
    again = _items(engine, 7_000)
    with engine.begin() as conn:
        transition_many(conn, "work item", again, "open", "in_progress", activity="start", actor="system", at=NOW,
                        values_by_id=("owner", {again[0]: "ana", again[6_999]: "eve"}))
    many_owners, many_states, many_events = _moves(engine)
    assert list(queued_owners.values()) == list(many_owners.values())
    assert list(queued_states.values()) == list(many_states.values()) == ["in_progress"] * 7_000
    offset = again[0] - ids[0]  # the ids of the second set of items; the events name them
    assert [event[:5] + (str(int(event[5]) + offset),) + event[6:] for event in queued_events] == many_events


def test_a_known_transition_that_was_wrong_fails_the_transaction(engine: Engine, database_backend: str) -> None:
    if database_backend != "sqlite":
        pytest.skip("queued on SQLite only")
    ids = _items(engine, 3)
    with engine.begin() as conn:
        transition(conn, "work item", ids[1], "open", "waiting", activity="wait", actor="user:ana")
    with pytest.raises(UnexpectedRowCount, match="changed 2 rows, 3 expected"), engine.begin() as conn:
        with write_behind(conn):
            transition_known(conn, "work item", _keys(ids), "open", "in_progress", activity="start", actor="system",
                             at=NOW)
    assert [_state(engine, item_id) for item_id in ids] == ["open", "waiting", "open"]


def test_a_known_transition_outside_write_behind_does_nothing(engine: Engine) -> None:
    ids = _items(engine, 2)
    with engine.begin() as conn:
        assert transition_known(conn, "work item", _keys(ids), "open", "in_progress", activity="start",
                                actor="system", at=NOW) is None
        with pytest.raises(IllegalTransitionError), write_behind(conn):
            transition_known(conn, "work item", _keys(ids), "open", "closed", activity="x", actor="system", at=NOW)
    assert [_state(engine, item_id) for item_id in ids] == ["open", "open"]


def test_an_object_created_already_moved_on_is_checked_like_a_transition() -> None:
    from rcmflow.services.transitions import checked_path, creation_events

    path = checked_path("claim payment", (("receive", "received"), ("match", "matched"), ("post", "posted")))
    events = creation_events("claim payment", 7, path, actor="system", at=NOW, payer_id="P1")
    assert [(e.from_state, e.to_state, e.activity, e.payer_id) for e in events] == [
        (None, "received", "receive", "P1"), ("received", "matched", "match", "P1"),
        ("matched", "posted", "post", "P1")]
    with pytest.raises(IllegalTransitionError):  # received -> posted skips matching
        checked_path("claim payment", (("receive", "received"), ("post", "posted")))
    with pytest.raises(IllegalTransitionError):  # a new object starts in the initial state
        checked_path("claim payment", (("match", "matched"),))
    # A machine may declare other entry states: a claim another system submitted is imported as submitted.
    assert checked_path("claim", (("import submitted claim", "submitted"),)) == (
        (None, "submitted", "import submitted claim"),)
    with pytest.raises(IllegalTransitionError):
        checked_path("claim", (("import", "paid"),))
