"""PHI encryption at rest: encrypted identifier, free-text and raw-document columns, member id blind indexes

Revision ID: 0016_phi_encryption
Revises: 0015_webhooks
Create Date: 2026-12-07

The columns become BLOB / BYTEA holding AES-256-GCM ciphertext (docs/design/phi.md); rows already stored are
encrypted here, with the keyring the settings name, and their member ids get a blind index. The plaintext form
of each value (UTF-8 text, ISO date, compact JSON, raw bytes) is spelled out below rather than imported, so this
revision keeps meaning what it meant when it was written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_phi_encryption"
down_revision: str | Sequence[str] | None = "0015_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_BATCH = 2_000  # rows encrypted per statement: bounded memory on large tables

# (table, primary key columns, [(column, kind, type before, nullable)]). Kinds: text, date, json, bytes.
_ENCRYPTED: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, str, Any, bool], ...]], ...] = (
    ("documents", ("id",), (("content", "bytes", sa.LargeBinary(), False), ("errors", "json", _JSON, False),
                            ("summary", "json", _JSON, True))),
    ("work_item_notes", ("id",), (("text", "text", sa.Text(), False),)),
    ("approval_decisions", ("id",), (("reason", "text", sa.Text(), True),)),
    ("submissions", ("id",), (("content", "bytes", sa.LargeBinary(), False),)),
    ("claims", ("id",), (("member_id", "text", sa.String(length=80), True),)),
    ("eligibility_responses", ("id",), (("member_id", "text", sa.String(length=80), False),
                                        ("last_name", "text", sa.String(length=60), True),
                                        ("first_name", "text", sa.String(length=35), True),
                                        ("birth_date", "date", sa.Date(), True))),
    ("appeals", ("id",), (("reason", "text", sa.Text(), False),)),
    ("claim_contents", ("claim_id",), (("content", "bytes", sa.LargeBinary(), False),)),
    ("scrub_findings", ("id",), (("message", "text", sa.Text(), False), ("inputs", "json", _JSON, True))),
    ("claim_payments", ("id",), (("member_id", "text", sa.String(length=80), True),)),
    ("idempotency_keys", ("principal_id", "key"), (("body", "bytes", sa.LargeBinary(), False),)),
)
_INDEXED = ("claims", "claim_payments", "eligibility_responses")  # tables given member_id_index

# PostgreSQL: the plaintext as bytes (USING) on the way up, and back on the way down.
_TO_BYTES = {"text": "convert_to({c}, 'UTF8')", "date": "convert_to(to_char({c}, 'YYYY-MM-DD'), 'UTF8')",
             "json": "convert_to({c}::text, 'UTF8')"}
_FROM_BYTES = {"text": "convert_from({c}, 'UTF8')", "date": "convert_from({c}, 'UTF8')::date",
               "json": "convert_from({c}, 'UTF8')::jsonb"}


def _plain_bytes(kind: str, value: Any) -> bytes:
    """A stored plaintext (as the type change left it) in the form the encrypted column types encrypt."""
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if kind == "json":
        return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if kind == "date":
        return date.fromisoformat(raw.decode("ascii")).isoformat().encode("ascii")
    return raw


def _index(keyring: Any, member: bytes) -> str | None:
    return keyring.blind_index(member.decode("utf-8"))


def _rewrite(table: str, keys: tuple[str, ...], columns: Sequence[tuple[str, str]],
             convert: Callable[[str, str, Any], Any], index_of: Callable[[Any], str | None] | None = None) -> None:
    """Rewrite every non-null value of ``columns`` with ``convert(column, kind, value)`` in keyset-paged batches;
    with ``index_of``, also set member_id_index from each row's member id."""
    conn = op.get_bind()
    names = [name for name, _ in columns]
    target = sa.table(table, *(sa.column(name) for name in (*keys, *names, "member_id_index")))
    key_columns = [target.c[name] for name in keys]
    after: tuple[Any, ...] | None = None
    while True:
        query = sa.select(*key_columns, *(target.c[name] for name in names)).order_by(*key_columns).limit(_BATCH)
        if after is not None:
            query = query.where(sa.tuple_(*key_columns) > sa.tuple_(*after))
        rows = conn.execute(query).all()
        if not rows:
            return
        after = tuple(rows[-1][:len(keys)])
        updates = []
        for row in rows:
            values = {f"v_{name}": None if value is None else convert(name, kind, value)
                      for (name, kind), value in zip(columns, row[len(keys):], strict=True)}
            if index_of is not None:
                member = row[len(keys) + names.index("member_id")]
                values["v_member_id_index"] = None if member is None else index_of(member)
            values.update({f"k_{name}": value for name, value in zip(keys, row[:len(keys)], strict=True)})
            updates.append(values)
        assignments = {name: sa.bindparam(f"v_{name}") for name in names}
        if index_of is not None:
            assignments["member_id_index"] = sa.bindparam("v_member_id_index")
        conn.execute(sa.update(target).where(*(target.c[name] == sa.bindparam(f"k_{name}") for name in keys))
                     .values(assignments), updates)


