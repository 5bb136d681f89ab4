"""``rcmflow export ocel OUT``: the event log as an OCEL 2.0 file for process-mining tools.

The format follows OUT's extension: .jsonocel/.json (OCEL 2.0 JSON), .sqlite (OCEL 2.0 SQLite), .xmlocel/.xml
(OCEL 2.0 XML). docs/process-mining.md describes the object types and relations.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

export_app = typer.Typer(help="Export data for other tools.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="Events at or after this ISO date (midnight UTC) or date-time with a time zone.",
    show_default=False)]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", help="Events before this ISO date (midnight UTC) or date-time with a time zone.", show_default=False)]


def _engine() -> Any:
    from rcmflow.entrypoints.cli import _engine as engine  # at call time: cli.py imports this module

    return engine()


def moment(text: str | None, option: str) -> datetime | None:
    """An ISO date (its midnight UTC) or an ISO date-time with a time zone, for ``option``."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date or date-time", param_hint=option) from None
    if value.utcoffset() is None:
        raise typer.BadParameter(f"{text!r} has no time zone: add Z or an offset such as +00:00", param_hint=option)
    return value


def _size(path: Path) -> str:
    size = float(path.stat().st_size)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


@export_app.command("ocel")
def export_ocel_command(
    out: Annotated[Path, typer.Argument(help="Output file: .jsonocel/.json, .sqlite or .xmlocel/.xml.",
                                        show_default=False)],
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Write the event log (objects, events, event-object and object-object relations) as OCEL 2.0."""
    from rcmflow.services.ocel_export import export_ocel, ocel_format

    kind = ocel_format(out)  # a wrong extension fails before any work
    start, end = moment(since, "--since"), moment(until, "--until")
    if start is not None and end is not None and end <= start:
        raise typer.BadParameter("--until must be after --since", param_hint="--until")
    began = time.perf_counter()
    with err_console.status(f"exporting the event log to {out} (OCEL 2.0 {kind})"), _engine().connect() as conn:
        summary = export_ocel(conn, out, since=start, until=end)
    elapsed = time.perf_counter() - began
    table = Table(title=f"OCEL 2.0 {kind}: {out}")
    table.add_column("")
    table.add_column("count", justify="right")
    for object_type, count in summary.objects_by_type.items():
        table.add_row(f"objects: {object_type}", str(count))
    table.add_row("[bold]objects[/bold]", f"[bold]{sum(summary.objects_by_type.values())}[/bold]")
    table.add_row("events", str(summary.events))
    table.add_row("event-object relations", str(summary.relations))
    table.add_row("object-object relations", str(summary.object_relations))
    console.print(table)
    console.print(f"{_size(out)} written in {elapsed:.1f} s", highlight=False)
