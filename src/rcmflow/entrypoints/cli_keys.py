"""``rcmflow keys``: the keys encrypting health information at rest: status, rotation, re-encryption, retirement.

Rotation procedure (docs/design/phi.md): ``keys rotate``, restart every rcmflow process (they cache the
keyring), ``keys reencrypt``, check ``keys status``, then ``keys retire OLD_KEY_ID`` and restart again.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rcmflow.errors import ConfigurationError

keys_app = typer.Typer(help="Keys encrypting health information at rest.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _usage(conn: Any) -> dict[str, Counter[str]]:
    from rcmflow.adapters.crypto.rotation import encrypted_columns, key_usage
    from rcmflow.adapters.store.schema import metadata

    return {target.label: key_usage(conn, target) for target in encrypted_columns(metadata)}


def _writable_key_file() -> Any:
    from rcmflow.adapters.crypto.process import key_source

    source = key_source()
    if source.path is None:
        raise ConfigurationError(detail=(
            "the PHI keys come from RCMFLOW_PHI_KEYS, which rcmflow cannot rewrite: add a new key to that JSON "
            "yourself (a new id under \"keys\", made \"current\"), restart every rcmflow process, then run "
            "`rcmflow keys reencrypt`; or move the JSON into a file named by RCMFLOW_PHI_KEY_FILE"))
    return source


@keys_app.command("status")
def status_command(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Where the keys come from, the current key, and how many values each key encrypts, per column."""
    from rcmflow.adapters.crypto.process import get_keyring, key_source
    from rcmflow.entrypoints.cli import _engine

    keyring = get_keyring()
    with _engine().connect() as conn:
        usage = _usage(conn)
    totals: Counter[str] = Counter()
    for counts in usage.values():
        totals.update(counts)
    report = {
        "source": key_source().description, "current": keyring.current,
        "keys": [{"id": key_id, "created_at": keyring.created.get(key_id) or None, "values": totals.get(key_id, 0),
                  "current": key_id == keyring.current} for key_id in sorted(keyring.keys)],
        # Values under a key the keyring lacks cannot be read: listed so an operator notices at once.
        "unknown_keys": sorted(set(totals) - set(keyring.keys)),
        "columns": {label: dict(sorted(counts.items())) for label, counts in usage.items()},
    }
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    console.print(f"keys from {report['source']}; current key [bold]{keyring.current}[/bold]")
    key_ids = sorted(set(keyring.keys) | set(totals))
    table = Table("column", *key_ids)
    for label, counts in usage.items():
        table.add_row(label, *(f"{counts.get(key_id, 0):,}" for key_id in key_ids))
    table.add_row("[bold]total[/bold]", *(f"[bold]{totals.get(key_id, 0):,}[/bold]" for key_id in key_ids))
    console.print(table)
    for key_id in report["unknown_keys"]:
        err_console.print(f"[red]values under key {key_id!r}, which the keyring lacks, cannot be read[/red]")


@keys_app.command("rotate")
def rotate_command() -> None:
    """Add a new data key to the key file and make it current. Restart every rcmflow process, then run
    ``keys reencrypt`` to move existing values onto it."""
    from rcmflow.adapters.crypto.keyfile import read_key_file, with_new_key, write_key_file
    from rcmflow.adapters.crypto.process import reset_keyring

    source = _writable_key_file()
    keyring = with_new_key(read_key_file(source.path))
    write_key_file(source.path, keyring)
    reset_keyring()
    console.print(f"added key {keyring.current} to {source.path} and made it current; restart every rcmflow "
                  "process, then run `rcmflow keys reencrypt`")


@keys_app.command("reencrypt")
def reencrypt_command(
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000,
                                            help="Values rewritten per transaction.")] = 5_000,
) -> None:
    """Rewrite every value not under the current key, a batch per transaction. Safe to interrupt and run again:
    it resumes with the values still under an old key."""
    from rcmflow.adapters.crypto.process import get_keyring
    from rcmflow.adapters.crypto.rotation import encrypted_columns, reencrypt, stale_count
    from rcmflow.adapters.store.schema import metadata
    from rcmflow.entrypoints.cli import _engine

    keyring = get_keyring()
    engine = _engine()
    columns = encrypted_columns(metadata)
    with engine.connect() as conn:
        total = sum(stale_count(conn, target, keyring) for target in columns)
    done = 0
    progress = Progress(TextColumn("re-encrypting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=err_console, transient=True)
    with progress:
        task = progress.add_task("reencrypt", total=total)
        for count in reencrypt(engine, keyring, columns, batch_size):
            done += count
            progress.advance(task, count)
    console.print(f"re-encrypted {done:,} values under key {keyring.current}; "
                  "`rcmflow keys status` shows what each key still encrypts")


@keys_app.command("retire")
def retire_command(key_id: Annotated[str, typer.Argument(help="The old key to remove from the key file.")]) -> None:
    """Remove an old key from the key file, once no stored value is under it any more."""
    from rcmflow.adapters.crypto.keyfile import read_key_file, without_key, write_key_file
    from rcmflow.adapters.crypto.process import reset_keyring
    from rcmflow.entrypoints.cli import _engine

    source = _writable_key_file()
    with _engine().connect() as conn:
        remaining = sum(counts.get(key_id, 0) for counts in _usage(conn).values())
    if remaining:
        raise ConfigurationError(detail=f"{remaining:,} values are still under key {key_id!r}: "
                                        "run `rcmflow keys reencrypt` first")
    write_key_file(source.path, without_key(read_key_file(source.path), key_id))
    reset_keyring()
    console.print(f"removed key {key_id} from {source.path}; keep a backup of the old file until every backup "
                  "of the database made before the re-encryption has expired")
