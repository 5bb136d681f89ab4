"""``rcmflow webhooks add|list|remove|rotate-secret|event-types``: who receives signed event webhooks.

A secret is printed once, when a subscription is added or its secret rotated: it is not shown again.
Actions are recorded in the audit trail as ``user:<name>``, the OS user unless ``--as`` says otherwise.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated, Any

import typer

webhooks_app = typer.Typer(help="Webhook subscriptions: signed event notifications to your systems.",
                           no_args_is_help=True)

IdArg = Annotated[int, typer.Argument(help="Subscription id.", show_default=False)]
AsOpt = Annotated[str | None, typer.Option("--as", help="Who acts [default: the OS user].", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _cli() -> Any:
    # Imported late: cli.py imports this module to register the commands.
    from rcmflow.entrypoints import cli

    return cli


def _actor(name: str | None) -> str:
    name = name or getpass.getuser()
    return name if ":" in name else f"user:{name}"


def _json(subscription: Any) -> dict[str, Any]:
    return {"id": subscription.id, "url": subscription.url, "event_types": list(subscription.event_types),
            "active": subscription.active, "created_at": subscription.created_at.isoformat(),
            "created_by": subscription.created_by, "last_event_id": subscription.last_event_id,
            "destination": subscription.destination}


@webhooks_app.command("add")
def add_command(
    url: Annotated[str, typer.Argument(help="The receiver's http(s) URL.", show_default=False)],
    events: Annotated[list[str], typer.Option("--event", help="Event type, e.g. claim.denied, or '*' for all "
                                              "(repeatable).", show_default=False)],
    actor: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Subscribe URL to event types; print its id and its signing secret (shown only this once)."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.webhooks import create_subscription

    with _cli()._engine().begin() as conn:
        subscription, secret = create_subscription(conn, url=url, event_types=events, actor=_actor(actor),
                                                   now=utc_now())
    if as_json:
        sys.stdout.write(json.dumps({**_json(subscription), "secret": secret}) + "\n")
        return
    console = _cli().console
    console.print(f"webhook subscription {subscription.id}: {subscription.url} "
                  f"({', '.join(subscription.event_types)})", highlight=False)
    console.print(f"secret: {secret}", highlight=False, soft_wrap=True)
    console.print("[yellow]store the secret now: it is not shown again[/yellow]")


@webhooks_app.command("list")
def list_command(
    include_inactive: Annotated[bool, typer.Option("--all", help="Removed subscriptions too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Subscriptions: URL, event types, read position in the event log."""
    from rich.table import Table

    from rcmflow.services.webhooks import list_subscriptions

    cli = _cli()
    with cli._engine().connect() as conn:
        subscriptions = list_subscriptions(conn, include_inactive=include_inactive)
    if as_json:
        sys.stdout.write(json.dumps([_json(s) for s in subscriptions]) + "\n")
        return
    if not subscriptions:
        cli.console.print("no webhook subscriptions")
        return
    table = Table("id")
    table.add_column("event types", overflow="fold")  # folded, not cut: every type must stay readable
    for column in ("active", "last event", "created by"):
        table.add_column(column)
    table.add_column("url", no_wrap=True)  # last and unwrapped: a URL must stay copyable
    for s in subscriptions:
        table.add_row(str(s.id), ", ".join(s.event_types), "yes" if s.active else "no", str(s.last_event_id),
                      s.created_by, s.url)
    cli.console.print(table)


@webhooks_app.command("remove")
def remove_command(subscription_id: IdArg, actor: AsOpt = None) -> None:
    """Stop sending events to a subscription (deliveries still queued for it are dead-lettered)."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.webhooks import deactivate_subscription

    with _cli()._engine().begin() as conn:
        subscription = deactivate_subscription(conn, subscription_id, actor=_actor(actor), now=utc_now())
    _cli().console.print(f"webhook subscription {subscription.id} removed ({subscription.url})", highlight=False)


@webhooks_app.command("rotate-secret")
def rotate_secret_command(
    subscription_id: IdArg,
    overlap_hours: Annotated[float, typer.Option("--overlap-hours", min=0, help="Hours the old secret still "
                                                 "signs too, while the receiver switches.")] = 24.0,
    actor: AsOpt = None,
) -> None:
    """Give a subscription a new signing secret and print it (shown only this once)."""
    from datetime import timedelta

    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.webhooks import rotate_secret

    with _cli()._engine().begin() as conn:
        secret = rotate_secret(conn, subscription_id, actor=_actor(actor), now=utc_now(),
                               overlap=timedelta(hours=overlap_hours))
    console = _cli().console
    console.print(f"secret: {secret}", highlight=False, soft_wrap=True)
    if overlap_hours:
        console.print(f"the previous secret also signs requests for {overlap_hours:g} more hour(s)")
    console.print("[yellow]store the secret now: it is not shown again[/yellow]")


@webhooks_app.command("event-types")
def event_types_command(as_json: JsonOpt = False) -> None:
    """Every event type a subscription can name (or '*' for all of them)."""
    from rcmflow.services.webhooks import known_event_types

    names = known_event_types()
    sys.stdout.write((json.dumps(names) if as_json else "\n".join(names)) + "\n")
