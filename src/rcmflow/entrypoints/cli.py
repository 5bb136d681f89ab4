"""The ``rcmflow`` command line: thin commands over the services, Rich output, no tracebacks.

Every failure a user can cause (a missing file, a bad setting, an unreachable database) ends in one
clear line on stderr and a non-zero exit status; ``x12 inspect`` keeps its documented contract.
"""

from __future__ import annotations

import enum
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rcmflow.entrypoints.cli_approvals import approvals_app
from rcmflow.entrypoints.cli_auth import auth_app
from rcmflow.entrypoints.cli_claims import claims_app
from rcmflow.entrypoints.cli_eligibility import eligibility_app
from rcmflow.entrypoints.cli_export import export_app
from rcmflow.entrypoints.cli_ingest import ingest, post_command
from rcmflow.entrypoints.cli_keys import keys_app
from rcmflow.entrypoints.cli_ledger import ledger_app
from rcmflow.entrypoints.cli_listen import listen_app
from rcmflow.entrypoints.cli_process import process_command
from rcmflow.entrypoints.cli_report import report_app
from rcmflow.entrypoints.cli_webhooks import webhooks_app
from rcmflow.entrypoints.cli_work import queues, work_app
from rcmflow.entrypoints.cli_worker import outbox_app, worker
from rcmflow.errors import RcmflowError
from rcmflow.log_config import configure_logging
from rcmflow.settings import Settings, get_settings, reset_settings

