"""Key usage and re-encryption over every encrypted column, set-based: what ``rcmflow keys`` runs.

The key id sits in clear in each value's header (``keyring``), so SQL can count values per key and select the
ones not under the current key without decrypting anything; only the values rewritten are decrypted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, LargeBinary, MetaData, bindparam, func, literal_column, select, type_coerce
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table

from rcmflow.adapters.crypto.keyring import Keyring, header
from rcmflow.adapters.crypto.types import Encrypted


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    keys: tuple[str, ...]  # the table's primary key columns

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


def encrypted_columns(metadata: MetaData) -> list[EncryptedColumn]:
    """Every encrypted column of the schema, in table order."""
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Encrypted):
                found.append(EncryptedColumn(table.name, column.name, tuple(key.name for key in table.primary_key)))
    return found


def _stored(target: EncryptedColumn) -> Any:
    """The column as stored (ciphertext bytes), bypassing the decrypting type."""
    return sql_column(target.column, LargeBinary())


def _from(target: EncryptedColumn) -> Any:
    return sql_table(target.table, _stored(target), *(sql_column(name) for name in target.keys))


def key_usage(conn: Connection, target: EncryptedColumn) -> Counter[str]:
    """Number of values of one column under each key id."""
    stored = type_coerce(sql_column(target.column), LargeBinary())
    source = sql_table(target.table, sql_column(target.column))
    usage: Counter[str] = Counter()

    def part(start: int, length: int) -> Any:
        # Literal positions: PostgreSQL matches GROUP BY to the select list by text, and bound parameters differ.
        return func.substr(stored, literal_column(str(start)), literal_column(str(length)))

    lengths = conn.execute(select(part(2, 1), func.count()).select_from(source)
                           .where(sql_column(target.column).is_not(None)).group_by(part(2, 1))).all()
    for length_byte, _ in lengths:
        length = bytes(length_byte)[0] if length_byte else 0
        for key_id, count in conn.execute(
                select(part(3, length), func.count()).select_from(source)
                .where(part(2, 1) == type_coerce(bindparam("n", bytes((length,))), LargeBinary()))
                .group_by(part(3, length))):
            usage[bytes(key_id).decode("ascii", errors="replace")] += count
    return usage


def end_values(conn: Connection, target: EncryptedColumn, window: int) -> list[bytes]:
    """The stored value nearest each end of one column's table (by its first key), looked for among the first and
    the last ``window`` rows only: a sample that never reads a whole table, for ``key_check``."""
    source = _from(target)
    order, stored = source.c[target.keys[0]], source.c[target.column]
    values = []
    for direction in (order.asc(), order.desc()):
        rows = select(stored).order_by(direction).limit(window).subquery()
        value = conn.execute(select(rows.c[target.column]).where(rows.c[target.column].is_not(None))
                             .limit(1)).scalar()
        if value is not None:
            values.append(bytes(value))
    return values


def _stale(target: EncryptedColumn, current: str) -> Any:
    stored = type_coerce(sql_column(target.column), LargeBinary())
    prefix = header(current)
    return (sql_column(target.column).is_not(None),
            func.substr(stored, 1, len(prefix)) != type_coerce(bindparam("current", prefix), LargeBinary()))


def stale_count(conn: Connection, target: EncryptedColumn, keyring: Keyring) -> int:
    """Values of one column not under the current key."""
    return conn.execute(select(func.count()).select_from(sql_table(target.table, sql_column(target.column)))
                        .where(*_stale(target, keyring.current))).scalar_one()


def reencrypt_batch(conn: Connection, target: EncryptedColumn, keyring: Keyring, batch_size: int) -> int:
    """Re-encrypt up to ``batch_size`` values of one column under the current key; returns how many (0: done).

    Each batch selects values still under another key, so an interrupted run resumes where it stopped."""
    source = _from(target)
    keys = [source.c[name] for name in target.keys]
    rows = conn.execute(select(*keys, source.c[target.column]).where(*_stale(target, keyring.current))
                        .order_by(*keys).limit(batch_size)).all()
    if not rows:
        return 0
    width = len(keys)
    updates = [{"new_value": keyring.encrypt(keyring.decrypt(bytes(row[width]), target.label), target.label),
                **{f"key_{name}": value for name, value in zip(target.keys, row[:width], strict=True)}}
               for row in rows]
    conn.execute(source.update().where(*(key == bindparam(f"key_{key.name}") for key in keys))
                 .values({target.column: bindparam("new_value", type_=LargeBinary())}), updates)
    return len(rows)


def reencrypt(engine: Engine, keyring: Keyring, columns: Iterable[EncryptedColumn], batch_size: int) -> Iterator[int]:
    """Re-encrypt every value not under the current key, one transaction per batch; yields each batch's size."""
    for target in columns:
        while True:
            with engine.begin() as conn:
                done = reencrypt_batch(conn, target, keyring, batch_size)
            if not done:
                break
            yield done
