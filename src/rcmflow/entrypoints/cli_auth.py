"""``rcmflow auth``: API principals (systems and people) and the keys that sign access tokens.

A client secret is printed once, when the client is created; only its argon2 hash is stored. Creating and
deactivating principals and rotating keys are recorded in the audit trail as the OS user.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from rcmflow.domain.access import ROLES

auth_app = typer.Typer(help="API access: clients, users, token signing keys.", no_args_is_help=True)

RoleOpt = Annotated[list[str], typer.Option("--role", help=f"A role (repeatable): {', '.join(ROLES)}.",
                                            show_default=False)]
FacilityOpt = Annotated[list[str] | None, typer.Option(
    "--facility", help="A facility (billing NPI) it may see (repeatable); none: every facility.")]


def _cli() -> Any:
    from rcmflow.entrypoints import cli

    return cli


def _operator() -> str:
    return f"user:{getpass.getuser()}"


def _audit(conn: Any, action: str, object_type: str, object_id: str) -> None:
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.audit import AuditEntry, append_audit

    append_audit(conn, [AuditEntry(_operator(), action, object_type, object_id, utc_now(), source="cli")])


def _create(make: Any) -> Any:
    from rcmflow.errors import RcmflowError

    cli = _cli()
    try:
        with cli._engine().begin() as conn:
            return make(conn)
    except RcmflowError as exc:
        raise cli.UserFacingError(exc.message) from exc


@auth_app.command("create-client")
def create_client_command(
    name: Annotated[str, typer.Argument(help="What the client is (e.g. epic-interface).")],
    role: RoleOpt,
    facility: FacilityOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"client_id": ..., "client_secret": ...}.')] = False,
) -> None:
    """Create an OAuth2 client; its secret is printed once and cannot be shown again."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.principals import create_client

    def make(conn: Any) -> Any:
        record, secret = create_client(conn, name, roles=role, facilities=facility or (), actor=_operator(),
                                       now=utc_now())
        _audit(conn, "create client", "principal", record.id)
        return record, secret

    record, secret = _create(make)
    if as_json:
        sys.stdout.write(json.dumps({"client_id": record.id, "client_secret": secret}) + "\n")
        return
    console = _cli().console
    console.print(f"client [bold]{record.name}[/bold] ({', '.join(record.roles)})")
    console.print(f"client_id:     {record.id}")
    console.print(f"client_secret: {secret}")
    console.print("[yellow]The secret is shown once: store it in the client's vault now.[/yellow]")


@auth_app.command("create-user")
def create_user_command(
    username: Annotated[str, typer.Argument(help="The login name.")],
    role: RoleOpt,
    facility: FacilityOpt = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input "
                                                 "(for scripts) instead of prompting.")] = False,
) -> None:
    """Create a person's login (argon2-hashed password, at least 12 characters)."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.principals import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    def make(conn: Any) -> Any:
        record = create_user(conn, username, password, roles=role, facilities=facility or (), actor=_operator(),
                             now=utc_now())
        _audit(conn, "create user", "principal", record.id)
        return record

    record = _create(make)
    _cli().console.print(f"user [bold]{record.name}[/bold] ({', '.join(record.roles)}) created")


@auth_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False) -> None:
    """Clients and users: roles, facilities, active or not (never secrets)."""
    from rcmflow.services.principals import list_principals

    with _cli()._engine().connect() as conn:
        records = list_principals(conn)
    rows = [{"id": r.id, "kind": r.kind, "name": r.name, "roles": list(r.roles), "facilities": list(r.facilities),
             "active": r.active, "created_at": r.created_at.isoformat(), "created_by": r.created_by} for r in records]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("id", "kind", "name", "roles", "facilities", "active")
    for row in rows:
        table.add_row(row["id"], row["kind"], row["name"], ", ".join(row["roles"]),
                      ", ".join(row["facilities"]) or "all", "yes" if row["active"] else "no")
    _cli().console.print(table)


@auth_app.command("deactivate")
def deactivate_command(principal_id: Annotated[str, typer.Argument(help="A client_id, or user:<name>.")]) -> None:
    """Stop a client or user: its tokens and sessions are refused from the next check on."""
    from rcmflow.services.principals import set_active

    def change(conn: Any) -> None:
        set_active(conn, principal_id, False)
        _audit(conn, "deactivate principal", "principal", principal_id)

    _create(change)
    _cli().console.print(f"{principal_id} deactivated")


@auth_app.command("rotate-key")
def rotate_key_command() -> None:
    """Start signing tokens with a new key; tokens signed by earlier keys stay valid until those are retired."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.tokens import rotate_signing_key

    def change(conn: Any) -> str:
        kid = rotate_signing_key(conn, utc_now())
        _audit(conn, "rotate signing key", "signing key", kid)
        return kid

    kid = _create(change)
    _cli().console.print(f"new signing key {kid}; retire the old one with rcmflow auth retire-key once the tokens "
                         "it signed have expired")


@auth_app.command("retire-key")
def retire_key_command(kid: Annotated[str, typer.Argument(help="The key id (see rcmflow auth keys).")]) -> None:
    """Stop accepting tokens signed by a key (not the current one: rotate first)."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.tokens import retire_signing_key

    def change(conn: Any) -> None:
        retire_signing_key(conn, kid, utc_now())
        _audit(conn, "retire signing key", "signing key", kid)

    _create(change)
    _cli().console.print(f"signing key {kid} retired")


@auth_app.command("keys")
def keys_command() -> None:
    """The token signing keys: which one signs, which still verify, which are retired."""
    from rcmflow.services.tokens import list_signing_keys

    with _cli()._engine().connect() as conn:
        keys = list_signing_keys(conn)
    current = next((k.kid for k in reversed(keys) if k.retired_at is None), None)
    table = Table("kid", "created", "status")
    for key in keys:
        status = "signing" if key.kid == current else ("retired" if key.retired_at else "verifying")
        table.add_row(key.kid, key.created_at.isoformat(timespec="seconds"), status)
    _cli().console.print(table)