app = typer.Typer(help="rcmflow: revenue-cycle orchestration.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
x12_app = typer.Typer(help="Read, check and acknowledge X12 5010 files.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
documents_app = typer.Typer(help="The raw document store.", no_args_is_help=True)
app.add_typer(x12_app, name="x12")
app.add_typer(db_app, name="db")
app.add_typer(documents_app, name="documents")
app.add_typer(approvals_app, name="approvals")
app.add_typer(auth_app, name="auth")
app.add_typer(claims_app, name="claims")
app.add_typer(eligibility_app, name="eligibility")
app.add_typer(export_app, name="export")
app.add_typer(keys_app, name="keys")
app.add_typer(listen_app, name="listen")
app.add_typer(outbox_app, name="outbox")
app.command("worker")(worker)
app.add_typer(work_app, name="work")
app.add_typer(ledger_app, name="ledger")
app.add_typer(report_app, name="report")
report_app.command("process")(process_command)
app.add_typer(webhooks_app, name="webhooks")
app.command("queues")(queues)
app.command("ingest")(ingest)
app.command("post")(post_command)

console = Console()
err_console = Console(stderr=True)

FileArg = Annotated[Path, typer.Argument(help="An X12 file.", show_default=False)]


class UserFacingError(Exception):
    """A problem to report in one line, without a traceback."""


@app.callback()
def start(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False) -> None:
    """Validate settings and set up logging before any command."""
    settings = get_settings()
    level = "DEBUG" if verbose else settings.log_level
    configure_logging(level, settings.log_format)
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are set-up chatter


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise UserFacingError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise UserFacingError(f"{path}: is a directory, not a file") from exc
    except PermissionError as exc:
        raise UserFacingError(f"{path}: permission denied") from exc
    except OSError as exc:
        raise UserFacingError(f"{path}: cannot be read ({exc.strerror})") from exc


def _engine(settings: Settings | None = None) -> Any:
    from rcmflow.adapters.store.engine import get_engine
    from rcmflow.adapters.store.migrate import ensure_schema

    engine = get_engine(settings or get_settings())
    ensure_schema(engine)
    return engine


@x12_app.command("inspect")
def inspect(
    file: FileArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the documented contract).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Unknown segments and guide deviations are errors.")] = False,
) -> None:
    """Summarise an X12 file and list its located errors; exit 1 when there are errors."""
    from rcmflow.formats.x12.parser import parse
    from rcmflow.formats.x12.summary import document_summary

    summary = document_summary(str(file), parse(_read(file), strict=strict))
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        _print_summary(summary)
    raise typer.Exit(1 if summary["errors"] else 0)


def _print_summary(summary: dict[str, Any]) -> None:
    console.print(f"[bold]{summary['file']}[/bold]: {summary['interchanges']} interchange(s), "
                  f"{len(summary['transactions'])} transaction set(s)")
    if summary["transactions"]:
        table = Table(show_header=True, header_style="bold")
        for column in ("type", "control", "claims", "lines", "amount", "details"):
            table.add_column(column, justify="right" if column in ("claims", "lines", "amount") else "left")
        for tx in summary["transactions"]:
            amount = tx.get("payment_amount") or tx.get("total_charge") or ""
            details = []
            if tx["type"] == "835":
                details = [f"payer {tx.get('payer')}", f"{tx.get('payment_method')} {tx.get('trace_number')}",
                           f"PLB {tx.get('provider_adjustment_total')}",
                           "[green]balanced[/green]" if tx.get("balanced") else "[red]not balanced[/red]"]
            elif tx["type"] in ("837P", "837I"):
                details = [f"billing NPI {tx.get('billing_provider_npi')}"]
            else:
                details = [f"{key} {value}" for key, value in tx.items()
                           if key not in ("type", "control_number", "implementation", "segments")]
            table.add_row(tx["type"], tx["control_number"], str(tx.get("claims", "")),
                          str(tx.get("service_lines", "")), amount, ", ".join(details))
        console.print(table)
    for label, style, issues in (("error", "red", summary["errors"]), ("warning", "yellow", summary["warnings"])):
        for issue in issues:
            where = f"segment {issue['segment_index']}"
            if issue["segment_id"]:
                element = f"{issue['element']:02d}" if issue["element"] is not None else ""
                where += f" {issue['segment_id']}{element}"
            console.print(f"[{style}]{label}[/{style}] {where}: {issue['message']} [dim]({issue['code']})[/dim]",
                          highlight=False)
    if not summary["errors"]:
        console.print("[green]no errors[/green]")


@x12_app.command("ack")
def ack(
    file: FileArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the 999.")],
) -> None:
    """Write the 999 implementation acknowledgment for FILE."""
    content = _read(file)
    from rcmflow.formats.x12.parser import parse
    from rcmflow.formats.x12.ts999_write import write_999

    document = parse(content, strict=True)
    if not document.groups:
        raise UserFacingError(f"{file}: no functional group to acknowledge "
                              f"({'; '.join(str(i) for i in document.errors[:1]) or 'not X12'})")
    text = write_999(document)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserFacingError(f"{out}: cannot be written ({exc.strerror})") from exc
    accepted = sum(1 for tx in document.transactions if not tx.errors)
    console.print(f"999 written to {out}: {accepted} of {len(document.transactions)} transaction set(s) accepted")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations."""
    from rcmflow.adapters.store.engine import get_engine
    from rcmflow.adapters.store.migrate import current_revision, upgrade

    engine = get_engine(get_settings())
    upgrade(engine)
    console.print(f"database at revision {current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision and the newest one this version knows."""
    from rcmflow.adapters.store.engine import get_engine
    from rcmflow.adapters.store.migrate import current_revision, head_revision

    revision = current_revision(get_engine(get_settings()))
    console.print(f"current: {revision or 'none (empty database)'}; head: {head_revision()}")


@documents_app.command("list")
def documents_list(
    status: Annotated[str | None, typer.Option(help="received, parsed, failed or reprocessed")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """List stored documents."""
    from rcmflow.services.documents import list_documents

    with _engine().connect() as conn:
        rows = list_documents(conn, status=status, limit=limit)
    table = Table("id", "received", "type", "status", "bytes", "sha256", "file")
    for row in rows:
        table.add_row(str(row.id), row.received_at.strftime("%Y-%m-%d %H:%M:%S"), row.detected_type, row.status,
                      str(row.size_bytes), row.sha256[:12], row.filename or "")
    console.print(table)


@documents_app.command("reprocess")
def documents_reprocess(document_id: Annotated[int, typer.Argument(help="Document id.")]) -> None:
    """Parse a stored document again from its verbatim bytes."""
    from rcmflow.services.intake import reprocess

    with _engine().begin() as conn:
        result = reprocess(conn, document_id)
    console.print(f"document {document_id}: {result.status}, {result.error_count} error(s)")


audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain; exit 1 naming the first broken link when any row was altered or removed."""
    from rcmflow.services.audit import verify_chain

    with _engine().connect() as conn:
        check = verify_chain(conn)
    if check.intact:
        console.print(f"audit chain intact: {check.rows} row(s)")
        return
    err_console.print(f"[red]audit chain broken[/red] at row {check.broken_at}: {check.reason}", highlight=False)
    raise typer.Exit(1)


class ServeLogFormat(enum.StrEnum):
    json = "json"
    console = "console"


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    log_format: Annotated[ServeLogFormat, typer.Option(help="json (one object per line, for log shippers) or "
                                                       "console.")] = ServeLogFormat.json,
) -> None:
    """Serve the REST API (/v1, /healthz, /readyz, /metrics, /docs) over the configured database."""
    import os

    import uvicorn

    _engine()  # migrate once here, before the workers start
    os.environ["RCMFLOW_LOG_FORMAT"] = log_format.value  # read by every worker process's settings
    reset_settings()  # this process read them already (one worker serves in this process)
    # log_config=None: uvicorn leaves logging to rcmflow (redaction, request ids); the app writes the access log.
    uvicorn.run("rcmflow.entrypoints.api.server:app_from_settings", factory=True, host=host, port=port,
                workers=workers, log_config=None, access_log=False)


@app.command("demo")
def demo(
    out: Annotated[Path | None, typer.Option(help="Folder for the generated files [default: DATA_DIR/demo].",
                                             show_default=False)] = None,
    claims: Annotated[int, typer.Option(help="Patient visits to simulate in all.", min=1, max=1_000_000)] = 1500,
    days: Annotated[int, typer.Option(help="Days to simulate.", min=1, max=365)] = 10,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same network and money).")] = 7,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the web UI and the API afterwards, "
                                                                   "with demo logins.")] = True,
    port: Annotated[int, typer.Option(help="TCP port of the UI (loopback only).", min=1, max=65535)] = 8000,
) -> None:
    """Simulate a regional health network's revenue cycle through the real pipeline, summarise it, and serve the
    control tower over it."""
    from rcmflow.services.demo import run_demo

    settings = get_settings()
    engine = _engine(settings)
    run_demo(console, engine, out or settings.data_dir / "demo", claims=claims, days=days, seed=seed)
    if serve:
        from rcmflow.demo.serve import serve_demo

        serve_demo(console, engine, port=port)


def main() -> None:
    """Entry point: run the app and turn every expected failure into one line and an exit status."""
    try:
        app()
    except UserFacingError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except RcmflowError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug of ours: one line for the user, the traceback only in the debug log
        logging.getLogger("rcmflow").debug("internal error", exc_info=True)
        err_console.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} (run with -v for details)",
                          highlight=False)
        sys.exit(3)
