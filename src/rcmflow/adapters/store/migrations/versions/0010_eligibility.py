"""eligibility responses: what each 271 said about a patient's coverage

Revision ID: 0010_eligibility
Revises: 0009_submissions
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_eligibility"
down_revision: str | Sequence[str] | None = "0009_submissions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from schema.py: a revision is a frozen snapshot.
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)
_MONEY = sa.Numeric(precision=18, scale=2)
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    """Create eligibility_responses."""
    op.create_table(
        "eligibility_responses",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("payer_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=80), nullable=False),
        sa.Column("last_name", sa.String(length=60), nullable=True),
        sa.Column("first_name", sa.String(length=35), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("plan_begin", sa.Date(), nullable=True),
        sa.Column("plan_end", sa.Date(), nullable=True),
        sa.Column("copay", _MONEY, nullable=True),
        sa.Column("coinsurance", sa.Numeric(precision=7, scale=4), nullable=True),
        sa.Column("deductible_remaining", _MONEY, nullable=True),
        sa.Column("out_of_pocket_remaining", _MONEY, nullable=True),
        sa.Column("reject_reasons", _JSON, nullable=True),
        sa.Column("trace_number", sa.String(length=50), nullable=True),
        sa.Column("responded_on", sa.Date(), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('active', 'inactive', 'unknown')",
                           name=op.f("ck_eligibility_responses_status")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_eligibility_responses_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_responses")),
    )
    op.create_index("ix_eligibility_responses_member", "eligibility_responses",
                    ["organisation_id", "payer_id", "member_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_eligibility_responses_member", table_name="eligibility_responses")
    op.drop_table("eligibility_responses")
