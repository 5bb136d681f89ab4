"""SLA escalation: overdue on business time, up the chain step by step, one outbox notification per level."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import event_log, outbox
from rcmflow.domain.queues import parse_queue_policies
from rcmflow.services.escalation import escalate_overdue
from rcmflow.services.events import events_for
from rcmflow.services.work_items import (
    WorkItemSpec,
    get_item,
    open_item,
    open_items,
    resolve,
    start,
    wait,
)

ET = ZoneInfo("America/New_York")
POLICIES = parse_queue_policies("""
version: test-2
queues:
  denials:
    name: Denials
    default_role: denial_specialist
    default_priority: 3
    sla: {business_hours: 8}
    escalation:
      - {after: {business_hours: 0}, role: denials_lead, priority: 2}
      - {after: {business_hours: 4}, role: revenue_cycle_manager, priority: 1}
  refunds:
    name: Refunds
    default_role: refund_specialist
    sla: {business_hours: 1}
""")
WEDNESDAY = datetime(2026, 11, 25, 16, tzinfo=ET)  # due Friday 15:00 ET: Thanksgiving is skipped


def _open(conn, object_id: str = "C1", *, queue: str = "denials", now: datetime = WEDNESDAY, **more):
    return open_item(conn, queue=queue, item_type="denial", object_type="claim", object_id=object_id,
                     title="Denied", actor="rule:denials@1", now=now, policies=POLICIES, **more)


def _run(engine: Engine, now: datetime):
    with engine.begin() as conn:
        return escalate_overdue(conn, POLICIES, now=now)


def _outbox(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(outbox).order_by(outbox.c.id)).all()


def test_an_item_escalates_up_the_chain_on_business_time(engine: Engine) -> None:
    with engine.begin() as conn:
        item_id = _open(conn, facility_id="F1").id

    # Thanksgiving noon is 20 clock hours after opening, but no business time has passed: nothing to do.
    assert _run(engine, datetime(2026, 11, 26, 12, tzinfo=ET)).escalated == 0
    assert _run(engine, datetime(2026, 11, 27, 15, tzinfo=ET)).escalated == 0  # due now, not yet late

    friday = datetime(2026, 11, 27, 15, 1, tzinfo=ET)
    first = _run(engine, friday)
    assert (first.escalated, first.notifications, first.by_queue, first.item_ids) == (1, 1, {"denials": 1},
                                                                                     (item_id,))
    with engine.connect() as conn:
        item = get_item(conn, item_id)
    assert (item.state, item.escalation_level, item.role, item.priority, item.escalated_at) == (
        "escalated", 1, "denials_lead", 2, friday)
    assert item.due_at == datetime(2026, 11, 30, 14, 1, tzinfo=ET)  # 8 business hours from Friday 15:01
    [message] = _outbox(engine)
    assert (message.destination, message.idempotency_key, message.status, message.next_attempt_at) == (
        "notifications", f"escalation:{item_id}:1", "pending", friday)
    assert message.payload == {
        "event": "work_item.escalated", "work_item_id": item_id, "queue": "denials", "item_type": "denial",
        "escalation_level": 1, "role": "denials_lead", "priority": 2,
        "due_at": "2026-11-30T19:01:00+00:00", "policy_version": "test-2"}

    # Running again at the same moment escalates nothing more and notifies nobody twice.
    assert _run(engine, friday).escalated == 0
    assert len(_outbox(engine)) == 1

    # Step 2 needs 4 business hours past the new due time (Monday 14:01): 2 h 59 m on Monday, the rest Tuesday.
    assert _run(engine, datetime(2026, 11, 30, 20, tzinfo=ET)).escalated == 0  # after hours, 2 h 59 m late
    assert _run(engine, datetime(2026, 12, 1, 9, 1, tzinfo=ET)).escalated == 0  # exactly 4 h late
    tuesday = datetime(2026, 12, 1, 9, 2, tzinfo=ET)
    assert _run(engine, tuesday).escalated == 1
    with engine.connect() as conn:
        item = get_item(conn, item_id)
    assert (item.escalation_level, item.role, item.priority) == (2, "revenue_cycle_manager", 1)
    assert item.due_at == datetime(2026, 12, 2, 8, 2, tzinfo=ET)  # 7 h 58 m on Tuesday, 2 m on Wednesday

    # Past the last step it stays escalated until the new due time (+ the last step's 4 h) passes, then repeats
    # the last step at the next level, with a notification of its own.
    assert _run(engine, datetime(2026, 12, 2, 12, 2, tzinfo=ET)).escalated == 0
    assert _run(engine, datetime(2026, 12, 2, 12, 3, tzinfo=ET)).escalated == 1
    with engine.connect() as conn:
        item = get_item(conn, item_id)
        history = events_for(conn, "work item", str(item_id))
    assert (item.escalation_level, item.role, item.priority) == (3, "revenue_cycle_manager", 1)
    assert [m.idempotency_key for m in _outbox(engine)] == [f"escalation:{item_id}:{n}" for n in (1, 2, 3)]
    assert [(e.from_state, e.to_state, e.activity) for e in history] == [
        (None, "open", "open work item"), ("open", "escalated", "escalate work item"),
        ("escalated", "escalated", "escalate work item"), ("escalated", "escalated", "escalate work item")]
    escalation = history[1]
    assert (escalation.actor, escalation.rule_version, escalation.facility_id) == (
        "job:sla-escalation", "queue-policy:denials@test-2", "F1")
    assert "level 1" in (escalation.reason or "")


def test_thousands_of_overdue_items_escalate_in_one_run_with_one_notification_each(engine: Engine) -> None:
    specs = [WorkItemSpec(queue="denials", item_type="denial", object_type="claim", object_id=f"C{i}", title="t")
             for i in range(3000)]
    with engine.begin() as conn:
        ids = [ref.id for ref in open_items(conn, specs, actor="job:intake", now=WEDNESDAY, policies=POLICIES)]
        for item_id in ids[:10]:
            start(conn, item_id, "user:ana", now=WEDNESDAY)
        for item_id in ids[10:20]:
            wait(conn, item_id, "user:ana", "payer", now=WEDNESDAY)
        for item_id in ids[20:30]:
            resolve(conn, item_id, "PAID", actor="user:ana", now=WEDNESDAY)  # closed: never escalated
        _open(conn, "R1", queue="refunds")  # a queue without a chain: overdue, never escalated
    friday = datetime(2026, 11, 27, 16, tzinfo=ET)
    result = _run(engine, friday)
    assert result.escalated == result.notifications == 2990 == len(_outbox(engine))
    assert set(result.item_ids) == set(ids) - set(ids[20:30])
    with engine.connect() as conn:
        logged = conn.execute(select(func.count()).select_from(event_log)
                              .where(event_log.c.activity == "escalate work item")).scalar_one()
        keys = {row.idempotency_key for row in _outbox(engine)}
        assert get_item(conn, ids[0]).state == get_item(conn, ids[10]).state == "escalated"
    assert logged == 2990
    assert keys == {f"escalation:{item_id}:1" for item_id in result.item_ids}
    assert _run(engine, friday).escalated == 0 and len(_outbox(engine)) == 2990


def test_escalation_never_lowers_an_items_priority(engine: Engine) -> None:
    with engine.begin() as conn:
        urgent = _open(conn, "C1", priority=1).id
    _run(engine, datetime(2026, 11, 27, 16, tzinfo=ET))
    with engine.connect() as conn:
        item = get_item(conn, urgent)
    assert (item.priority, item.role, item.escalation_level) == (1, "denials_lead", 1)
    assert _outbox(engine)[0].payload["priority"] == 1


def test_an_escalated_item_being_worked_still_escalates_when_late_again(engine: Engine) -> None:
    with engine.begin() as conn:
        item_id = _open(conn).id
    _run(engine, datetime(2026, 11, 27, 16, tzinfo=ET))
    with engine.begin() as conn:
        start(conn, item_id, "user:lead", now=datetime(2026, 11, 27, 16, 30, tzinfo=ET))
    _run(engine, datetime(2026, 12, 3, 9, tzinfo=ET))
    with engine.connect() as conn:
        item = get_item(conn, item_id)
        last = events_for(conn, "work item", str(item_id))[-1]
    assert (item.state, item.escalation_level) == ("escalated", 2)
    assert (last.from_state, last.to_state) == ("in_progress", "escalated")
