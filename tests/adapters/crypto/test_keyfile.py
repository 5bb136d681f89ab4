"""The key file and where the process keyring comes from: a file, the environment, or a file made on first use."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from rcmflow.adapters.crypto.keyfile import generate_keyring, read_key_file, render_keyring, write_key_file
from rcmflow.adapters.crypto.process import get_keyring, key_source, reset_keyring
from rcmflow.errors import ConfigurationError
from rcmflow.settings import Settings, reset_settings


@pytest.fixture
def no_configured_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("RCMFLOW_PHI_KEYS", raising=False)
    monkeypatch.delenv("RCMFLOW_PHI_KEY_FILE", raising=False)
    monkeypatch.setenv("RCMFLOW_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    reset_keyring()
    return tmp_path / "data"


def test_a_key_file_round_trips(tmp_path: Path) -> None:
    keyring = generate_keyring()
    path = tmp_path / "keys.json"
    write_key_file(path, keyring)

    assert read_key_file(path) == keyring
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_without_configured_keys_a_key_file_is_made_once_with_a_warning(
        no_configured_keys: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        keyring = get_keyring()
    path = no_configured_keys / "keys" / "phi-keys.json"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in caplog.text and "Back it up" in caplog.text
    reset_keyring()
    assert get_keyring() == keyring  # the next process reads the same file


def test_an_existing_default_file_is_never_replaced(no_configured_keys: Path) -> None:
    with pytest.raises(FileExistsError):
        path = no_configured_keys / "keys" / "phi-keys.json"
        write_key_file(path, generate_keyring(), exclusive=True)
        write_key_file(path, generate_keyring(), exclusive=True)


def test_inline_keys_are_secret_and_exclusive_with_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = render_keyring(generate_keyring())
    settings = Settings(phi_keys=text)
    assert text not in repr(settings) and text not in str(settings.model_dump())
    assert key_source(settings).path is None
    with pytest.raises(ConfigurationError, match="not both"):
        key_source(Settings(phi_keys=text, phi_key_file=tmp_path / "keys.json"))


def test_a_broken_key_file_never_echoes_its_content(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    document = json.loads(render_keyring(generate_keyring()))
    secret = document["index_key"]
    document["index_key"] = secret[:-4] + "!!!!"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match="index_key is not valid base64") as raised:
        read_key_file(path)
    assert secret[:20] not in str(raised.value)
    path.write_text("{" + secret)
    with pytest.raises(ConfigurationError, match="not valid JSON") as raised:
        read_key_file(path)
    assert secret[:20] not in str(raised.value)
