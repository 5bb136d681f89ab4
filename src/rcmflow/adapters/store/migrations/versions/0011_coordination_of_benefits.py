"""coordination of benefits: secondary billing status, the primary of a secondary claim, built claims' content

Revision ID: 0011_coordination_of_benefits
Revises: 0010_eligibility
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_coordination_of_benefits"
down_revision: str | Sequence[str] | None = "0010_eligibility"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Claims learn who is billed after them; claims rcmflow builds keep their content."""
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("secondary_billing", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("primary_claim_id", sa.BigInteger(), nullable=True))
        batch.create_foreign_key(op.f("fk_claims_primary_claim_id_claims"), "claims", ["primary_claim_id"], ["id"])
    op.create_table(
        "claim_contents",
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_contents_claim_id_claims")),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claim_contents")),
    )


def downgrade() -> None:
    op.drop_table("claim_contents")
    with op.batch_alter_table("claims") as batch:
        batch.drop_constraint(op.f("fk_claims_primary_claim_id_claims"), type_="foreignkey")
        batch.drop_column("primary_claim_id")
        batch.drop_column("secondary_billing")
