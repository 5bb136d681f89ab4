"""``rcmflow queues`` and ``rcmflow work list|show|assign|resolve|escalate``: the human work queues.

Times are shown in the business calendar's time zone (the one SLAs are counted in). Actions are logged
as ``user:<name>``, the OS user unless ``--as`` says otherwise.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from rcmflow.services.audit import record_action

work_app = typer.Typer(help="Work items: exceptions, reviews and approvals waiting for a person.",
                       no_args_is_help=True)

IdsArg = Annotated[list[int], typer.Argument(help="Work item ids.", show_default=False)]
AsOption = Annotated[str | None, typer.Option("--as", help="Who acts [default: the OS user].", show_default=False)]


def _cli() -> Any:
    # Imported late: cli.py imports this module to register the commands.
    from rcmflow.entrypoints import cli

    return cli


def _actor(name: str | None) -> str:
    return f"user:{name or getpass.getuser()}"


def _when(moment: datetime | None, zone: Any) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def _age(age: timedelta | None) -> str:
    if age is None:
        return ""
    minutes = max(int(age.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours}h" if days else f"{hours}h {minutes:02d}m"


def _sla(duration: Any) -> str:
    if duration.business_hours is not None:
        return f"{duration.business_hours:g}h"
    return f"{duration.business_days:g}d"


def queues() -> None:
    """Per queue: active items, overdue items, the oldest one's age, and the backlog by priority."""
    from rich.table import Table

    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.policies import configured_queue_policies
    from rcmflow.services.work_items import queue_summary

    cli = _cli()
    policies = configured_queue_policies()
    now = utc_now()
    with cli._engine().connect() as conn:
        summaries = queue_summary(conn, now, queues=policies.queues)
    table = Table("queue", "open", "overdue", "oldest", "P1", "P2", "P3+", "SLA",
                  title=f"Work queues (policies {policies.version}; SLA in business days d or hours h)")
    for summary in summaries:
        policy = policies.queues.get(summary.queue)
        overdue = f"[red]{summary.overdue}[/red]" if summary.overdue else "0"
        rest = sum(count for priority, count in summary.by_priority.items() if priority >= 3)
        table.add_row(summary.queue, str(summary.open), overdue, _age(summary.oldest_age),
                      str(summary.by_priority.get(1, 0)), str(summary.by_priority.get(2, 0)), str(rest),
                      _sla(policy.sla) if policy else "[dim]no policy[/dim]")
    cli.console.print(table)


@work_app.command("list")
def work_list(
    queue: Annotated[str | None, typer.Option(help="Only this queue.")] = None,
    state: Annotated[str, typer.Option(help="A state, 'active' (open, in_progress, waiting, escalated) or 'all'.")
                     ] = "active",
    owner: Annotated[str | None, typer.Option(help="Only items owned by this user.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only active items past their due time.")] = False,
    limit: Annotated[int, typer.Option(help="How many, by id.", min=1, max=10_000)] = 50,
    after: Annotated[int | None, typer.Option(help="Page: items after this id.")] = None,
) -> None:
    """List work items, oldest first."""
    from rich.table import Table

    from rcmflow.adapters.store.schema import WORK_ITEM_ACTIVE_STATES, utc_now
    from rcmflow.services.policies import configured_queue_policies
    from rcmflow.services.work_items import list_items

    cli = _cli()
    zone = configured_queue_policies().business_calendar.zone
    now = utc_now()
    states: Any = {"active": WORK_ITEM_ACTIVE_STATES, "all": None}.get(state, state)
    with cli._engine().connect() as conn:
        items = list_items(conn, queue=queue, state=states, owner=owner, overdue_at=now if overdue else None,
                           limit=limit, after_id=after)
    table = Table("id", "queue", "state", "P", "owner / role", "due", "title")
    for item in items:
        due = _when(item.due_at, zone)
        table.add_row(str(item.id), item.queue, item.state, str(item.priority), item.owner or f"({item.role})",
                      f"[red]{due}[/red]" if item.overdue(now) else due, item.title)
    cli.console.print(table)
    if len(items) == limit:
        cli.console.print(f"[dim]more may follow: --after {items[-1].id}[/dim]")


