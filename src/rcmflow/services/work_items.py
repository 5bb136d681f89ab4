"""Work items: every human task (exception, review, approval step) with queue, owner, priority and SLA.

    open ──start──▶ in_progress ──resolve──▶ resolved ──reopen──▶ open
      │  ◀──wait──▶ waiting          │ cancel ──▶ cancelled ──reopen──▶ open
      └────── escalate (services.escalation) ──▶ escalated

Every state change goes through ``services.transitions`` (a guarded UPDATE and its event row). An
assignment changes the owner, not the state: it is logged as an event whose from- and to-state are the
item's current state, with activity "assign work item"; starting the work is the owner's own move.

De-duplication: the same exception on the same object (queue + item type + object + exception code)
never has two active items. The partial unique index ``uq_work_items_active_dedup`` enforces it, and
``open_items`` inserts with ON CONFLICT DO NOTHING against it, so racing intakes end with one item;
once that item is resolved or cancelled, the same exception opens a new one.

Everything runs in the caller's transaction, and the many-item paths are set-based.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, select, text, update

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    WORK_ITEM_ACTIVE_STATES,
    WORK_ITEM_STATES,
    utc_now,
    work_item_links,
    work_item_notes,
    work_items,
)
from rcmflow.adapters.store.sql import insert_ignoring_conflicts, keyset_page, literal_in
from rcmflow.domain.queues import QueuePolicies
from rcmflow.domain.states import WORK_ITEM, IllegalTransitionError
from rcmflow.errors import DomainRuleError, InputError, NotFoundError, StorageError
from rcmflow.services.events import Event, append_events
from rcmflow.services.policies import configured_queue_policies
from rcmflow.services.transitions import BulkResult, transition, transition_many

OBJECT_TYPE = "work item"
ACTIVITY_OPEN = "open work item"
ACTIVITY_ASSIGN = "assign work item"
ACTIVITY_START = "start work item"
ACTIVITY_WAIT = "wait on work item"
ACTIVITY_RESOLVE = "resolve work item"
ACTIVITY_CANCEL = "cancel work item"
ACTIVITY_REOPEN = "reopen work item"

DEFAULT_LIMIT = 100
_CHUNK = 5_000  # ids per statement: under SQLite's bound-parameter limit
_KEY_LENGTH = 300  # work_items.dedup_key
_TITLE_LENGTH = 300
# Literal states, so that SQLite's planner sees the partial indexes' own condition and uses them.
_ACTIVE = literal_in(work_items.c.state, WORK_ITEM_ACTIVE_STATES)
# The predicate of uq_work_items_active_dedup as literal SQL: ON CONFLICT names a partial index by its WHERE
# clause, which must be literal text for PostgreSQL to match it and to be usable in an executemany.
_ACTIVE_INDEX_WHERE = text("state IN ({})".format(", ".join(f"'{state}'" for state in WORK_ITEM_ACTIVE_STATES)))
_ORG_KEYS = ("organisation_id", "facility_id", "payer_id", "department_id")


class WorkItemClosedError(DomainRuleError):
    """The work item is resolved or cancelled, and the operation needs an active one."""

    code = "work_item_closed"


class DuplicateWorkItemError(DomainRuleError):
    """Reopening would make a second active item for the same exception on the same object."""

    code = "duplicate_work_item"


@dataclass(frozen=True, slots=True)
class WorkItemSpec:
    """What to open: the task, the object it is about, and its organisation keys."""

    queue: str
    item_type: str
    object_type: str
    object_id: str
    title: str
    exception_code: str | None = None
    details: Mapping[str, Any] | None = None
    priority: int | None = None  # default: the queue's
    role: str | None = None  # default: the queue's
    owner: str | None = None
    links: Sequence[tuple[str, str]] = ()  # further business objects: (object_type, object_id)
    organisation_id: str = DEFAULT_ORGANISATION
    facility_id: str | None = None
    payer_id: str | None = None
    department_id: str | None = None

    def dedup_key(self) -> str:
        """The key that makes "the same exception on the same object" one active item."""
        return dedup_key(self.queue, self.item_type, self.object_type, self.object_id, self.exception_code)


@dataclass(frozen=True, slots=True)
class WorkItemRef:
    """The item an open request ended on, and whether this request created it."""

    id: int
    created: bool


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One work item as stored."""

    id: int
    organisation_id: str
    facility_id: str | None
    payer_id: str | None
    department_id: str | None
    queue: str
    item_type: str
    state: str
    priority: int
    owner: str | None
    role: str | None
    object_type: str
    object_id: str
    dedup_key: str
    title: str
    details: dict[str, Any] | None
    created_at: datetime
    due_at: datetime | None
    escalation_level: int
    escalated_at: datetime | None
    resolved_at: datetime | None
    resolution_code: str | None
    reopened: int

    @property
    def active(self) -> bool:
        """True while the item still needs work."""
        return self.state in WORK_ITEM_ACTIVE_STATES

    def overdue(self, now: datetime) -> bool:
        """True when the item is active and its due time has passed."""
        return self.active and self.due_at is not None and self.due_at < now


