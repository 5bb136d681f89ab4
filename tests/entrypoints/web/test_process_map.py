"""The process map's drawing: every forward move goes to a column on the right, a move back to an earlier
state is drawn as rework, and a state's box is sized by nothing but its place."""

from __future__ import annotations

from types import SimpleNamespace

from rcmflow.entrypoints.web.process_map import layout
from rcmflow.services.process_mining import Edge, Node


def _mining(edges: list[tuple[str, str, int]]) -> SimpleNamespace:
    names = sorted({name for source, target, _ in edges for name in (source, target)})
    return SimpleNamespace(
        object_type="claim", nodes=[Node(name, 1) for name in names], start_activities={"registered": 3},
        edges=[Edge(source, target, count, 3600.0, 3600.0, 3600.0 * count) for source, target, count in edges])


def test_forward_moves_go_right_and_a_move_back_is_rework() -> None:
    drawing = layout(_mining([
        ("registered", "coded", 3), ("coded", "scrubbed", 3), ("scrubbed", "ready", 2), ("ready", "submitted", 3),
        ("submitted", "accepted", 3), ("accepted", "paid", 2), ("accepted", "denied", 1),
        ("scrubbed", "coded", 1),  # a coder's correction: back to an earlier state
        ("denied", "paid", 1),  # an appeal won: forward, though paid is also reached directly
    ]))
    x = {node.name: node.x for node in drawing["nodes"]}
    for edge in drawing["edges"]:
        if edge.backward:
            assert (edge.source, edge.target) == ("scrubbed", "coded")
            assert x[edge.target] < x[edge.source]
        else:
            assert x[edge.target] > x[edge.source], (edge.source, edge.target)
    assert sum(edge.backward for edge in drawing["edges"]) == 1
    assert x["registered"] == min(x.values()) and x["paid"] == max(x.values())
