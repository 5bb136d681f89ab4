"""Stored KPI reports and process maps per facility set: a facility_scope column in both tables' primary keys

The control tower and the process map page store what a person limited to several facilities (the tower), or to
any facilities (the map), is shown: their medians and percentiles are no combination of other stored rows. The
rows keep their tables (the same readers, refresh lease and schedules); '' is every facility, the rows stored
before this revision.

Revision ID: 0020_facility_scoped_figures
Revises: 0019_process_maps
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_facility_scoped_figures"
down_revision: str | Sequence[str] | None = "0019_process_maps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, primary key columns before this revision)
_TABLES = (("kpi_reports", ["organisation_id", "window_days"]),
           ("process_maps", ["organisation_id", "object_type", "window_days"]))


def upgrade() -> None:
    """Add facility_scope ('' for the rows there are: every facility) to both tables and their primary keys."""
    for table, key in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("facility_scope", sa.String(length=128), nullable=False, server_default=""))
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", [*key, "facility_scope"])
        with op.batch_alter_table(table) as batch:  # the default only filled the rows there were
            batch.alter_column("facility_scope", existing_type=sa.String(length=128), existing_nullable=False,
                               server_default=None)


def downgrade() -> None:
    """Forget the facility sets' rows (the worker stores them again after an upgrade) and the column."""
    for table, key in _TABLES:
        op.execute(sa.text(f"DELETE FROM {table} WHERE facility_scope <> ''"))
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.drop_column("facility_scope")
            batch.create_primary_key(f"pk_{table}", key)
