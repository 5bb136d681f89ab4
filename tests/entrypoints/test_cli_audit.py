"""What people do or read on the command line lands in the audit trail too: reading a claim (PHI on
screen), scrubbing it again, resolving work items, and looking up a member's eligibility (by blind index, never the
member id itself)."""

from __future__ import annotations

import getpass
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from rcmflow.adapters.crypto import blind_index
from rcmflow.adapters.store.engine import get_engine
from rcmflow.adapters.store.schema import audit_log, work_items
from rcmflow.entrypoints.cli import app
from rcmflow.services.audit import verify_chain
from tests.entrypoints.test_cli_claims import charges  # noqa: F401 - the fixture

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_reads_and_actions_on_the_command_line_are_audited(charges: Path) -> None:  # noqa: F811
    import json

    _ok("ingest", str(charges), "--json")
    claims = json.loads(_ok("claims", "list", "--json"))
    held = next(c for c in claims if c["source_id"] == "V2")
    _ok("claims", "show", str(held["id"]))
    _ok("claims", "rescrub", str(held["id"]))
    with get_engine().connect() as conn:
        item_id = conn.execute(select(work_items.c.id).order_by(work_items.c.id)).scalars().first()
    _ok("work", "resolve", str(item_id), "--code", "recoded", "--as", "pat")
    _ok("eligibility", "show", "W123456789")
    with get_engine().connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
        assert verify_chain(conn).intact
    me = f"user:{getpass.getuser()}"
    assert [(r.actor, r.action, r.object_id, r.source) for r in rows] == [
        (me, "read claim", str(held["id"]), "cli"),
        (me, "rescrub claim", str(held["id"]), "cli"),
        ("user:pat", "resolve work item", str(item_id), "cli"),
        (me, "read eligibility", blind_index("W123456789"), "cli"),
    ]
