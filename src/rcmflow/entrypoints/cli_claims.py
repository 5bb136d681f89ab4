"""``rcmflow claims``: scrub a charge file against the rule packs, export its clean claims as an 837.

Both read a FHIR R4 Bundle or a charge CSV. ``scrub --json`` and ``export`` are contracts other tools rely
on (README): the JSON shape, and "only claims without error findings are exported".
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rcmflow.domain.charges import ChargeFile
from rcmflow.domain.money import format_amount
from rcmflow.domain.scrubber import ScrubResult
from rcmflow.services.audit import record_action

claims_app = typer.Typer(help="Claims: scrub charge files, export clean claims as 837.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

ChargeFileArg = Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON) or a charge CSV.", show_default=False)]


def _read_charges(path: Path) -> ChargeFile:
    from rcmflow.entrypoints.cli import _read
    from rcmflow.formats.charge_files import read_charge_file

    charge_file = read_charge_file(_read(path), filename=path.name)
    if charge_file.file_issues:
        issue = charge_file.file_issues[0]
        from rcmflow.entrypoints.cli import UserFacingError

        raise UserFacingError(f"{path}: {issue.location}, {issue.field}: {issue.message}")
    return charge_file


def _today(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


def scrub_file(path: Path, today: date) -> tuple[ChargeFile, list[ScrubResult]]:
    """Read and scrub a charge file; results in file order, claims the reader left out included."""
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.scrubbing import configured_scrubber, stored_duplicates, unreadable_results

    charge_file = _read_charges(path)
    scrubber = configured_scrubber()
    with _engine().connect() as conn:
        duplicates = stored_duplicates(conn, charge_file.claims)
    results = scrubber.scrub(charge_file.claims, today=today, duplicates=duplicates)
    return charge_file, [*results, *unreadable_results(charge_file)]


def _result_json(result: ScrubResult) -> dict[str, Any]:
    return {"id": result.source_id, "status": result.status,
            "findings": [finding.as_json() for finding in result.findings]}


@claims_app.command("scrub")
def scrub_command(
    file: ChargeFileArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the documented contract).")] = False,
    today: Annotated[str | None, typer.Option("--today", help="Judge timely filing as of this date (YYYY-MM-DD).",
                                              show_default=False)] = None,
) -> None:
    """Scrub every claim of a charge file; exit 1 when any claim has an error finding."""
    _, results = scrub_file(file, _today(today))
    if as_json:
        sys.stdout.write(json.dumps({"claims": [_result_json(result) for result in results]}) + "\n")
    else:
        _print_results(file, results)
    raise typer.Exit(1 if any(result.status == "error" for result in results) else 0)


def _print_results(path: Path, results: list[ScrubResult]) -> None:
    counts = {status: sum(1 for r in results if r.status == status) for status in ("clean", "warning", "error")}
    console.print(f"[bold]{path}[/bold]: {len(results)} claim(s): [green]{counts['clean']} clean[/green], "
                  f"[yellow]{counts['warning']} with warnings[/yellow], [red]{counts['error']} held[/red]")
    table = Table("claim", "status", "rule", "line", "message", show_lines=False)
    for result in results:
        if not result.findings:
            table.add_row(result.source_id, "[green]clean[/green]", "", "", "")
        for n, finding in enumerate(result.findings):
            colour = "red" if finding.severity == "error" else "yellow"
            table.add_row(result.source_id if n == 0 else "", f"[{colour}]{finding.severity}[/{colour}]",
                          finding.reference, "" if finding.line is None else str(finding.line), finding.message)
    console.print(table)


@claims_app.command("export")
def export_command(
    file: ChargeFileArg,
    format_: Annotated[str, typer.Option("--format", help="837p (professional) or 837i (institutional).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the 837.", show_default=False)],
    sender: Annotated[str, typer.Option(help="Interchange sender and submitter id (ISA06, 1000A).")] = "RCMFLOW",
    receiver: Annotated[str | None, typer.Option(help="Interchange receiver id (ISA08, 1000B) [default: the "
                                                      "payer id when all claims go to one payer].",
                                                 show_default=False)] = None,
    submitter_name: Annotated[str, typer.Option(help="Submitter name (1000A NM103).")] = "RCMFLOW BILLING",
    contact_phone: Annotated[str, typer.Option(help="Submitter contact phone (1000A PER).")] = "8005550100",
    today: Annotated[str | None, typer.Option("--today", help="Judge timely filing as of this date.",
                                              show_default=False)] = None,
) -> None:
    """Write the claims of a charge file that have no error findings as one valid 5010 837 file."""
    from rcmflow.entrypoints.cli import UserFacingError, _engine
    from rcmflow.services.claim_export import export_clean_claims

    kind = {"837p": "P", "837i": "I"}.get(format_.lower())
    if kind is None:
        raise typer.BadParameter(f"{format_!r}: use 837p or 837i", param_hint="--format")
    charge_file, results = scrub_file(file, _today(today))
    with _engine().begin() as conn:
        exported = export_clean_claims(conn, charge_file.claims, results, kind, sender=sender, receiver=receiver,
                                       submitter_name=submitter_name, contact_phone=contact_phone)
    if exported.text is None:
        raise UserFacingError(f"{file}: no claim of type {format_} without error findings to export "
                              f"({len(exported.held)} held, {len(exported.unwritable)} not writable as X12, "
                              f"{len(exported.other_type)} of the other type)")
    out.write_text(exported.text, encoding="ascii")
    console.print(f"wrote {out}: {len(exported.claims)} claim(s), {exported.line_count} line(s), "
                  f"total charge {format_amount(exported.total_charge)}")
    if exported.held:
        err_console.print(f"held (error findings): {', '.join(exported.held)}")
    for source_id, reason in exported.unwritable.items():
        err_console.print(f"not written ({source_id}): {reason}")
    if exported.other_type:
        err_console.print(f"not {format_} (other claim type): {', '.join(exported.other_type)}")


AsOpt = Annotated[str, typer.Option("--as", help="Who is acting (a user name).", show_default=False)]


def _os_user() -> str:
    import getpass

    return f"user:{getpass.getuser()}"


def _actor(name: str) -> str:
    return name if ":" in name else f"user:{name}"


@claims_app.command("list")
def list_command(
    state: Annotated[str | None, typer.Option(help="Only claims in this state (ready, scrubbed, submitted...).",
                                              show_default=False)] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """Stored claims, newest first, with their state and latest scrub outcome."""
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.claim_views import list_claims

    with _engine().connect() as conn:
        rows = list_claims(conn, state=state, limit=limit)
    if as_json:
        sys.stdout.write(json.dumps(rows, default=str) + "\n")
        return
    table = Table("id", "source id", "type", "payer", "from", "charge", "state", "errors", "warnings")
    for row in rows:
        table.add_row(str(row["id"]), row["source_id"] or row["patient_control_number"], row["claim_type"],
                      row["payer_id"], str(row["service_from"] or ""), row["total_charge"], row["state"],
                      str(row["errors"]), str(row["warnings"]))
    console.print(table)


@claims_app.command("show")
def show_command(
    claim_id: Annotated[int, typer.Argument(help="Claim id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """One claim: its lines, its latest scrub findings (rule@version, inputs) and its timeline."""
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.claim_views import claim_detail

    with _engine().begin() as conn:
        detail = claim_detail(conn, claim_id)
        record_action(conn, _os_user(), "read claim", "claim", [claim_id])  # PHI on screen
    if as_json:
        sys.stdout.write(json.dumps(detail, default=str) + "\n")
        return
    head = detail["claim"]
    console.print(f"[bold]claim {claim_id}[/bold] ({head['source_id'] or head['patient_control_number']}): "
                  f"{head['claim_type']} to {head['payer_name'] or head['payer_id']}, {head['state']}, "
                  f"charge {head['total_charge']}, service {head['service_from']}..{head['service_to']}")
    lines = Table("line", "code", "modifiers", "units", "charge", "date", "control number", title="lines")
    for line in detail["lines"]:
        lines.add_row(str(line["line_number"]), line["procedure_code"] or line["revenue_code"] or "",
                      line["modifiers"] or "", str(line["units"] or ""), str(line["charge"]),
                      str(line["service_date"] or ""), line["line_item_control_number"] or "")
    console.print(lines)
    if detail["findings"]:
        findings = Table("severity", "rule", "line", "message", "inputs", title="latest scrub")
        for finding in detail["findings"]:
            findings.add_row(finding["severity"], f"{finding['rule']}@{finding['rule_version']}",
                             str(finding["line_number"] or ""), finding["message"], json.dumps(finding["inputs"]))
        console.print(findings)
    timeline = Table("when", "from", "to", "activity", "actor", "rule version", title="timeline")
    for event in detail["events"]:
        timeline.add_row(str(event["occurred_at"])[:19], event["from_state"] or "", event["to_state"],
                         event["activity"], event["actor"], event["rule_version"] or "")
    console.print(timeline)


@claims_app.command("release")
def release_command(claim_id: Annotated[int, typer.Argument(help="Claim id.")], actor: AsOpt) -> None:
    """Release a claim the scrubber routed for review (warnings only) to ready."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.charge_claims import release_claim

    with _engine().begin() as conn:
        release_claim(conn, claim_id, actor=_actor(actor), now=utc_now())
        record_action(conn, _actor(actor), "release claim", "claim", [claim_id])
    console.print(f"claim {claim_id}: ready")


