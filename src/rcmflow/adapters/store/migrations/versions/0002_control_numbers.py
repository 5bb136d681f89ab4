"""X12 control numbers issued, per organisation, sender and kind.

Revision ID: 0002_control_numbers
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_control_numbers"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create control_numbers."""
    op.create_table(
        "control_numbers",
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "sender_id", "kind", name="pk_control_numbers"),
        sa.CheckConstraint("kind IN ('interchange', 'group', 'transaction')", name="ck_control_numbers_kind"),
        sa.CheckConstraint("last_value >= 0", name="ck_control_numbers_last_value"),
    )


def downgrade() -> None:
    """Drop control_numbers."""
    op.drop_table("control_numbers")
