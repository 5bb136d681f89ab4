"""workflow core: work items, approvals, outbox, jobs

Revision ID: 0003_workflow_core
Revises: 0002_control_numbers
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_workflow_core"
down_revision: str | Sequence[str] | None = "0002_control_numbers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from schema.py: a revision is a frozen snapshot.
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the workflow-core tables."""
    op.create_table(
        "approval_requests",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.Column("maker", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("attributes", _JSON, nullable=True),
        sa.Column("policy_id", sa.String(length=128), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("chain", _JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("current_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("decided_at", _TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'rejected', 'cancelled')", name=op.f("ck_approval_requests_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index(
            "uq_approval_requests_pending_object",
            ["organisation_id", "object_type", "object_id"],
            unique=True,
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )

    op.create_table(
        "delegations",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("delegator", sa.String(length=128), nullable=False),
        sa.Column("delegate", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("starts_at", _TIMESTAMP, nullable=False),
        sa.Column("expires_at", _TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("revoked_at", _TIMESTAMP, nullable=True),
        sa.CheckConstraint("delegator <> delegate", name=op.f("ck_delegations_distinct_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index("ix_delegations_delegate", ["organisation_id", "delegate", "expires_at"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_after", _TIMESTAMP, nullable=False),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", _TIMESTAMP, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("finished_at", _TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'dead')", name=op.f("ck_jobs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_jobs_idempotency_key")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_claimable",
            ["run_after"],
            unique=False,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        )

    op.create_table(
        "outbox",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("next_attempt_at", _TIMESTAMP, nullable=False),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", _TIMESTAMP, nullable=True),
        sa.Column("delivered_at", _TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'in_flight', 'delivered', 'failed', 'dead')", name=op.f("ck_outbox_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("destination", "idempotency_key", name=op.f("uq_outbox_destination_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_due",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("status IN ('pending', 'failed', 'in_flight')"),
            sqlite_where=sa.text("status IN ('pending', 'failed', 'in_flight')"),
        )

    op.create_table(
        "processed_messages",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("processed_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "idempotency_key", name=op.f("pk_processed_messages")),
    )
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("next_run_at", _TIMESTAMP, nullable=False),
        sa.Column("last_run_at", _TIMESTAMP, nullable=True),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_schedules")),
    )
    op.create_table(
        "work_items",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=True),
        sa.Column("payer_id", sa.String(length=64), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("item_type", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.Column("dedup_key", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("details", _JSON, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("due_at", _TIMESTAMP, nullable=True),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated_at", _TIMESTAMP, nullable=True),
        sa.Column("resolved_at", _TIMESTAMP, nullable=True),
        sa.Column("resolution_code", sa.String(length=64), nullable=True),
        sa.Column("reopened", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'in_progress', 'waiting', 'escalated', 'resolved', 'cancelled')",
            name=op.f("ck_work_items_state"),
        ),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name=op.f("ck_work_items_priority")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_work_items_active_queue_due",
            ["organisation_id", "queue", "due_at"],
            unique=False,
            postgresql_where=sa.text("state IN ('open', 'in_progress', 'waiting', 'escalated')"),
            sqlite_where=sa.text("state IN ('open', 'in_progress', 'waiting', 'escalated')"),
        )
        batch_op.create_index("ix_work_items_object", ["object_type", "object_id"], unique=False)
        batch_op.create_index(
            "uq_work_items_active_dedup",
            ["organisation_id", "dedup_key"],
            unique=True,
            postgresql_where=sa.text("state IN ('open', 'in_progress', 'waiting', 'escalated')"),
            sqlite_where=sa.text("state IN ('open', 'in_progress', 'waiting', 'escalated')"),
        )

    op.create_table(
        "approval_decisions",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=128), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=128), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint("decision IN ('approve', 'reject')", name=op.f("ck_approval_decisions_decision")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["approval_requests.id"],
            name=op.f("fk_approval_decisions_request_id_approval_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
        sa.UniqueConstraint("request_id", "approver", name=op.f("uq_approval_decisions_request_id_approver")),
    )
    op.create_table(
        "work_item_links",
        sa.Column("work_item_id", sa.BigInteger(), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_items.id"],
            name=op.f("fk_work_item_links_work_item_id_work_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("work_item_id", "object_type", "object_id", name=op.f("pk_work_item_links")),
    )
    with op.batch_alter_table("work_item_links", schema=None) as batch_op:
        batch_op.create_index("ix_work_item_links_object", ["object_type", "object_id"], unique=False)

    op.create_table(
        "work_item_notes",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("work_item_id", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_items.id"],
            name=op.f("fk_work_item_notes_work_item_id_work_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_item_notes")),
    )
    with op.batch_alter_table("work_item_notes", schema=None) as batch_op:
        batch_op.create_index("ix_work_item_notes_item", ["work_item_id", "created_at"], unique=False)


def downgrade() -> None:
    """Drop the workflow-core tables."""
    with op.batch_alter_table("work_item_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_work_item_notes_item")

    op.drop_table("work_item_notes")
    with op.batch_alter_table("work_item_links", schema=None) as batch_op:
        batch_op.drop_index("ix_work_item_links_object")

    op.drop_table("work_item_links")
    op.drop_table("approval_decisions")
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_work_items_active_dedup",
            postgresql_where=sa.text("state IN ('open', 'in_progress', 'waiting', 'escalated')"),
            sqlite_where=sa.text("state IN ('open', 'in_progress', 'waiting', 'escalated')"),
        )
        batch_op.drop_index("ix_work_items_object")
        batch_op.drop_index(
            "ix_work_items_active_queue_due",
            postgresql_where=sa.text("state IN ('open', 'in_progress', 'waiting', 'escalated')"),
            sqlite_where=sa.text("state IN ('open', 'in_progress', 'waiting', 'escalated')"),
        )

    op.drop_table("work_items")
    op.drop_table("schedules")
    op.drop_table("processed_messages")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_due",
            postgresql_where=sa.text("status IN ('pending', 'failed', 'in_flight')"),
            sqlite_where=sa.text("status IN ('pending', 'failed', 'in_flight')"),
        )

    op.drop_table("outbox")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_jobs_claimable",
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        )

    op.drop_table("jobs")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index("ix_delegations_delegate")

    op.drop_table("delegations")
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_approval_requests_pending_object",
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )

    op.drop_table("approval_requests")
