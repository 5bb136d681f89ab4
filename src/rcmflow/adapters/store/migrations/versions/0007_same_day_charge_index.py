"""claims: the same-day index carries the total charge

Revision ID: 0007_same_day_charge_index
Revises: 0006_posting
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_same_day_charge_index"
down_revision: str | Sequence[str] | None = "0006_posting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Matching's fallback looks claims up by payer, first day of service and total charge: with the charge in
    the index, a busy clinic-day is not read whole to find the few claims of one charge."""
    op.drop_index("ix_claims_organisation_payer_service", table_name="claims")
    op.create_index("ix_claims_organisation_payer_service", "claims",
                    ["organisation_id", "payer_id", "service_from", "total_charge"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_claims_organisation_payer_service", table_name="claims")
    op.create_index("ix_claims_organisation_payer_service", "claims", ["organisation_id", "payer_id", "service_from"],
                    unique=False)
