"""Column types that encrypt on the way into the database and decrypt on the way out, with the process keyring.

Core inserts (executemany and the bulk helpers of ``adapters.store.sql`` included), updates and selects stay
transparent. Equality on such a column cannot work (each encryption draws a fresh nonce): compare its blind
index column instead; the comparator refuses, so the mistake fails loudly rather than finding nothing.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Dialect, LargeBinary, TypeDecorator
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeEngine

from rcmflow.adapters.crypto.process import get_keyring

T = TypeVar("T")

_VALUE_COMPARISONS = frozenset({operators.eq, operators.ne, operators.in_op, operators.not_in_op, operators.like_op,
                                operators.lt, operators.le, operators.gt, operators.ge})


class _EncryptedComparator(TypeDecorator.Comparator[Any]):
    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        if op in _VALUE_COMPARISONS and not (len(other) == 1 and other[0] is None):
            raise TypeError(f"{self.expr} is encrypted: compare its blind index column, not its value")
        return super().operate(op, *other, **kwargs)


class Encrypted(TypeDecorator[T]):
    """Base of the encrypted types: AES-256-GCM ciphertext (BLOB / BYTEA) bound to ``table.column``."""

    impl = LargeBinary
    cache_ok = True
    comparator_factory = _EncryptedComparator

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.table = table
        self.column = column
        self.label = f"{table}.{column}"

    def to_bytes(self, value: T) -> bytes:
        raise NotImplementedError

    def from_bytes(self, value: bytes) -> T:
        raise NotImplementedError

    def encrypt(self, value: T | None) -> bytes | None:
        """The stored form of ``value`` (what the bind step sends): also for raw-SQL and COPY paths."""
        return None if value is None else get_keyring().encrypt(self.to_bytes(value), self.label)

    def decrypt(self, stored: bytes | memoryview | None) -> T | None:
        return None if stored is None else self.from_bytes(get_keyring().decrypt(bytes(stored), self.label))

    def process_bind_param(self, value: T | None, dialect: Dialect) -> bytes | None:
        return self.encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> T | None:
        return self.decrypt(value)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self


class EncryptedText(Encrypted[str]):
    cache_ok = True  # SQLAlchemy reads it per class

    def to_bytes(self, value: str) -> bytes:
        return value.encode("utf-8")

    def from_bytes(self, value: bytes) -> str:
        return value.decode("utf-8")

    @property
    def python_type(self) -> type[Any]:
        return str


class EncryptedDate(Encrypted[date]):
    cache_ok = True  # SQLAlchemy reads it per class

    def to_bytes(self, value: date) -> bytes:
        return value.isoformat().encode("ascii")

    def from_bytes(self, value: bytes) -> date:
        return date.fromisoformat(value.decode("ascii"))

    @property
    def python_type(self) -> type[Any]:
        return date


class EncryptedBytes(Encrypted[bytes]):
    cache_ok = True  # SQLAlchemy reads it per class

    def to_bytes(self, value: bytes) -> bytes:
        return bytes(value)

    def from_bytes(self, value: bytes) -> bytes:
        return value

    @property
    def python_type(self) -> type[Any]:
        return bytes


class EncryptedJson(Encrypted[Any]):
    """A JSON document, encrypted whole: no SQL can look inside it, so only for documents read as a whole."""

    cache_ok = True

    def to_bytes(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def from_bytes(self, value: bytes) -> Any:
        return json.loads(value)

    @property
    def python_type(self) -> type[Any]:
        return dict