@dataclass(frozen=True, slots=True)
class Note:
    """A free-text note on a work item."""

    id: int
    author: str
    created_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """A queue's active backlog at one moment: how many, how many late, how old, by state and priority."""

    queue: str
    open: int
    overdue: int
    oldest_created_at: datetime | None
    oldest_age: timedelta | None
    by_state: dict[str, int] = field(default_factory=dict)
    by_priority: dict[int, int] = field(default_factory=dict)


def dedup_key(queue: str, item_type: str, object_type: str, object_id: str, exception_code: str | None) -> str:
    """``queue|item type|object type|object id|exception code``, hashed at the end when too long."""
    key = "|".join((queue, item_type, object_type, str(object_id), exception_code or ""))
    if len(key) <= _KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[:_KEY_LENGTH - len(digest) - 1]}#{digest}"


# ---- opening -----------------------------------------------------------------------------------------


def open_item(
    conn: Connection,
    *,
    queue: str,
    item_type: str,
    object_type: str,
    object_id: str,
    title: str,
    actor: str,
    exception_code: str | None = None,
    details: Mapping[str, Any] | None = None,
    priority: int | None = None,
    role: str | None = None,
    owner: str | None = None,
    links: Sequence[tuple[str, str]] = (),
    organisation_id: str = DEFAULT_ORGANISATION,
    facility_id: str | None = None,
    payer_id: str | None = None,
    department_id: str | None = None,
    now: datetime | None = None,
    policies: QueuePolicies | None = None,
) -> WorkItemRef:
    """Open one item with its SLA due time, or return the active item for the same exception."""
    spec = WorkItemSpec(
        queue=queue, item_type=item_type, object_type=object_type, object_id=str(object_id), title=title,
        exception_code=exception_code, details=details, priority=priority, role=role, owner=owner, links=links,
        organisation_id=organisation_id, facility_id=facility_id, payer_id=payer_id, department_id=department_id,
    )
    [ref] = open_items(conn, [spec], actor=actor, now=now, policies=policies)
    return ref


