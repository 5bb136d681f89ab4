"""``rcmflow ingest PATH...``: files or folders into the raw document store, each processed once.

The type comes from the content, never the file name. Re-running over the same files changes nothing
(same bytes, same document). A file that cannot be read is kept as a failed document with its located
errors, and the command exits 1; ``--json`` prints one result object per file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def _files(paths: list[Path]) -> Iterator[Path]:
    """The files named, and the files under the folders named (sorted, hidden ones skipped)."""
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                relative = found.relative_to(path)
                if found.is_file() and not any(part.startswith(".") for part in relative.parts):
                    yield found
        else:
            yield path


_CLAIM_TYPES = frozenset({"837P", "837I", "fhir_bundle", "charge_csv"})
_LATE_TYPES = {"835": 1, "bai2": 2, "lockbox_csv": 2}
_HEAD_BYTES = 65_536  # enough of a file to tell its type


def in_processing_order(files: list[Path]) -> list[Path]:
    """Claims first, then other X12, then remittances, then bank files (by name within each): payments post
    against the claims of the same run as they arrive, so the ledger is the same whatever the file names,
    and the same after a crash and a re-run as after one uninterrupted run."""
    from rcmflow.services.intake import detect

    def rank(path: Path) -> int:
        try:
            with path.open("rb") as handle:
                kind = detect(handle.read(_HEAD_BYTES))
        except OSError:
            return 0  # unreadable: its error is reported in order with the rest
        return -1 if kind in _CLAIM_TYPES else _LATE_TYPES.get(kind, 0)

    return sorted(files, key=lambda path: (rank(path), str(path)))


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders.", show_default=False)],
    channel: Annotated[str, typer.Option(help="Where the files came from (sftp, folder, api...).")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of per-file results.")] = False,
    post: Annotated[bool, typer.Option("--post/--no-post",
                                       help="Then match, post and reconcile what is pending.")] = True,
) -> None:
    """Store, detect, parse and record every file, then post and reconcile; exit 1 when any file could not
    be read."""
    from rcmflow.entrypoints import cli
    from rcmflow.services.intake import ingest_file
    from rcmflow.services.posting import PostingResult
    from rcmflow.services.processing import ingest_and_post_files

    files = list(_files(paths))
    missing = [path for path in files if not path.exists()]
    if missing:
        raise cli.UserFacingError(f"{missing[0]}: no such file or folder")
    files = in_processing_order(files)
    engine = cli._engine()
    results: list[dict[str, Any]] = []
    posted = PostingResult()
    with Progress(console=err_console, transient=True, disable=as_json) as progress:
        task = progress.add_task("ingesting", total=len(files))
        # One transaction per file: a bad file never holds back the good ones around it. With posting, an ERA's
        # payments post in the same transaction as they are stored (the next file is read meanwhile).
        if post:
            for path, outcome in ingest_and_post_files(engine, files, channel=channel, read=cli._read):
                if outcome.posting is not None:
                    posted.add(outcome.posting)
                results.append(outcome.as_json(path))
                progress.advance(task)
        else:
            for path in files:
                content = cli._read(path)
                with engine.begin() as conn:
                    outcome = ingest_file(conn, content, filename=path.name, channel=channel)
                results.append(outcome.as_json(path))
                progress.advance(task)
    failed = [r for r in results if r["status"] == "failed"]
    if not as_json:
        _print(results)
    if post:
        run_processing(engine, quiet=as_json, posted=posted)
    if as_json:
        sys.stdout.write(json.dumps(results) + "\n")
    raise typer.Exit(1 if failed else 0)


def post_command() -> None:
    """Match, post and reconcile everything pending (what ``ingest`` does after storing files)."""
    from rcmflow.entrypoints import cli

    run_processing(cli._engine(), quiet=False)


def run_processing(engine: Any, *, quiet: bool, posted: Any = None) -> None:
    """Post pending remittances batch by batch with a progress bar, then reconcile; print what happened."""
    from sqlalchemy import func, select

    from rcmflow.adapters.store.schema import claim_payments
    from rcmflow.services.processing import process_pending

    with engine.connect() as conn:
        pending = conn.execute(select(func.count()).select_from(claim_payments).where(
            claim_payments.c.state == "received")).scalar_one()
    with Progress(console=err_console, transient=True, disable=quiet) as progress:
        task = progress.add_task("posting", total=pending or None)
        result = process_pending(engine, on_batch=lambda done: progress.advance(task, done.claim_payments))
    if quiet:
        return
    posting, recon = result.posting, result.reconciliation
    if posted is not None:  # what ingest already posted file by file
        posting.add(posted)
    console.print(f"posted {posting.matched} claim payment(s) from {posting.remittances} remittance(s): "
                  f"{posting.denied} denied, {posting.reversals} reversal(s), {posting.underpayments} underpaid, "
                  f"{posting.unapplied} unapplied, {posting.applied_later} applied from unapplied cash; "
                  f"{posting.entries} journal entries, {posting.work_items} work item(s) opened")
    console.print(f"reconciled: {recon.matches} deposit match(es), {recon.deposits_reconciled} deposit(s) and "
                  f"{recon.remittances_reconciled} remittance(s) reconciled, {recon.work_items_opened} work item(s)")
    secondary = result.secondary
    if secondary.created or secondary.crossover:
        console.print(f"secondary claims: {len(secondary.created)} built ({len(secondary.routing.ready)} ready, "
                      f"{len(secondary.routing.held) + len(secondary.routing.review)} held), "
                      f"{len(secondary.crossover)} crossed over by the primary payer")


def _print(results: list[dict[str, Any]]) -> None:
    table = Table("document", "file", "type", "status", "new", "errors")
    for result in results:
        style = "red" if result["status"] == "failed" else "green"
        table.add_row(str(result["document_id"]), Path(result["file"]).name, result["type"],
                      f"[{style}]{result['status']}[/{style}]", "yes" if result["new"] else "no",
                      str(len(result["errors"])))
    console.print(table)
    for result in results:
        for error in result["errors"][:3]:
            if error.get("location") is not None:
                where = str(error["location"])
            elif error.get("line") is not None:
                where = f"line {error['line']}" + (f" record {error['record']}" if error.get("record") else "")
            else:
                where = f"segment {error['segment_index']}" + (f" {error['segment_id']}" if error["segment_id"] else "")
            console.print(f"[red]error[/red] {result['file']} {where}: {error['message']}", highlight=False)
    captured = [r["claims_captured"] for r in results if r["new"] and "claims_captured" in r]
    if captured:
        totals = {key: sum(c[key] for c in captured) for key in captured[0]}
        console.print(f"claims captured: {totals['stored']} stored ({totals['duplicate']} already stored, "
                      f"{totals['superseded']} earlier versions superseded); scrubbed: {totals['ready']} ready, "
                      f"{totals['held']} held by errors, {totals['review']} routed for review")
    unreadable = sum(len(r.get("warnings", ())) for r in results if r["new"])
    if unreadable:
        console.print(f"[yellow]{unreadable} claim(s) could not be read[/yellow]: see the intake_exceptions queue")
    new = sum(1 for r in results if r["new"])
    console.print(f"{len(results)} file(s): {new} new, {len(results) - new} already stored, "
                  f"{sum(1 for r in results if r['status'] == 'failed')} failed")
