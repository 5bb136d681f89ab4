"""A process whose PHI keys cannot read the database stops before it writes anything under another key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from rcmflow.adapters.crypto.keyfile import generate_keyring, write_key_file
from rcmflow.adapters.crypto.process import DEFAULT_KEY_FILE, get_keyring, reset_keyring
from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.adapters.store.schema import signing_keys
from rcmflow.errors import ConfigurationError
from rcmflow.settings import get_settings, reset_settings

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _store_secret(engine: Engine, kid: str = "kid-1") -> None:
    with engine.begin() as conn:
        conn.execute(insert(signing_keys).values(kid=kid, algorithm="EdDSA", private_key=b"private",
                                                 public_key=b"public", created_at=NOW))


def _keys_from(monkeypatch: pytest.MonkeyPatch, *, key_file: Path | None) -> None:
    """The process's keys come from ``key_file``, or (None) from the default file under the data folder."""
    monkeypatch.delenv("RCMFLOW_PHI_KEYS", raising=False)
    if key_file is None:
        monkeypatch.delenv("RCMFLOW_PHI_KEY_FILE", raising=False)
    else:
        monkeypatch.setenv("RCMFLOW_PHI_KEY_FILE", str(key_file))
    reset_settings()
    reset_keyring()


def test_no_key_file_over_an_encrypted_database_stops_without_making_one(
        empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    used = get_keyring().current
    engine = create_engine_for(empty_database_url)
    ensure_schema(engine)
    _store_secret(engine)
    engine.dispose()

    _keys_from(monkeypatch, key_file=None)  # another folder: no key file there, none named
    fresh = create_engine_for(empty_database_url)
    with pytest.raises(ConfigurationError) as refused:
        ensure_schema(fresh)
    fresh.dispose()
    detail = str(refused.value.params["detail"])
    assert used in detail and "RCMFLOW_PHI_KEY_FILE" in detail
    assert not (get_settings().data_dir / DEFAULT_KEY_FILE).exists()


def test_a_key_file_without_the_databases_key_is_refused(
        empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    used = get_keyring().current
    engine = create_engine_for(empty_database_url)
    ensure_schema(engine)
    _store_secret(engine)
    engine.dispose()

    other = tmp_path / "other-keys.json"
    write_key_file(other, generate_keyring())
    _keys_from(monkeypatch, key_file=other)
    fresh = create_engine_for(empty_database_url)
    with pytest.raises(ConfigurationError) as refused:
        ensure_schema(fresh)
    fresh.dispose()
    assert used in str(refused.value.params["detail"]) and str(other) in str(refused.value.params["detail"])


def test_the_right_keys_and_a_database_without_secrets_pass(
        empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keys = get_keyring()
    own = tmp_path / "own-keys.json"
    write_key_file(own, keys)
    engine = create_engine_for(empty_database_url)
    ensure_schema(engine)  # nothing encrypted yet: nothing to check
    _store_secret(engine)
    engine.dispose()

    _keys_from(monkeypatch, key_file=own)
    fresh = create_engine_for(empty_database_url)
    ensure_schema(fresh)
    fresh.dispose()


def test_a_new_database_still_gets_its_key_file_made(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _keys_from(monkeypatch, key_file=None)
    engine = create_engine_for(empty_database_url)
    ensure_schema(engine)
    _store_secret(engine)  # the first encrypted value makes the default key file, as before
    engine.dispose()
    made = get_settings().data_dir / DEFAULT_KEY_FILE
    assert made.exists() and get_keyring().current in made.read_text()
