"""Stored process maps, a refresh lease on stored KPI reports, and the indexes the control tower's reads need

Revision ID: 0019_process_maps
Revises: 0018_kpi_reports
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019_process_maps"
down_revision: str | Sequence[str] | None = "0018_kpi_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_TIMESTAMP = sa.DateTime(timezone=True)

# Measured on bench/control_tower.py's database (1M claims, 10M events). (name, table, columns)
_INDEXES = (
    # Process mining reads one object type's window, and which objects were last active in it, from the index
    # alone (object_id in it): the claim map's read 2.9 s -> 0.9 s on SQLite, 3.3 s -> 2.2 s on PostgreSQL;
    # rework and integration failures read their object types' window through it too.
    ("ix_event_log_organisation_type_occurred", "event_log",
     ["organisation_id", "object_type", "occurred_at", "object_id"]),
    # First-pass acceptance reads the front-end answers of the window, throughput its five activities:
    # 1.8 s -> 0.2 s on SQLite.
    ("ix_event_log_organisation_activity_occurred", "event_log", ["organisation_id", "activity", "occurred_at"]),
    # The tower's integration health counts messages per destination and status.
    ("ix_outbox_destination_status", "outbox", ["destination", "status"]),
    # The tower's tiles read every KPI's daily series of one slice in one query.
    ("ix_kpi_snapshots_series", "kpi_snapshots", ["organisation_id", "dimension", "group_value", "day"]),
)


def upgrade() -> None:
    """Create process_maps, add kpi_reports.refreshing_until, create the indexes."""
    op.create_table(
        "process_maps",
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("until", _TIMESTAMP, nullable=False),
        sa.Column("computed_at", _TIMESTAMP, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("mining", _JSON, nullable=False),
        sa.Column("refreshing_until", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("organisation_id", "object_type", "window_days", name=op.f("pk_process_maps")),
    )
    with op.batch_alter_table("kpi_reports") as batch:
        batch.add_column(sa.Column("refreshing_until", _TIMESTAMP, nullable=True))
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("kpi_reports") as batch:
        batch.drop_column("refreshing_until")
    op.drop_table("process_maps")
