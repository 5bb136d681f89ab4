"""The built-in ledger: install the chart, post balanced entries in bulk, reverse, report, export.

``post_entries`` is the one way money reaches the ledger. It is set-based (one INSERT for thousands of
entries and one for their lines, COPY on PostgreSQL), checks every entry balances through
``domain.ledger.check_balanced`` before writing anything, refuses postings into closed periods, and
skips an idempotency key already posted (reported as ``created=False``, not an error), so a crashed run
can simply be run again. Entries are never updated or deleted: ``reverse_entry`` posts the exact mirror.

Journal CSV export layout (one row per line, header row first, UTF-8, comma-separated, RFC 4180 quoting)::

    entry_id, posting_date (YYYY-MM-DD), period (YYYY-MM), journal, line_no, account_number, account_name,
    debit, credit, description, memo, source_type, source_id, idempotency_key, reversal_of

Amounts are plain decimal strings with two places ("1250.00", "0.00"), no sign, no thousands separator;
rows are ordered by posting date, entry id and line number, so an entry's lines are contiguous.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TextIO

from sqlalchemy import Connection, and_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    journal_entries,
    journal_lines,
    ledger_accounts,
    ledger_journals,
)
from rcmflow.adapters.store.sql import (
    COPY_THRESHOLD,
    bulk_insert,
    bulk_insert_values,
    in_chunks,
    insert_ignoring_conflicts,
    sum_money,
    summed_money,
)
from rcmflow.domain.ledger import (
    AlreadyReversedError,
    Chart,
    JournalEntryDraft,
    JournalLine,
    TrialBalance,
    TrialBalanceRow,
    UnknownAccountError,
    UnknownJournalError,
    check_all_balanced,
    load_chart,
    reversal_of,
)
from rcmflow.domain.money import format_amount, from_stored
from rcmflow.errors import InputError, NotFoundError
from rcmflow.services.fiscal_periods import check_periods_open

_LINE_COLUMNS = ("organisation_id", "entry_id", "line_no", "account_id", "debit", "credit", "memo")
CSV_COLUMNS: tuple[str, ...] = (
    "entry_id", "posting_date", "period", "journal", "line_no", "account_number", "account_name", "debit",
    "credit", "description", "memo", "source_type", "source_id", "idempotency_key", "reversal_of")



@dataclass(frozen=True, slots=True)
class PostedRef:
    """What posting one draft did: its entry id, and whether it was written now (False: already posted)."""

    entry_id: int
    idempotency_key: str
    created: bool


# ---- chart -----------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def default_chart() -> Chart:
    """The chart shipped in ``rcmflow/config/chart_of_accounts.yaml``, loaded once."""
    return load_chart()


def _upsert(conn: Connection, table: Any, conflict: list[str], update: list[str]) -> Any:
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(conn.dialect.name)
    if dialect is None:
        raise NotImplementedError(f"unsupported database dialect {conn.dialect.name!r}")
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(index_elements=conflict,
                                           set_={name: statement.excluded[name] for name in update})


def install_chart(conn: Connection, chart: Chart, organisation_id: str = DEFAULT_ORGANISATION) -> None:
    """Install or update ``chart`` for an organisation: upsert accounts by number and journals by code.

    Never deletes an account (posted lines may point at it); a name, key or type change updates it.
    """
    conn.execute(_upsert(conn, ledger_accounts, ["organisation_id", "number"],
                         ["key", "name", "account_type", "normal_side", "description"]),
                 [{"organisation_id": organisation_id, "number": a.number, "key": a.key, "name": a.name,
                   "account_type": a.type.value, "normal_side": a.side.value, "description": a.description}
                  for a in chart.accounts])
    conn.execute(_upsert(conn, ledger_journals, ["organisation_id", "code"], ["name"]),
                 [{"organisation_id": organisation_id, "code": j.code, "name": j.name} for j in chart.journals])


def ensure_ledger(conn: Connection, organisation_id: str = DEFAULT_ORGANISATION, chart: Chart | None = None) -> None:
    """Install the default chart (or ``chart``) for an organisation that has no accounts yet."""
    has_accounts = conn.execute(select(ledger_accounts.c.id).where(
        ledger_accounts.c.organisation_id == organisation_id).limit(1)).first()
    if has_accounts is None:
        install_chart(conn, chart or default_chart(), organisation_id)


def list_accounts(conn: Connection, organisation_id: str = DEFAULT_ORGANISATION) -> list[Any]:
    """Every account of the organisation's chart, by number."""
    ensure_ledger(conn, organisation_id)
    return list(conn.execute(select(ledger_accounts).where(ledger_accounts.c.organisation_id == organisation_id)
                             .order_by(ledger_accounts.c.number)))


# ---- posting ---------------------------------------------------------------------------------------

