"""``rcmflow eligibility``: 270 inquiries for the claims waiting on eligibility, and what is on file."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

eligibility_app = typer.Typer(help="Eligibility: 270 inquiries, 271 answers on file.", no_args_is_help=True)
console = Console()


@eligibility_app.command("request")
def request_command(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder to write one 270 file per trading partner.",
                                      show_default=False)],
    claim_ids: Annotated[list[int] | None, typer.Argument(
        help="Claim ids [default: every claim held by the scrubber].", show_default=False)] = None,
) -> None:
    """Write 270 inquiries about the patients of held claims (or the given ones), one file per partner.
    Ingesting the payers' 271 answers stores them and scrubs the waiting claims again."""
    from sqlalchemy import select

    from rcmflow.adapters.store.schema import claims, utc_now
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.charge_claims import load_source_claims
    from rcmflow.services.eligibility import write_inquiries
    from rcmflow.services.policies import configured_trading_partners

    now = utc_now()
    with _engine().begin() as conn:
        ids = list(claim_ids or conn.execute(select(claims.c.id).where(claims.c.state == "scrubbed")
                                             .order_by(claims.c.id)).scalars())
        sources = [source for _, source in load_source_claims(conn, ids)]
        texts = write_inquiries(conn, sources, configured_trading_partners(), now=now)
    out.mkdir(parents=True, exist_ok=True)
    for partner_id, text in texts.items():
        path = out / f"{partner_id}-{now:%Y%m%d%H%M%S}.270"
        path.write_text(text, encoding="ascii")
        console.print(f"wrote {path}")
    if not texts:
        console.print("no claim needs an eligibility inquiry")


@eligibility_app.command("show")
def show_command(
    member_id: Annotated[str, typer.Argument(help="The subscriber's member id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """Every 271 answer on file for a member, newest first."""
    from sqlalchemy import select

    from rcmflow.adapters.crypto import blind_index
    from rcmflow.adapters.store.schema import eligibility_responses
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.audit import record_action

    columns = [column for column in eligibility_responses.c if column.name != "member_id_index"]
    with _engine().begin() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(*columns).where(
            eligibility_responses.c.member_id_index == blind_index(member_id))
            .order_by(eligibility_responses.c.id.desc()))]
        # PHI on screen: recorded by the member's blind index, never the member id itself.
        record_action(conn, f"user:{getpass.getuser()}", "read eligibility", "member", [blind_index(member_id)])
    if as_json:
        sys.stdout.write(json.dumps(rows, default=str) + "\n")
        return
    table = Table("payer", "patient", "status", "plan", "copay", "coinsurance", "deductible left", "answered")
    for row in rows:
        table.add_row(row["payer_id"], f"{row['last_name'] or ''}, {row['first_name'] or ''}", row["status"],
                      f"{row['plan_begin'] or ''}..{row['plan_end'] or ''}", str(row["copay"] or ""),
                      str(row["coinsurance"] or ""), str(row["deductible_remaining"] or ""),
                      str(row["responded_on"] or ""))
    console.print(table)
