"""The process keyring: read once from the settings (key file, inline environment value, or the key file made
on first use under the data folder) and cached."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcmflow.adapters.crypto.keyfile import generate_keyring, parse_keyring, read_key_file, write_key_file
from rcmflow.adapters.crypto.keyring import Keyring
from rcmflow.errors import ConfigurationError
from rcmflow.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEFAULT_KEY_FILE = Path("keys") / "phi-keys.json"

_lock = threading.Lock()
_cached: Keyring | None = None


@dataclass(frozen=True)
class KeySource:
    """Where the keys come from: a file (which rotation may rewrite) or the environment (which it may not)."""

    path: Path | None  # None: RCMFLOW_PHI_KEYS
    generated: bool = False  # the default file, made by rcmflow rather than given by the operator

    @property
    def description(self) -> str:
        return "RCMFLOW_PHI_KEYS" if self.path is None else str(self.path)


def key_source(settings: Settings | None = None) -> KeySource:
    settings = settings or get_settings()
    if settings.phi_keys is not None:
        if settings.phi_key_file is not None:
            raise ConfigurationError(detail="set RCMFLOW_PHI_KEY_FILE or RCMFLOW_PHI_KEYS, not both")
        return KeySource(None)
    if settings.phi_key_file is not None:
        return KeySource(settings.phi_key_file)
    return KeySource(settings.data_dir / DEFAULT_KEY_FILE, generated=True)


def load_keyring(settings: Settings | None = None) -> Keyring:
    """Read the keyring the settings name; with none named, the default key file, created when missing."""
    settings = settings or get_settings()
    source = key_source(settings)
    if source.path is None:
        assert settings.phi_keys is not None
        return parse_keyring(settings.phi_keys.get_secret_value(), "RCMFLOW_PHI_KEYS")
    if source.generated and not source.path.exists():
        keyring = generate_keyring()
        try:
            write_key_file(source.path, keyring, exclusive=True)
        except FileExistsError:  # another process made it first: use theirs
            return read_key_file(source.path)
        log.warning("no PHI keys configured: generated %s (mode 0600). Back it up with the database: without it "
                    "the encrypted health information cannot be read. Set RCMFLOW_PHI_KEY_FILE in production.",
                    source.path)
        return keyring
    return read_key_file(source.path)


def get_keyring() -> Keyring:
    """The process keyring, loaded on first use."""
    global _cached
    keyring = _cached
    if keyring is None:
        with _lock:
            if _cached is None:
                _cached = load_keyring()
            keyring = _cached
    return keyring


def reset_keyring() -> None:
    """Forget the cached keyring: the next use reads the settings again (tests, and after ``keys rotate``)."""
    global _cached
    with _lock:
        _cached = None


def blind_index(value: str | None) -> str | None:
    """The blind index of ``value`` under the process keyring (None for no value): what lookups compare."""
    return get_keyring().blind_index(value)


def blind_index_default(source_column: str) -> Callable[[Any], str | None]:
    """A column default filling a blind index from ``source_column`` of the same INSERT, so a Core insert that
    names only the member id still gets its index. The bulk paths (driver-level multi-row INSERTs, COPY) skip column
    defaults: their writers fill the index themselves."""
    def default(context: Any) -> str | None:
        value = context.get_current_parameters().get(source_column)
        return blind_index(value) if isinstance(value, str) else None

    return default
