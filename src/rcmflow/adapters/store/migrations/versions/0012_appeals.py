"""appeals of denied claims

Revision ID: 0012_appeals
Revises: 0011_coordination_of_benefits
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_appeals"
down_revision: str | Sequence[str] | None = "0011_coordination_of_benefits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    """Create appeals."""
    op.create_table(
        "appeals",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("denial_codes", _JSON, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("submitted_at", _TIMESTAMP, nullable=True),
        sa.Column("decided_at", _TIMESTAMP, nullable=True),
        sa.CheckConstraint("state IN ('drafted', 'submitted', 'won', 'lost', 'partially won', 'abandoned')",
                           name=op.f("ck_appeals_state")),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_appeals_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    op.create_index("ix_appeals_claim", "appeals", ["claim_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_appeals_claim", table_name="appeals")
    op.drop_table("appeals")
