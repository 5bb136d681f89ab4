"""SLA escalation: the periodic job that moves overdue work items up their queue's escalation chain.

An active item at escalation level L is escalated when it has been overdue for the ``after`` business
time of its queue's step L (the last step for every L past the chain). It then takes that step's role,
the more urgent of its priority and the step's, level L + 1, state "escalated", and a new due time (now
plus the step's SLA, else the queue's), so the next run leaves it alone until that due time passes.

Set-based: one SELECT finds every candidate of every queue (FOR UPDATE SKIP LOCKED on PostgreSQL, so two
jobs never escalate the same item), then one guarded bulk transition per (queue, level, current state)
writes the items and their event rows, and one multi-row insert puts one notification per escalated item
in the outbox, all in the caller's transaction. The outbox idempotency key ``escalation:<item>:<level>``
makes a notification for the same item and level impossible to send twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, case, or_, select

from rcmflow.adapters.store.schema import WORK_ITEM_ACTIVE_STATES, utc_now, work_items
from rcmflow.domain.calendar import BusinessCalendar
from rcmflow.domain.queues import QueuePolicies
from rcmflow.services.outbox import OutboxMessage, enqueue
from rcmflow.services.transitions import transition_many
from rcmflow.services.work_items import OBJECT_TYPE

ESCALATION_ACTOR = "job:sla-escalation"
ACTIVITY_ESCALATE = "escalate work item"
NOTIFICATION_DESTINATION = "notifications"


@dataclass(frozen=True)
class EscalationResult:
    """What one escalation run did."""

    escalated: int = 0
    notifications: int = 0  # outbox rows written (one per escalated item and level)
    by_queue: dict[str, int] = field(default_factory=dict)
    item_ids: tuple[int, ...] = ()


def escalate_overdue(
    conn: Connection,
    policies: QueuePolicies,
    calendar: BusinessCalendar | None = None,
    now: datetime | None = None,
    *,
    actor: str = ESCALATION_ACTOR,
    organisation_id: str | None = None,
) -> EscalationResult:
    """Escalate every overdue active item one step up its queue's chain and notify through the outbox."""
    calendar = calendar or policies.business_calendar
    now = now or utc_now()
    level_column = work_items.c.escalation_level
    conditions = []
    for queue_id, policy in policies.queues.items():
        last = len(policy.escalation) - 1
        for level, step in enumerate(policy.escalation):
            # Overdue by at least ``after`` of business time <=> due before this instant.
            cutoff = calendar.subtract_business_time(now, step.after.on(calendar))
            at_level = level_column >= level if level == last else level_column == level
            conditions.append(and_(work_items.c.queue == queue_id, at_level, work_items.c.due_at < cutoff))
    if not conditions:
        return EscalationResult()
    query = (
        select(work_items.c.id, work_items.c.organisation_id, work_items.c.queue, work_items.c.state,
               work_items.c.escalation_level, work_items.c.priority, work_items.c.item_type)
        .where(work_items.c.state.in_(WORK_ITEM_ACTIVE_STATES), or_(*conditions))
        .order_by(work_items.c.id)
        .with_for_update(skip_locked=True)
    )
    if organisation_id is not None:
        query = query.where(work_items.c.organisation_id == organisation_id)
    groups: dict[tuple[str, int, str], list[Row[Any]]] = defaultdict(list)
    for row in conn.execute(query):
        groups[(row.queue, row.escalation_level, row.state)].append(row)

    messages: list[OutboxMessage] = []
    escalated: list[int] = []
    by_queue: Counter[str] = Counter()
    for (queue_id, level, state), rows in sorted(groups.items()):
        policy = policies.queue(queue_id)
        step = policy.step(level)
        assert step is not None  # only queues with a chain produced conditions
        new_level = level + 1
        due_at = calendar.add_business_time(now, (step.sla or policy.sla).on(calendar))
        moved = set(transition_many(
            conn, OBJECT_TYPE, [row.id for row in rows], state, "escalated",
            activity=ACTIVITY_ESCALATE, actor=actor, at=now, rule_version=policies.rule_version(queue_id),
            reason=f"overdue: escalated to level {new_level} ({step.role}, priority {step.priority})",
            values={
                "role": step.role,
                # Escalation never makes an item less urgent than it already was.
                "priority": case((work_items.c.priority < step.priority, work_items.c.priority), else_=step.priority),
                "escalation_level": new_level,
                "escalated_at": now,
                "due_at": due_at,
            },
        ).moved)
        for row in rows:
            if row.id not in moved:
                continue
            escalated.append(row.id)
            by_queue[queue_id] += 1
            # Ids and routing only: titles and details can carry patient information.
            messages.append(OutboxMessage(
                destination=NOTIFICATION_DESTINATION,
                idempotency_key=f"escalation:{row.id}:{new_level}",
                organisation_id=row.organisation_id,
                payload={"event": "work_item.escalated", "work_item_id": row.id, "queue": queue_id,
                         "item_type": row.item_type, "escalation_level": new_level, "role": step.role,
                         "priority": min(row.priority, step.priority), "due_at": due_at.isoformat(),
                         "policy_version": policies.version},
            ))
    notifications = enqueue(conn, messages, now=now) if messages else 0
    return EscalationResult(escalated=len(escalated), notifications=notifications, by_queue=dict(by_queue),
                            item_ids=tuple(sorted(escalated)))
