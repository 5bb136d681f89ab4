"""Conformance of the paths objects really took against their declared state machine.

The machine (``domain.states``) becomes a Petri net: one place per state, a source place with one transition
into each entry state (the initial one, and any a machine declares for objects that arrive part-way, such as an
imported 837's submitted claims), one transition per declared move (labelled with the state it enters, as the
mined log's activities are), and from every state a silent transition to a sink place, since an object may rightly be
anywhere in its life when the log is read. pm4py's token-based replay then measures each path's fitness
(produced, consumed, missing and remaining tokens). Moves the machine does not declare are also counted straight
from the log's (from_state, to_state) pairs.

An object whose first event in the mined window left some state other than "new" (its earlier history falls
before the window) is replayed from that state's place, not from the source.

pm4py is AGPL-3.0: it is imported only here, in ``process_mining`` and in ``ocel_export``, lazily.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from rcmflow.domain.states import StateMachine

# pm4py's standard column names: format_dataframe keeps them as they are.
CASE = "case:concept:name"
ACTIVITY = "concept:name"
TIMESTAMP = "time:timestamp"
NEW = "(new)"  # the "from" of an object's first event, in illegal moves


@dataclass(frozen=True)
class Conformance:
    """How well the mined paths fit the declared machine: token-replay fitness (1.0: every path was allowed),
    how many cases fit entirely, and the undeclared moves seen in the log, most frequent first."""

    cases: int
    fitting_cases: int
    fitness: float
    illegal_moves: list[tuple[str, str, int]]


def pm4py_module() -> ModuleType:
    """pm4py, imported on first use: over a second of import time that most commands never need to pay.

    Nothing of pm4py may reach a command's output. Its welcome banner prints only when ``__main__`` imports it
    directly, never through this function. Its progress bars (tqdm, on stderr) are off unless
    PM4PY_SHOW_PROGRESS_BAR says otherwise, and each call here also turns them off. Its warnings (and those
    pandas attributes to pm4py's frames) are about its own input checks, which the frames rcmflow builds always
    pass, so they are ignored, but only those issued from pm4py's modules: every other warning still shows.
    """
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "False")  # read once, when pm4py is first imported
    warnings.filterwarnings("ignore", module=r"pm4py(\.|$)")
    import pm4py

    return pm4py


def check_conformance(frame: pd.DataFrame, state_machine: StateMachine) -> Conformance:
    """Replay each distinct path once (weighted by how many cases took it) on the machine's Petri net.

    pm4py's replay of the mined frame itself would first turn every case into Python trace objects (seconds for
    50,000 cases); the distinct paths are found set-based here and pm4py replays one case per path."""
    if frame.empty:
        return Conformance(0, 0, 1.0, [])
    variants = _variants(frame)
    net, places, source, sink = _petri_net(state_machine)
    totals = {"missing": 0, "consumed": 0, "remaining": 0, "produced": 0}
    fitting = 0
    for entry, group in variants.groupby("entry", sort=True):
        start = places.get(entry, source)  # a case the window opened mid-way starts where it then was
        for row in _replay(net, {start: 1}, {sink: 1}, group).itertuples(index=False):
            for key in totals:
                totals[key] += int(getattr(row, key)) * int(row.cases)
            fitting += int(row.cases) if bool(row.is_fit) else 0
    fitness = 1.0
    if totals["consumed"] and totals["produced"]:  # pm4py's log fitness, over every case
        fitness = (0.5 * (1 - totals["missing"] / totals["consumed"])
                   + 0.5 * (1 - totals["remaining"] / totals["produced"]))
    return Conformance(int(variants["cases"].sum()), fitting, fitness, illegal_moves(frame, state_machine))


def _variants(frame: pd.DataFrame) -> pd.DataFrame:
    """Distinct (entry state, path) pairs and how many cases took each. Each case's path is one bytes key (two
    bytes per state code) sliced from one buffer: Python runs once per case, never per event."""
    codes, states = pd.factorize(frame[ACTIVITY])
    cases = frame[CASE].to_numpy()
    starts = np.flatnonzero(np.r_[True, cases[1:] != cases[:-1]])  # frame is ordered by case, then time
    ends = np.r_[starts[1:], len(frame)]
    buffer = codes.astype("<u2").tobytes()
    keys = pd.DataFrame({"entry": frame["from_state"].to_numpy()[starts],
                         "key": [buffer[2 * start:2 * end] for start, end in zip(starts, ends, strict=True)]})
    counted = keys.fillna({"entry": NEW}).value_counts(sort=False).reset_index(name="cases")
    names = np.asarray(states, dtype=object)
    counted["path"] = [tuple(names[np.frombuffer(key, dtype="<u2")]) for key in counted.pop("key")]
    return counted


def illegal_moves(frame: pd.DataFrame, state_machine: StateMachine) -> list[tuple[str, str, int]]:
    """(from, to, count) of every logged move the machine does not declare; a first event entering anything but
    an entry state (the initial state, or one a machine declares for objects that arrive part-way) counts as a
    move from "(new)"."""
    moves = frame.groupby([frame["from_state"].fillna(NEW), ACTIVITY], sort=False).size()
    found = []
    for (source, target), count in moves.items():
        allowed = target in state_machine.entry_states if source == NEW else state_machine.allows(source, target)
        if not allowed:
            found.append((str(source), str(target), int(count)))
    return sorted(found, key=lambda move: (-move[2], move[0], move[1]))


def _petri_net(state_machine: StateMachine) -> tuple[Any, dict[str, Any], Any, Any]:
    from pm4py.objects.petri_net.obj import PetriNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    net = PetriNet(f"{state_machine.object_type} state machine")
    places = {state: PetriNet.Place(state) for state in sorted(state_machine.states)}
    source, sink = PetriNet.Place("(source)"), PetriNet.Place("(sink)")
    net.places.update([*places.values(), source, sink])

    def move(name: str, label: str | None, before: Any, after: Any) -> None:
        transition = PetriNet.Transition(name, label)
        net.transitions.add(transition)
        add_arc_from_to(before, transition, net)
        add_arc_from_to(transition, after, net)

    for entry in sorted(state_machine.entry_states):
        move(f"{NEW} -> {entry}", entry, source, places[entry])
    for before, after in sorted(state_machine.transitions):
        move(f"{before} -> {after}", after, places[before], places[after])
    for state, place in places.items():
        move(f"{state} -> (end)", None, place, sink)  # silent: a case may stop in any state
    return net, places, source, sink


def _replay(net: Any, initial: dict[Any, int], final: dict[Any, int], variants: pd.DataFrame) -> pd.DataFrame:
    """Token-based replay of one path per row of ``variants``; the rows again with is_fit and token counts."""
    from pm4py.objects.petri_net.obj import Marking

    pm4py = pm4py_module()
    ids = [f"{number:09d}" for number in range(len(variants))]
    events = [(case, activity, position) for case, path in zip(ids, variants["path"], strict=True)
              for position, activity in enumerate(path)]
    log = pd.DataFrame(events, columns=[CASE, ACTIVITY, "position"])
    # Only the order matters to the replay: one second per step keeps each path in its logged order.
    log[TIMESTAMP] = pd.Timestamp(0, tz="UTC") + pd.to_timedelta(log.pop("position"), unit="s")
    log = pm4py.format_dataframe(log, case_id=CASE, activity_key=ACTIVITY, timestamp_key=TIMESTAMP)
    diagnostics = pm4py.conformance_diagnostics_token_based_replay(
        log, net, Marking(initial), Marking(final), return_diagnostics_dataframe=True,
        opt_parameters={"show_progress_bar": False})
    replayed = diagnostics.set_index("case_id").reindex(ids)
    result = variants.reset_index(drop=True)
    for key in ("is_fit", "missing", "consumed", "remaining", "produced"):
        result[key] = replayed[key].to_numpy()
    return result
