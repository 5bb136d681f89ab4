"""The process map drawn as SVG on the server: states in columns by their distance from the machine's
initial state (the declared state machine gives a stable, readable order; graphviz, which pm4py's own
drawings need, is a system binary a fresh machine lacks), edges as curves whose width is the frequency and
whose colour is the median wait. Backward edges (rework) arc below the columns."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from rcmflow.domain.states import MACHINES

COLUMN_WIDTH, ROW_HEIGHT, NODE_WIDTH, NODE_HEIGHT, MARGIN = 170, 70, 130, 40, 30
# Median wait -> colour, from quick to slow (hours): blue, teal, amber, vermilion.
WAIT_COLOURS = ((1, "#0072B2"), (24, "#009E73"), (24 * 7, "#E69F00"), (math.inf, "#D55E00"))


@dataclass(frozen=True)
class PlacedNode:
    name: str
    count: int
    x: float
    y: float


@dataclass(frozen=True)
class PlacedEdge:
    source: str
    target: str
    count: int
    median_wait_s: float | None
    path: str
    width: float
    colour: str
    label_x: float
    label_y: float
    backward: bool


def _depths(object_type: str, names: list[str]) -> dict[str, int]:
    """Breadth-first distance from the machine's initial state; states the machine lacks go last."""
    machine = MACHINES.get(object_type)
    depth: dict[str, int] = {}
    if machine is not None:
        depth[machine.initial] = 0
        queue = deque([machine.initial])
        while queue:
            state = queue.popleft()
            for source, target in sorted(machine.transitions):
                if source == state and target not in depth:
                    depth[target] = depth[state] + 1
                    queue.append(target)
    last = max(depth.values(), default=-1) + 1
    if machine is not None:  # end states (voided, reversed...) in the last column, after the flow they end
        for state in machine.terminal:
            depth[state] = last
    return {name: depth.get(name, last + 1) for name in names}


def _colour(wait_s: float | None) -> str:
    if wait_s is None:
        return "#7f7f7f"
    hours = wait_s / 3600
    return next(colour for limit, colour in WAIT_COLOURS if hours <= limit)


def layout(mining: Any) -> dict[str, Any]:
    """Node positions and edge paths for ``templates/process.html``."""
    names = [node.name for node in mining.nodes]
    depth = _depths(mining.object_type, names)
    columns: dict[int, list[Any]] = {}
    for node in sorted(mining.nodes, key=lambda n: (-n.count, n.name)):
        columns.setdefault(depth[node.name], []).append(node)
    placed: dict[str, PlacedNode] = {}
    for column, nodes in sorted(columns.items()):
        for row, node in enumerate(nodes):
            placed[node.name] = PlacedNode(node.name, node.count, MARGIN + column * COLUMN_WIDTH,
                                           MARGIN + row * ROW_HEIGHT)
    height = MARGIN * 2 + max((len(nodes) for nodes in columns.values()), default=1) * ROW_HEIGHT
    width = MARGIN * 2 + (max(columns, default=0) + 1) * COLUMN_WIDTH
    top = max((edge.count for edge in mining.edges), default=1)
    edges = []
    for edge in mining.edges:
        if edge.source not in placed or edge.target not in placed:
            continue
        a, b = placed[edge.source], placed[edge.target]
        stroke = 1.5 + 6 * math.log1p(edge.count) / math.log1p(top)
        backward = b.x <= a.x and edge.source != edge.target
        if edge.source == edge.target:  # a self-loop: a small arc above the node
            x, y = a.x + NODE_WIDTH / 2, a.y
            path = f"M {x - 12} {y} C {x - 30} {y - 35}, {x + 30} {y - 35}, {x + 12} {y}"
            label = (x, y - 30)
        elif backward:  # rework: below the map, so forward flow stays readable
            x1, y1, x2, y2 = a.x + NODE_WIDTH / 2, a.y + NODE_HEIGHT, b.x + NODE_WIDTH / 2, b.y + NODE_HEIGHT
            dip = max(y1, y2) + 40 + abs(x1 - x2) / 6
            path = f"M {x1} {y1} C {x1} {dip}, {x2} {dip}, {x2} {y2}"
            label = ((x1 + x2) / 2, dip - 8)
            height = max(height, dip + MARGIN)
        else:
            x1, y1, x2, y2 = a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2, b.x, b.y + NODE_HEIGHT / 2
            bend = (x2 - x1) / 2
            path = f"M {x1} {y1} C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2} {y2}"
            label = ((x1 + x2) / 2, (y1 + y2) / 2 - 4)
        edges.append(PlacedEdge(edge.source, edge.target, edge.count, edge.median_wait_s, path, stroke,
                                _colour(edge.median_wait_s), label[0], label[1], backward))
    return {"nodes": list(placed.values()), "edges": edges, "width": width, "height": height,
            "node_width": NODE_WIDTH, "node_height": NODE_HEIGHT, "legend": WAIT_COLOURS}
