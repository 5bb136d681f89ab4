"""``rcmflow worker`` and ``rcmflow outbox status|replay``: background work and external deliveries."""

from __future__ import annotations

import getpass
import importlib
import json
import signal
import sys
from datetime import timedelta
from typing import Annotated, Any

import typer

outbox_app = typer.Typer(help="The transactional outbox: external deliveries, dead letters, replay.",
                         no_args_is_help=True)


def _cli() -> Any:
    # Imported late: cli.py imports this module to register the commands.
    from rcmflow.entrypoints import cli

    return cli


def worker(
    concurrency: Annotated[int, typer.Option(help="Claiming loops (threads) in this process.", min=1, max=64)] = 1,
    batch: Annotated[int, typer.Option(help="Jobs claimed per batch.", min=1, max=10_000)] = 100,
    once: Annotated[bool, typer.Option("--once", help="One pass (due schedules, one batch), then exit.")] = False,
    lease: Annotated[float, typer.Option(help="Seconds a claimed job is held without a heartbeat.", min=0.5)] = 30.0,
    poll: Annotated[float, typer.Option(help="Seconds to wait when there is nothing to do.", min=0.01)] = 1.0,
    relay_concurrency: Annotated[int, typer.Option(help="Parallel outbox deliveries.", min=1, max=256)] = 8,
    imports: Annotated[list[str] | None, typer.Option(
        "--import", help="Module that registers job kinds (repeatable).", show_default=False)] = None,
) -> None:
    """Claim and run background jobs and periodic schedules (outbox relay, SLA escalation) until SIGTERM."""
    from rcmflow.services.destinations import configured_handlers
    from rcmflow.services.outbox import Relay
    from rcmflow.services.worker import JOB_KINDS, Worker, WorkerConfig, default_schedules, default_worker_name

    cli = _cli()
    for module in imports or ():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise cli.UserFacingError(f"--import {module}: {exc}") from exc
    settings = cli.get_settings()
    from rcmflow.services.policies import check_policies

    check_policies()  # a bad policy file stops the worker here, before it claims anything
    engine = cli._engine(settings)
    config = WorkerConfig(batch=batch, lease=timedelta(seconds=lease), poll_interval=poll, concurrency=concurrency)
    handlers = configured_handlers(engine, settings)
    name = default_worker_name()
    relay = Relay(engine, handlers, worker_id=f"{name}:relay", concurrency=relay_concurrency)
    try:
        runner = Worker(engine, registry=JOB_KINDS, schedules=default_schedules(relay), config=config, name=name)
        if once:
            result = runner.run_once()
            cli.console.print(f"claimed {result.claimed}, done {result.done}, retried {result.retried}, "
                              f"failed {result.failed}, dead {result.dead}; "
                              f"schedules run: {', '.join(result.schedules) or 'none'}")
            return
        previous = {sig: signal.signal(sig, lambda *_: runner.stop()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            runner.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        relay.close()
        handlers.close()


@outbox_app.command("status")
def outbox_status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per destination: messages by status, the oldest undelivered message's age, the last error."""
    from rich.table import Table

    from rcmflow.services.outbox import outbox_status
    from rcmflow.services.webhooks import subscription_id_of

    cli = _cli()
    settings = cli.get_settings()
    with cli._engine(settings).connect() as conn:
        rows = outbox_status(conn)
    # Subscription destinations (webhook:<id>) are handled by the subscription resolver, not by settings.
    configured = set(settings.outbox_webhooks) | {
        r.destination for r in rows if subscription_id_of(r.destination) is not None}
    if as_json:
        sys.stdout.write(json.dumps([{
            "destination": r.destination, "counts": dict(r.counts), "handler": r.destination in configured,
            "oldest_undelivered_at": r.oldest_undelivered_at.isoformat() if r.oldest_undelivered_at else None,
            "lag_seconds": r.lag.total_seconds() if r.lag is not None else None,
            "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
            "last_error": r.last_error} for r in rows]) + "\n")
        return
    if not rows:
        cli.console.print("the outbox is empty")
        return
    table = Table(show_header=True, header_style="bold")
    table.add_column("destination", no_wrap=True)
    table.add_column("handler", no_wrap=True)
    for column in ("pending", "in flight", "failed", "dead", "delivered", "lag"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in rows:
        c = r.counts
        table.add_row(r.destination, "webhook" if r.destination in configured else "[red]none[/red]",
                      *(str(c.get(s, 0)) for s in ("pending", "in_flight", "failed")),
                      f"[red]{c['dead']}[/red]" if c.get("dead") else "0", str(c.get("delivered", 0)), _age(r.lag))
    cli.console.print(table)
    for r in rows:
        if r.last_error and r.undelivered + r.counts.get("dead", 0):
            cli.console.print(f"[bold]{r.destination}[/bold] last error: {r.last_error}", highlight=False)


def _age(lag: timedelta | None) -> str:
    if lag is None:
        return ""
    seconds = int(lag.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@outbox_app.command("replay")
def outbox_replay_command(
    ids: Annotated[list[int] | None, typer.Option("--id", help="Message id (repeatable).", show_default=False)] = None,
    destination: Annotated[str | None, typer.Option(help="Only this destination.", show_default=False)] = None,
    dead: Annotated[bool, typer.Option("--dead/--failing", help="Only dead messages (default), or failed ones "
                                       "waiting for a retry too.")] = True,
    actor: Annotated[str | None, typer.Option(help="Who replays [default: user:<login>].",
                                              show_default=False)] = None,
) -> None:
    """Send dead messages again (after fixing the cause): pending, attempts reset, logged as events."""
    from rcmflow.services.outbox import replay

    cli = _cli()
    with cli._engine().begin() as conn:
        replayed = replay(conn, ids=ids or None, destination=destination, dead_only=dead,
                          actor=actor or f"user:{getpass.getuser()}")
    if not replayed:
        cli.console.print("nothing to replay")
        return
    cli.console.print(f"replayed {len(replayed)} message(s): {', '.join(map(str, replayed[:20]))}"
                      f"{' ...' if len(replayed) > 20 else ''}")
