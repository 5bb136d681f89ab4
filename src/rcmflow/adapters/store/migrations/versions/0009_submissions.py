"""submissions: the 837 files rcmflow writes, and the claims each carried

Revision ID: 0009_submissions
Revises: 0008_charge_claims
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_submissions"
down_revision: str | Sequence[str] | None = "0008_charge_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from schema.py: a revision is a frozen snapshot.
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create submissions; claims point at the submission that carried them."""
    op.create_table(
        "submissions",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("partner_id", sa.String(length=48), nullable=False),
        sa.Column("payer_id", sa.String(length=64), nullable=False),
        sa.Column("claim_type", sa.String(length=1), nullable=False),
        sa.Column("sender_id", sa.String(length=15), nullable=False),
        sa.Column("receiver_id", sa.String(length=15), nullable=False),
        sa.Column("interchange_control_number", sa.Integer(), nullable=False),
        sa.Column("group_control_number", sa.Integer(), nullable=False),
        sa.Column("transaction_control_number", sa.String(length=9), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column("total_charge", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("ack_status", sa.String(length=1), nullable=True),
        sa.Column("acknowledged_at", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    op.create_index("ix_submissions_group", "submissions", ["organisation_id", "sender_id", "group_control_number"],
                    unique=False)
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("submission_id", sa.BigInteger(), nullable=True))
        batch.create_foreign_key(op.f("fk_claims_submission_id_submissions"), "submissions", ["submission_id"],
                                 ["id"])


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_constraint(op.f("fk_claims_submission_id_submissions"), type_="foreignkey")
        batch.drop_column("submission_id")
    op.drop_index("ix_submissions_group", table_name="submissions")
    op.drop_table("submissions")
