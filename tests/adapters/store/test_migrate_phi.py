"""Revision 0016 encrypts the rows a database already holds, gives their member ids a blind index, and its
downgrade gives the plaintext back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select

from rcmflow.adapters.crypto import get_keyring
from rcmflow.adapters.store import migrate
from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.schema import claims, documents, eligibility_responses

NOW = "2026-03-20 12:00:00"


@pytest.fixture
def engine_at_0015(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(empty_database_url)
    migrate.upgrade(engine, "0015_webhooks")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO documents (sha256, size_bytes, channel, detected_type, status, received_at, content, errors, "
            "summary) VALUES (:sha, 9, 'test', 'x12', 'parsed', :now, :content, :errors, :summary)"),
            {"sha": "0" * 64, "now": NOW, "content": b"NM1*IL*1*RIVERA*ANA", "errors": '[{"message": "DMG02 x"}]',
             "summary": '{"file": "a.837"}'})
        conn.execute(sa.text(
            "INSERT INTO claims (organisation_id, payer_id, claim_type, patient_control_number, frequency, "
            "filing_order, member_id, total_charge, line_count, state, content_digest, created_at) VALUES "
            "('default', 'P1', 'P', 'PCN1', '1', 'P', :member, 10, 1, 'registered', :digest, :now)"),
            [{"member": "XKB884120301", "digest": "1" * 64, "now": NOW},
             {"member": None, "digest": "2" * 64, "now": NOW}])
        conn.execute(sa.text(
            "INSERT INTO eligibility_responses (organisation_id, payer_id, member_id, last_name, first_name, "
            "birth_date, status, created_at) VALUES ('default', 'P1', 'XKB884120301', 'RIVERA', 'ANA', :born, "
            "'active', :now)"), {"born": date(1984, 7, 19), "now": NOW})
    yield engine
    engine.dispose()


def test_upgrade_encrypts_existing_rows_and_downgrade_restores_them(engine_at_0015: Engine) -> None:
    migrate.upgrade(engine_at_0015)

    keyring = get_keyring()
    with engine_at_0015.connect() as conn:
        assert conn.execute(select(claims.c.member_id, claims.c.member_id_index).order_by(claims.c.id)).all() == [
            ("XKB884120301", keyring.blind_index("XKB884120301")), (None, None)]
        assert conn.execute(select(documents.c.content, documents.c.errors, documents.c.summary)).one() == (
            b"NM1*IL*1*RIVERA*ANA", [{"message": "DMG02 x"}], {"file": "a.837"})
        answer = conn.execute(select(eligibility_responses)).one()
        assert (answer.member_id, answer.last_name, answer.first_name, answer.birth_date) == (
            "XKB884120301", "RIVERA", "ANA", date(1984, 7, 19))
        assert answer.member_id_index == keyring.blind_index("XKB884120301")
        raw = conn.execute(sa.text("SELECT member_id, last_name, birth_date FROM eligibility_responses")).one()
        assert not any(b"XKB" in bytes(value) or b"RIVERA" in bytes(value) or b"1984" in bytes(value)
                       for value in raw)

    migrate.downgrade(engine_at_0015, "0015_webhooks")

    with engine_at_0015.connect() as conn:
        assert conn.execute(sa.text("SELECT member_id FROM claims ORDER BY id")).scalars().all() == [
            "XKB884120301", None]
        last_name, born = conn.execute(sa.text("SELECT last_name, birth_date FROM eligibility_responses")).one()
        assert last_name == "RIVERA" and str(born) == "1984-07-19"
        assert bytes(conn.execute(sa.text("SELECT content FROM documents")).scalar_one()) == b"NM1*IL*1*RIVERA*ANA"
