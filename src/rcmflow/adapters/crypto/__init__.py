"""Encryption of protected health information at rest: keyring, key file, column types (docs/design/phi.md)."""

from rcmflow.adapters.crypto.keyring import DecryptionError, Keyring
from rcmflow.adapters.crypto.process import blind_index, get_keyring, reset_keyring
from rcmflow.adapters.crypto.types import (
    Encrypted,
    EncryptedBytes,
    EncryptedDate,
    EncryptedJson,
    EncryptedText,
)

__all__ = ["DecryptionError", "Encrypted", "EncryptedBytes", "EncryptedDate", "EncryptedJson", "EncryptedText",
           "Keyring", "blind_index", "get_keyring", "reset_keyring"]
