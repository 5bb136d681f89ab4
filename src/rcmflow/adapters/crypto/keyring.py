"""The keys that protect health information at rest: AES-256-GCM data keys by key id, one of them current, and
a separate HMAC key for blind indexes.

Ciphertext layout (``encrypt``): version byte 0x01, key id length (1 byte), key id (ASCII), 12-byte random
nonce, AES-256-GCM ciphertext with its 16-byte tag. The associated data is the header (version and key id) and
the value's ``table.column`` label, so a value copied into another column, or a header edited to name another
key, fails authentication instead of decrypting.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rcmflow.errors import ConfigurationError, RcmflowError

FORMAT_VERSION: Final = 1
KEY_BYTES: Final = 32  # AES-256
NONCE_BYTES: Final = 12  # the GCM standard nonce: random per value, 2^32 values per key keep collisions negligible
TAG_BYTES: Final = 16
KEY_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")


class DecryptionError(RcmflowError):
    """A stored value that does not decrypt: tampered, moved to another column, or under an unknown key.

    Names where and under which key, never the value."""

    code = "decryption"
    http_status = 500


def _aad(header: bytes, label: str) -> bytes:
    return header + b"|" + label.encode("ascii")


def header(key_id: str) -> bytes:
    """The clear header of a value under ``key_id``: version byte, key id length, key id."""
    encoded = key_id.encode("ascii")
    return bytes((FORMAT_VERSION, len(encoded))) + encoded


def key_id_of(ciphertext: bytes) -> str:
    """The key id a stored value names (without decrypting it); raises ValueError when it is no ciphertext."""
    if len(ciphertext) < 2 or ciphertext[0] != FORMAT_VERSION:
        raise ValueError("not an rcmflow ciphertext (unknown format version)")
    end = 2 + ciphertext[1]
    if ciphertext[1] == 0 or len(ciphertext) < end + NONCE_BYTES + TAG_BYTES:
        raise ValueError("not an rcmflow ciphertext (truncated)")
    return ciphertext[2:end].decode("ascii", errors="replace")


class _NoncePool:
    """Random nonces taken from a buffer that ``os.urandom`` fills 4,096 nonces at a time.

    ``os.urandom`` releases the GIL on every call; encrypting a million values while the write and read-ahead
    threads run, each call waited for the GIL again (200 us where the call takes 0.6 us). Every nonce is still
    the kernel's random bytes, each handed out once: under a lock, and emptied in a forked child, which must not
    reuse the parent's."""

    _SIZE = 4_096 * NONCE_BYTES

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0

    def take(self) -> bytes:
        with self._lock:
            if self._offset >= len(self._buffer):
                self._buffer, self._offset = os.urandom(self._SIZE), 0
            start = self._offset
            self._offset += NONCE_BYTES
            return self._buffer[start:start + NONCE_BYTES]

    def clear(self) -> None:
        self._buffer, self._offset = b"", 0
        self._lock = threading.Lock()  # a lock held by another thread at the fork stays held in the child


_NONCES = _NoncePool()
os.register_at_fork(after_in_child=_NONCES.clear)


def normalise_for_index(value: str) -> str:
    """What a blind index compares: surrounding blanks and letter case never distinguish two identifiers."""
    return value.strip().upper()


@dataclass(frozen=True)
class Keyring:
    """Data keys by id (``current`` encrypts, all decrypt) and the blind-index key, which never rotates."""

    keys: Mapping[str, bytes]
    current: str
    index_key: bytes
    created: Mapping[str, str] = field(default_factory=dict)  # key id -> ISO timestamp, for ``keys status``
    _ciphers: dict[str, AESGCM] = field(init=False, repr=False, compare=False)
    _index_hmac: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            if not KEY_ID_PATTERN.fullmatch(key_id):
                raise ConfigurationError(detail=f"PHI key id {key_id!r} must be 1-32 letters, digits, _ or -")
            if len(key) != KEY_BYTES:
                raise ConfigurationError(detail=f"PHI key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
        if self.current not in self.keys:
            raise ConfigurationError(detail=f"current PHI key {self.current!r} is not among the keys")
        if len(self.index_key) != KEY_BYTES:
            raise ConfigurationError(detail=f"the blind-index key must be {KEY_BYTES} bytes")
        if any(hmac.compare_digest(self.index_key, key) for key in self.keys.values()):
            raise ConfigurationError(detail="the blind-index key must differ from every data key")
        # AESGCM objects are built once: constructing one per value would dominate bulk encryption.
        object.__setattr__(self, "_ciphers", {key_id: AESGCM(key) for key_id, key in self.keys.items()})
        object.__setattr__(self, "_index_hmac", hmac.new(self.index_key, digestmod=hashlib.sha256))

    def encrypt(self, plaintext: bytes, label: str) -> bytes:
        """``plaintext`` under the current key, bound to ``label`` ("table.column")."""
        prefix = header(self.current)
        nonce = _NONCES.take()
        return prefix + nonce + self._ciphers[self.current].encrypt(nonce, plaintext, _aad(prefix, label))

    def decrypt(self, ciphertext: bytes, label: str) -> bytes:
        """The plaintext of a value ``encrypt`` made for ``label``; DecryptionError when it does not authenticate."""
        try:
            key_id = key_id_of(ciphertext)
        except ValueError as exc:
            raise DecryptionError(f"{label}: stored value is {exc}") from None
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"{label}: stored value is under PHI key {key_id!r}, which the keyring lacks "
                                  "(was it removed before `rcmflow keys reencrypt` finished?)")
        start = 2 + len(key_id)
        header, nonce = ciphertext[:start], ciphertext[start:start + NONCE_BYTES]
        body = ciphertext[start + NONCE_BYTES:]
        try:
            return cipher.decrypt(nonce, body, _aad(header, label))
        except InvalidTag:
            raise DecryptionError(f"{label}: stored value under PHI key {key_id!r} fails authentication "
                                  "(altered, or copied from another column)") from None

    def blind_index(self, value: str | None) -> str | None:
        """HMAC-SHA256 (hex) of the normalised value: equal identifiers give equal indexes, and the index reveals
        nothing about the value to whoever lacks the index key. None (or blank) has no index."""
        if value is None:
            return None
        normalised = normalise_for_index(value)
        if not normalised:
            return None
        # A copy of an HMAC keyed once (``_index_hmac``), not the one-shot ``hmac.digest``: that releases the GIL
        # for each value, and intake computes one per claim and claim payment while its writer and read-ahead
        # threads run, so each call waited for the GIL again (a busy thread made one digest cost 2 ms instead of
        # 2 us). An HMAC object's update holds the GIL for messages this short. Same value as hmac.digest.
        index = self._index_hmac.copy()
        index.update(normalised.encode("utf-8"))
        return index.hexdigest()
