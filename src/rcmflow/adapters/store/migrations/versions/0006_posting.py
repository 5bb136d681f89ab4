"""claims, deposits, matching and reconciliation

Revision ID: 0006_posting
Revises: 0005_remittances
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_posting"
down_revision: str | Sequence[str] | None = "0005_remittances"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from schema.py: a revision is a frozen snapshot.
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)
_MONEY = sa.Numeric(precision=18, scale=2)
_CLAIM_STATE_CHECK = (
    "state IN ('registered', 'eligibility verified', 'charge reviewed', 'coded', 'scrubbed', 'ready', 'submitted', "
    "'accepted', 'rejected', 'adjudicated', 'paid', 'partially paid', 'denied', 'appealed', 'patient billed', "
    "'refund pending', 'closed', 'voided')"
)


def upgrade() -> None:
    """Create claims, claim lines, deposits and deposit matches; add matching columns to payments."""
    op.create_table(
        "claims",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=True),
        sa.Column("payer_id", sa.String(length=64), nullable=False),
        sa.Column("payer_name", sa.String(length=128), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("claim_type", sa.String(length=1), nullable=False),
        sa.Column("patient_control_number", sa.String(length=50), nullable=False),
        sa.Column("frequency", sa.String(length=1), nullable=False),
        sa.Column("payer_claim_number", sa.String(length=50), nullable=True),
        sa.Column("filing_order", sa.String(length=1), nullable=False),
        sa.Column("member_id", sa.String(length=80), nullable=True),
        sa.Column("service_from", sa.Date(), nullable=True),
        sa.Column("service_to", sa.Date(), nullable=True),
        sa.Column("total_charge", _MONEY, nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("content_digest", sa.CHAR(length=64), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            _CLAIM_STATE_CHECK,
            name=op.f("ck_claims_state"),
        ),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_claims_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("organisation_id", "content_digest", name=op.f("uq_claims_organisation_id_content_digest")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index("ix_claims_organisation_member", ["organisation_id", "member_id"], unique=False)
        batch_op.create_index(
            "ix_claims_organisation_payer_service", ["organisation_id", "payer_id", "service_from"], unique=False
        )
        batch_op.create_index(
            "ix_claims_organisation_payer_claim_number", ["organisation_id", "payer_claim_number"], unique=False
        )
        batch_op.create_index("ix_claims_organisation_pcn", ["organisation_id", "patient_control_number"], unique=False)

    op.create_table(
        "deposits",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("bank", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("type_code", sa.String(length=8), nullable=True),
        sa.Column("bank_reference", sa.String(length=80), nullable=True),
        sa.Column("customer_reference", sa.String(length=80), nullable=True),
        sa.Column("trace_number", sa.String(length=80), nullable=True),
        sa.Column("originator_id", sa.String(length=80), nullable=True),
        sa.Column("payer_name", sa.String(length=128), nullable=True),
        sa.Column("check_number", sa.String(length=80), nullable=True),
        sa.Column("batch", sa.String(length=40), nullable=True),
        sa.Column("claim_reference", sa.String(length=80), nullable=True),
        sa.Column("text", sa.String(length=500), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("matched_amount", _MONEY, server_default="0", nullable=False),
        sa.Column("dedup_key", sa.CHAR(length=64), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint("direction IN ('credit', 'debit')", name=op.f("ck_deposits_direction")),
        sa.CheckConstraint(
            "state IN ('received', 'matched', 'unmatched', 'reconciled', 'written off')", name=op.f("ck_deposits_state")
        ),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_deposits_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposits")),
        sa.UniqueConstraint("organisation_id", "dedup_key", name=op.f("uq_deposits_organisation_id_dedup_key")),
    )
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.create_index("ix_deposits_organisation_state", ["organisation_id", "state"], unique=False)
        batch_op.create_index("ix_deposits_organisation_trace", ["organisation_id", "trace_number"], unique=False)

    op.create_table(
        "claim_lines",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("procedure_qualifier", sa.String(length=8), nullable=True),
        sa.Column("procedure_code", sa.String(length=48), nullable=True),
        sa.Column("modifiers", sa.String(length=32), nullable=True),
        sa.Column("revenue_code", sa.String(length=48), nullable=True),
        sa.Column("charge", _MONEY, nullable=False),
        sa.Column("units", sa.Numeric(precision=15, scale=3), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("line_item_control_number", sa.String(length=50), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_lines_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_lines")),
        sa.UniqueConstraint("claim_id", "line_number", name=op.f("uq_claim_lines_claim_id_line_number")),
    )
    with op.batch_alter_table("claim_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_claim_lines_organisation_line_item", ["organisation_id", "line_item_control_number"], unique=False
        )

    op.create_table(
        "deposit_matches",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("deposit_id", sa.BigInteger(), nullable=False),
        sa.Column("remittance_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["deposit_id"], ["deposits.id"], name=op.f("fk_deposit_matches_deposit_id_deposits")),
        sa.ForeignKeyConstraint(
            ["remittance_id"], ["remittances.id"], name=op.f("fk_deposit_matches_remittance_id_remittances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_matches")),
        sa.UniqueConstraint("deposit_id", "remittance_id", name=op.f("uq_deposit_matches_deposit_id_remittance_id")),
    )
    with op.batch_alter_table("deposit_matches", schema=None) as batch_op:
        batch_op.create_index("ix_deposit_matches_remittance", ["remittance_id"], unique=False)

    with op.batch_alter_table("claim_payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_id", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("service_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("service_to", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("crossover_payer", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("claim_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("match_method", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("match_confidence", sa.Numeric(precision=5, scale=4), nullable=True))
        batch_op.add_column(sa.Column("expected_allowed", _MONEY, nullable=True))
        batch_op.add_column(sa.Column("variance", _MONEY, nullable=True))
        batch_op.add_column(sa.Column("posted_at", _TIMESTAMP, nullable=True))
        batch_op.create_index("ix_claim_payments_claim", ["claim_id"], unique=False)
        batch_op.create_index("ix_claim_payments_organisation_state", ["organisation_id", "state"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_claim_payments_claim_id_claims"), "claims", ["claim_id"], ["id"])

    with op.batch_alter_table("remittances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reconciled_amount", _MONEY, server_default="0", nullable=False))
        batch_op.add_column(sa.Column("originator_id", sa.String(length=80), nullable=True))
        batch_op.create_index("ix_remittances_organisation_state", ["organisation_id", "state"], unique=False)

    with op.batch_alter_table("service_payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_line_id", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_service_payments_claim_line_id_claim_lines"), "claim_lines", ["claim_line_id"], ["id"]
        )


def downgrade() -> None:
    """Drop what upgrade created."""
    with op.batch_alter_table("service_payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_service_payments_claim_line_id_claim_lines"), type_="foreignkey")
        batch_op.drop_column("claim_line_id")

    with op.batch_alter_table("remittances", schema=None) as batch_op:
        batch_op.drop_index("ix_remittances_organisation_state")
        batch_op.drop_column("reconciled_amount")
        batch_op.drop_column("originator_id")

    with op.batch_alter_table("claim_payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_claim_payments_claim_id_claims"), type_="foreignkey")
        batch_op.drop_index("ix_claim_payments_organisation_state")
        batch_op.drop_index("ix_claim_payments_claim")
        batch_op.drop_column("posted_at")
        batch_op.drop_column("variance")
        batch_op.drop_column("expected_allowed")
        batch_op.drop_column("match_confidence")
        batch_op.drop_column("match_method")
        batch_op.drop_column("claim_id")
        batch_op.drop_column("crossover_payer")
        batch_op.drop_column("service_to")
        batch_op.drop_column("service_from")
        batch_op.drop_column("member_id")

    with op.batch_alter_table("deposit_matches", schema=None) as batch_op:
        batch_op.drop_index("ix_deposit_matches_remittance")

    op.drop_table("deposit_matches")
    with op.batch_alter_table("claim_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_lines_organisation_line_item")

    op.drop_table("claim_lines")
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.drop_index("ix_deposits_organisation_trace")
        batch_op.drop_index("ix_deposits_organisation_state")

    op.drop_table("deposits")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("ix_claims_organisation_pcn")
        batch_op.drop_index("ix_claims_organisation_payer_claim_number")
        batch_op.drop_index("ix_claims_organisation_member")
        batch_op.drop_index("ix_claims_organisation_payer_service")

    op.drop_table("claims")
