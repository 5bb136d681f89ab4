"""KPI snapshots, and the indexes the KPI engine's windowed queries need

Revision ID: 0017_kpi_snapshots
Revises: 0016_phi_encryption
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_kpi_snapshots"
down_revision: str | Sequence[str] | None = "0016_phi_encryption"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)

# Each KPI reads one window of one organisation: these put the rows of that window next to each other, so a
# KPI over the last 30 days reads those days' rows, not the table. (name, table, columns)
_INDEXES = (
    # clean-claim rate (claims captured in the window) and the claims' aging
    ("ix_claims_organisation_created", "claims", ["organisation_id", "created_at"]),
    # straight-through posting rate and posting latency (claim payments posted in the window)
    ("ix_claim_payments_organisation_posted", "claim_payments", ["organisation_id", "posted_at"]),
    # denial rates (claim payments of the remittances received in the window)
    ("ix_remittances_organisation_created", "remittances", ["organisation_id", "created_at"]),
    # resolution time and SLA breach rate (items resolved in the window), backlogs at a past as-of time
    ("ix_work_items_organisation_resolved", "work_items", ["organisation_id", "resolved_at"]),
)


def upgrade() -> None:
    """Create kpi_snapshots and the KPI window indexes."""
    op.create_table(
        "kpi_snapshots",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("group_value", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Numeric(precision=24, scale=4), nullable=True),
        sa.Column("numerator", sa.Numeric(precision=24, scale=4), nullable=True),
        sa.Column("denominator", sa.Numeric(precision=24, scale=4), nullable=True),
        sa.Column("computed_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_snapshots")),
        sa.UniqueConstraint("organisation_id", "day", "kpi", "dimension", "group_value",
                            name=op.f("uq_kpi_snapshots_organisation_id_day_kpi_dimension_group_value")),
    )
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("kpi_snapshots")
