"""Chart specifications for plotly.js (``static/app.js`` draws them): plain dicts, so no figure library runs
on the server. Every chart also carries its figures as rows for the table under it (screen readers, no JS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Colours that stay distinct for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


@dataclass
class Chart:
    """One chart: its id (the JSON block's), title, plotly spec, and the same figures as a table."""

    id: str
    title: str
    spec: dict[str, Any]
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    description: str = ""


def bar_chart(chart_id: str, title: str, categories: Sequence[str], series: dict[str, Sequence[float | int]],
              *, links: dict[str, Sequence[str]] | None = None, stacked: bool = False, y_title: str = "",
              description: str = "") -> Chart:
    """Bars per category for each series; ``links`` gives each bar's drill-down address."""
    data = []
    for index, (name, values) in enumerate(series.items()):
        trace: dict[str, Any] = {"type": "bar", "name": name, "x": list(categories), "y": list(values),
                                 "marker": {"color": PALETTE[index % len(PALETTE)]},
                                 "hovertemplate": "%{x}: %{y}<extra>" + name + "</extra>"}
        if links and name in links:
            trace["customdata"] = list(links[name])
        data.append(trace)
    layout = {"barmode": "stack" if stacked else "group", "showlegend": len(series) > 1,
              "legend": {"orientation": "h", "y": -0.35}, "xaxis": {"automargin": True, "tickangle": -30},
              "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"}}
    rows = [(category, *(values[i] for values in series.values())) for i, category in enumerate(categories)]
    return Chart(chart_id, title, {"data": data, "layout": layout}, ("", *series), rows, description)


def line_chart(chart_id: str, title: str, x: Sequence[str], series: dict[str, Sequence[float | int]],
               *, y_title: str = "", description: str = "") -> Chart:
    data = [{"type": "scatter", "mode": "lines+markers", "name": name, "x": list(x), "y": list(values),
             "line": {"color": PALETTE[index % len(PALETTE)], "width": 2}}
            for index, (name, values) in enumerate(series.items())]
    layout = {"showlegend": True, "legend": {"orientation": "h", "y": -0.2},
              "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"}}
    rows = [(label, *(values[i] for values in series.values())) for i, label in enumerate(x)]
    return Chart(chart_id, title, {"data": data, "layout": layout}, ("", *series), rows, description)


def sparkline(chart_id: str, points: Sequence[tuple[str, float | None]]) -> dict[str, Any]:
    """A tile's trend: a tiny static line without axes."""
    return {"static": True, "data": [{"type": "scatter", "mode": "lines", "x": [p[0] for p in points],
                                      "y": [p[1] for p in points], "line": {"color": PALETTE[0], "width": 2},
                                      "connectgaps": True}],
            "layout": {"margin": {"l": 0, "r": 0, "t": 2, "b": 2}, "height": 36, "showlegend": False,
                       "xaxis": {"visible": False}, "yaxis": {"visible": False}}}
