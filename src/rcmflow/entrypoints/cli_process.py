"""``rcmflow report process``: the mined process of one object type, from the event log.

Bottlenecks (where the waiting time goes), rework loops (states entered again), conformance against the declared
state machine (fitness, moves it does not allow); ``--json`` prints the whole mining result, process map and
discovered model included. docs/process-mining.md explains how to read them.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _engine() -> Any:
    from rcmflow.entrypoints.cli import _engine as engine  # at call time: cli.py imports the report commands

    return engine()


def duration(seconds: float | None) -> str:
    """Seconds as the largest units that matter: 3d 4h, 5h 10m, 42s."""
    if seconds is None:
        return ""
    whole = int(round(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days >= 10:
        return f"{days}d"
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def process_command(
    object_type: Annotated[str, typer.Option("--object-type", help="claim, remittance, claim payment, bank deposit, "
                                             "work item, supplier invoice...")] = "claim",
    days: Annotated[int | None, typer.Option("--days", min=1, help="Only the last N days of events "
                                             "[default: all].", show_default=False)] = None,
    max_cases: Annotated[int, typer.Option("--max-cases", min=1, help="At most this many objects, the most "
                                           "recently active first.")] = 50_000,
    facility: Annotated[list[str] | None, typer.Option("--facility", help="Only this facility (repeatable) "
                                                       "[default: every facility].", show_default=False)] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows per table.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as one JSON object.")] = False,
) -> None:
    """Bottlenecks, rework loops and conformance of one object type's process, mined from the event log."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.domain.states import MACHINES
    from rcmflow.services.process_mining import mine_process

    if object_type not in MACHINES:
        raise typer.BadParameter(f"{object_type!r} has no declared state machine; one of: "
                                 f"{', '.join(sorted(MACHINES))}", param_hint="--object-type")
    since = utc_now() - timedelta(days=days) if days else None
    with _engine().connect() as conn:
        mined = mine_process(conn, object_type=object_type, since=since, max_cases=max_cases,
                             facilities=tuple(facility) if facility else None)
    if as_json:
        sys.stdout.write(json.dumps(mined.to_dict()) + "\n")
        return
    _print(mined, top)


def _print(mined: Any, top: int) -> None:
    if not mined.cases:
        console.print(f"no {mined.object_type} events in the event log for this window")
        return
    first, last = (moment.strftime("%Y-%m-%d %H:%M") for moment in (mined.window_start, mined.window_end))
    cut = f" (the {mined.cases} most recently active; older ones left out)" if mined.truncated else ""
    console.print(f"[bold]{mined.object_type}[/bold]: {mined.cases} cases{cut}, {mined.events} events, "
                  f"{first} to {last} UTC", highlight=False)

    bottlenecks = Table("from", "to", "times", "mean wait", "median wait", "total wait", "share",
                        title="Bottlenecks: where the waiting time goes")
    edges = {(edge.source, edge.target): edge for edge in mined.edges}
    for item in mined.bottlenecks[:top]:
        edge = edges[(item.source, item.target)]
        bottlenecks.add_row(item.source, item.target, str(edge.count), duration(item.mean_wait_s),
                            duration(edge.median_wait_s), duration(item.total_wait_s), f"{item.share:.1%}")
    console.print(bottlenecks)

    rework = Table("state entered again", "cases", "extra entries", title="Rework loops")
    for loop in mined.rework[:top]:
        rework.add_row(loop.activity, str(loop.cases), str(loop.repeats))
    console.print(rework if mined.rework else "[green]no rework: no object entered a state twice[/green]")

    conformance = mined.conformance
    style = "green" if conformance.fitness == 1.0 else "yellow"
    console.print(f"Conformance to the declared {mined.object_type} state machine: fitness "
                  f"[{style}]{conformance.fitness:.3f}[/{style}], {conformance.fitting_cases} of {conformance.cases} "
                  "cases fit entirely", highlight=False)
    if conformance.illegal_moves:
        illegal = Table("from", "to", "times", title="Moves the state machine does not allow")
        for source, target, count in conformance.illegal_moves[:top]:
            illegal.add_row(source, target, str(count))
        console.print(illegal)
