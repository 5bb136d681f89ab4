"""The control tower's pre-aggregated KPI reports

Revision ID: 0018_kpi_reports
Revises: 0017_kpi_snapshots
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018_kpi_reports"
down_revision: str | Sequence[str] | None = "0017_kpi_snapshots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    """Create kpi_reports: one row per organisation and window."""
    op.create_table(
        "kpi_reports",
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("report", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "window_days", name=op.f("pk_kpi_reports")),
    )


def downgrade() -> None:
    op.drop_table("kpi_reports")
