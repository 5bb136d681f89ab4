"""The encrypted column types in a real database: transparent round trips (single and bulk inserts), ciphertext
at rest, and no silent equality on an encrypted column."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, select, text

from rcmflow.adapters.crypto import EncryptedBytes, EncryptedDate, EncryptedJson, EncryptedText, get_keyring
from rcmflow.adapters.crypto.keyring import DecryptionError
from rcmflow.adapters.store.sql import bulk_insert

scratch = MetaData()
people = Table(
    "phi_type_probe", scratch,
    Column("id", Integer, primary_key=True),
    Column("name", EncryptedText("phi_type_probe", "name")),
    Column("other_name", EncryptedText("phi_type_probe", "other_name")),
    Column("born", EncryptedDate("phi_type_probe", "born")),
    Column("document", EncryptedBytes("phi_type_probe", "document")),
    Column("facts", EncryptedJson("phi_type_probe", "facts")),
)
ROW = {"name": "Ana Rivera", "other_name": None, "born": date(1984, 7, 19), "document": b"ISA*00*\x00\xff",
       "facts": {"claim.patient.birth_date": "1984-07-19", "lines": [1, 2]}}


@pytest.fixture
def probe(engine: Engine) -> Iterator[Engine]:
    scratch.create_all(engine)
    try:
        yield engine
    finally:
        scratch.drop_all(engine)


def test_every_type_round_trips_through_the_database(probe: Engine) -> None:
    with probe.begin() as conn:
        conn.execute(people.insert(), [{"id": 1, **ROW}])
        bulk_insert(conn, people, [{"id": row_id, **ROW} for row_id in range(2, 1_002)])  # COPY on PostgreSQL
    with probe.connect() as conn:
        rows = conn.execute(select(people).order_by(people.c.id)).all()
        stored = conn.execute(text("SELECT name, born, document, facts FROM phi_type_probe WHERE id = 1")).one()

    assert len(rows) == 1_001
    assert all({key: value for key, value in row._mapping.items() if key != "id"} == ROW for row in rows)
    keyring = get_keyring()
    assert keyring.decrypt(bytes(stored.name), "phi_type_probe.name") == b"Ana Rivera"
    assert keyring.decrypt(bytes(stored.born), "phi_type_probe.born") == b"1984-07-19"
    assert b"Rivera" not in bytes(stored.name) and b"1984" not in bytes(stored.facts)


def test_a_value_copied_into_another_column_does_not_decrypt(probe: Engine) -> None:
    with probe.begin() as conn:
        conn.execute(people.insert(), [{"id": 1, **ROW}])
        conn.execute(text("UPDATE phi_type_probe SET other_name = name"))
    with probe.connect() as conn, pytest.raises(DecryptionError, match=r"phi_type_probe\.other_name"):
        conn.execute(select(people.c.other_name)).all()


def test_a_tampered_value_does_not_decrypt(probe: Engine, database_backend: str) -> None:
    with probe.begin() as conn:
        conn.execute(people.insert(), [{"id": 1, **ROW}])
        stored = bytearray(conn.execute(text("SELECT name FROM phi_type_probe")).scalar_one())
        stored[-3] ^= 0x40
        conn.execute(text("UPDATE phi_type_probe SET name = :value"), {"value": bytes(stored)})
    with probe.connect() as conn, pytest.raises(DecryptionError, match="fails authentication"):
        conn.execute(select(people.c.name)).all()


def test_equality_on_an_encrypted_column_is_refused() -> None:
    with pytest.raises(TypeError, match="blind index"):
        people.c.name == "Ana Rivera"  # noqa: B015
    with pytest.raises(TypeError, match="blind index"):
        people.c.name.in_(["Ana Rivera"])
    assert str(people.c.name.is_(None)) == "phi_type_probe.name IS NULL"
