"""Process mining over the event log: the process map, its bottlenecks and rework loops, a discovered model.

One object type at a time (a claim, a remittance, a work item...): each object is a case and each event-log row
an event whose activity is the state it entered (``to_state``), so a claim's map reads registered → coded →
scrubbed → ready → submitted... The directly-follows graph (with how often and how long between), the start and
end states and the inductive miner's process tree come from pm4py; conformance against the declared state
machine is ``services.process_conformance``. docs/process-mining.md says how to read the result.

pm4py is AGPL-3.0 (rcmflow is Apache-2.0): only this module, ``process_conformance`` and ``ocel_export`` import
it, lazily inside functions (it takes over a second to import, and most commands never need it), so that it can
be replaced without touching anything else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, event_log
from rcmflow.adapters.store.sql import raw
from rcmflow.domain.states import machine_for
from rcmflow.services.process_conformance import (
    ACTIVITY,
    CASE,
    TIMESTAMP,
    Conformance,
    check_conformance,
    pm4py_module,
)

_BATCH = 50_000  # rows fetched per round trip: the log is read once, in columnar batches


@dataclass(frozen=True)
class Node:
    """A state of the map and how many events entered it."""

    name: str
    count: int


@dataclass(frozen=True)
class Edge:
    """One object entering ``target`` right after ``source``: how often, and the time spent in ``source``."""

    source: str
    target: str
    count: int
    mean_wait_s: float | None
    median_wait_s: float | None
    total_wait_s: float


@dataclass(frozen=True)
class Bottleneck:
    """A step where time is spent: its total and mean wait and its share of all waiting time in the map."""

    source: str
    target: str
    total_wait_s: float
    mean_wait_s: float
    share: float


@dataclass(frozen=True)
class ReworkLoop:
    """A state objects entered again: in how many cases, and how many entries beyond the first in all."""

    activity: str
    cases: int
    repeats: int


@dataclass(frozen=True)
class ProcessMining:
    """What the event log says about how objects of one type really move."""

    object_type: str
    cases: int
    events: int
    window_start: datetime | None  # first and last event mined
    window_end: datetime | None
    nodes: list[Node]
    edges: list[Edge]
    start_activities: dict[str, int]
    end_activities: dict[str, int]
    bottlenecks: list[Bottleneck]  # most waiting time first
    rework: list[ReworkLoop]  # most cases first
    conformance: Conformance
    model: dict[str, Any]  # the inductive miner's process tree, as nested dicts
    truncated: bool  # max_cases left older cases out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601, tuples as lists."""
        data = asdict(self)
        for key in ("window_start", "window_end"):
            data[key] = data[key].isoformat() if data[key] is not None else None
        data["conformance"]["illegal_moves"] = [
            {"from": source, "to": target, "count": count} for source, target, count in self.conformance.illegal_moves]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessMining:
        """The result ``to_dict`` gave, back (a stored map, ``services.process_maps``)."""
        conformance = data["conformance"]

        def moment(text: str | None) -> datetime | None:
            return None if text is None else datetime.fromisoformat(text)

        return cls(
            object_type=data["object_type"], cases=data["cases"], events=data["events"],
            window_start=moment(data["window_start"]), window_end=moment(data["window_end"]),
            nodes=[Node(**node) for node in data["nodes"]], edges=[Edge(**edge) for edge in data["edges"]],
            # PostgreSQL's JSONB keeps no key order: most frequent first again, as mined.
            start_activities=_counts(data["start_activities"]), end_activities=_counts(data["end_activities"]),
            bottlenecks=[Bottleneck(**b) for b in data["bottlenecks"]],
            rework=[ReworkLoop(**loop) for loop in data["rework"]],
            conformance=Conformance(conformance["cases"], conformance["fitting_cases"], conformance["fitness"],
                                    [(m["from"], m["to"], m["count"]) for m in conformance["illegal_moves"]]),
            model=data["model"], truncated=data["truncated"])