def _has_rows() -> bool:
    conn = op.get_bind()
    return any(conn.execute(sa.select(sa.literal(1)).select_from(sa.table(table)).limit(1)).first()
               for table, _, _ in _ENCRYPTED)


def _keyring() -> Any:
    # Imported here: only a database holding rows needs keys, and the keyring reads the settings.
    from rcmflow.adapters.crypto.process import get_keyring

    return get_keyring()


def _change_types(up: bool) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, _, columns in _ENCRYPTED:
        changes = [(name, kind, before, nullable) for name, kind, before, nullable in columns if kind != "bytes"]
        if not changes:
            continue
        with op.batch_alter_table(table) as batch_op:
            for name, kind, before, nullable in changes:
                using = (_TO_BYTES if up else _FROM_BYTES)[kind].format(c=f'"{name}"')
                batch_op.alter_column(name, type_=sa.LargeBinary() if up else before,
                                      existing_type=before if up else sa.LargeBinary(), existing_nullable=nullable,
                                      **({"postgresql_using": using} if postgres else {}))


def _sqlite_dates() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """SQLite: the decrypted ISO dates of the date columns, by row id. Batch mode copies a column changing type
    with CAST(... AS DATE), and SQLite's DATE cast is numeric: it would keep only the year."""
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return {}
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for table, keys, columns in _ENCRYPTED:
        for name, kind, _, _ in columns:
            if kind == "date":
                target = sa.table(table, sa.column(keys[0]), sa.column(name))
                values = [{"k_id": key, "v": bytes(value).decode("ascii")} for key, value in conn.execute(
                    sa.select(target.c[keys[0]], target.c[name]).where(target.c[name].is_not(None)))]
                if values:
                    found[(table, name)] = values
    return found


def upgrade() -> None:
    """Encrypt the identifier, free-text and raw-document columns; index member ids blindly."""
    op.drop_index("ix_claims_organisation_member", table_name="claims")
    op.drop_index("ix_eligibility_responses_member", table_name="eligibility_responses")
    for table in _INDEXED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("member_id_index", sa.CHAR(length=64), nullable=True))
    _change_types(up=True)
    if _has_rows():
        keyring = _keyring()

        def encrypt(table: str) -> Callable[[str, str, Any], bytes]:
            return lambda name, kind, value: keyring.encrypt(_plain_bytes(kind, value), f"{table}.{name}")

        for table, keys, columns in _ENCRYPTED:
            _rewrite(table, keys, [(name, kind) for name, kind, _, _ in columns], encrypt(table),
                     (lambda member: _index(keyring, bytes(member))) if table in _INDEXED else None)
    with op.batch_alter_table("eligibility_responses") as batch_op:
        batch_op.alter_column("member_id_index", existing_type=sa.CHAR(length=64), nullable=False)
        batch_op.create_index("ix_eligibility_responses_member_index",
                              ["organisation_id", "payer_id", "member_id_index"], unique=False)
    with op.batch_alter_table("claims") as batch_op:
        batch_op.create_index("ix_claims_organisation_member_index", ["organisation_id", "member_id_index"],
                              unique=False)


def downgrade() -> None:
    """Decrypt back to plaintext columns (needs every key that encrypted a value) and drop the blind indexes."""
    if _has_rows():
        keyring = _keyring()

        def decrypt(table: str) -> Callable[[str, str, Any], bytes]:
            return lambda name, kind, value: keyring.decrypt(bytes(value), f"{table}.{name}")

        for table, keys, columns in _ENCRYPTED:
            _rewrite(table, keys, [(name, kind) for name, kind, _, _ in columns], decrypt(table))
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_index("ix_claims_organisation_member_index")
    with op.batch_alter_table("eligibility_responses") as batch_op:
        batch_op.drop_index("ix_eligibility_responses_member_index")
    for table in _INDEXED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("member_id_index")
    dates = _sqlite_dates()
    _change_types(up=False)
    for (table, name), values in dates.items():  # put back what SQLite's CAST(... AS DATE) truncated to the year
        target = sa.table(table, sa.column("id"), sa.column(name))
        op.get_bind().execute(sa.update(target).where(target.c.id == sa.bindparam("k_id"))
                              .values({name: sa.bindparam("v")}), values)
    op.create_index("ix_eligibility_responses_member", "eligibility_responses",
                    ["organisation_id", "payer_id", "member_id"], unique=False)
    op.create_index("ix_claims_organisation_member", "claims", ["organisation_id", "member_id"], unique=False)