@claims_app.command("rescrub")
def rescrub_command(
    claim_ids: Annotated[list[int] | None, typer.Argument(help="Claim ids [default: every held claim].",
                                                          show_default=False)] = None,
    today: Annotated[str | None, typer.Option("--today", help="Judge timely filing as of this date.",
                                              show_default=False)] = None,
) -> None:
    """Scrub held claims again (after a rule, table or policy change, or once eligibility is on file)."""
    from sqlalchemy import select

    from rcmflow.adapters.store.schema import claims, utc_now
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.charge_claims import rescrub_claims
    from rcmflow.services.scrubbing import configured_scrubber

    scrubber = configured_scrubber()
    with _engine().begin() as conn:
        ids = list(claim_ids or conn.execute(select(claims.c.id).where(claims.c.state == "scrubbed")
                                             .order_by(claims.c.id)).scalars())
        now = utc_now()
        result = rescrub_claims(conn, ids, scrubber=scrubber, today=_today(today) if today else now.date(),
                                actor="system:scrubber", now=now)
        record_action(conn, _os_user(), "rescrub claim", "claim", ids)
    console.print(f"rescrubbed {len(result.ready) + len(result.held) + len(result.review)} claim(s): "
                  f"{len(result.ready)} ready, {len(result.held)} held, {len(result.review)} for review")