@work_app.command("show")
def work_show(item_id: Annotated[int, typer.Argument(help="Work item id.", show_default=False)]) -> None:
    """Show one item: its fields, links, notes, and its history from the event log."""
    from rich.table import Table

    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.events import events_for
    from rcmflow.services.policies import configured_queue_policies
    from rcmflow.services.work_items import OBJECT_TYPE, get_item, links_of, notes_of

    cli = _cli()
    zone = configured_queue_policies().business_calendar.zone
    with cli._engine().connect() as conn:
        item = get_item(conn, item_id)
        links, notes = links_of(conn, item_id), notes_of(conn, item_id)
        events = events_for(conn, OBJECT_TYPE, str(item_id))
    late = " [red](overdue)[/red]" if item.overdue(utc_now()) else ""
    fields = [
        ("title", item.title), ("queue", f"{item.queue} / {item.item_type}"), ("state", item.state),
        ("priority", str(item.priority)), ("owner", item.owner or "-"), ("role", item.role or "-"),
        ("object", f"{item.object_type} {item.object_id}"), ("created", _when(item.created_at, zone)),
        ("due", _when(item.due_at, zone) + late), ("escalation level", str(item.escalation_level)),
    ]
    if item.resolved_at is not None:
        fields.append(("resolved", f"{_when(item.resolved_at, zone)} ({item.resolution_code})"))
    if item.reopened:
        fields.append(("reopened", f"{item.reopened} time(s)"))
    if item.details:
        fields.append(("details", json.dumps(item.details, sort_keys=True, default=str)))
    cli.console.print(f"[bold]work item {item.id}[/bold]")
    for name, value in fields:
        cli.console.print(f"  {name:>16}: {value}", highlight=False)
    if links:
        cli.console.print("  [bold]linked[/bold]: " + ", ".join(f"{kind} {key}" for kind, key in links))
    for note in notes:
        cli.console.print(f"  [bold]note[/bold] {_when(note.created_at, zone)} {note.author}: {note.text}",
                          highlight=False)
    history = Table("when", "from", "to", "activity", "actor", "reason", title="history")
    for event in events:
        history.add_row(_when(event.occurred_at, zone), event.from_state or "", event.to_state, event.activity,
                        event.actor, event.reason or "")
    cli.console.print(history)


@work_app.command("assign")
def work_assign(
    ids: IdsArg,
    to: Annotated[str, typer.Option("--to", help="The user who will own the items.")],
    as_user: AsOption = None,
) -> None:
    """Give active items to a user (their state does not change)."""
    from rcmflow.services.work_items import bulk_assign

    cli = _cli()
    with cli._engine().begin() as conn:
        result = bulk_assign(conn, ids, to, _actor(as_user))
        record_action(conn, _actor(as_user), "assign work item", "work item", list(result.moved))
    cli.console.print(f"assigned {len(result.moved)} item(s) to {to}")
    _report_not_moved(result.not_moved, "not assigned")


@work_app.command("resolve")
def work_resolve(
    ids: IdsArg,
    code: Annotated[str, typer.Option("--code", help="Resolution code.")],
    note: Annotated[str | None, typer.Option("--note", help="A note to add to each resolved item.")] = None,
    as_user: AsOption = None,
) -> None:
    """Resolve active items with a resolution code."""
    from rcmflow.services.work_items import bulk_resolve

    cli = _cli()
    with cli._engine().begin() as conn:
        result = bulk_resolve(conn, ids, code, actor=_actor(as_user), note=note)
        record_action(conn, _actor(as_user), "resolve work item", "work item", list(result.moved))
    cli.console.print(f"resolved {len(result.moved)} item(s) as {code}")
    _report_not_moved(result.not_moved, "not resolved")


@work_app.command("escalate")
def work_escalate(as_user: AsOption = None) -> None:
    """Run SLA escalation now (the worker runs it on a schedule)."""
    from rcmflow.services.escalation import escalate_overdue
    from rcmflow.services.policies import configured_queue_policies

    cli = _cli()
    actor = _actor(as_user) if as_user else "job:sla-escalation"
    with cli._engine().begin() as conn:
        result = escalate_overdue(conn, configured_queue_policies(), actor=actor)
    by_queue = ", ".join(f"{queue} {count}" for queue, count in sorted(result.by_queue.items()))
    cli.console.print(f"escalated {result.escalated} item(s){': ' + by_queue if by_queue else ''}; "
                      f"{result.notifications} notification(s) queued")


def _report_not_moved(ids: tuple[Any, ...], what: str) -> None:
    if ids:
        _cli().err_console.print(f"[yellow]{what}[/yellow] (closed or not found): {', '.join(map(str, ids))}",
                                 highlight=False)
        raise typer.Exit(1)