def open_items(
    conn: Connection,
    specs: Sequence[WorkItemSpec],
    *,
    actor: str,
    now: datetime | None = None,
    policies: QueuePolicies | None = None,
) -> list[WorkItemRef]:
    """Open many items with one multi-row insert; duplicates (in the batch or active in the table) are not
    opened again. Returns one ref per spec, in order; ``created`` is True once per new item."""
    if not specs:
        return []
    policies = policies or configured_queue_policies()
    now = now or utc_now()
    calendar = policies.business_calendar
    due_by_queue: dict[str, datetime] = {}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    keys: list[tuple[str, str]] = []
    for spec in specs:
        policy = policies.queue(spec.queue)
        key = (spec.organisation_id, spec.dedup_key())
        keys.append(key)
        if key in rows:  # the same exception twice in one batch: one item, the first spec wins
            continue
        if spec.queue not in due_by_queue:  # one SLA computation per queue, not per item
            due_by_queue[spec.queue] = calendar.add_business_time(now, policy.sla.on(calendar))
        rows[key] = _row(spec, key[1], policy.default_priority, policy.default_role, due_by_queue[spec.queue], now)

    ids: dict[tuple[str, str], int] = {}
    created: set[tuple[str, str]] = set()
    # Sorted: two batches racing over the same keys then wait on each other in one order, never deadlock.
    pending = sorted(rows)
    # Twice at most: an active duplicate can be resolved between our insert and our look-up.
    for _ in range(2):
        if not pending:
            break
        statement = insert_ignoring_conflicts(
            conn, work_items, "organisation_id", "dedup_key", index_where=_ACTIVE_INDEX_WHERE
        ).returning(work_items.c.id, work_items.c.organisation_id, work_items.c.dedup_key)
        for row in conn.execute(statement, [rows[key] for key in pending]):
            ids[(row.organisation_id, row.dedup_key)] = row.id
            created.add((row.organisation_id, row.dedup_key))
        missing = [key for key in pending if key not in ids]
        ids.update(_active_ids(conn, missing))
        pending = [key for key in missing if key not in ids]
    if pending:
        raise StorageError(detail=f"{len(pending)} work item(s) changed concurrently while opening; retry")

    append_events(conn, [
        Event(object_type=OBJECT_TYPE, object_id=str(ids[key]), to_state=WORK_ITEM.initial,
              activity=ACTIVITY_OPEN, actor=actor, occurred_at=now, rule_version=policies.rule_version(row["queue"]),
              attributes={"queue": row["queue"], "item_type": row["item_type"], "priority": row["priority"],
                          "role": row["role"], "owner": row["owner"],
                          "exception_code": (row["details"] or {}).get("exception_code")},
              **{name: row[name] for name in _ORG_KEYS})
        for key, row in rows.items() if key in created
    ])
    link_rows = {(ids[key], object_type, str(object_id))
                 for spec, key in zip(specs, keys, strict=True) for object_type, object_id in spec.links}
    _insert_links(conn, link_rows)
    refs = []
    for key in keys:
        refs.append(WorkItemRef(ids[key], key in created))
        created.discard(key)  # later specs of the same key in this batch found it, they did not create it
    return refs


def _row(spec: WorkItemSpec, key: str, priority: int, role: str, due_at: datetime, now: datetime) -> dict[str, Any]:
    priority = spec.priority if spec.priority is not None else priority
    if not 1 <= priority <= 5:
        raise InputError(detail=f"work item priority must be 1 (most urgent) to 5, got {priority}")
    if not spec.title.strip():
        raise InputError(detail="a work item needs a title")
    details = dict(spec.details or {})
    if spec.exception_code:
        details.setdefault("exception_code", spec.exception_code)
    title = spec.title if len(spec.title) <= _TITLE_LENGTH else spec.title[:_TITLE_LENGTH - 1] + "…"
    return {
        "organisation_id": spec.organisation_id, "facility_id": spec.facility_id, "payer_id": spec.payer_id,
        "department_id": spec.department_id, "queue": spec.queue, "item_type": spec.item_type,
        "state": WORK_ITEM.initial, "priority": priority, "owner": spec.owner, "role": spec.role or role,
        "object_type": spec.object_type, "object_id": str(spec.object_id), "dedup_key": key, "title": title,
        "details": details or None, "created_at": now, "due_at": due_at, "escalation_level": 0, "reopened": 0,
    }


