"""The process map drawn as SVG on the server (graphviz, which pm4py's own drawings need, is a system binary a
fresh machine lacks): states in columns by the longest observed path from where objects start, edges as
curves whose width is the frequency and whose colour is the median wait. Backward moves (rework) arc below
the columns."""

from __future__ import annotations

import math
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


def _layers(object_type: str, mining: Any) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Columns by the longest observed path from where objects start, and the backward moves (rework).

    A depth-first walk from the start states along the observed moves, most frequent first, marks a move
    to a state still on the walk as backward; the rest form an acyclic graph whose longest paths give the
    columns, so every forward move goes right and no two states of one move share a column."""
    names = {node.name for node in mining.nodes}
    ranked = sorted(mining.edges, key=lambda e: (-e.count, e.source, e.target))
    following: dict[str, list[str]] = {name: [] for name in names}
    for edge in ranked:
        if edge.source in names and edge.target in names and edge.source != edge.target:
            following[edge.source].append(edge.target)
    machine = MACHINES.get(object_type)
    starts = sorted(mining.start_activities, key=lambda name: (-mining.start_activities[name], name))
    if machine is not None and machine.initial in names:
        starts = [machine.initial, *(name for name in starts if name != machine.initial)]
    roots = [name for name in starts if name in names] + sorted(names - set(starts))
    backward: set[tuple[str, str]] = set()
    finished: list[str] = []
    status: dict[str, int] = {}  # 1 on the walk, 2 done

    def walk(name: str) -> None:
        status[name] = 1
        for target in following[name]:
            if status.get(target) == 1:
                backward.add((name, target))
            elif target not in status:
                walk(target)
        status[name] = 2
        finished.append(name)

    for root in roots:
        if root not in status:
            walk(root)
    layer = dict.fromkeys(names, 0)
    for name in reversed(finished):  # a topological order of the forward moves
        for target in following[name]:
            if (name, target) not in backward:
                layer[target] = max(layer[target], layer[name] + 1)
    return layer, backward


def _colour(wait_s: float | None) -> str:
    if wait_s is None:
        return "#7f7f7f"
    hours = wait_s / 3600
    return next(colour for limit, colour in WAIT_COLOURS if hours <= limit)


def layout(mining: Any) -> dict[str, Any]:
    """Node positions and edge paths for ``templates/process.html``."""
    depth, backward_moves = _layers(mining.object_type, mining)
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
        backward = (edge.source, edge.target) in backward_moves
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
