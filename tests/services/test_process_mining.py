"""Process mining on small hand-built event logs whose map, waits, bottlenecks, rework and conformance are known."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine

from rcmflow.domain.states import MACHINES, UnknownStateMachineError
from rcmflow.services.events import Event, append_events
from rcmflow.services.process_conformance import NEW, pm4py_module
from rcmflow.services.process_mining import Bottleneck, Edge, ReworkLoop, mine_process

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
HOUR = 3600.0

# (claim, [(state entered, hours after T0), ...]): A and B follow the claim machine (B is scrubbed, sent back to
# coding and scrubbed again); C jumps from coded straight to submitted, which the machine does not allow.
A = ("A", [("registered", 0), ("coded", 1), ("scrubbed", 1), ("ready", 3), ("submitted", 4)])
B = ("B", [("registered", 0), ("coded", 2), ("scrubbed", 2), ("coded", 5), ("scrubbed", 6), ("ready", 8)])
C = ("C", [("registered", 0), ("coded", 3), ("submitted", 4)])


def _events(claim: tuple[str, list[tuple[str, float]]], *, facility: str = "F1", organisation: str = "default",
            object_type: str = "claim", shift: float = 0) -> list[Event]:
    object_id, path = claim
    events, previous = [], None
    for state, hours in path:
        events.append(Event(object_type=object_type, object_id=object_id, to_state=state, from_state=previous,
                            activity=f"to {state}", actor="system", facility_id=facility,
                            organisation_id=organisation, occurred_at=T0 + timedelta(hours=hours + shift)))
        previous = state
    return events


def _load(engine: Engine, *claims: tuple[str, list[tuple[str, float]]], **options: Any) -> None:
    with engine.begin() as conn:
        append_events(conn, [event for claim in claims for event in _events(claim, **options)])


def _mine(engine: Engine, **options: Any) -> Any:
    with engine.connect() as conn:
        return mine_process(conn, **options)


def _activities(node: dict[str, Any]) -> set[str]:
    if "activity" in node:
        return {node["activity"]}
    return set().union(*(_activities(child) for child in node.get("children", [])))


def test_map_counts_and_waits_between_states(engine: Engine) -> None:
    _load(engine, A, B, C)
    mined = _mine(engine)

    assert (mined.object_type, mined.cases, mined.events, mined.truncated) == ("claim", 3, 14, False)
    assert (mined.window_start, mined.window_end) == (T0, T0 + timedelta(hours=8))
    assert {edge.source + ">" + edge.target: edge for edge in mined.edges} == {
        "registered>coded": Edge("registered", "coded", 3, 2 * HOUR, 2 * HOUR, 6 * HOUR),
        # A and B's first pass: no wait; B's second pass: an hour.
        "coded>scrubbed": Edge("coded", "scrubbed", 3, HOUR / 3, 0.0, HOUR),
        "scrubbed>ready": Edge("scrubbed", "ready", 2, 2 * HOUR, 2 * HOUR, 4 * HOUR),
        "ready>submitted": Edge("ready", "submitted", 1, HOUR, HOUR, HOUR),
        "scrubbed>coded": Edge("scrubbed", "coded", 1, 3 * HOUR, 3 * HOUR, 3 * HOUR),
        "coded>submitted": Edge("coded", "submitted", 1, HOUR, HOUR, HOUR),
    }
    assert [edge.count for edge in mined.edges] == sorted((edge.count for edge in mined.edges), reverse=True)
    assert {node.name: node.count for node in mined.nodes} == {
        "registered": 3, "coded": 4, "scrubbed": 3, "ready": 2, "submitted": 2}
    assert mined.start_activities == {"registered": 3}
    assert mined.end_activities == {"submitted": 2, "ready": 1}


def test_bottlenecks_rank_steps_by_total_waiting_time(engine: Engine) -> None:
    _load(engine, A, B, C)
    bottlenecks = _mine(engine).bottlenecks

    assert bottlenecks[:3] == [
        Bottleneck("registered", "coded", 6 * HOUR, 2 * HOUR, 6 / 16),
        Bottleneck("scrubbed", "ready", 4 * HOUR, 2 * HOUR, 4 / 16),
        Bottleneck("scrubbed", "coded", 3 * HOUR, 3 * HOUR, 3 / 16),
    ]
    assert [(b.source, b.target) for b in bottlenecks[3:]] == [
        ("coded", "scrubbed"), ("coded", "submitted"), ("ready", "submitted")]
    assert sum(b.share for b in bottlenecks) == pytest.approx(1.0)


def test_rework_counts_cases_that_reentered_a_state(engine: Engine) -> None:
    again = ("D", [("registered", 0), ("coded", 1), ("scrubbed", 2), ("coded", 3), ("scrubbed", 4), ("coded", 5)])
    _load(engine, A, B, again)

    assert _mine(engine).rework == [ReworkLoop("coded", 2, 3), ReworkLoop("scrubbed", 2, 2)]


def test_a_move_the_machine_does_not_declare_is_illegal_and_lowers_fitness(engine: Engine) -> None:
    _load(engine, A, B, C)
    conformance = _mine(engine).conformance

    assert (conformance.cases, conformance.fitting_cases) == (3, 2)
    assert conformance.illegal_moves == [("coded", "submitted", 1)]
    # Token replay: A and B consume and produce 7 and 8 tokens each with none missing or left; C consumes and
    # produces 5, one token missing (ready, for submitted) and one left behind (in coded).
    assert conformance.fitness == pytest.approx(0.5 * (1 - 1 / 20) + 0.5 * (1 - 1 / 20))


def test_a_conforming_log_has_fitness_one(engine: Engine) -> None:
    _load(engine, A, B)
    conformance = _mine(engine).conformance

    assert (conformance.cases, conformance.fitting_cases, conformance.fitness) == (2, 2, 1.0)
    assert conformance.illegal_moves == []


def test_an_object_born_past_the_initial_state_is_an_illegal_entry(engine: Engine) -> None:
    _load(engine, A, ("E", [("coded", 0), ("scrubbed", 1)]))
    conformance = _mine(engine).conformance

    assert conformance.illegal_moves == [(NEW, "coded", 1)]
    assert (conformance.fitting_cases, conformance.fitness < 1) == (1, True)


def test_a_claim_imported_as_submitted_enters_by_a_declared_entry_state(engine: Engine) -> None:
    # An 837 another system submitted arrives as a submitted claim: the claim machine declares that entry.
    imported = ("I", [("submitted", 0), ("paid", 2)])
    _load(engine, A, imported)
    conformance = _mine(engine).conformance

    assert conformance.illegal_moves == []
    assert (conformance.cases, conformance.fitting_cases, conformance.fitness) == (2, 2, 1.0)


def test_a_window_that_opens_mid_path_replays_from_where_the_object_was(engine: Engine) -> None:
    _load(engine, A, B)
    mined = _mine(engine, since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=6))

    assert mined.events == 7  # A: coded, scrubbed, ready, submitted; B: coded, scrubbed, coded
    assert mined.start_activities == {"coded": 2}
    assert "registered" not in {node.name for node in mined.nodes}
    assert (mined.conformance.fitting_cases, mined.conformance.fitness) == (2, 1.0)


def test_events_at_the_same_instant_keep_their_logged_order(engine: Engine) -> None:
    _load(engine, ("S", [("registered", 0), ("coded", 0), ("scrubbed", 0), ("ready", 0), ("submitted", 1)]))
    mined = _mine(engine)

    assert [(edge.source, edge.target) for edge in mined.edges] == [
        ("coded", "scrubbed"), ("ready", "submitted"), ("registered", "coded"), ("scrubbed", "ready")]
    assert mined.conformance.fitness == 1.0


def test_facilities_scope_the_cases(engine: Engine) -> None:
    _load(engine, A, B)
    _load(engine, C, facility="F2")

    assert _mine(engine, facilities=("F2",)).cases == 1
    assert _mine(engine, facilities=("F1",)).conformance.illegal_moves == []
    assert _mine(engine, facilities=("F1", "F2")).cases == 3
    assert _mine(engine, facilities=()).cases == 0


def test_max_cases_keeps_the_most_recently_active_and_says_so(engine: Engine) -> None:
    _load(engine, A)
    _load(engine, B, shift=24)
    _load(engine, C, shift=48)

    recent = _mine(engine, max_cases=2)
    assert (recent.cases, recent.truncated) == (2, True)
    assert recent.conformance.illegal_moves == [("coded", "submitted", 1)]  # C is the most recent
    assert recent.window_start == T0 + timedelta(hours=24)
    assert (_mine(engine, max_cases=3).truncated, _mine(engine, max_cases=3).cases) == (False, 3)


def test_other_organisations_and_object_types_stay_out(engine: Engine) -> None:
    _load(engine, A)
    _load(engine, B, organisation="other")
    _load(engine, ("W", [("open", 0), ("in_progress", 1), ("resolved", 2), ("open", 3)]), object_type="work item")

    assert _mine(engine).cases == 1
    assert _mine(engine, organisation_id="other").cases == 1
    work = _mine(engine, object_type="work item")
    assert (work.cases, work.rework, work.conformance.fitness) == (1, [ReworkLoop("open", 1, 1)], 1.0)


def test_discovered_model_and_json(engine: Engine) -> None:
    _load(engine, A, B, C)
    mined = _mine(engine)

    assert mined.model["operator"] == "sequence"
    assert _activities(mined.model) == {"registered", "coded", "scrubbed", "ready", "submitted"}
    data = json.loads(json.dumps(mined.to_dict()))
    assert data["conformance"]["illegal_moves"] == [{"from": "coded", "to": "submitted", "count": 1}]
    assert data["window_start"] == "2024-05-01T09:00:00+00:00"
    assert data["bottlenecks"][0]["source"] == "registered"


def test_an_empty_window_and_an_unknown_type(engine: Engine) -> None:
    mined = _mine(engine, object_type="supplier invoice")
    assert (mined.cases, mined.edges, mined.conformance.fitness, mined.model) == (0, [], 1.0, {})
    with pytest.raises(UnknownStateMachineError):
        _mine(engine, object_type="spaceship")
    assert "supplier invoice" in MACHINES


def test_reads_inside_the_callers_transaction(engine: Engine) -> None:
    with engine.begin() as conn:
        append_events(conn, _events(A))
        assert _count(conn) == 1


def _count(conn: Connection) -> int:
    return mine_process(conn).cases


def test_pm4py_warnings_are_silenced_and_no_others() -> None:
    pm4py = pm4py_module()
    frame = pd.DataFrame({"case": ["1", "1"], "activity": ["a", None],
                          "time": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)})
    # pm4py warns that it dropped the row without an activity: pm4py's own check, not shown.
    assert len(pm4py.format_dataframe(frame, case_id="case", activity_key="activity", timestamp_key="time")) == 1
    with pytest.warns(UserWarning, match="still shown"):
        warnings.warn("still shown", UserWarning, stacklevel=1)
