"""Drop the index of service payments by line item control number (REF*6R): no query reads it

Matching pairs a service payment with its billed line by the claim's lines (claim_lines carries the control
number), and every read of service payments goes through their claim payment. The index was only ever written:
one more B-tree entry per service line posted, about a seventh of what storing a service payment costs.

Revision ID: 0021_drop_payment_licn_index
Revises: 0020_facility_scoped_figures
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021_drop_payment_licn_index"
down_revision: str | Sequence[str] | None = "0020_facility_scoped_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_service_payments_line_item", table_name="service_payments")


def downgrade() -> None:
    op.create_index("ix_service_payments_line_item", "service_payments", ["line_item_control_number"], unique=False)