def _active_ids(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    by_org: dict[str, list[str]] = defaultdict(list)
    for organisation_id, key in keys:
        by_org[organisation_id].append(key)
    found: dict[tuple[str, str], int] = {}
    for organisation_id, org_keys in by_org.items():
        for chunk in _chunks(org_keys):
            query = select(work_items.c.id, work_items.c.dedup_key).where(
                work_items.c.organisation_id == organisation_id, work_items.c.dedup_key.in_(chunk), _ACTIVE)
            found.update(((organisation_id, row.dedup_key), row.id) for row in conn.execute(query))
    return found


def _insert_links(conn: Connection, link_rows: Iterable[tuple[int, str, str]]) -> None:
    rows = [{"work_item_id": item_id, "object_type": object_type, "object_id": object_id}
            for item_id, object_type, object_id in sorted(link_rows)]
    if rows:
        conn.execute(insert_ignoring_conflicts(conn, work_item_links, "work_item_id", "object_type", "object_id"),
                     rows)


# ---- assignment and moves ----------------------------------------------------------------------------


def assign(conn: Connection, item_id: int, owner: str | None, actor: str, now: datetime | None = None) -> None:
    """Give an active item to ``owner`` (None: back to the role's pool); its state does not change."""
    result = bulk_assign(conn, [item_id], owner, actor, now)
    if not result.moved:
        state = _state_of(conn, item_id)
        raise WorkItemClosedError(f"work item {item_id} is {state}: only an active item can be assigned")


def bulk_assign(
    conn: Connection, ids: Sequence[int], owner: str | None, actor: str, now: datetime | None = None
) -> BulkResult:
    """Assign many active items with one UPDATE per 5,000 ids and one insert of their event rows."""
    if owner is not None and not owner.strip():
        raise InputError(detail="an owner must not be blank (pass None to unassign)")
    now = now or utc_now()
    wanted = list(dict.fromkeys(ids))
    moved: list[int] = []
    events: list[Event] = []
    for chunk in _chunks(wanted):
        rows = conn.execute(
            update(work_items).where(work_items.c.id.in_(chunk), _ACTIVE).values(owner=owner)
            .returning(work_items.c.id, work_items.c.state, *(work_items.c[name] for name in _ORG_KEYS))
        ).all()
        for row in rows:
            moved.append(row.id)
            # Not a state change, but an audit fact: from- and to-state are the current state.
            events.append(Event(object_type=OBJECT_TYPE, object_id=str(row.id), from_state=row.state,
                                to_state=row.state, activity=ACTIVITY_ASSIGN, actor=actor, occurred_at=now,
                                attributes={"owner": owner}, **{name: row._mapping[name] for name in _ORG_KEYS}))
    append_events(conn, events)
    done = set(moved)
    return BulkResult(tuple(moved), tuple(i for i in wanted if i not in done))


def start(conn: Connection, item_id: int, actor: str, now: datetime | None = None) -> None:
    """The owner starts working the item (from open, waiting or escalated)."""
    _move(conn, item_id, "in_progress", activity=ACTIVITY_START, actor=actor, now=now)


def wait(conn: Connection, item_id: int, actor: str, reason: str | None = None, now: datetime | None = None) -> None:
    """Park the item while waiting on someone outside (a payer, a patient); ``reason`` says on whom."""
    _move(conn, item_id, "waiting", activity=ACTIVITY_WAIT, actor=actor, reason=reason, now=now)


def resolve(
    conn: Connection,
    item_id: int,
    resolution_code: str,
    *,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Resolve an active item with a resolution code (and an optional note)."""
    now = now or utc_now()
    _move(conn, item_id, "resolved", activity=ACTIVITY_RESOLVE, actor=actor, now=now, reason=resolution_code,
          values={"resolution_code": _code(resolution_code), "resolved_at": now})
    if note:
        add_note(conn, item_id, actor, note, now)


def bulk_resolve(
    conn: Connection,
    ids: Sequence[int],
    resolution_code: str,
    *,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> BulkResult:
    """Resolve many active items: one guarded UPDATE per current state (per 5,000 ids), with their events."""
    now = now or utc_now()
    result = _move_many(conn, ids, "resolved", activity=ACTIVITY_RESOLVE, actor=actor, now=now,
                        reason=resolution_code, values={"resolution_code": _code(resolution_code), "resolved_at": now})
    if note and result.moved:
        conn.execute(work_item_notes.insert(), [{"work_item_id": item_id, "author": actor, "created_at": now,
                                                 "text": note} for item_id in result.moved])
    return result


def cancel(conn: Connection, item_id: int, actor: str, reason: str | None = None, now: datetime | None = None) -> None:
    """Cancel an active item that no longer needs work (the exception went away on its own)."""
    _move(conn, item_id, "cancelled", activity=ACTIVITY_CANCEL, actor=actor, reason=reason, now=now)


def active_items_for(conn: Connection, object_type: str, object_ids: Sequence[str],
                     item_types: Iterable[str] | None = None) -> list[int]:
    """Ids of the active items about these objects (of these item types, if given)."""
    found: list[int] = []
    for chunk in _chunks(list(dict.fromkeys(object_ids))):
        query = select(work_items.c.id).where(work_items.c.object_type == object_type,
                                              work_items.c.object_id.in_(chunk), _ACTIVE)
        if item_types is not None:
            query = query.where(work_items.c.item_type.in_(list(item_types)))
        found.extend(conn.execute(query.order_by(work_items.c.id)).scalars())
    return found


def bulk_cancel(conn: Connection, ids: Sequence[int], *, actor: str, reason: str | None = None,
                now: datetime | None = None) -> BulkResult:
    """Cancel many active items whose exception went away (the object was corrected or superseded)."""
    return _move_many(conn, ids, "cancelled", activity=ACTIVITY_CANCEL, actor=actor, now=now or utc_now(),
                      reason=reason)


def reopen(
    conn: Connection,
    item_id: int,
    actor: str,
    reason: str,
    now: datetime | None = None,
    *,
    policies: QueuePolicies | None = None,
) -> None:
    """Reopen a resolved or cancelled item with a fresh SLA; owner, role, priority and level are kept."""
    policies = policies or configured_queue_policies()
    now = now or utc_now()
    item = get_item(conn, item_id)
    twin = conn.execute(select(work_items.c.id).where(
        work_items.c.organisation_id == item.organisation_id, work_items.c.dedup_key == item.dedup_key,
        work_items.c.id != item_id, _ACTIVE)).scalar_one_or_none()
    if twin is not None:
        raise DuplicateWorkItemError(f"work item {item_id} cannot be reopened: item {twin} is already active for "
                                     f"the same exception on the same object")
    calendar = policies.business_calendar
    due_at = calendar.add_business_time(now, policies.queue(item.queue).sla.on(calendar))
    _move(conn, item_id, "open", activity=ACTIVITY_REOPEN, actor=actor, reason=reason, now=now,
          rule_version=policies.rule_version(item.queue),
          values={"reopened": work_items.c.reopened + 1, "resolution_code": None, "resolved_at": None,
                  "due_at": due_at})


def add_note(conn: Connection, item_id: int, author: str, text: str, now: datetime | None = None) -> int:
    """Add a note to an item (open or closed); return the note's id."""
    if not text.strip():
        raise InputError(detail="a note must not be empty")
    _state_of(conn, item_id)
    return conn.execute(work_item_notes.insert().values(
        work_item_id=item_id, author=author, created_at=now or utc_now(), text=text
    ).returning(work_item_notes.c.id)).scalar_one()


def link(conn: Connection, item_id: int, object_type: str, object_id: str) -> bool:
    """Link a further business object to an item; False when it was already linked."""
    _state_of(conn, item_id)
    return conn.execute(
        insert_ignoring_conflicts(conn, work_item_links, "work_item_id", "object_type", "object_id")
        .values(work_item_id=item_id, object_type=object_type, object_id=str(object_id))
        .returning(work_item_links.c.work_item_id)
    ).first() is not None


def _move(
    conn: Connection,
    item_id: int,
    to_state: str,
    *,
    activity: str,
    actor: str,
    now: datetime | None,
    reason: str | None = None,
    rule_version: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> None:
    current = _state_of(conn, item_id)
    if not WORK_ITEM.allows(current, to_state):
        raise IllegalTransitionError(f"work item {item_id} is {current}: {activity!r} is not allowed from there")
    transition(conn, OBJECT_TYPE, item_id, current, to_state, activity=activity, actor=actor, reason=reason,
               rule_version=rule_version, values=values, at=now or utc_now())


def _move_many(
    conn: Connection,
    ids: Sequence[int],
    to_state: str,
    *,
    activity: str,
    actor: str,
    now: datetime,
    reason: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> BulkResult:
    wanted = list(dict.fromkeys(ids))
    by_state: dict[str, list[int]] = defaultdict(list)
    for chunk in _chunks(wanted):
        for row in conn.execute(select(work_items.c.id, work_items.c.state).where(work_items.c.id.in_(chunk))):
            if WORK_ITEM.allows(row.state, to_state):
                by_state[row.state].append(row.id)
    moved: list[int] = []
    for state, state_ids in sorted(by_state.items()):
        moved.extend(transition_many(conn, OBJECT_TYPE, state_ids, state, to_state, activity=activity, actor=actor,
                                     reason=reason, values=values, at=now).moved)
    done = set(moved)
    return BulkResult(tuple(moved), tuple(i for i in wanted if i not in done))


def _state_of(conn: Connection, item_id: int) -> str:
    state = conn.execute(select(work_items.c.state).where(work_items.c.id == item_id)).scalar_one_or_none()
    if state is None:
        raise NotFoundError(kind="Work item", key=item_id)
    return state


def _code(resolution_code: str) -> str:
    code = resolution_code.strip()
    if not code or len(code) > 64:
        raise InputError(detail=f"a resolution code must be 1 to 64 characters, got {resolution_code!r}")
    return code


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for start_at in range(0, len(values), _CHUNK):
        yield list(values[start_at:start_at + _CHUNK])


# ---- queries -----------------------------------------------------------------------------------------


def get_item(conn: Connection, item_id: int) -> WorkItem:
    """One work item, or ``NotFoundError``."""
    row = conn.execute(select(work_items).where(work_items.c.id == item_id)).one_or_none()
    if row is None:
        raise NotFoundError(kind="Work item", key=item_id)
    return WorkItem(**row._mapping)


def links_of(conn: Connection, item_id: int) -> list[tuple[str, str]]:
    """(object_type, object_id) of every further object linked to an item."""
    query = (select(work_item_links.c.object_type, work_item_links.c.object_id)
             .where(work_item_links.c.work_item_id == item_id)
             .order_by(work_item_links.c.object_type, work_item_links.c.object_id))
    return [(row.object_type, row.object_id) for row in conn.execute(query)]


def notes_of(conn: Connection, item_id: int) -> list[Note]:
    """An item's notes, oldest first."""
    query = (select(work_item_notes.c.id, work_item_notes.c.author, work_item_notes.c.created_at,
                    work_item_notes.c.text)
             .where(work_item_notes.c.work_item_id == item_id)
             .order_by(work_item_notes.c.created_at, work_item_notes.c.id))
    return [Note(**row._mapping) for row in conn.execute(query)]


WORK_ITEM_SORTS = ("id", "created_at", "priority")


def list_items(conn: Connection, **filters: Any) -> list[WorkItem]:
    """Items in ``sort`` order, filtered (the keywords of ``items_query``)."""
    return [WorkItem(**row._mapping) for row in conn.execute(items_query(select(work_items), **filters))]


# What a list of work items shows: everything but the details (JSON parsed per row, only needed for one item).
SUMMARY_COLUMNS = tuple(column for column in work_items.c if column.name not in ("details", "dedup_key"))


# The filters a list page or the API offers: their statements are built once per combination, with bound values.
_PAGE_FILTERS = frozenset({"queue", "state", "owner", "organisation_id", "facilities", "sort", "after", "limit"})


def list_item_summaries(conn: Connection, **filters: Any) -> list[dict[str, Any]]:
    """Like ``list_items``, as plain rows without the details: what list pages and the API need, cheaply."""
    if not filters.keys() <= _PAGE_FILTERS:
        return [dict(row._mapping) for row in conn.execute(items_query(select(*SUMMARY_COLUMNS), **filters))]
    state = filters.get("state")
    states = None if state is None else (state,) if isinstance(state, str) else tuple(state)
    after = filters.get("after")
    facilities = filters.get("facilities")
    statement = _summary_page_statement(
        filters.get("sort", "id"), states, after is not None, facilities is not None,
        *(filters.get(name) is not None for name in ("queue", "owner", "organisation_id")))
    values = {"limit": filters.get("limit", DEFAULT_LIMIT), "queue": filters.get("queue"),
              "owner": filters.get("owner"), "organisation_id": filters.get("organisation_id"),
              "facilities": list(facilities or ()), "after_value": None, "after_id": None}
    if after is not None:
        values["after_value"], values["after_id"] = after
    result = conn.execute(statement, values)
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


@functools.lru_cache(maxsize=256)
def _summary_page_statement(sort: str, states: tuple[str, ...] | None, has_after: bool, has_facilities: bool,
                            has_queue: bool, has_owner: bool, has_organisation: bool) -> Select[Any]:
    """The list statement for one combination of filters, their values left as bound parameters: building a
    statement and its SQLAlchemy cache key costs more than a page's query, so a page reuses one. Only the
    combination is cached, never a value (states are checked against the known ones by ``items_query``)."""
    after_key = work_items.c[sort.lstrip("-")] if sort.lstrip("-") in WORK_ITEM_SORTS else work_items.c.id
    return items_query(
        select(*SUMMARY_COLUMNS), sort=sort, state=states, limit=bindparam("limit"),
        after=(bindparam("after_value", type_=after_key.type), bindparam("after_id")) if has_after else None,
        queue=bindparam("queue") if has_queue else None, owner=bindparam("owner") if has_owner else None,
        organisation_id=bindparam("organisation_id") if has_organisation else None,
        conditions=(work_items.c.facility_id.in_(bindparam("facilities", expanding=True)),) if has_facilities else ())


def items_query(
    query: Select[Any],
    *,
    queue: str | None = None,
    state: str | Iterable[str] | None = None,
    owner: str | None = None,
    role: str | None = None,
    overdue_at: datetime | None = None,
    organisation_id: str | None = None,
    facilities: Sequence[str] | None = None,
    limit: int = DEFAULT_LIMIT,
    after_id: int | None = None,
    sort: str = "id",
    after: tuple[Any, int] | None = None,
    created_after: datetime | None = None,
    created_until: datetime | None = None,
    conditions: Sequence[Any] = (),
) -> Select[Any]:
    """``query`` (over work_items) in ``sort`` order (a column of ``WORK_ITEM_SORTS``, "-" for descending),
    continued after ``after`` = (sort value, id) or ``after_id`` (id order). ``overdue_at``: active items due
    before it; ``facilities``: only items of these facilities (None: every one); ``conditions``: more, e.g. a
    KPI's population (``services.work_item_search``)."""
    column = sort.lstrip("-")
    if column not in WORK_ITEM_SORTS:
        raise InputError(detail=f"work items sort by one of {', '.join(WORK_ITEM_SORTS)} (prefix - for descending)")
    if after is None and after_id is not None:
        after = (after_id, after_id)
    query = keyset_page(query, work_items.c[column], work_items.c.id, descending=sort.startswith("-"), after=after,
                        limit=limit)
    if facilities is not None:
        query = query.where(work_items.c.facility_id.in_(list(facilities)))
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        unknown = set(states) - set(WORK_ITEM_STATES)
        if unknown:
            raise InputError(detail=f"unknown work item state(s) {sorted(unknown)}; expected {WORK_ITEM_STATES}")
        query = query.where(literal_in(work_items.c.state, states))  # known states only, checked above
    for column, value in (("queue", queue), ("owner", owner), ("role", role), ("organisation_id", organisation_id)):
        if value is not None:
            query = query.where(work_items.c[column] == value)
    if overdue_at is not None:
        query = query.where(_ACTIVE, work_items.c.due_at < overdue_at)
    if created_after is not None:  # an aging bucket: created in (created_after, created_until]
        query = query.where(work_items.c.created_at > created_after)
    if created_until is not None:
        query = query.where(work_items.c.created_at <= created_until)
    if conditions:
        query = query.where(*conditions)
    return query


def queue_summary(
    conn: Connection, now: datetime, *, organisation_id: str | None = None, queues: Iterable[str] = (),
    facilities: Sequence[str] | None = None,
) -> list[QueueSummary]:
    """Active backlog per queue in one grouped query; ``queues`` named here appear even when empty;
    ``facilities``: only items of these facilities (None: every one)."""
    counts = [func.sum(case((work_items.c.state == state, 1), else_=0)).label(state)
              for state in WORK_ITEM_ACTIVE_STATES]
    priorities = [func.sum(case((work_items.c.priority == p, 1), else_=0)).label(f"p{p}") for p in range(1, 6)]
    query = (
        select(work_items.c.queue, func.count().label("active"),
               func.sum(case((work_items.c.due_at < now, 1), else_=0)).label("overdue"),
               func.min(work_items.c.created_at).label("oldest"), *counts, *priorities)
        .where(_ACTIVE).group_by(work_items.c.queue)
    )
    if organisation_id is not None:
        query = query.where(work_items.c.organisation_id == organisation_id)
    if facilities is not None:
        query = query.where(work_items.c.facility_id.in_(list(facilities)))
    found = {
        row.queue: QueueSummary(
            queue=row.queue, open=int(row.active), overdue=int(row.overdue or 0), oldest_created_at=row.oldest,
            oldest_age=now - row.oldest if row.oldest is not None else None,
            by_state={state: int(row._mapping[state] or 0) for state in WORK_ITEM_ACTIVE_STATES},
            by_priority={p: int(row._mapping[f"p{p}"] or 0) for p in range(1, 6)},
        )
        for row in conn.execute(query)
    }
    for queue in queues:
        found.setdefault(queue, QueueSummary(queue, 0, 0, None, None, dict.fromkeys(WORK_ITEM_ACTIVE_STATES, 0),
                                             dict.fromkeys(range(1, 6), 0)))
    return [found[queue] for queue in sorted(found)]
