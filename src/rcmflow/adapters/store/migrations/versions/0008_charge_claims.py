"""claims from charge sources: their source id, and the scrubber's findings

Revision ID: 0008_charge_claims
Revises: 0007_same_day_charge_index
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_charge_claims"
down_revision: str | Sequence[str] | None = "0007_same_day_charge_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from schema.py: a revision is a frozen snapshot.
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    """Claims carry the source system's id; scrub findings are kept per claim and scrub."""
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("source_id", sa.String(length=128), nullable=True))
    op.create_index("ix_claims_organisation_source", "claims", ["organisation_id", "source_id"], unique=False)
    op.create_table(
        "scrub_findings",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("scrub_number", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("rule_version", sa.String(length=32), nullable=False),
        sa.Column("pack", sa.String(length=160), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("inputs", _JSON, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint("severity IN ('error', 'warning')", name=op.f("ck_scrub_findings_severity")),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_scrub_findings_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scrub_findings")),
    )
    op.create_index("ix_scrub_findings_claim", "scrub_findings", ["claim_id", "scrub_number"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_scrub_findings_claim", table_name="scrub_findings")
    op.drop_table("scrub_findings")
    op.drop_index("ix_claims_organisation_source", table_name="claims")
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("source_id")
