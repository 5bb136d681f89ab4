"""The rcmflow database schema: SQLAlchemy Core tables on one ``MetaData``.

Every hot table carries ``organisation_id`` so the schema can later be sharded by organisation (Citus).
Changes here need a matching Alembic revision in ``migrations/versions``; ``tests/adapters/store/
test_migrate.py`` fails when the two drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

# Stable constraint names let migrations (and SQLite batch mode) refer to constraints by name.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

DEFAULT_ORGANISATION = "default"

DOCUMENT_STATUSES: tuple[str, ...] = ("received", "parsed", "failed", "reprocessed")

# JSONB on PostgreSQL: binary, indexable, and equality-comparable; plain JSON text elsewhere.
# none_as_null: Python None becomes SQL NULL (so "IS NULL" works), not the JSON text 'null'.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
BigIntegerPk = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive time is ambiguous (local? UTC?); refusing it beats guessing with money on the line.
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        # SQLite has no timezone type: store UTC wall-clock time so text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[Any]:
        return datetime


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organisation_id",
        String(64),
        nullable=False,
        default=DEFAULT_ORGANISATION,
        server_default=DEFAULT_ORGANISATION,
    ),
    Column("sha256", CHAR(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("filename", String(512), nullable=True),
    Column("detected_type", String(32), nullable=False),
    Column("status", String(16), nullable=False, default="received"),
    Column("received_at", UtcDateTime, nullable=False, default=utc_now),
    Column("processed_at", UtcDateTime, nullable=True),
    Column("content", LargeBinary, nullable=False),
    # Located errors: [{segment_index, segment_id, element, code, message, severity}, ...]
    Column("errors", Json, nullable=False, default=list),
    Column("summary", Json, nullable=True),
    # Same bytes twice is the same document; dedup is per organisation so tenants stay independent.
    UniqueConstraint("organisation_id", "sha256"),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{status}'" for status in DOCUMENT_STATUSES)), name="status"
    ),
    CheckConstraint("size_bytes >= 0", name="size_bytes"),
)

# The worker's query: documents stored but not yet parsed, oldest first. Partial, so it stays tiny.
Index(
    "ix_documents_awaiting_processing",
    documents.c.id,
    postgresql_where=documents.c.status == "received",
    sqlite_where=documents.c.status == "received",
)
# Re-processing after a parser fix selects the failed documents of one organisation.
Index(
    "ix_documents_failed",
    documents.c.organisation_id,
    documents.c.id,
    postgresql_where=documents.c.status == "failed",
    sqlite_where=documents.c.status == "failed",
)

event_log = Table(
    "event_log",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column(
        "organisation_id",
        String(64),
        nullable=False,
        default=DEFAULT_ORGANISATION,
        server_default=DEFAULT_ORGANISATION,
    ),
    Column("facility_id", String(64), nullable=True),
    Column("payer_id", String(64), nullable=True),
    Column("department_id", String(64), nullable=True),
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("from_state", String(64), nullable=True),
    Column("to_state", String(64), nullable=False),
    Column("activity", String(128), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=True),
    # "rule id@version" or "model id@version": which decision logic produced this transition.
    Column("rule_version", String(128), nullable=True),
    Column("attributes", Json, nullable=True),
)

# One object's history, in order (audit trail, case view).
Index("ix_event_log_object", event_log.c.object_type, event_log.c.object_id, event_log.c.occurred_at)
# KPIs and process mining scan one organisation over a time window.
Index("ix_event_log_organisation_occurred", event_log.c.organisation_id, event_log.c.occurred_at)

# The last X12 control number issued per organisation, sender and kind (interchange ISA13, group GS06,
# transaction set ST02): receivers reject an interchange whose ISA13 they have seen before.
control_numbers = Table(
    "control_numbers",
    metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("sender_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("last_value", BigInteger, nullable=False),
    CheckConstraint("kind IN ('interchange', 'group', 'transaction')", name="kind"),
    CheckConstraint("last_value >= 0", name="last_value"),
)
