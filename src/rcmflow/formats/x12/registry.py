"""Which reader handles which transaction type: a plain dict filled by explicit registration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcmflow.formats.x12.envelope import RawTransaction
from rcmflow.formats.x12.reading import ReadContext

Reader = Callable[[RawTransaction, ReadContext], Any]

READERS: dict[str, Reader] = {}


def register(transaction_type: str) -> Callable[[Reader], Reader]:
    """Register ``reader`` for a transaction type such as "835" or "837P"."""

    def decorate(reader: Reader) -> Reader:
        READERS[transaction_type] = reader
        return reader

    return decorate