def posted_entry_ids(conn: Connection, organisation_id: str, keys: Sequence[str]) -> dict[str, int]:
    """The entry id of each idempotency key already posted (keys not posted are absent)."""
    found: dict[str, int] = {}
    if not keys:
        return found
    if conn.dialect.name == "postgresql":
        # One probe of the (organisation, key) unique index per key, whatever the statistics say: as
        # "key = ANY(array)" (or a join), a table just grown by a bulk posting and not analysed yet was read
        # whole through its organisation index: 75-200 ms per 2,500 keys instead of 5-10.
        wanted = func.unnest(bindparam("keys", list(keys), type_=ARRAY(journal_entries.c.idempotency_key.type)))
        key = wanted.table_valued("key").render_derived(name="wanted")
        entry = (select(journal_entries.c.id).where(journal_entries.c.organisation_id == organisation_id,
                                                    journal_entries.c.idempotency_key == key.c.key)
                 .scalar_subquery())
        found.update((wanted_key, entry_id) for wanted_key, entry_id in conn.execute(select(key.c.key, entry))
                     if entry_id is not None)
        return found
    for condition in in_chunks(conn, journal_entries.c.idempotency_key, keys):
        found.update(conn.execute(select(journal_entries.c.idempotency_key, journal_entries.c.id).where(
            journal_entries.c.organisation_id == organisation_id, condition)).all())
    return found


def _account_ids(conn: Connection, organisation_id: str) -> dict[str, int]:
    """Account id by number and by key (the two never collide: see domain.ledger)."""
    ids: dict[str, int] = {}
    for number, key, account_id in conn.execute(
            select(ledger_accounts.c.number, ledger_accounts.c.key, ledger_accounts.c.id)
            .where(ledger_accounts.c.organisation_id == organisation_id)):
        ids[number] = ids[key] = account_id
    return ids


def _check_references(conn: Connection, organisation_id: str, entries: Sequence[JournalEntryDraft]) -> dict[str, int]:
    accounts = _account_ids(conn, organisation_id)
    journals = set(conn.execute(select(ledger_journals.c.code).where(
        ledger_journals.c.organisation_id == organisation_id)).scalars())
    # The journals and accounts used, checked once for all entries; only a miss looks for the first entry to name.
    if ({entry.journal for entry in entries} <= journals
            and {line.account for entry in entries for line in entry.lines} <= accounts.keys()):
        return accounts
    for entry in entries:
        if entry.journal not in journals:
            raise UnknownJournalError(f"entry {entry.idempotency_key!r}: no journal {entry.journal!r} "
                                      f"(known: {', '.join(sorted(journals))})")
        missing = sorted({line.account for line in entry.lines} - accounts.keys())
        if missing:
            raise UnknownAccountError(f"entry {entry.idempotency_key!r}: no account {', '.join(missing)} "
                                      "in the chart of accounts")
    return accounts


@dataclass(frozen=True)
class EntryPlan:
    """What posting a list of drafts will do, decided before anything is written (``plan_entries``)."""

    entries: Sequence[JournalEntryDraft]
    new: list[JournalEntryDraft]  # drafts whose key is not posted yet, each key once
    posted: dict[str, int]  # key -> entry id, of the keys posted before
    accounts: dict[str, int]
    actor: str
    now: datetime
    organisation_id: str