def mine_process(
    conn: Connection,
    *,
    object_type: str = "claim",
    since: datetime | None = None,
    until: datetime | None = None,
    max_cases: int = 50_000,
    facilities: tuple[str, ...] | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> ProcessMining:
    """Mine the events of ``object_type`` in [since, until): the ``max_cases`` most recently active objects of
    the organisation (of ``facilities`` only, when given), each object a case."""
    if max_cases < 1:
        raise ValueError("max_cases must be at least 1")
    state_machine = machine_for(object_type)  # no declared machine, nothing to check conformance against
    frame, truncated = _read_log(conn, object_type, since, until, max_cases, facilities, organisation_id)
    if frame.empty:
        return ProcessMining(object_type, 0, 0, None, None, [], [], {}, {}, [], [], Conformance(0, 0, 1.0, []), {},
                             truncated)
    pm4py = pm4py_module()
    log = pm4py.format_dataframe(frame, case_id=CASE, activity_key=ACTIVITY, timestamp_key=TIMESTAMP)
    frequencies, starts, ends = pm4py.discover_dfg(log)
    performance, _, _ = pm4py.discover_performance_dfg(log)
    edges = sorted((_edge(pair, count, performance[pair]) for pair, count in frequencies.items()),
                   key=lambda edge: (-edge.count, edge.source, edge.target))
    entered = log[ACTIVITY].value_counts()
    nodes = sorted((Node(str(name), int(count)) for name, count in entered.items()),
                   key=lambda node: (-node.count, node.name))
    tree = pm4py.discover_process_tree_inductive(log)
    return ProcessMining(
        object_type=object_type,
        cases=int(frame[CASE].nunique()),
        events=len(frame),
        window_start=frame[TIMESTAMP].min().to_pydatetime(),
        window_end=frame[TIMESTAMP].max().to_pydatetime(),
        nodes=nodes,
        edges=edges,
        start_activities=_counts(starts),
        end_activities=_counts(ends),
        bottlenecks=_bottlenecks(edges),
        rework=_rework(frame),
        conformance=check_conformance(frame, state_machine),
        model=_tree(tree),
        truncated=truncated,
    )


def _read_log(
    conn: Connection, object_type: str, since: datetime | None, until: datetime | None, max_cases: int,
    facilities: tuple[str, ...] | None, organisation_id: str,
) -> tuple[pd.DataFrame, bool]:
    """The window's events of the ``max_cases`` objects last active in it, ordered by object then time (ties in
    insertion order), in one query; True when more objects had events in the window."""
    scope = [event_log.c.organisation_id == organisation_id, event_log.c.object_type == object_type]
    if since is not None:
        scope.append(event_log.c.occurred_at >= since)
    if until is not None:
        scope.append(event_log.c.occurred_at < until)
    if facilities is not None:
        scope.append(event_log.c.facility_id.in_(list(facilities)))
    last_active = func.max(event_log.c.occurred_at)
    recency = (last_active.desc(), event_log.c.object_id.desc())
    # One object more than asked for says whether the log was cut, without a second scan to count them.
    recent = (
        select(event_log.c.object_id, func.row_number().over(order_by=recency).label("recency"))
        .where(*scope).group_by(event_log.c.object_id).order_by(*recency).limit(max_cases + 1).cte("recent")
    )
    query = (
        select(recent.c.recency, event_log.c.object_id, event_log.c.from_state, event_log.c.to_state,
               event_log.c.activity, raw(event_log.c.occurred_at))
        .join_from(event_log, recent, recent.c.object_id == event_log.c.object_id)
        .where(*scope)
        .order_by(event_log.c.object_id, event_log.c.occurred_at, event_log.c.id)
    )
    columns = ["recency", CASE, "from_state", ACTIVITY, "activity", TIMESTAMP]
    # Streamed in batches: an option of this statement, not of the caller's connection (Connection.execution_options
    # changes the connection itself, and its next statements would stream too: PostgreSQL cannot DECLARE a DELETE).
    result = conn.execute(query.execution_options(yield_per=_BATCH))
    # Plain tuples: pandas reads SQLAlchemy rows ten times slower.
    batches = [pd.DataFrame.from_records(list(map(tuple, rows)), columns=columns) for rows in result.partitions()]
    frame = pd.concat(batches, ignore_index=True) if batches else pd.DataFrame(columns=columns)
    truncated = bool((frame["recency"] > max_cases).any())
    if truncated:
        frame = frame[frame["recency"] <= max_cases].reset_index(drop=True)
    frame = frame.drop(columns="recency")
    # SQLite hands back UTC text, PostgreSQL aware datetimes: one vectorised parse for both.
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True, format="ISO8601")
    return frame, truncated


def _edge(pair: tuple[str, str], count: int, waits: dict[str, float]) -> Edge:
    return Edge(str(pair[0]), str(pair[1]), int(count), _seconds(waits.get("mean")), _seconds(waits.get("median")),
                _seconds(waits.get("sum")) or 0.0)


def _seconds(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _counts(counts: dict[Any, Any]) -> dict[str, int]:
    return {str(name): int(count) for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))}


def _bottlenecks(edges: list[Edge]) -> list[Bottleneck]:
    """Steps ranked by total waiting time: where the days go, weighted by how often the step happens."""
    total = sum(edge.total_wait_s for edge in edges)
    waiting = [edge for edge in edges if edge.total_wait_s > 0]
    ranked = sorted(waiting, key=lambda edge: (-edge.total_wait_s, edge.source, edge.target))
    return [Bottleneck(edge.source, edge.target, edge.total_wait_s, edge.mean_wait_s or 0.0, edge.total_wait_s / total)
            for edge in ranked]


def _rework(frame: pd.DataFrame) -> list[ReworkLoop]:
    """States entered more than once by the same object, set-based: one count per (object, state)."""
    entries = frame.groupby([CASE, ACTIVITY], sort=False).size()
    extra = entries[entries > 1] - 1
    if extra.empty:
        return []
    by_state = extra.groupby(level=ACTIVITY).agg(["size", "sum"])
    loops = [ReworkLoop(str(state), int(row["size"]), int(row["sum"])) for state, row in by_state.iterrows()]
    return sorted(loops, key=lambda loop: (-loop.cases, -loop.repeats, loop.activity))


_OPERATORS = {"->": "sequence", "X": "choice", "+": "parallel", "*": "loop", "O": "or", "<>": "interleaving"}


def _tree(node: Any) -> dict[str, Any]:
    """A pm4py process tree as nested dicts: {"activity": name}, {"silent": true} or {"operator", "children"}.
    A loop's first child is its body, the second the redo part."""
    if node.operator is None:
        return {"activity": str(node.label)} if node.label is not None else {"silent": True}
    operator = _OPERATORS.get(str(node.operator.value), str(node.operator.value))
    return {"operator": operator, "children": [_tree(child) for child in node.children]}
