"""Durable X12 control numbers: each ISA13, GS06 and ST02 a sender issues is used once, ever.

One guarded increment per number (``UPDATE ... SET last_value = last_value + 1 RETURNING``), in the
caller's transaction: two processes writing interchanges at once get different numbers, and a
rolled-back write gives its number back. ISA13 wraps to 1 after 999,999,999 as X12 allows.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from rcmflow.adapters.store.schema import control_numbers
from rcmflow.adapters.store.sql import insert_ignoring_conflicts

_LIMIT = 999_999_999  # nine digits: the width of ISA13 and the most GS06 allows


class StoredControlNumbers:
    """``writing.ControlNumbers`` backed by the control_numbers table."""

    def __init__(self, conn: Connection, sender_id: str, organisation_id: str = "default") -> None:
        self._conn = conn
        self._sender = sender_id
        self._organisation = organisation_id

    def _next(self, kind: str) -> int:
        key = (control_numbers.c.organisation_id == self._organisation) & (
            control_numbers.c.sender_id == self._sender) & (control_numbers.c.kind == kind)
        self._conn.execute(
            insert_ignoring_conflicts(self._conn, control_numbers, "organisation_id", "sender_id", "kind")
            .values(organisation_id=self._organisation, sender_id=self._sender, kind=kind, last_value=0)
        )
        value = self._conn.execute(
            update(control_numbers).where(key)
            .values(last_value=control_numbers.c.last_value % _LIMIT + 1)
            .returning(control_numbers.c.last_value)
        ).scalar_one()
        return int(value)

    def next_interchange(self) -> int:
        return self._next("interchange")

    def next_group(self) -> int:
        return self._next("group")

    def next_transaction(self) -> int:
        return self._next("transaction")

    def last(self, kind: str) -> int:
        """The last number issued of a kind (0 when none yet)."""
        value = self._conn.execute(select(control_numbers.c.last_value).where(
            (control_numbers.c.organisation_id == self._organisation)
            & (control_numbers.c.sender_id == self._sender) & (control_numbers.c.kind == kind))).scalar()
        return int(value or 0)
