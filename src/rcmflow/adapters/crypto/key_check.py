"""Before a process uses a database: can its PHI keys read what the database holds?

Without it, a command run where no key file is found (another folder, with ``RCMFLOW_DATABASE_URL`` set and
``RCMFLOW_PHI_KEY_FILE`` not) made a new key file, wrote new values under that key and failed at the first
old value it read: one database split across two keys, each in a different folder. Now it stops on first use
of the database (``migrate.ensure_schema``, after any migration: only the one that first encrypted plaintext
writes ciphertext, and it runs on a database that has none), before a command reads or writes health
information, naming the keys the database uses and where the process looked for them.

The check reads a value or two of every encrypted column, never a whole table: the key id sits in clear in
each value's header (``keyring.header``). Values under a retired key in the middle of a table are found when
they are read, as before (``rcmflow keys status`` counts every value).
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from rcmflow.adapters.crypto.keyring import key_id_of
from rcmflow.adapters.crypto.process import DEFAULT_KEY_FILE, get_keyring, key_source
from rcmflow.adapters.crypto.rotation import encrypted_columns, end_values
from rcmflow.errors import ConfigurationError

# Rows looked at from each end of a table for a value of a column that is often empty (a bound, not a scan).
SAMPLE_ROWS = 1_000


def sampled_key_ids(conn: Connection) -> set[str]:
    """The key ids of the oldest and the newest value of every encrypted column (tables not created yet are
    skipped)."""
    from rcmflow.adapters.store.schema import metadata  # the schema imports the crypto types

    existing = set(inspect(conn).get_table_names())
    found: set[str] = set()
    for target in encrypted_columns(metadata):
        if target.table not in existing:
            continue
        for value in end_values(conn, target, SAMPLE_ROWS):
            try:
                found.add(key_id_of(value))
            except ValueError:  # not a ciphertext (a value written before encryption): nothing to check
                continue
    return found


def check_database_keys(conn: Connection) -> None:
    """Raise ``ConfigurationError`` when the database holds values under keys this process does not have, or
    when it would make a new key file over a database that already has encrypted values."""
    used = sampled_key_ids(conn)
    if not used:
        return
    source = key_source()
    if source.generated and source.path is not None and not source.path.exists():
        raise ConfigurationError(detail=(
            f"the database holds values encrypted under PHI key {', '.join(sorted(used))}, and there is no key file at "
            f"{source.path}: rcmflow will not make a new key over it. Set RCMFLOW_PHI_KEY_FILE to the key file "
            f"made with this database (made as {DEFAULT_KEY_FILE.as_posix()} in the data folder, RCMFLOW_DATA_DIR, "
            "by default ./rcmflow-data where a command first ran on it)"))
    missing = sorted(used - set(get_keyring().keys))
    if missing:
        raise ConfigurationError(detail=(
            f"the database holds values encrypted under PHI key {', '.join(missing)}, which "
            f"{source.description} lacks; use the key file made with this database"))