@claims_app.command("submit")
def submit_command(
    deliver: Annotated[bool, typer.Option("--deliver/--no-deliver",
                                          help="Deliver the files now (else the worker's relay does).")] = True,
) -> None:
    """Batch every ready claim into 837 files per trading partner, payer and claim type, and deliver them."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.entrypoints.cli import _engine, get_settings
    from rcmflow.services.destinations import configured_handlers
    from rcmflow.services.outbox import relay_once
    from rcmflow.services.policies import configured_trading_partners
    from rcmflow.services.submission import submit_ready_claims

    settings = get_settings()
    engine = _engine(settings)
    partners = configured_trading_partners()
    with engine.begin() as conn:
        result = submit_ready_claims(conn, partners, actor="system:submission", now=utc_now())
    console.print(f"submitted {result.claims} claim(s) in {len(result.submissions)} file(s), total charge "
                  f"{format_amount(result.total_charge)}")
    if result.unwritable or result.no_partner:
        err_console.print(f"left ready with a work item: {len(result.unwritable)} not writable as X12, "
                          f"{len(result.no_partner)} with no trading partner for their payer")
    if deliver and result.submissions:
        handlers = configured_handlers(engine, settings)
        try:
            delivered = relay_once(engine, handlers, worker_id="cli:claims-submit", batch=1000)
        finally:
            handlers.close()
        console.print(f"delivered {delivered.delivered} file(s); {delivered.failed + delivered.dead} failed "
                      "(see rcmflow outbox status)")


@claims_app.command("status-request")
def status_request_command(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder to write one 276 file per trading partner.",
                                      show_default=False)],
    older_than: Annotated[int, typer.Option(help="Ask about claims submitted at least this many days ago.",
                                            min=0)] = 30,
) -> None:
    """Write 276 claim status inquiries for claims a payer has held too long; ingest the 277 answers."""
    from datetime import timedelta

    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.claim_status import overdue_claims, status_inquiries
    from rcmflow.services.policies import configured_trading_partners

    now = utc_now()
    with _engine().begin() as conn:
        ids = overdue_claims(conn, older_than=timedelta(days=older_than), now=now)
        texts = status_inquiries(conn, ids, configured_trading_partners(), now=now)
    out.mkdir(parents=True, exist_ok=True)
    for partner_id, text in texts.items():
        path = out / f"{partner_id}-{now:%Y%m%d%H%M%S}.276"
        path.write_text(text, encoding="ascii")
        console.print(f"wrote {path}")
    console.print(f"{len(ids)} claim(s) asked about")


@claims_app.command("appeal")
def appeal_command(
    claim_id: Annotated[int, typer.Argument(help="The denied (or partially paid) claim.")],
    reason: Annotated[str, typer.Option(help="Why the payer should reconsider (the appeal letter's argument).")],
    actor: AsOpt,
    submit: Annotated[bool, typer.Option("--submit/--draft-only", help="Send the appeal to the payer now.")] = True,
) -> None:
    """Appeal a denial: the claim moves to appealed, its denial item is resolved, the packet goes to the payer."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.appeals import draft_appeal, submit_appeal
    from rcmflow.services.policies import configured_trading_partners

    now = utc_now()
    with _engine().begin() as conn:
        appeal_id = draft_appeal(conn, claim_id, reason=reason, actor=_actor(actor), now=now)
        if submit:
            submit_appeal(conn, appeal_id, configured_trading_partners(), actor=_actor(actor), now=now)
        record_action(conn, _actor(actor), "appeal claim", "claim", [claim_id])
    console.print(f"appeal {appeal_id} of claim {claim_id}: {'submitted' if submit else 'drafted'}")
