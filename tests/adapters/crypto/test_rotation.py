"""Rotation: a new current key, then re-encryption in batches leaves no value under the old key, every value
still reads back, and an interrupted run resumes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from rcmflow.adapters.crypto import get_keyring, reset_keyring
from rcmflow.adapters.crypto.keyfile import generate_keyring, read_key_file, with_new_key, write_key_file
from rcmflow.adapters.crypto.rotation import encrypted_columns, key_usage, reencrypt, stale_count
from rcmflow.adapters.store.schema import claims, documents, eligibility_responses, metadata, scrub_findings
from rcmflow.settings import reset_settings
from tests.entrypoints.test_cli_claims import CHARGES
from tests.services.test_eligibility import _scrub_as_of_march, ingest  # noqa: F401 (autouse fixture)


@pytest.fixture
def key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "phi-keys.json"
    write_key_file(path, generate_keyring())
    monkeypatch.delenv("RCMFLOW_PHI_KEYS", raising=False)
    monkeypatch.setenv("RCMFLOW_PHI_KEY_FILE", str(path))
    reset_settings()
    reset_keyring()
    return path


def _readable(engine: Engine) -> tuple[object, ...]:
    with engine.connect() as conn:
        return (conn.execute(select(claims.c.member_id).order_by(claims.c.id)).scalars().all(),
                conn.execute(select(documents.c.content, documents.c.errors).order_by(documents.c.id)).all(),
                conn.execute(select(scrub_findings.c.message, scrub_findings.c.inputs)
                             .order_by(scrub_findings.c.id)).all(),
                conn.execute(select(eligibility_responses.c.member_id)).scalars().all())


def _usage(engine: Engine) -> dict[str, int]:
    totals: dict[str, int] = {}
    with engine.connect() as conn:
        for target in encrypted_columns(metadata):
            for key_id, count in key_usage(conn, target).items():
                totals[key_id] = totals.get(key_id, 0) + count
    return totals


def test_reencrypt_moves_every_value_to_the_new_key(engine: Engine, key_file: Path) -> None:
    ingest(engine, CHARGES, "charges.csv")
    old = get_keyring()
    before = _readable(engine)
    stored = sum(_usage(engine).values())
    assert stored > 10 and set(_usage(engine)) == {old.current}

    write_key_file(key_file, with_new_key(read_key_file(key_file)))
    reset_keyring()
    new = get_keyring()
    assert _readable(engine) == before  # old values still read under the rotated keyring
    ingest(engine, CHARGES.replace("V1,", "W1,"), "more.csv")  # new writes use the new key
    assert _usage(engine)[new.current] > 0

    columns = encrypted_columns(metadata)
    batches = reencrypt(engine, new, columns, batch_size=3)
    next(batches)  # interrupted after one batch (committed) ...
    batches.close()
    with engine.connect() as conn:
        left = sum(stale_count(conn, target, new) for target in columns)
    assert 0 < left < stored
    moved = sum(reencrypt(engine, new, columns, batch_size=3))  # ... and run again: it resumes
    assert moved == left

    assert set(_usage(engine)) == {new.current}
    assert sum(reencrypt(engine, new, columns, batch_size=3)) == 0  # nothing left: safe to re-run
    without_old = type(new)({new.current: new.keys[new.current]}, new.current, new.index_key)
    write_key_file(key_file, without_old)
    reset_keyring()
    member_ids, *_ = _readable(engine)  # everything reads without the old key
    assert member_ids[:len(before[0])] == before[0]
    with engine.connect() as conn:  # the blind index did not change: lookups still find the claims
        assert conn.execute(select(claims.c.id).where(
            claims.c.member_id_index == get_keyring().blind_index("XKB884120301"))).first() is not None
