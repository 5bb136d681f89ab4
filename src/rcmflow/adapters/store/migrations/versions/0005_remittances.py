"""remittances: 835 payments, claim and service payments, adjustments

Revision ID: 0005_remittances
Revises: 0004_ledger
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_remittances"
down_revision: str | Sequence[str] | None = "0004_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from schema.py: a revision is a frozen snapshot.
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)
_MONEY = sa.Numeric(precision=18, scale=2)


def upgrade() -> None:
    """Create the remittance tables."""
    op.create_table(
        "remittances",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("payer_id", sa.String(length=64), nullable=False),
        sa.Column("payer_name", sa.String(length=128), nullable=True),
        sa.Column("payee_id", sa.String(length=80), nullable=True),
        sa.Column("trace_number", sa.String(length=80), nullable=False),
        sa.Column("payment_amount", _MONEY, nullable=False),
        sa.Column("credit_debit", sa.String(length=2), nullable=False),
        sa.Column("payment_method", sa.String(length=8), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=True),
        sa.Column("production_date", sa.Date(), nullable=True),
        sa.Column("control_number", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("content_digest", sa.CHAR(length=64), nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('received', 'matched', 'held', 'rejected', 'posted', 'reconciled', 'reversed')",
            name=op.f("ck_remittances_state"),
        ),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_remittances_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittances")),
        sa.UniqueConstraint(
            "organisation_id",
            "payer_id",
            "trace_number",
            name=op.f("uq_remittances_organisation_id_payer_id_trace_number"),
        ),
    )
    with op.batch_alter_table("remittances", schema=None) as batch_op:
        batch_op.create_index("ix_remittances_document", ["document_id"], unique=False)

    op.create_table(
        "claim_payments",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("remittance_id", sa.BigInteger(), nullable=False),
        sa.Column("patient_control_number", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("charge", _MONEY, nullable=False),
        sa.Column("paid", _MONEY, nullable=False),
        sa.Column("patient_responsibility", _MONEY, nullable=True),
        sa.Column("filing_indicator", sa.String(length=8), nullable=True),
        sa.Column("payer_claim_control_number", sa.String(length=50), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("remarks", _JSON, nullable=True),
        sa.CheckConstraint(
            "state IN ('received', 'unapplied', 'matched', 'variance review', 'posted', 'reversed')",
            name=op.f("ck_claim_payments_state"),
        ),
        sa.ForeignKeyConstraint(
            ["remittance_id"], ["remittances.id"], name=op.f("fk_claim_payments_remittance_id_remittances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_payments")),
    )
    with op.batch_alter_table("claim_payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_claim_payments_organisation_pcn", ["organisation_id", "patient_control_number"], unique=False
        )
        batch_op.create_index("ix_claim_payments_remittance", ["remittance_id"], unique=False)

    op.create_table(
        "provider_adjustments",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("remittance_id", sa.BigInteger(), nullable=False),
        sa.Column("provider_id", sa.String(length=50), nullable=False),
        sa.Column("fiscal_period_date", sa.Date(), nullable=True),
        sa.Column("reason_code", sa.String(length=8), nullable=False),
        sa.Column("reference", sa.String(length=50), nullable=True),
        sa.Column("amount", _MONEY, nullable=False),
        sa.ForeignKeyConstraint(
            ["remittance_id"], ["remittances.id"], name=op.f("fk_provider_adjustments_remittance_id_remittances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_adjustments")),
    )
    with op.batch_alter_table("provider_adjustments", schema=None) as batch_op:
        batch_op.create_index("ix_provider_adjustments_remittance", ["remittance_id"], unique=False)

    op.create_table(
        "service_payments",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("claim_payment_id", sa.BigInteger(), nullable=False),
        sa.Column("procedure_qualifier", sa.String(length=8), nullable=True),
        sa.Column("procedure_code", sa.String(length=48), nullable=True),
        sa.Column("modifiers", sa.String(length=32), nullable=True),
        sa.Column("revenue_code", sa.String(length=48), nullable=True),
        sa.Column("charge", _MONEY, nullable=False),
        sa.Column("paid", _MONEY, nullable=False),
        sa.Column("allowed", _MONEY, nullable=True),
        sa.Column("units", sa.Numeric(precision=15, scale=3), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("line_item_control_number", sa.String(length=50), nullable=True),
        sa.Column("remarks", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_payment_id"],
            ["claim_payments.id"],
            name=op.f("fk_service_payments_claim_payment_id_claim_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_payments")),
    )
    with op.batch_alter_table("service_payments", schema=None) as batch_op:
        batch_op.create_index("ix_service_payments_claim_payment", ["claim_payment_id"], unique=False)
        batch_op.create_index("ix_service_payments_line_item", ["line_item_control_number"], unique=False)

    op.create_table(
        "payment_adjustments",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("claim_payment_id", sa.BigInteger(), nullable=False),
        sa.Column("service_payment_id", sa.BigInteger(), nullable=True),
        sa.Column("group_code", sa.String(length=8), nullable=False),
        sa.Column("reason_code", sa.String(length=8), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("quantity", sa.Numeric(precision=15, scale=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_payment_id"],
            ["claim_payments.id"],
            name=op.f("fk_payment_adjustments_claim_payment_id_claim_payments"),
        ),
        sa.ForeignKeyConstraint(
            ["service_payment_id"],
            ["service_payments.id"],
            name=op.f("fk_payment_adjustments_service_payment_id_service_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_adjustments")),
    )
    with op.batch_alter_table("payment_adjustments", schema=None) as batch_op:
        batch_op.create_index("ix_payment_adjustments_claim_payment", ["claim_payment_id"], unique=False)
        batch_op.create_index("ix_payment_adjustments_service_payment", ["service_payment_id"], unique=False)


def downgrade() -> None:
    """Drop the remittance tables (and every stored 835)."""
    with op.batch_alter_table("payment_adjustments", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_adjustments_service_payment")
        batch_op.drop_index("ix_payment_adjustments_claim_payment")

    op.drop_table("payment_adjustments")
    with op.batch_alter_table("service_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_service_payments_line_item")
        batch_op.drop_index("ix_service_payments_claim_payment")

    op.drop_table("service_payments")
    with op.batch_alter_table("provider_adjustments", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_adjustments_remittance")

    op.drop_table("provider_adjustments")
    with op.batch_alter_table("claim_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_payments_remittance")
        batch_op.drop_index("ix_claim_payments_organisation_pcn")

    op.drop_table("claim_payments")
    with op.batch_alter_table("remittances", schema=None) as batch_op:
        batch_op.drop_index("ix_remittances_document")

    op.drop_table("remittances")
