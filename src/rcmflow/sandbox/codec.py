"""Canonical records (NamedTuples of Decimals, dates and tuples) to JSON and back, exactly.

The sandbox keeps what it has promised to pay in its state file; amounts must come back as the same
Decimals and records as the same NamedTuples, so a later run pays exactly what the earlier one decided.
Each record type is named by a tag; fields left at their default are not written.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

DECIMAL, DATE, RECORD = "$d", "$t", "$r"


class Codec:
    """Encodes and decodes the NamedTuple types it is given (tag -> type)."""

    def __init__(self, types: dict[str, type]) -> None:
        self._types = dict(types)
        self._tags = {cls: tag for tag, cls in types.items()}

    def encode(self, value: Any) -> Any:
        """JSON-ready data for a value (None, str, int, bool, Decimal, date, tuple, known NamedTuple)."""
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, Decimal):
            return {DECIMAL: str(value)}
        if isinstance(value, date):
            return {DATE: value.isoformat()}
        tag = self._tags.get(type(value))
        if tag is not None:
            defaults = type(value)._field_defaults  # type: ignore[attr-defined]
            fields = {name: self.encode(item) for name, item in zip(value._fields, value, strict=True)
                      if name not in defaults or not _same(defaults[name], item)}
            return {RECORD: tag, **fields}
        if isinstance(value, tuple | list):
            return [self.encode(item) for item in value]
        raise TypeError(f"cannot encode {type(value).__name__} {value!r}")

    def decode(self, data: Any) -> Any:
        """The value ``encode`` was given (lists come back as tuples)."""
        if isinstance(data, list):
            return tuple(self.decode(item) for item in data)
        if not isinstance(data, dict):
            return data
        if DECIMAL in data:
            return Decimal(data[DECIMAL])
        if DATE in data:
            return date.fromisoformat(data[DATE])
        tag = data.get(RECORD)
        if tag not in self._types:
            raise ValueError(f"unknown record tag {tag!r}")
        return self._types[tag](**{name: self.decode(item) for name, item in data.items() if name != RECORD})


def _same(default: Any, value: Any) -> bool:
    """Equal and written alike (Decimal("0") and Decimal("0.00") are equal but not the same amount text)."""
    return type(default) is type(value) and (str(default) == str(value) if isinstance(value, Decimal)
                                             else default == value)
