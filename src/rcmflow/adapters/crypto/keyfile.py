"""The PHI key file: read it, write it (mode 0600, atomically), create one, add a key to it.

Format (the same JSON may sit inline in ``RCMFLOW_PHI_KEYS``)::

    {"format": 1,
     "current": "k20261206-3fa9",
     "keys": {"k20261206-3fa9": {"key": "<base64 of 32 bytes>", "created_at": "2026-12-06T10:00:00+00:00"}},
     "index_key": "<base64 of 32 bytes>"}

A key may also be given as the bare base64 string. The index key never rotates: blind indexes made with it
would all have to be recomputed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rcmflow.adapters.crypto.keyring import KEY_BYTES, Keyring
from rcmflow.errors import ConfigurationError

FILE_FORMAT = 1


def new_key_id(now: datetime | None = None) -> str:
    """A key id that says when the key was made and cannot collide with another made that day."""
    return f"k{(now or datetime.now(UTC)):%Y%m%d}-{secrets.token_hex(2)}"


def _decode_key(value: object, what: str) -> bytes:
    if isinstance(value, dict):
        value = value.get("key")
    if not isinstance(value, str):
        raise ConfigurationError(detail=f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(detail=f"{what} is not valid base64") from None


def parse_keyring(text: str, source: str) -> Keyring:
    """The keyring a key file (or the inline environment value) describes; ``source`` names it in errors."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        # Never echo the text: it is key material.
        raise ConfigurationError(detail=f"{source} is not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), dict) or not document["keys"]:
        raise ConfigurationError(detail=f"{source} must be a JSON object with a non-empty \"keys\" object")
    if document.get("format", FILE_FORMAT) != FILE_FORMAT:
        raise ConfigurationError(detail=f"{source} has format {document.get('format')!r}; expected {FILE_FORMAT}")
    current = document.get("current")
    if not isinstance(current, str):
        raise ConfigurationError(detail=f"{source} must name the \"current\" key id")
    keys = {key_id: _decode_key(value, f"{source}: key {key_id!r}") for key_id, value in document["keys"].items()}
    created = {key_id: str(value.get("created_at", "")) for key_id, value in document["keys"].items()
               if isinstance(value, dict)}
    index_key = _decode_key(document.get("index_key"), f"{source}: index_key")
    try:
        return Keyring(keys, current, index_key, created)
    except ConfigurationError as exc:
        raise ConfigurationError(detail=f"{source}: {exc.params.get('detail', exc)}") from None


def render_keyring(keyring: Keyring) -> str:
    """The key file text of ``keyring``."""
    def encoded(key: bytes) -> str:
        return base64.b64encode(key).decode("ascii")

    document: dict[str, Any] = {
        "format": FILE_FORMAT,
        "current": keyring.current,
        "keys": {key_id: {"key": encoded(key), "created_at": keyring.created.get(key_id, "")}
                 for key_id, key in keyring.keys.items()},
        "index_key": encoded(keyring.index_key),
    }
    return json.dumps(document, indent=2) + "\n"


def write_key_file(path: Path, keyring: Keyring, *, exclusive: bool = False) -> None:
    """Write ``keyring`` to ``path``, readable by its owner only, in one rename (a crash leaves the old file or
    the new one, never half of one). ``exclusive``: raise FileExistsError rather than replace a file, so two
    processes creating the default file at once cannot each keep a different key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(render_keyring(keyring))
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(temporary, path)  # fails when the path exists, unlike a rename
        else:
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read_key_file(path: Path) -> Keyring:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(detail=f"PHI key file {path} does not exist") from None
    except OSError as exc:
        raise ConfigurationError(detail=f"PHI key file {path} cannot be read: {exc.strerror}") from None
    return parse_keyring(text, f"PHI key file {path}")


def generate_keyring(now: datetime | None = None) -> Keyring:
    """A new keyring: one data key (current) and an index key, from the operating system's CSPRNG."""
    moment = now or datetime.now(UTC)
    key_id = new_key_id(moment)
    return Keyring({key_id: secrets.token_bytes(KEY_BYTES)}, key_id, secrets.token_bytes(KEY_BYTES),
                   {key_id: moment.isoformat(timespec="seconds")})


def with_new_key(keyring: Keyring, now: datetime | None = None) -> Keyring:
    """``keyring`` plus a fresh data key, made current; the old keys stay to decrypt what they encrypted."""
    moment = now or datetime.now(UTC)
    key_id = new_key_id(moment)
    while key_id in keyring.keys:
        key_id = new_key_id(moment)
    return Keyring({**keyring.keys, key_id: secrets.token_bytes(KEY_BYTES)}, key_id, keyring.index_key,
                   {**keyring.created, key_id: moment.isoformat(timespec="seconds")})


def without_key(keyring: Keyring, key_id: str) -> Keyring:
    """``keyring`` less one retired key (never the current one)."""
    if key_id == keyring.current:
        raise ConfigurationError(detail=f"PHI key {key_id!r} is the current key and cannot be removed")
    if key_id not in keyring.keys:
        raise ConfigurationError(detail=f"PHI key {key_id!r} is not in the keyring")
    return Keyring({k: v for k, v in keyring.keys.items() if k != key_id}, keyring.current, keyring.index_key,
                   {k: v for k, v in keyring.created.items() if k != key_id})
