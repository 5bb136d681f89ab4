"""``rcmflow keys``: status per key and column, rotation of a key file, re-encryption, retirement of an old key,
and rotation refused (with what to do instead) when the keys come from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from rcmflow.adapters.crypto import reset_keyring
from rcmflow.adapters.crypto.keyfile import generate_keyring, read_key_file, write_key_file
from rcmflow.adapters.store.engine import get_engine
from rcmflow.adapters.store.schema import claims, documents
from rcmflow.entrypoints.cli import app
from rcmflow.settings import get_settings, reset_settings
from tests.entrypoints.test_cli_claims import CHARGES

runner = CliRunner()


@pytest.fixture
def key_file(tmp_path: Path, empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "phi-keys.json"
    write_key_file(path, generate_keyring())
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    monkeypatch.delenv("RCMFLOW_PHI_KEYS", raising=False)
    monkeypatch.setenv("RCMFLOW_PHI_KEY_FILE", str(path))
    reset_settings()
    reset_keyring()
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "charges.csv").write_text(CHARGES, encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(tmp_path / "inbox")]).exit_code == 0
    return path


def status() -> dict:
    result = runner.invoke(app, ["keys", "status", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rotate_reencrypt_and_retire(key_file: Path) -> None:
    first = status()
    old = first["current"]
    assert first["source"] == str(key_file) and first["unknown_keys"] == []
    assert first["columns"]["claims.member_id"] == {old: 4}
    assert first["columns"]["documents.content"] == {old: 1}
    assert [key["values"] for key in first["keys"]] == [sum(c.get(old, 0) for c in first["columns"].values())]

    rotated = runner.invoke(app, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    new = read_key_file(key_file).current
    assert new != old and f"added key {new}" in rotated.stdout
    assert status()["current"] == new

    refused = runner.invoke(app, ["keys", "retire", old])
    assert refused.exit_code != 0 and "still under key" in str(refused.exception)

    moved = runner.invoke(app, ["keys", "reencrypt", "--batch-size", "2"])
    assert moved.exit_code == 0, moved.output
    after = status()
    assert all(set(counts) <= {new} for counts in after["columns"].values())
    assert {key["id"]: key["values"] for key in after["keys"]} == {old: 0, new: first["keys"][0]["values"]}

    retired = runner.invoke(app, ["keys", "retire", old])
    assert retired.exit_code == 0, retired.output
    assert set(read_key_file(key_file).keys) == {new}
    assert status()["columns"]["claims.member_id"] == {new: 4}
    reset_keyring()
    with get_engine(get_settings()).connect() as conn:  # every value reads back under the new key alone
        assert set(conn.execute(select(claims.c.member_id)).scalars()) == {"XKB884120301"}
        assert len(conn.execute(select(documents.c.content)).scalar_one()) == len(CHARGES)


def test_rotation_is_refused_for_keys_from_the_environment(key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RCMFLOW_PHI_KEY_FILE")
    monkeypatch.setenv("RCMFLOW_PHI_KEYS", key_file.read_text())
    reset_settings()
    reset_keyring()

    result = runner.invoke(app, ["keys", "rotate"])

    assert result.exit_code != 0
    assert "RCMFLOW_PHI_KEYS" in str(result.exception) and "RCMFLOW_PHI_KEY_FILE" in str(result.exception)
    assert key_file.read_text() == json.dumps(json.loads(key_file.read_text()), indent=2) + "\n"  # untouched
