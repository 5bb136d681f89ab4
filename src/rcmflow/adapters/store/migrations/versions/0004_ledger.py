"""built-in ledger: accounts, journals, fiscal periods, journal entries and lines

Revision ID: 0004_ledger
Revises: 0003_workflow_core
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_ledger"
down_revision: str | Sequence[str] | None = "0003_workflow_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from schema.py: a revision is a frozen snapshot.
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)
_MONEY = sa.Numeric(precision=18, scale=2)


def upgrade() -> None:
    """Create the ledger tables."""
    op.create_table(
        "fiscal_periods",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("closed_at", _TIMESTAMP, nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.CheckConstraint("state IN ('open', 'closed')", name=op.f("ck_fiscal_periods_state")),
        sa.CheckConstraint("starts_on <= ends_on", name=op.f("ck_fiscal_periods_dates")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fiscal_periods")),
        sa.UniqueConstraint("organisation_id", "period", name=op.f("uq_fiscal_periods_organisation_id_period")),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_type", sa.String(length=32), nullable=False),
        sa.Column("normal_side", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "account_type IN ('asset', 'liability', 'equity', 'revenue', 'contra_revenue', 'expense')",
            name=op.f("ck_ledger_accounts_account_type"),
        ),
        sa.CheckConstraint("normal_side IN ('debit', 'credit')", name=op.f("ck_ledger_accounts_normal_side")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("organisation_id", "key", name=op.f("uq_ledger_accounts_organisation_id_key")),
        sa.UniqueConstraint("organisation_id", "number", name=op.f("uq_ledger_accounts_organisation_id_number")),
    )
    op.create_table(
        "ledger_journals",
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "code", name=op.f("pk_ledger_journals")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("journal", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("source_type", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("reversal_of", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id", "journal"],
            ["ledger_journals.organisation_id", "ledger_journals.code"],
            name=op.f("fk_journal_entries_organisation_id_journal_ledger_journals"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id", "period"],
            ["fiscal_periods.organisation_id", "fiscal_periods.period"],
            name=op.f("fk_journal_entries_organisation_id_period_fiscal_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["reversal_of"], ["journal_entries.id"], name=op.f("fk_journal_entries_reversal_of_journal_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint(
            "organisation_id", "idempotency_key", name=op.f("uq_journal_entries_organisation_id_idempotency_key")
        ),
        sa.UniqueConstraint("reversal_of", name=op.f("uq_journal_entries_reversal_of")),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index("ix_journal_entries_organisation_date", ["organisation_id", "posting_date"], unique=False)
        batch_op.create_index("ix_journal_entries_source", ["source_type", "source_id"], unique=False)

    op.create_table(
        "journal_lines",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("debit", _MONEY, nullable=False),
        sa.Column("credit", _MONEY, nullable=False),
        sa.Column("memo", sa.String(length=300), nullable=True),
        sa.CheckConstraint(
            "(debit > 0 AND credit = 0) OR (debit = 0 AND credit > 0)", name=op.f("ck_journal_lines_one_side")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name=op.f("fk_journal_lines_account_id_ledger_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name=op.f("fk_journal_lines_entry_id_journal_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_lines")),
        sa.UniqueConstraint("entry_id", "line_no", name=op.f("uq_journal_lines_entry_id_line_no")),
    )
    with op.batch_alter_table("journal_lines", schema=None) as batch_op:
        batch_op.create_index("ix_journal_lines_account", ["organisation_id", "account_id"], unique=False)


def downgrade() -> None:
    """Drop the ledger tables (and every posted entry)."""
    with op.batch_alter_table("journal_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_lines_account")

    op.drop_table("journal_lines")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_entries_source")
        batch_op.drop_index("ix_journal_entries_organisation_date")

    op.drop_table("journal_entries")
    op.drop_table("ledger_journals")
    op.drop_table("ledger_accounts")
    op.drop_table("fiscal_periods")
