"""The rcmflow database schema: SQLAlchemy Core tables on one ``MetaData``.

Every hot table carries ``organisation_id`` so the schema can later be sharded by organisation (Citus).
Changes here need a matching Alembic revision in ``migrations/versions``; ``tests/adapters/store/
test_migrate.py`` fails when the two drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB

from rcmflow.adapters.crypto.process import blind_index_default
from rcmflow.adapters.crypto.types import EncryptedBytes, EncryptedDate, EncryptedJson, EncryptedText

# Stable constraint names let migrations (and SQLite batch mode) refer to constraints by name.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

DEFAULT_ORGANISATION = "default"

DOCUMENT_STATUSES: tuple[str, ...] = ("received", "parsed", "failed", "reprocessed")

# JSONB on PostgreSQL: binary, indexable, and equality-comparable; plain JSON text elsewhere.
# none_as_null: Python None becomes SQL NULL (so "IS NULL" works), not the JSON text 'null'.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
BigIntegerPk = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive time is ambiguous (local? UTC?); refusing it beats guessing with money on the line.
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        # SQLite has no timezone type: store UTC wall-clock time so text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[Any]:
        return datetime


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organisation_id",
        String(64),
        nullable=False,
        default=DEFAULT_ORGANISATION,
        server_default=DEFAULT_ORGANISATION,
    ),
    Column("sha256", CHAR(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("filename", String(512), nullable=True),
    Column("detected_type", String(32), nullable=False),
    Column("status", String(16), nullable=False, default="received"),
    Column("received_at", UtcDateTime, nullable=False, default=utc_now),
    Column("processed_at", UtcDateTime, nullable=True),
    Column("content", EncryptedBytes("documents", "content"), nullable=False),  # the raw input, encrypted
    # Located errors: [{segment_index, segment_id, element, code, message, severity}, ...]; encrypted because a
    # message quotes the offending element's value, which may be a birth date or a member id.
    Column("errors", EncryptedJson("documents", "errors"), nullable=False, default=list),
    Column("summary", EncryptedJson("documents", "summary"), nullable=True),  # repeats the errors
    # Same bytes twice is the same document; dedup is per organisation so tenants stay independent.
    UniqueConstraint("organisation_id", "sha256"),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{status}'" for status in DOCUMENT_STATUSES)), name="status"
    ),
    CheckConstraint("size_bytes >= 0", name="size_bytes"),
)

# The worker's query: documents stored but not yet parsed, oldest first. Partial, so it stays tiny.
Index(
    "ix_documents_awaiting_processing",
    documents.c.id,
    postgresql_where=documents.c.status == "received",
    sqlite_where=documents.c.status == "received",
)
# Re-processing after a parser fix selects the failed documents of one organisation.
Index(
    "ix_documents_failed",
    documents.c.organisation_id,
    documents.c.id,
    postgresql_where=documents.c.status == "failed",
    sqlite_where=documents.c.status == "failed",
)

event_log = Table(
    "event_log",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column(
        "organisation_id",
        String(64),
        nullable=False,
        default=DEFAULT_ORGANISATION,
        server_default=DEFAULT_ORGANISATION,
    ),
    Column("facility_id", String(64), nullable=True),
    Column("payer_id", String(64), nullable=True),
    Column("department_id", String(64), nullable=True),
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("from_state", String(64), nullable=True),
    Column("to_state", String(64), nullable=False),
    Column("activity", String(128), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=True),
    # "rule id@version" or "model id@version": which decision logic produced this transition.
    Column("rule_version", String(128), nullable=True),
    Column("attributes", Json, nullable=True),
)

# One object's history, in order (audit trail, case view).
Index("ix_event_log_object", event_log.c.object_type, event_log.c.object_id, event_log.c.occurred_at)
# KPIs and process mining scan one organisation over a time window.
Index("ix_event_log_organisation_occurred", event_log.c.organisation_id, event_log.c.occurred_at)
# ... of one object type (process mining, rework, integration failures), finding the objects last active in it
# from the index alone; of some activities (first-pass acceptance, throughput).
Index("ix_event_log_organisation_type_occurred", event_log.c.organisation_id, event_log.c.object_type,
      event_log.c.occurred_at, event_log.c.object_id)
Index("ix_event_log_organisation_activity_occurred", event_log.c.organisation_id, event_log.c.activity,
      event_log.c.occurred_at)

# The last X12 control number issued per organisation, sender and kind (interchange ISA13, group GS06,
# transaction set ST02): receivers reject an interchange whose ISA13 they have seen before.
control_numbers = Table(
    "control_numbers",
    metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("sender_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("last_value", BigInteger, nullable=False),
    CheckConstraint("kind IN ('interchange', 'group', 'transaction')", name="kind"),
    CheckConstraint("last_value >= 0", name="last_value"),
)

# ---- workflow core: work items, approvals, outbox, jobs ------------------------------------------

WORK_ITEM_STATES: tuple[str, ...] = ("open", "in_progress", "waiting", "escalated", "resolved", "cancelled")
WORK_ITEM_ACTIVE_STATES: tuple[str, ...] = ("open", "in_progress", "waiting", "escalated")

# One row per human task: exception, review or approval step.
work_items = Table(
    "work_items",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("facility_id", String(64), nullable=True),
    Column("payer_id", String(64), nullable=True),
    Column("department_id", String(64), nullable=True),
    Column("queue", String(64), nullable=False),
    Column("item_type", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False),  # 1 most urgent .. 5
    Column("owner", String(128), nullable=True),
    Column("role", String(64), nullable=True),
    # The business object the task is about, and the key that makes "the same exception on the same
    # object" one item: queue + item type + object + exception code.
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("dedup_key", String(300), nullable=False),
    Column("title", String(300), nullable=False),
    Column("details", Json, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=True),
    Column("escalation_level", Integer, nullable=False, default=0, server_default="0"),
    Column("escalated_at", UtcDateTime, nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("resolution_code", String(64), nullable=True),
    Column("reopened", Integer, nullable=False, default=0, server_default="0"),
    CheckConstraint("state IN ('open', 'in_progress', 'waiting', 'escalated', 'resolved', 'cancelled')",
                    name="state"),
    CheckConstraint("priority BETWEEN 1 AND 5", name="priority"),
)
_ACTIVE = work_items.c.state.in_(WORK_ITEM_ACTIVE_STATES)
# De-duplication: at most one active item per organisation and dedup key.
Index("uq_work_items_active_dedup", work_items.c.organisation_id, work_items.c.dedup_key, unique=True,
      postgresql_where=_ACTIVE, sqlite_where=_ACTIVE)
# The queue views and the SLA escalation job scan active items by queue and due time.
Index("ix_work_items_active_queue_due", work_items.c.organisation_id, work_items.c.queue, work_items.c.due_at,
      postgresql_where=_ACTIVE, sqlite_where=_ACTIVE)
Index("ix_work_items_object", work_items.c.object_type, work_items.c.object_id)

# Further business objects a work item is about (a denial item links the claim and its remittance).
work_item_links = Table(
    "work_item_links",
    metadata,
    Column("work_item_id", BigInteger, ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True),
    Column("object_type", String(64), primary_key=True),
    Column("object_id", String(128), primary_key=True),
)
Index("ix_work_item_links_object", work_item_links.c.object_type, work_item_links.c.object_id)

work_item_notes = Table(
    "work_item_notes",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("work_item_id", BigInteger, ForeignKey("work_items.id", ondelete="CASCADE"), nullable=False),
    Column("author", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("text", EncryptedText("work_item_notes", "text"), nullable=False),  # free text: may name the patient
)
Index("ix_work_item_notes_item", work_item_notes.c.work_item_id, work_item_notes.c.created_at)

APPROVAL_STATES: tuple[str, ...] = ("pending", "approved", "rejected", "cancelled")

# One approval chain run for one business object, under one version of one policy.
approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("maker", String(128), nullable=False),
    Column("amount", Numeric(18, 2), nullable=True),
    Column("attributes", Json, nullable=True),  # facility, payer, vendor, service line... as matched
    Column("policy_id", String(128), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("chain", Json, nullable=False),  # the levels (roles, approvers needed) fixed at submission
    Column("state", String(16), nullable=False),
    Column("current_level", Integer, nullable=False, default=0, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    CheckConstraint("state IN ('pending', 'approved', 'rejected', 'cancelled')", name="state"),
)
_PENDING = approval_requests.c.state == "pending"
Index("uq_approval_requests_pending_object", approval_requests.c.organisation_id, approval_requests.c.object_type,
      approval_requests.c.object_id, unique=True, postgresql_where=_PENDING, sqlite_where=_PENDING)

approval_decisions = Table(
    "approval_decisions",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("request_id", BigInteger, ForeignKey("approval_requests.id", ondelete="CASCADE"), nullable=False),
    Column("level", Integer, nullable=False),
    Column("approver", String(128), nullable=False),  # the person who acted
    Column("on_behalf_of", String(128), nullable=True),  # the delegator, when acting as a delegate
    Column("decision", String(16), nullable=False),
    Column("reason", EncryptedText("approval_decisions", "reason"), nullable=True),  # free text
    Column("decided_at", UtcDateTime, nullable=False),
    CheckConstraint("decision IN ('approve', 'reject')", name="decision"),
    # One person decides once per chain, whatever the level: enforced by the database too.
    UniqueConstraint("request_id", "approver"),
)

delegations = Table(
    "delegations",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("delegator", String(128), nullable=False),
    Column("delegate", String(128), nullable=False),
    Column("role", String(64), nullable=True),  # None: every role of the delegator
    Column("starts_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    CheckConstraint("delegator <> delegate", name="distinct_people"),
)
Index("ix_delegations_delegate", delegations.c.organisation_id, delegations.c.delegate, delegations.c.expires_at)

OUTBOX_STATUSES: tuple[str, ...] = ("pending", "in_flight", "delivered", "failed", "dead")

# External effects, written in the same transaction as the state change that causes them.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("destination", String(64), nullable=False),
    Column("payload", Json, nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("locked_by", String(128), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    CheckConstraint("status IN ('pending', 'in_flight', 'delivered', 'failed', 'dead')", name="status"),
    UniqueConstraint("destination", "idempotency_key"),
)
_DUE = outbox.c.status.in_(("pending", "failed", "in_flight"))
Index("ix_outbox_due", outbox.c.next_attempt_at, postgresql_where=_DUE, sqlite_where=_DUE)
# Integration health: messages per destination and status.
Index("ix_outbox_destination_status", outbox.c.destination, outbox.c.status)

# What a receiver inside rcmflow has already applied: an idempotency key seen twice is applied once.
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    Column("processed_at", UtcDateTime, nullable=False),
)

JOB_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed", "dead")

# Background work claimed by workers in batches (FOR UPDATE SKIP LOCKED on PostgreSQL) under a lease.
jobs = Table(
    "jobs",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("kind", String(64), nullable=False),
    Column("payload", Json, nullable=False),
    Column("idempotency_key", String(200), nullable=True, unique=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("run_after", UtcDateTime, nullable=False),
    Column("locked_by", String(128), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'dead')", name="status"),
)
_CLAIMABLE = jobs.c.status.in_(("queued", "running"))
Index("ix_jobs_claimable", jobs.c.run_after, postgresql_where=_CLAIMABLE, sqlite_where=_CLAIMABLE)

# Periodic schedules (relay, escalation, snapshots): one row each, claimed like a job when due.
schedules = Table(
    "schedules",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("interval_seconds", Integer, nullable=False),
    Column("next_run_at", UtcDateTime, nullable=False),
    Column("last_run_at", UtcDateTime, nullable=True),
    Column("locked_by", String(128), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
)

# ---- built-in ledger: chart of accounts, journals, fiscal periods, journal entries ----------------
# Named ledger_* where a bare name ("accounts") would be ambiguous in a revenue cycle (patient accounts).

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("number", String(32), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("account_type", String(32), nullable=False),
    Column("normal_side", String(8), nullable=False),
    Column("description", Text, nullable=True),
    UniqueConstraint("organisation_id", "number"),
    UniqueConstraint("organisation_id", "key"),
    CheckConstraint("account_type IN ('asset', 'liability', 'equity', 'revenue', 'contra_revenue', 'expense')",
                    name="account_type"),
    CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side"),
)

ledger_journals = Table(
    "ledger_journals",
    metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
)

FISCAL_PERIOD_STATES: tuple[str, ...] = ("open", "closed")

fiscal_periods = Table(
    "fiscal_periods",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("period", String(7), nullable=False),  # "2026-03"
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_by", String(128), nullable=True),
    UniqueConstraint("organisation_id", "period"),
    CheckConstraint("state IN ('open', 'closed')", name="state"),
    CheckConstraint("starts_on <= ends_on", name="dates"),
)

# One balanced entry; its lines are in journal_lines. Never updated or deleted: a mistake is reversed.
journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("journal", String(32), nullable=False),
    Column("period", String(7), nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("description", String(300), nullable=False),
    # The business object whose financial effect this entry records (claim payment, PLB, deposit...).
    Column("source_type", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    # Names the effect: the same key posted twice is posted once.
    Column("idempotency_key", String(200), nullable=False),
    # The entry this one exactly mirrors; unique, so an entry is reversed at most once.
    Column("reversal_of", BigInteger, ForeignKey("journal_entries.id"), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    UniqueConstraint("organisation_id", "idempotency_key"),
    ForeignKeyConstraint(["organisation_id", "journal"], ["ledger_journals.organisation_id", "ledger_journals.code"]),
    ForeignKeyConstraint(["organisation_id", "period"], ["fiscal_periods.organisation_id", "fiscal_periods.period"]),
)
# Journal export and the trial balance "as of" scan one organisation's entries by date.
Index("ix_journal_entries_organisation_date", journal_entries.c.organisation_id, journal_entries.c.posting_date)
Index("ix_journal_entries_source", journal_entries.c.source_type, journal_entries.c.source_id)

journal_lines = Table(
    "journal_lines",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("entry_id", BigInteger, ForeignKey("journal_entries.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("account_id", BigInteger, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("debit", Numeric(18, 2), nullable=False),
    Column("credit", Numeric(18, 2), nullable=False),
    Column("memo", String(300), nullable=True),
    UniqueConstraint("entry_id", "line_no"),
    # The domain checks this too; the database makes it true whatever writes the row.
    CheckConstraint("(debit > 0 AND credit = 0) OR (debit = 0 AND credit > 0)", name="one_side"),
)
Index("ix_journal_lines_account", journal_lines.c.organisation_id, journal_lines.c.account_id)

def _in(column: str, values: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{value}'" for value in values))


# ---- claims (837): what was billed, what remittances are matched and posted against --------------------

CLAIM_STATES: tuple[str, ...] = (
    "registered", "eligibility verified", "charge reviewed", "coded", "scrubbed", "ready", "submitted", "accepted",
    "rejected", "adjudicated", "paid", "partially paid", "denied", "appealed", "patient billed", "refund pending",
    "closed", "voided",
)

# One 837 interchange rcmflow wrote for one trading partner, payer and claim type: one group, one transaction
# set, so a 999 (AK1 group, AK2 set) and the claims it acknowledges are found by its control numbers. The
# bytes are kept as sent.
submissions = Table(
    "submissions",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("partner_id", String(48), nullable=False),
    Column("payer_id", String(64), nullable=False),
    Column("claim_type", String(1), nullable=False),
    Column("sender_id", String(15), nullable=False),  # ISA06
    Column("receiver_id", String(15), nullable=False),  # ISA08
    Column("interchange_control_number", Integer, nullable=False),  # ISA13
    Column("group_control_number", Integer, nullable=False),  # GS06
    Column("transaction_control_number", String(9), nullable=False),  # ST02
    Column("file_name", String(200), nullable=False),
    Column("content", EncryptedBytes("submissions", "content"), nullable=False),  # names, birth dates, addresses
    Column("claim_count", Integer, nullable=False),
    Column("total_charge", Numeric(18, 2), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("ack_status", String(1), nullable=True),  # the 999's IK501 for the set: A, E, R...
    Column("acknowledged_at", UtcDateTime, nullable=True),
)
Index("ix_submissions_group", submissions.c.organisation_id, submissions.c.sender_id,
      submissions.c.group_control_number)

# One claim as billed to one payer. The same content twice (a file sent again) is one claim: the unique
# content digest; a corrected claim (frequency 7) is another row with the same patient control number.
claims = Table(
    "claims",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("facility_id", String(64), nullable=True),  # the billing provider's NPI
    Column("payer_id", String(64), nullable=False),  # 2010BB identifier, else the payer's name
    Column("payer_name", String(128), nullable=True),
    Column("department_id", String(64), nullable=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=True),
    Column("claim_type", String(1), nullable=False),  # P professional, I institutional
    Column("patient_control_number", String(50), nullable=False),  # CLM01
    Column("frequency", String(1), nullable=False),  # CLM05-3: 1 original, 7 replacement, 8 void
    Column("payer_claim_number", String(50), nullable=True),  # the payer's ICN, from 277CA/835 or REF*F8
    Column("filing_order", String(1), nullable=False),  # SBR01: P primary, S secondary, T tertiary
    Column("member_id", EncryptedText("claims", "member_id"), nullable=True),  # the subscriber's id with this payer
    # Its blind index: what lookups by member compare.
    Column("member_id_index", CHAR(64), nullable=True, default=blind_index_default("member_id")),
    Column("service_from", Date, nullable=True),
    Column("service_to", Date, nullable=True),
    Column("total_charge", Numeric(18, 2), nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("state", String(24), nullable=False),
    Column("content_digest", CHAR(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # The id the source system gave the claim (FHIR Claim.id, charge CSV claim_id, DFT visit number); a
    # corrected version from the source is a new row with the same source id, superseding the earlier one.
    Column("source_id", String(128), nullable=True),
    Column("submission_id", BigInteger, ForeignKey("submissions.id"), nullable=True),  # the 837 that carried it
    # Coordination of benefits: "pending" when another payer is to be billed after this one pays, then
    # "billed" or "crossover" (the payer forwarded it itself); a secondary claim points at its primary.
    Column("secondary_billing", String(12), nullable=True),
    Column("primary_claim_id", BigInteger, ForeignKey("claims.id"), nullable=True),
    UniqueConstraint("organisation_id", "content_digest"),
    CheckConstraint(_in("state", CLAIM_STATES), name="state"),
)
# Matching finds claims by patient control number, then by the payer's claim number.
Index("ix_claims_organisation_pcn", claims.c.organisation_id, claims.c.patient_control_number)
Index("ix_claims_organisation_payer_claim_number", claims.c.organisation_id, claims.c.payer_claim_number)
Index("ix_claims_organisation_member_index", claims.c.organisation_id, claims.c.member_id_index)
Index("ix_claims_organisation_source", claims.c.organisation_id, claims.c.source_id)
# The fuzzy fallback looks candidates up by payer, first day of service and total charge.
Index("ix_claims_organisation_payer_service", claims.c.organisation_id, claims.c.payer_id, claims.c.service_from,
      claims.c.total_charge)

claim_lines = Table(
    "claim_lines",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("claim_id", BigInteger, ForeignKey("claims.id"), nullable=False),
    Column("line_number", Integer, nullable=False),  # LX01
    Column("procedure_qualifier", String(8), nullable=True),
    Column("procedure_code", String(48), nullable=True),
    Column("modifiers", String(32), nullable=True),  # "25:59"
    Column("revenue_code", String(48), nullable=True),
    Column("charge", Numeric(18, 2), nullable=False),
    Column("units", Numeric(15, 3), nullable=True),
    Column("service_date", Date, nullable=True),
    Column("line_item_control_number", String(50), nullable=True),  # REF*6R, echoed in the 835 SVC loop
    UniqueConstraint("claim_id", "line_number"),
)
Index("ix_claim_lines_organisation_line_item", claim_lines.c.organisation_id, claim_lines.c.line_item_control_number)

# What a payer's 271 said about one patient's coverage, one row per answer (the newest one counts): the
# eligibility on file that the scrubber checks a claim's dates of service against.
eligibility_responses = Table(
    "eligibility_responses",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=True),
    Column("payer_id", String(64), nullable=False),
    Column("member_id", EncryptedText("eligibility_responses", "member_id"), nullable=False),  # the subscriber's
    Column("member_id_index", CHAR(64), nullable=False, default=blind_index_default("member_id")),
    # The patient (the dependent when there is one).
    Column("last_name", EncryptedText("eligibility_responses", "last_name"), nullable=True),
    Column("first_name", EncryptedText("eligibility_responses", "first_name"), nullable=True),
    Column("birth_date", EncryptedDate("eligibility_responses", "birth_date"), nullable=True),
    Column("status", String(8), nullable=False),  # active, inactive, unknown
    Column("plan_begin", Date, nullable=True),
    Column("plan_end", Date, nullable=True),
    Column("copay", Numeric(18, 2), nullable=True),
    Column("coinsurance", Numeric(7, 4), nullable=True),
    Column("deductible_remaining", Numeric(18, 2), nullable=True),
    Column("out_of_pocket_remaining", Numeric(18, 2), nullable=True),
    Column("reject_reasons", Json, nullable=True),
    Column("trace_number", String(50), nullable=True),
    Column("responded_on", Date, nullable=True),  # BHT04 of the 271
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('active', 'inactive', 'unknown')", name="status"),
)
Index("ix_eligibility_responses_member_index", eligibility_responses.c.organisation_id,
      eligibility_responses.c.payer_id, eligibility_responses.c.member_id_index)

# Append-only audit trail of writes and reads of protected health information, chained by hash: each row's
# hash covers its content and the previous row's hash, so altering or removing any row breaks the chain from
# there on (``rcmflow audit verify``).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),  # "read claim", "resolve work item", ...
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("source", String(128), nullable=True),  # where the request came from (client address)
    Column("request_id", String(64), nullable=True),
    Column("before_digest", CHAR(64), nullable=True),  # SHA-256 of the object before a write
    Column("after_digest", CHAR(64), nullable=True),
    Column("previous_hash", CHAR(64), nullable=False),
    Column("row_hash", CHAR(64), nullable=False),
)

APPEAL_STATES: tuple[str, ...] = ("drafted", "submitted", "won", "lost", "partially won", "abandoned")

# An appeal of a denied (or partly denied) claim: drafted by a denial specialist, sent to the payer, and
# settled when the payer's next answer on the claim arrives (paid: won; denied again: lost).
appeals = Table(
    "appeals",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("claim_id", BigInteger, ForeignKey("claims.id"), nullable=False),
    Column("level", Integer, nullable=False),  # 1 first-level reconsideration, 2 second level...
    Column("state", String(16), nullable=False),
    Column("reason", EncryptedText("appeals", "reason"), nullable=False),  # free text: may name the patient
    Column("denial_codes", Json, nullable=True),  # the CARCs appealed, e.g. ["CO-50"]
    Column("created_at", UtcDateTime, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    CheckConstraint(_in("state", APPEAL_STATES), name="state"),
)
Index("ix_appeals_claim", appeals.c.claim_id)

# The content of a claim rcmflow built itself (a secondary claim after the primary's 835), which no source
# document holds: kept as the single-claim 837 it would send, read back with the 837 reader.
claim_contents = Table(
    "claim_contents",
    metadata,
    Column("claim_id", BigInteger, ForeignKey("claims.id"), primary_key=True),
    Column("format", String(16), nullable=False),  # "x12-837"
    Column("content", EncryptedBytes("claim_contents", "content"), nullable=False),
)

# What the scrubber found on a claim, one row per finding. A claim scrubbed again (after a rule change or a
# correction) keeps its earlier findings under a lower scrub number: the audit trail of every decision.
scrub_findings = Table(
    "scrub_findings",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("claim_id", BigInteger, ForeignKey("claims.id"), nullable=False),
    Column("scrub_number", Integer, nullable=False),  # 1 for the first scrub of the claim, then 2, ...
    Column("rule", String(128), nullable=False),
    Column("rule_version", String(32), nullable=False),
    Column("pack", String(160), nullable=False),  # pack@version
    Column("severity", String(8), nullable=False),
    Column("category", String(16), nullable=False),
    # Both quote claim data (names, birth dates, member ids): encrypted.
    Column("message", EncryptedText("scrub_findings", "message"), nullable=False),
    Column("line_number", Integer, nullable=True),
    Column("inputs", EncryptedJson("scrub_findings", "inputs"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("severity IN ('error', 'warning')", name="severity"),
)
Index("ix_scrub_findings_claim", scrub_findings.c.claim_id, scrub_findings.c.scrub_number)

# ---- remittances (835): payment, claim payments, service payments, adjustments --------------------

REMITTANCE_STATES: tuple[str, ...] = ("received", "matched", "held", "rejected", "posted", "reconciled", "reversed")
CLAIM_PAYMENT_STATES: tuple[str, ...] = ("received", "unapplied", "matched", "variance review", "posted", "reversed")


# One 835 transaction set. A remittance is identified by its payer and trace number (TRN02): the same pair
# arriving again is a duplicate (same content digest) or a conflict (different digest), never a second row.
remittances = Table(
    "remittances",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=True),
    Column("payer_id", String(64), nullable=False),  # N1*PR identifier, else the payer's name
    Column("payer_name", String(128), nullable=True),
    Column("payee_id", String(80), nullable=True),
    Column("trace_number", String(80), nullable=False),
    Column("originator_id", String(80), nullable=True),  # TRN03: "1" + the payer's TIN, checked by reassociation
    Column("payment_amount", Numeric(18, 2), nullable=False),
    Column("credit_debit", String(2), nullable=False),
    Column("payment_method", String(8), nullable=False),
    Column("payment_date", Date, nullable=True),
    Column("production_date", Date, nullable=True),
    Column("control_number", String(16), nullable=False),  # ST02
    Column("state", String(16), nullable=False),
    # SHA-256 of the canonical content (envelope excluded): equal digests mean a true duplicate.
    Column("content_digest", CHAR(64), nullable=False),
    Column("claim_count", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # The part of the payment bank deposits account for (CORE 370 reassociation); equal to the payment
    # when the remittance is reconciled.
    Column("reconciled_amount", Numeric(18, 2), nullable=False, default=0, server_default="0"),
    UniqueConstraint("organisation_id", "payer_id", "trace_number"),
    CheckConstraint(_in("state", REMITTANCE_STATES), name="state"),
)
Index("ix_remittances_document", remittances.c.document_id)

claim_payments = Table(
    "claim_payments",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("remittance_id", BigInteger, ForeignKey("remittances.id"), nullable=False),
    Column("patient_control_number", String(50), nullable=False),  # CLP01
    Column("status", String(8), nullable=False),  # CLP02
    Column("charge", Numeric(18, 2), nullable=False),
    Column("paid", Numeric(18, 2), nullable=False),
    Column("patient_responsibility", Numeric(18, 2), nullable=True),
    Column("filing_indicator", String(8), nullable=True),
    Column("payer_claim_control_number", String(50), nullable=True),
    Column("state", String(16), nullable=False),
    Column("remarks", Json, nullable=True),  # [{"code", "qualifier"}, ...] from LQ/MIA/MOA
    # What matching reads besides CLP: the patient's member id (NM1*QC, else IL) and the service period
    # (DTM*232/233, else the service lines' dates); the crossover payer (NM1*TT) for secondary billing.
    Column("member_id", EncryptedText("claim_payments", "member_id"), nullable=True),
    # Blind index: joins payments to claims and eligibility by member without decrypting.
    Column("member_id_index", CHAR(64), nullable=True, default=blind_index_default("member_id")),
    Column("service_from", Date, nullable=True),
    Column("service_to", Date, nullable=True),
    Column("crossover_payer", String(128), nullable=True),
    # Matching: the claim, how it was found (patient_control_number, payer_claim_number, fuzzy, manual) and
    # the confidence (1 for an exact key).
    Column("claim_id", BigInteger, ForeignKey("claims.id"), nullable=True),
    Column("match_method", String(24), nullable=True),
    Column("match_confidence", Numeric(5, 4), nullable=True),
    # Contract variance: the allowed amount the payer contract gives, and expected minus actual allowed.
    Column("expected_allowed", Numeric(18, 2), nullable=True),
    Column("variance", Numeric(18, 2), nullable=True),
    Column("posted_at", UtcDateTime, nullable=True),
    CheckConstraint(_in("state", CLAIM_PAYMENT_STATES), name="state"),
)
# Matching looks claim payments up by the claim's patient control number.
Index("ix_claim_payments_organisation_pcn", claim_payments.c.organisation_id, claim_payments.c.patient_control_number)
Index("ix_claim_payments_remittance", claim_payments.c.remittance_id)

service_payments = Table(
    "service_payments",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("claim_payment_id", BigInteger, ForeignKey("claim_payments.id"), nullable=False),
    Column("procedure_qualifier", String(8), nullable=True),
    Column("procedure_code", String(48), nullable=True),
    Column("modifiers", String(32), nullable=True),  # "25:59", as in the SVC composite
    Column("revenue_code", String(48), nullable=True),
    Column("charge", Numeric(18, 2), nullable=False),
    Column("paid", Numeric(18, 2), nullable=False),
    Column("allowed", Numeric(18, 2), nullable=True),  # AMT*B6
    Column("units", Numeric(15, 3), nullable=True),
    Column("service_date", Date, nullable=True),
    Column("line_item_control_number", String(50), nullable=True),  # REF*6R: the billed line's id
    Column("remarks", Json, nullable=True),
    Column("claim_line_id", BigInteger, ForeignKey("claim_lines.id"), nullable=True),  # the billed line it pays
)
Index("ix_service_payments_claim_payment", service_payments.c.claim_payment_id)

# CAS: at claim level (service_payment_id NULL) or service level.
payment_adjustments = Table(
    "payment_adjustments",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("claim_payment_id", BigInteger, ForeignKey("claim_payments.id"), nullable=False),
    Column("service_payment_id", BigInteger, ForeignKey("service_payments.id"), nullable=True),
    Column("group_code", String(8), nullable=False),
    Column("reason_code", String(8), nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("quantity", Numeric(15, 3), nullable=True),
)
Index("ix_payment_adjustments_claim_payment", payment_adjustments.c.claim_payment_id)
# A service line's adjustments; also what keeps deleting or re-keying service lines from scanning the table.
Index("ix_payment_adjustments_service_payment", payment_adjustments.c.service_payment_id)

# PLB: provider-level adjustments not tied to a claim (interest, forward balances, recoupments...).
provider_adjustments = Table(
    "provider_adjustments",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("remittance_id", BigInteger, ForeignKey("remittances.id"), nullable=False),
    Column("provider_id", String(50), nullable=False),
    Column("fiscal_period_date", Date, nullable=True),
    Column("reason_code", String(8), nullable=False),
    Column("reference", String(50), nullable=True),
    Column("amount", Numeric(18, 2), nullable=False),
)
Index("ix_provider_adjustments_remittance", provider_adjustments.c.remittance_id)
Index("ix_claim_payments_claim", claim_payments.c.claim_id)
Index("ix_claim_payments_organisation_state", claim_payments.c.organisation_id, claim_payments.c.state)
Index("ix_remittances_organisation_state", remittances.c.organisation_id, remittances.c.state)

# ---- bank deposits and their reassociation to remittances (CAQH CORE 370) ------------------------------

DEPOSIT_STATES: tuple[str, ...] = ("received", "matched", "unmatched", "reconciled", "written off")

# One credit (or debit) a bank file or lockbox file reports. The same transaction reported again (a
# prior-day file after the intraday one, a file sent twice) has the same dedup key and is not stored twice.
deposits = Table(
    "deposits",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=True),
    Column("source", String(16), nullable=False),  # bai2, lockbox_csv
    Column("bank", String(64), nullable=True),
    Column("account", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),  # positive; direction says which way
    Column("direction", String(6), nullable=False),  # credit, debit
    Column("value_date", Date, nullable=True),
    Column("type_code", String(8), nullable=True),
    Column("bank_reference", String(80), nullable=True),
    Column("customer_reference", String(80), nullable=True),
    Column("trace_number", String(80), nullable=True),  # the 835 TRN02 the addenda or references carry
    Column("originator_id", String(80), nullable=True),
    Column("payer_name", String(128), nullable=True),
    Column("check_number", String(80), nullable=True),
    Column("batch", String(40), nullable=True),
    Column("claim_reference", String(80), nullable=True),
    Column("text", String(500), nullable=True),
    Column("line", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    # The part of the amount matched to remittances so far (split and partial matches).
    Column("matched_amount", Numeric(18, 2), nullable=False, default=0, server_default="0"),
    Column("dedup_key", CHAR(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("organisation_id", "dedup_key"),
    CheckConstraint(_in("state", DEPOSIT_STATES), name="state"),
    CheckConstraint("direction IN ('credit', 'debit')", name="direction"),
)
Index("ix_deposits_organisation_trace", deposits.c.organisation_id, deposits.c.trace_number)
Index("ix_deposits_organisation_state", deposits.c.organisation_id, deposits.c.state)

# Which deposit pays which remittance, and how much of it: one deposit may carry several remittances and
# one remittance may arrive in several deposits.
deposit_matches = Table(
    "deposit_matches",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("deposit_id", BigInteger, ForeignKey("deposits.id"), nullable=False),
    Column("remittance_id", BigInteger, ForeignKey("remittances.id"), nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("method", String(24), nullable=False),  # trace_number, amount_date, manual
    Column("confidence", Numeric(5, 4), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    UniqueConstraint("deposit_id", "remittance_id"),
)
Index("ix_deposit_matches_remittance", deposit_matches.c.remittance_id)

# Who may call the API: systems (OAuth2 client credentials) and people (username and password). Secrets are
# argon2 hashes; a principal sees the facilities listed (none listed: every facility of its organisation).
PRINCIPAL_KINDS: tuple[str, ...] = ("client", "user")

principals = Table(
    "principals",
    metadata,
    Column("id", String(64), primary_key=True),  # the client_id, or "user:<username>"
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("kind", String(8), nullable=False),
    Column("name", String(128), nullable=False),  # the client's name, the user's username
    Column("roles", Json, nullable=False),  # ["biller", ...]
    Column("facilities", Json, nullable=False),  # [] = every facility
    Column("secret_hash", String(255), nullable=False),
    Column("active", Boolean, nullable=False, default=True, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    UniqueConstraint("organisation_id", "kind", "name"),
    CheckConstraint(_in("kind", PRINCIPAL_KINDS), name="kind"),
)

# Keys that sign access tokens (Ed25519). The newest active key signs; older ones still verify the tokens
# they signed until retired, so rotating never logs anyone out.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    # PKCS#8 PEM, encrypted like PHI: whoever reads it could sign tokens for any role.
    Column("private_key", EncryptedBytes("signing_keys", "private_key"), nullable=False),
    Column("public_key", LargeBinary, nullable=False),  # SubjectPublicKeyInfo PEM
    Column("created_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime, nullable=True),  # no longer verifies anything
)

# Web sessions of people: the cookie carries a random token, the table only its SHA-256.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", CHAR(64), primary_key=True),
    Column("principal_id", String(64), ForeignKey("principals.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

# The first response to each Idempotency-Key of a principal: a repeat of the same request gets it again; the
# same key on a different request is refused.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_digest", CHAR(64), nullable=False),  # method, path and body
    Column("status_code", Integer, nullable=False),
    Column("content_type", String(128), nullable=True),
    Column("body", EncryptedBytes("idempotency_keys", "body"), nullable=False),  # a response may show a claim
    Column("created_at", UtcDateTime, nullable=False),
)

# Webhook subscriptions: a receiver's URL, the event types it wants, and the secret its payloads are signed
# with (HMAC-SHA256 over timestamp and body). Deliveries go through the outbox, one destination per subscription.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("url", String(2048), nullable=False),
    Column("event_types", Json, nullable=False),  # ["claim.denied", ...]; ["*"] for every type
    # Encrypted like PHI: whoever reads the secret can forge deliveries to the receiver.
    Column("secret", EncryptedText("webhook_subscriptions", "secret"), nullable=False),
    Column("active", Boolean, nullable=False, default=True, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    # Events up to this event_log id have been turned into deliveries (the subscription's read position).
    Column("last_event_id", BigInteger, nullable=False, default=0, server_default="0"),
)

# ---- KPI snapshots: one row per organisation, day, KPI and slice, for the control tower's trends ------------

# The KPIs of a day as computed at its end (services.kpi_snapshots): dimension and group_value are '' for the
# total. A day snapshotted again replaces its rows.
kpi_snapshots = Table(
    "kpi_snapshots",
    metadata,
    Column("id", BigIntegerPk, primary_key=True, autoincrement=True),
    Column("organisation_id", String(64), nullable=False, default=DEFAULT_ORGANISATION,
           server_default=DEFAULT_ORGANISATION),
    Column("day", Date, nullable=False),
    Column("kpi", String(64), nullable=False),
    Column("dimension", String(32), nullable=False, default=""),
    Column("group_value", String(128), nullable=False, default=""),
    Column("value", Numeric(24, 4), nullable=True),
    Column("numerator", Numeric(24, 4), nullable=True),
    Column("denominator", Numeric(24, 4), nullable=True),
    Column("computed_at", UtcDateTime, nullable=False),
    UniqueConstraint("organisation_id", "day", "kpi", "dimension", "group_value"),
)
# The control tower's tiles: every KPI's daily series of one slice, in one read.
Index("ix_kpi_snapshots_series", kpi_snapshots.c.organisation_id, kpi_snapshots.c.dimension,
      kpi_snapshots.c.group_value, kpi_snapshots.c.day)

# The KPI engine's windowed queries (services.kpis), each driven by the organisation and the timestamp that
# places a row in the window: claims captured (clean-claim rate, claims aging), claim payments posted
# (straight-through rate, posting latency), remittances received (denial rates), work items resolved
# (resolution time, SLA breach rate; and the items resolved after a past as-of time for backlogs).
Index("ix_claims_organisation_created", claims.c.organisation_id, claims.c.created_at)
Index("ix_claim_payments_organisation_posted", claim_payments.c.organisation_id, claim_payments.c.posted_at)
Index("ix_remittances_organisation_created", remittances.c.organisation_id, remittances.c.created_at)
Index("ix_work_items_organisation_resolved", work_items.c.organisation_id, work_items.c.resolved_at)

# The control tower's figures, pre-aggregated (services.kpi_reports): every KPI in total and per group of every
# dimension, the aging, the denial categories and the daily throughput, for one window, as of ``as_of``. The
# worker refreshes them; the tower reads one row instead of computing over millions of rows per page view.
# ``facility_scope`` '' is every facility; else the report is limited to a facility set some principals are limited
# to (services.facility_scopes.scope_key): their medians and percentiles are no combination of other rows.
kpi_reports = Table(
    "kpi_reports",
    metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("window_days", Integer, primary_key=True),
    Column("facility_scope", String(128), primary_key=True),
    Column("as_of", UtcDateTime, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),  # what computing it took: decides live or stored
    Column("report", Json, nullable=False),
    # Set while one process refreshes the report in the background (services.background.claim_refresh).
    Column("refreshing_until", UtcDateTime, nullable=True),
)

# The process map page's mined maps (services.process_maps), one per organisation, object type and window of
# the page, mined over the ``window_days`` before ``until``: the worker refreshes them, the page reads one row
# instead of mining millions of events. ``facility_scope`` as in kpi_reports: a map of some facilities' events.
process_maps = Table(
    "process_maps",
    metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("object_type", String(64), primary_key=True),
    Column("window_days", Integer, primary_key=True),
    Column("facility_scope", String(128), primary_key=True),
    Column("until", UtcDateTime, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),  # what mining it took: decides live or stored
    Column("mining", Json, nullable=False),  # ProcessMining.to_dict()
    Column("refreshing_until", UtcDateTime, nullable=True),
)
