"""Foundation: the raw document store and the event log.

Revision ID: 0001_foundation
Revises:
Create Date: 2024-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_foundation"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from schema.py: a revision is a frozen snapshot and
# must keep producing the same tables when schema.py moves on.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the documents and event_log tables."""
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.String(64), server_default="default", nullable=False),
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(512), nullable=True),
        sa.Column("detected_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", _TIMESTAMP, nullable=False),
        sa.Column("processed_at", _TIMESTAMP, nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("errors", _JSON, nullable=False),
        sa.Column("summary", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint("organisation_id", "sha256", name="uq_documents_organisation_id_sha256"),
        sa.CheckConstraint(
            "status IN ('received', 'parsed', 'failed', 'reprocessed')", name="ck_documents_status"
        ),
        sa.CheckConstraint("size_bytes >= 0", name="ck_documents_size_bytes"),
    )
    op.create_index(
        "ix_documents_awaiting_processing",
        "documents",
        ["id"],
        postgresql_where=sa.text("status = 'received'"),
        sqlite_where=sa.text("status = 'received'"),
    )
    op.create_index(
        "ix_documents_failed",
        "documents",
        ["organisation_id", "id"],
        postgresql_where=sa.text("status = 'failed'"),
        sqlite_where=sa.text("status = 'failed'"),
    )

    op.create_table(
        "event_log",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(64), server_default="default", nullable=False),
        sa.Column("facility_id", sa.String(64), nullable=True),
        sa.Column("payer_id", sa.String(64), nullable=True),
        sa.Column("department_id", sa.String(64), nullable=True),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(128), nullable=False),
        sa.Column("from_state", sa.String(64), nullable=True),
        sa.Column("to_state", sa.String(64), nullable=False),
        sa.Column("activity", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("occurred_at", _TIMESTAMP, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rule_version", sa.String(128), nullable=True),
        sa.Column("attributes", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event_log"),
    )
    op.create_index("ix_event_log_object", "event_log", ["object_type", "object_id", "occurred_at"])
    op.create_index("ix_event_log_organisation_occurred", "event_log", ["organisation_id", "occurred_at"])


def downgrade() -> None:
    """Drop the documents and event_log tables (and everything in them)."""
    op.drop_index("ix_event_log_organisation_occurred", table_name="event_log")
    op.drop_index("ix_event_log_object", table_name="event_log")
    op.drop_table("event_log")
    op.drop_index("ix_documents_failed", table_name="documents")
    op.drop_index("ix_documents_awaiting_processing", table_name="documents")
    op.drop_table("documents")