def post_entries(
    conn: Connection,
    entries: Sequence[JournalEntryDraft],
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> list[PostedRef]:
    """Post balanced entries in bulk, in the caller's transaction; one ``PostedRef`` per draft, in order.

    Raises ``UnbalancedError``, ``PeriodClosedError``, ``UnknownAccountError`` or ``UnknownJournalError``
    before anything is written. A key already posted (or repeated in ``entries``) is skipped.
    """
    return write_entries(conn, plan_entries(conn, entries, actor=actor, now=now, organisation_id=organisation_id))


def plan_entries(
    conn: Connection,
    entries: Sequence[JournalEntryDraft],
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> EntryPlan:
    """Every check and look-up of ``post_entries``, nothing written but missing open periods: so that a caller
    can write the entries later in its transaction (``write_entries``) with no read in between."""
    if now.utcoffset() is None:
        raise InputError("post_entries: now must be timezone-aware")
    if not entries:
        return EntryPlan(entries, [], {}, {}, actor, now, organisation_id)
    check_all_balanced(entries)  # the one balancing rule, for every entry, before any write
    ensure_ledger(conn, organisation_id)
    accounts = _check_references(conn, organisation_id, entries)
    unique: dict[str, JournalEntryDraft] = {}
    for entry in entries:
        unique.setdefault(entry.idempotency_key, entry)
    posted = posted_entry_ids(conn, organisation_id, list(unique))
    new = [entry for key, entry in unique.items() if key not in posted]
    # Already-posted keys are not checked against closed periods: re-running an old file stays a no-op.
    check_periods_open(conn, organisation_id, new)
    return EntryPlan(entries, new, posted, accounts, actor, now, organisation_id)


def write_entries(conn: Connection, plan: EntryPlan) -> list[PostedRef]:
    """Write the new entries of ``plan`` with their lines; one ``PostedRef`` per draft of the plan, in order."""
    new, posted, organisation_id = plan.new, plan.posted, plan.organisation_id
    created: dict[str, int] = {}
    if new:
        rows = [{"organisation_id": organisation_id, "journal": e.journal, "period": e.period,
                 "posting_date": e.posting_date, "description": e.description[:300], "source_type": e.source_type,
                 "source_id": str(e.source_id), "idempotency_key": e.idempotency_key, "reversal_of": e.reversal_of,
                 "created_at": plan.now, "actor": plan.actor} for e in new]
        if len(rows) > COPY_THRESHOLD:
            # Volume posting: the keys were checked by the plan, so the rows go in by COPY / multi-row INSERTs. A
            # concurrent poster of one of these keys makes the unique key refuse the whole transaction, which
            # then re-runs and finds them posted: nothing is posted twice either way.
            created = dict(zip((row["idempotency_key"] for row in rows),
                               bulk_insert(conn, journal_entries, rows, with_ids=True), strict=True))
        else:
            statement = insert_ignoring_conflicts(conn, journal_entries, "organisation_id", "idempotency_key")
            # ON CONFLICT DO NOTHING: a concurrent poster of the same key wins; its lines are not duplicated.
            created = dict(conn.execute(
                statement.returning(journal_entries.c.idempotency_key, journal_entries.c.id), rows).all())
        accounts = plan.accounts
        lines = [(organisation_id, entry_id, number, accounts[line.account], line.debit, line.credit,
                  line.memo[:300] if line.memo else None)
                 for e in new if (entry_id := created.get(e.idempotency_key)) is not None
                 for number, line in enumerate(e.lines, start=1)]
        bulk_insert_values(conn, journal_lines, _LINE_COLUMNS, lines)  # COPY on PostgreSQL, multi-row INSERTs on SQLite
        lost = [e.idempotency_key for e in new if e.idempotency_key not in created]
        if lost:
            posted = {**posted, **posted_entry_ids(conn, organisation_id, lost)}
    refs: list[PostedRef] = []
    seen: set[str] = set()
    for entry in plan.entries:
        key = entry.idempotency_key
        if key in created and key not in seen:
            refs.append(PostedRef(created[key], key, True))
        else:  # posted before, by a concurrent poster, or earlier in this same call
            refs.append(PostedRef(created.get(key) or posted[key], key, False))
        seen.add(key)
    return refs


# ---- reversal --------------------------------------------------------------------------------------

def reverse_entries(
    conn: Connection,
    entry_ids: Sequence[int],
    *,
    reason: str,
    actor: str,
    now: datetime,
    posting_date: date | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> list[PostedRef]:
    """Post the exact mirror of each entry (dated ``posting_date``, default today in UTC), linked by reversal_of.

    Refused (nothing posted) when any entry does not exist, is itself a reversal, or was already reversed.
    """
    if not reason.strip():
        raise InputError("a reversal needs a reason")
    ids = list(dict.fromkeys(entry_ids))
    if not ids:
        return []
    e, l_, a = journal_entries, journal_lines, ledger_accounts
    originals: dict[int, Any] = {}
    reversed_by: dict[int, int] = {}
    lines: dict[int, list[JournalLine]] = {entry_id: [] for entry_id in ids}
    for condition in in_chunks(conn, e.c.id, ids):
        originals.update((row.id, row) for row in conn.execute(
            select(e).where(e.c.organisation_id == organisation_id, condition)))
    missing = [entry_id for entry_id in ids if entry_id not in originals]
    if missing:
        raise NotFoundError(kind="journal entry", key=", ".join(map(str, missing)))
    reversals = [entry_id for entry_id in ids if originals[entry_id].reversal_of is not None]
    if reversals:
        raise AlreadyReversedError(f"journal entry {reversals[0]} is itself a reversal (of entry "
                                   f"{originals[reversals[0]].reversal_of}); post the effect again instead")
    for condition in in_chunks(conn, e.c.reversal_of, ids):
        reversed_by.update(conn.execute(select(e.c.reversal_of, e.c.id).where(condition)).all())
    if reversed_by:
        original, reversal = next(iter(reversed_by.items()))
        raise AlreadyReversedError(f"journal entry {original} was already reversed by entry {reversal}")
    for condition in in_chunks(conn, l_.c.entry_id, ids):
        for row in conn.execute(select(l_.c.entry_id, a.c.number, l_.c.debit, l_.c.credit, l_.c.memo)
                                .join(a, a.c.id == l_.c.account_id).where(condition)
                                .order_by(l_.c.entry_id, l_.c.line_no)):
            lines[row.entry_id].append(JournalLine(row.number, debit=row.debit, credit=row.credit, memo=row.memo))
    day = posting_date or now.date()
    drafts = [reversal_of(JournalEntryDraft(
        journal=row.journal, posting_date=row.posting_date, description=row.description,
        source_type=row.source_type, source_id=row.source_id, idempotency_key=row.idempotency_key,
        lines=tuple(lines[entry_id])), entry_id=entry_id, posting_date=day, reason=reason)
        for entry_id, row in ((entry_id, originals[entry_id]) for entry_id in ids)]
    return post_entries(conn, drafts, actor=actor, now=now, organisation_id=organisation_id)


def reverse_entry(
    conn: Connection, entry_id: int, *, reason: str, actor: str, now: datetime, posting_date: date | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> PostedRef:
    """Reverse one entry exactly (see ``reverse_entries``)."""
    return reverse_entries(conn, [entry_id], reason=reason, actor=actor, now=now, posting_date=posting_date,
                           organisation_id=organisation_id)[0]


def entries_for_source(
    conn: Connection, source_type: str, source_id: str, *, organisation_id: str = DEFAULT_ORGANISATION
) -> list[Any]:
    """Entries recording one source object's effects (id, journal, posting_date, idempotency_key, reversal_of,
    reversed_by), oldest first."""
    e, r = journal_entries, journal_entries.alias("reversal")
    return list(conn.execute(
        select(e.c.id, e.c.journal, e.c.posting_date, e.c.idempotency_key, e.c.reversal_of,
               r.c.id.label("reversed_by"))
        .outerjoin(r, r.c.reversal_of == e.c.id)
        .where(e.c.organisation_id == organisation_id, e.c.source_type == source_type,
               e.c.source_id == str(source_id))
        .order_by(e.c.id)))


# ---- reports ---------------------------------------------------------------------------------------

def trial_balance(
    conn: Connection, *, as_of: date | None = None, organisation_id: str = DEFAULT_ORGANISATION
) -> TrialBalance:
    """Debits, credits and normal-side balance of every account with activity up to ``as_of`` (one query)."""
    l_, a, e = journal_lines, ledger_accounts, journal_entries
    source = l_.join(a, a.c.id == l_.c.account_id)
    conditions = [l_.c.organisation_id == organisation_id]
    if as_of is not None:
        source = source.join(e, e.c.id == l_.c.entry_id)
        conditions.append(e.c.posting_date <= as_of)
    rows = conn.execute(
        select(a.c.number, a.c.key, a.c.name, a.c.account_type, a.c.normal_side,
               sum_money(conn, l_.c.debit).label("debits"), sum_money(conn, l_.c.credit).label("credits"))
        .select_from(source).where(and_(*conditions))
        .group_by(a.c.id, a.c.number, a.c.key, a.c.name, a.c.account_type, a.c.normal_side)
        .order_by(a.c.number))
    return TrialBalance(as_of, tuple(
        TrialBalanceRow(row.number, row.key, row.name, row.account_type, row.normal_side,
                        summed_money(conn, row.debits), summed_money(conn, row.credits)) for row in rows))


def export_journal_csv(
    conn: Connection,
    journal: str | None,
    date_from: date | None,
    date_to: date | None,
    out: TextIO,
    *,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> int:
    """Write the lines of one journal (None: all) posted in [date_from, date_to] as CSV; return the row count."""
    l_, a, e = journal_lines, ledger_accounts, journal_entries
    conditions = [e.c.organisation_id == organisation_id]
    if journal is not None:
        conditions.append(e.c.journal == journal)
    if date_from is not None:
        conditions.append(e.c.posting_date >= date_from)
    if date_to is not None:
        conditions.append(e.c.posting_date <= date_to)
    query = (select(e.c.id, e.c.posting_date, e.c.period, e.c.journal, l_.c.line_no, a.c.number, a.c.name,
                    l_.c.debit, l_.c.credit, e.c.description, l_.c.memo, e.c.source_type, e.c.source_id,
                    e.c.idempotency_key, e.c.reversal_of)
             .select_from(e.join(l_, l_.c.entry_id == e.c.id).join(a, a.c.id == l_.c.account_id))
             .where(*conditions).order_by(e.c.posting_date, e.c.id, l_.c.line_no))
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in conn.execute(query.execution_options(yield_per=5_000)):
        writer.writerow([row[0], row[1].isoformat(), row[2], row[3], row[4], row[5], row[6],
                         format_amount(from_stored(row[7])), format_amount(from_stored(row[8])), row[9], row[10] or "",
                         row[11], row[12], row[13], "" if row[14] is None else row[14]])
        count += 1
    return count
