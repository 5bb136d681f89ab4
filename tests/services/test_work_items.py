"""Work items: SLA due times on business time, de-duplication, set-based assign/resolve, reopen, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, func, select

from rcmflow.adapters.store.schema import (
    WORK_ITEM_ACTIVE_STATES,
    event_log,
    work_item_links,
    work_item_notes,
    work_items,
)
from rcmflow.domain.queues import UnknownQueueError, parse_queue_policies
from rcmflow.domain.states import IllegalTransitionError
from rcmflow.errors import InputError, NotFoundError
from rcmflow.services.events import events_for
from rcmflow.services.transitions import history
from rcmflow.services.work_items import (
    SUMMARY_COLUMNS,
    DuplicateWorkItemError,
    WorkItemClosedError,
    WorkItemSpec,
    add_note,
    assign,
    bulk_assign,
    bulk_resolve,
    cancel,
    get_item,
    items_query,
    link,
    links_of,
    list_item_summaries,
    list_items,
    notes_of,
    open_item,
    open_items,
    queue_summary,
    reopen,
    resolve,
    start,
    wait,
)

ET = ZoneInfo("America/New_York")
POLICIES = parse_queue_policies("""
version: test-1
queues:
  denials:
    name: Denials
    default_role: denial_specialist
    default_priority: 3
    sla: {business_hours: 8}
    escalation:
      - {after: {business_hours: 0}, role: denials_lead, priority: 2}
  refunds:
    name: Refunds
    default_role: refund_specialist
    default_priority: 4
    sla: {business_days: 2}
""")
WEDNESDAY = datetime(2026, 11, 25, 16, tzinfo=ET)  # the day before Thanksgiving, 16:00 ET
ANA, LEAD = "user:ana", "user:lead"


def _open(conn, object_id: str = "C1", *, code: str | None = "CO-50", now: datetime = WEDNESDAY, **more):
    return open_item(conn, queue="denials", item_type="denial", object_type="claim", object_id=object_id,
                     title=f"Denial on claim {object_id}", exception_code=code, actor="rule:denials@1", now=now,
                     policies=POLICIES, **more)


def _count(engine: Engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_due_time_is_the_queue_sla_over_business_time_skipping_thanksgiving(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = _open(conn, facility_id="F1", payer_id="P1")
        item = get_item(conn, ref.id)
        [opened] = events_for(conn, "work item", str(ref.id))
    assert ref.created
    # 1 business hour on Wednesday, none on Thanksgiving, 7 on Friday.
    assert item.due_at == datetime(2026, 11, 27, 15, tzinfo=ET)
    assert (item.state, item.role, item.priority, item.escalation_level, item.reopened) == (
        "open", "denial_specialist", 3, 0, 0)
    assert item.details == {"exception_code": "CO-50"}
    assert (opened.from_state, opened.to_state, opened.activity, opened.actor, opened.rule_version) == (
        None, "open", "open work item", "rule:denials@1", "queue-policy:denials@test-1")
    assert (opened.facility_id, opened.payer_id, opened.occurred_at) == ("F1", "P1", WEDNESDAY)


def test_items_become_overdue_on_business_time_not_clock_time(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = _open(conn)
        # Thanksgiving noon is 20 clock hours later, yet no business time has passed since Wednesday 17:00.
        assert list_items(conn, overdue_at=datetime(2026, 11, 26, 12, tzinfo=ET)) == []
        assert list_items(conn, overdue_at=datetime(2026, 11, 27, 15, tzinfo=ET)) == []
        [late] = list_items(conn, overdue_at=datetime(2026, 11, 27, 15, 1, tzinfo=ET))
    assert late.id == ref.id and late.overdue(datetime(2026, 11, 27, 15, 1, tzinfo=ET))


def test_the_same_exception_on_the_same_object_is_one_item_until_it_is_closed(engine: Engine) -> None:
    with engine.begin() as conn:
        first = _open(conn)
        again = _open(conn, now=WEDNESDAY + timedelta(hours=1))
        other_code = _open(conn, code="CO-97")
        other_claim = _open(conn, "C2")
    assert first.created and not again.created and again.id == first.id
    assert other_code.created and other_claim.created and len({first.id, other_code.id, other_claim.id}) == 3
    assert _count(engine, event_log, event_log.c.activity == "open work item") == 3
    with engine.begin() as conn:
        resolve(conn, first.id, "CORRECTED", actor=ANA, now=WEDNESDAY + timedelta(hours=2))
        reborn = _open(conn, now=WEDNESDAY + timedelta(hours=3))
        cancel(conn, reborn.id, ANA, "payer reprocessed", now=WEDNESDAY + timedelta(hours=4))
        third = _open(conn, now=WEDNESDAY + timedelta(hours=5))
    assert reborn.created and reborn.id != first.id
    assert third.created and third.id not in (first.id, reborn.id)


def test_open_items_is_one_batch_with_duplicates_inside_and_against_the_table(engine: Engine) -> None:
    with engine.begin() as conn:
        existing = _open(conn, "C0")
        specs = [WorkItemSpec(queue="denials", item_type="denial", object_type="claim", object_id=f"C{i % 3000}",
                              title="t", exception_code="CO-50", links=[("remittance", f"R{i}")])
                 for i in range(3500)]  # C0..C499 twice, C0 already open
        specs.append(WorkItemSpec(queue="refunds", item_type="refund", object_type="claim", object_id="C0",
                                  title="refund", priority=1, owner="bo"))
        refs = open_items(conn, specs, actor="job:intake", now=WEDNESDAY, policies=POLICIES)
    assert len(refs) == 3501
    assert refs[0] == type(refs[0])(existing.id, False)
    assert all(ref.created for ref in refs[1:3000]) and not any(ref.created for ref in refs[3000:3500])
    assert [ref.id for ref in refs[3000:3500]] == [ref.id for ref in refs[:500]]
    assert refs[3500].created
    assert _count(engine, work_items) == 3001
    assert _count(engine, event_log, event_log.c.activity == "open work item") == 3001
    assert _count(engine, work_item_links) == 3500  # every spec's link, on the item it ended on
    with engine.connect() as conn:
        refund = get_item(conn, refs[3500].id)
        assert (refund.priority, refund.owner, refund.role) == (1, "bo", "refund_specialist")
        assert refund.due_at == datetime(2026, 11, 30, 16, tzinfo=ET)  # 18 business hours
        assert links_of(conn, existing.id) == [("remittance", "R0"), ("remittance", "R3000")]


def test_assignment_changes_the_owner_not_the_state_and_is_logged(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = _open(conn)
        assign(conn, ref.id, "ana", LEAD, now=WEDNESDAY)
        item = get_item(conn, ref.id)
        start(conn, ref.id, ANA, now=WEDNESDAY + timedelta(minutes=5))
        assert history(conn, "work item", ref.id) == [
            (None, "open", "open work item"), ("open", "open", "assign work item"),
            ("open", "in_progress", "start work item")]
        assign_event = events_for(conn, "work item", str(ref.id))[1]
    assert (item.owner, item.state) == ("ana", "open")
    assert (assign_event.actor, assign_event.attributes) == (LEAD, {"owner": "ana"})


def test_closed_or_missing_items_cannot_be_assigned(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = _open(conn)
        resolve(conn, ref.id, "PAID", actor=ANA, now=WEDNESDAY)
    with pytest.raises(WorkItemClosedError, match="resolved"), engine.begin() as conn:
        assign(conn, ref.id, "ana", LEAD)
    with pytest.raises(NotFoundError), engine.begin() as conn:
        assign(conn, 999_999, "ana", LEAD)
    with engine.connect() as conn:
        assert get_item(conn, ref.id).owner is None


def test_bulk_assign_and_bulk_resolve_thousands_in_one_call(engine: Engine) -> None:
    specs = [WorkItemSpec(queue="denials", item_type="denial", object_type="claim", object_id=f"C{i}", title="t")
             for i in range(6000)]
    with engine.begin() as conn:
        ids = [ref.id for ref in open_items(conn, specs, actor="job:intake", now=WEDNESDAY, policies=POLICIES)]
        # Dated, like the bulk moves below: the history orders by time, whatever day the suite runs on.
        start(conn, ids[0], ANA, now=WEDNESDAY)
        wait(conn, ids[1], ANA, "payer", now=WEDNESDAY)
        cancel(conn, ids[2], ANA, "duplicate", now=WEDNESDAY)
    later = WEDNESDAY + timedelta(hours=1)
    with engine.begin() as conn:
        assigned = bulk_assign(conn, [*ids, 999_999], "ana", LEAD, now=later)
    assert len(assigned.moved) == 5999 and set(assigned.not_moved) == {ids[2], 999_999}
    assert _count(engine, work_items, work_items.c.owner == "ana") == 5999
    assert _count(engine, event_log, event_log.c.activity == "assign work item") == 5999
    with engine.begin() as conn:
        resolved = bulk_resolve(conn, ids, "WRITTEN_OFF", actor=LEAD, note="small balance", now=later)
    assert len(resolved.moved) == 5999 and resolved.not_moved == (ids[2],)
    assert _count(engine, work_items, work_items.c.state == "resolved",
                  work_items.c.resolution_code == "WRITTEN_OFF", work_items.c.resolved_at.is_not(None)) == 5999
    assert _count(engine, event_log, event_log.c.activity == "resolve work item") == 5999
    assert _count(engine, work_item_notes) == 5999
    with engine.connect() as conn:
        assert history(conn, "work item", ids[1])[-1] == ("waiting", "resolved", "resolve work item")
        assert get_item(conn, ids[2]).state == "cancelled"


def test_reopen_restarts_the_sla_and_counts(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = _open(conn)
        resolve(conn, ref.id, "CORRECTED", actor=ANA, note="fixed modifier", now=WEDNESDAY)
        monday = datetime(2026, 11, 30, 9, tzinfo=ET)
        reopen(conn, ref.id, LEAD, "payer denied again", now=monday, policies=POLICIES)
        item = get_item(conn, ref.id)
        with pytest.raises(IllegalTransitionError, match="is open"):
            reopen(conn, ref.id, LEAD, "again", now=monday, policies=POLICIES)
    assert (item.state, item.reopened, item.resolution_code, item.resolved_at) == ("open", 1, None, None)
    assert item.due_at == datetime(2026, 11, 30, 17, tzinfo=ET)
    with engine.begin() as conn:
        cancel(conn, ref.id, ANA, "gone")
        twin = _open(conn, now=monday)
        with pytest.raises(DuplicateWorkItemError, match=f"item {twin.id} is already active"):
            reopen(conn, ref.id, LEAD, "back", policies=POLICIES)


def test_an_illegal_move_raises_and_changes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = _open(conn)
        cancel(conn, ref.id, ANA, "not ours")
    logged = _count(engine, event_log)
    for move in (lambda conn: resolve(conn, ref.id, "PAID", actor=ANA), lambda conn: start(conn, ref.id, ANA),
                 lambda conn: wait(conn, ref.id, ANA), lambda conn: cancel(conn, ref.id, ANA)):
        with pytest.raises(IllegalTransitionError, match="is cancelled"), engine.begin() as conn:
            move(conn)
    with engine.connect() as conn:
        item = get_item(conn, ref.id)
    assert (item.state, item.resolution_code, item.resolved_at) == ("cancelled", None, None)
    assert _count(engine, event_log) == logged
    with engine.begin() as conn:
        assert bulk_resolve(conn, [ref.id], "PAID", actor=ANA).not_moved == (ref.id,)


def test_the_event_log_history_matches_the_item_states(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = _open(conn)
        hour = [WEDNESDAY + timedelta(hours=n) for n in range(1, 6)]
        start(conn, ref.id, ANA, now=hour[0])
        wait(conn, ref.id, ANA, "waiting on payer", now=hour[1])
        start(conn, ref.id, ANA, now=hour[2])
        resolve(conn, ref.id, "APPEALED", actor=ANA, now=hour[3])
        reopen(conn, ref.id, LEAD, "appeal lost", now=hour[4], policies=POLICIES)
        states = [(e.from_state, e.to_state) for e in events_for(conn, "work item", str(ref.id))]
        current = get_item(conn, ref.id).state
    assert [to for _, to in states] == ["open", "in_progress", "waiting", "in_progress", "resolved", "open"]
    assert all(later[0] == earlier[1] for earlier, later in zip(states, states[1:], strict=False))
    assert states[-1][1] == current


def test_notes_and_links(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = _open(conn)
        add_note(conn, ref.id, "ana", "called the payer", WEDNESDAY)
        add_note(conn, ref.id, "bo", "resubmitted", WEDNESDAY + timedelta(hours=1))
        assert link(conn, ref.id, "remittance", "R9") and not link(conn, ref.id, "remittance", "R9")
        assert [(n.author, n.text) for n in notes_of(conn, ref.id)] == [("ana", "called the payer"),
                                                                       ("bo", "resubmitted")]
        assert links_of(conn, ref.id) == [("remittance", "R9")]
        with pytest.raises(InputError):
            add_note(conn, ref.id, "ana", "  ")
        with pytest.raises(NotFoundError):
            add_note(conn, 999_999, "ana", "x")


def test_bad_requests_are_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(UnknownQueueError):
            open_item(conn, queue="billing", item_type="x", object_type="claim", object_id="C1", title="t",
                      actor=ANA, policies=POLICIES)
        with pytest.raises(InputError, match="priority"):
            _open(conn, priority=9)
        with pytest.raises(InputError, match="resolution code"):
            resolve(conn, _open(conn).id, " ", actor=ANA)
        with pytest.raises(InputError, match="unknown work item state"):
            list_items(conn, state="done")


def test_list_items_filters_and_pages(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = [_open(conn, f"C{i}").id for i in range(5)]
        assign(conn, ids[1], "ana", LEAD)
        resolve(conn, ids[2], "PAID", actor=ANA)
        assert [i.id for i in list_items(conn, owner="ana")] == [ids[1]]
        assert [i.id for i in list_items(conn, state="resolved")] == [ids[2]]
        assert [i.id for i in list_items(conn, state=["open"], queue="denials")] == [ids[0], ids[1], ids[3], ids[4]]
        page = list_items(conn, limit=2)
        assert [i.id for i in page] == ids[:2]
        assert [i.id for i in list_items(conn, limit=2, after_id=page[-1].id)] == ids[2:4]
        assert list_items(conn, queue="refunds") == []


def test_summary_pages_from_reused_statements_equal_the_built_query(engine: Engine) -> None:
    """The list pages reuse one statement per combination of filters with bound values: every combination the
    API and the web pages offer, each value and each cursor, gives exactly what the statement built for those
    values gives, and the same combination with other values does not answer with the first values' rows."""
    with engine.begin() as conn:
        ids = [_open(conn, f"C{i}", facility_id=f"F{i % 3}", priority=1 + i % 4).id for i in range(9)]
        assign(conn, ids[1], "ana", LEAD)
        assign(conn, ids[4], "bo", LEAD)
        resolve(conn, ids[2], "PAID", actor=ANA)
        open_item(conn, queue="refunds", item_type="refund", object_type="claim", object_id="R1", title="Refund",
                  actor="rule:refunds@1", now=WEDNESDAY, policies=POLICIES, facility_id="F1")
    combinations: list[dict[str, Any]] = [
        {}, {"queue": "denials"}, {"queue": "refunds"}, {"owner": "ana"}, {"owner": "bo"}, {"state": "resolved"},
        {"state": ["open", "in_progress"], "queue": "denials"}, {"facilities": ("F1",)},
        {"facilities": ("F0", "F2")}, {"facilities": ()}, {"organisation_id": "default"},
        {"organisation_id": "elsewhere"}]
    with engine.connect() as conn:
        for filters in combinations:
            for sort in ("id", "-id", "priority", "-priority", "created_at"):
                built = [dict(row._mapping) for row in conn.execute(
                    items_query(select(*SUMMARY_COLUMNS), **filters, sort=sort, limit=100))]
                assert list_item_summaries(conn, **filters, sort=sort, limit=100) == built, (filters, sort)
                first = list_item_summaries(conn, **filters, sort=sort, limit=2)
                if len(first) == 2:
                    key = sort.lstrip("-")
                    after = (first[-1][key], first[-1]["id"])
                    rest = list_item_summaries(conn, **filters, sort=sort, limit=100, after=after)
                    assert first + rest == built, (filters, sort)
        assert [row["id"] for row in list_item_summaries(conn, owner="ana")] == [ids[1]]
        assert [row["id"] for row in list_item_summaries(conn, owner="bo")] == [ids[4]]


def test_queue_summary_is_one_grouped_query(engine: Engine) -> None:
    friday = datetime(2026, 11, 27, 16, tzinfo=ET)
    with engine.begin() as conn:
        oldest = _open(conn, "C1")  # due Friday 15:00: overdue at 16:00
        _open(conn, "C2", now=friday - timedelta(hours=2), priority=1)
        start(conn, _open(conn, "C3", now=friday).id, ANA)
        resolve(conn, _open(conn, "C4").id, "PAID", actor=ANA)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with engine.connect() as conn:
            summaries = queue_summary(conn, friday.astimezone(UTC), queues=["refunds", "denials"])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(statements) == 1
    denials, refunds = summaries
    assert (denials.queue, denials.open, denials.overdue) == ("denials", 3, 1)
    assert denials.oldest_created_at == WEDNESDAY and denials.oldest_age == friday - WEDNESDAY
    assert denials.by_state == {"open": 2, "in_progress": 1, "waiting": 0, "escalated": 0}
    assert denials.by_priority == {1: 1, 2: 0, 3: 2, 4: 0, 5: 0}
    assert (refunds.queue, refunds.open, refunds.overdue, refunds.oldest_age) == ("refunds", 0, 0, None)
    assert oldest.created


def test_the_queue_views_read_active_items_through_the_partial_index(engine: Engine, database_backend: str) -> None:
    """The active states are written into the SQL: SQLite uses a partial index only when the query repeats its
    condition literally (at 24,000 active items of 158,000, bench/control_tower.py: counting the active items 21 ms
    bound, 1 ms literal)."""
    if database_backend != "sqlite":
        pytest.skip("PostgreSQL plans with the bound values; the literal states are for SQLite's planner")
    with engine.begin() as conn:
        _open(conn, "C1")
    statements: list[tuple[str, Any]] = []
    listener = lambda *args: statements.append((args[2], args[3]))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with engine.connect() as conn:
            queue_summary(conn, WEDNESDAY, organisation_id="default")
            list_item_summaries(conn, queue="denials", state=list(WORK_ITEM_ACTIVE_STATES),
                                organisation_id="default", sort="-priority")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    with engine.connect() as conn:
        for statement, parameters in statements:
            assert "'open', 'in_progress', 'waiting', 'escalated'" in statement
            plan = " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "USING INDEX ix_work_items_active_queue_due" in plan, plan


@pytest.mark.postgres
def test_racing_intakes_of_the_same_exception_end_with_one_item(engine: Engine) -> None:
    import threading

    from sqlalchemy import text

    outcome: dict[str, object] = {}
    first = engine.connect()
    transaction = first.begin()
    mine = _open(first)
    waiting = threading.Event()

    def second() -> None:
        with engine.begin() as conn:
            outcome["pid"] = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            waiting.set()
            outcome["ref"] = _open(conn)  # blocks on the unique index until the first commits

    thread = threading.Thread(target=second)
    thread.start()
    try:
        assert waiting.wait(10)
        with engine.connect() as probe:  # wait until the second is really blocked on our row, then commit
            for _ in range(10_000):
                blocked = probe.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                                        {"pid": outcome["pid"]}).scalar_one_or_none()
                if blocked == "Lock":
                    break
                probe.rollback()
        assert blocked == "Lock"  # the race is real: the second intake waits on the first one's row
        transaction.commit()
    finally:
        first.close()
        thread.join(10)
    assert outcome["ref"] == type(mine)(mine.id, False)
    assert _count(engine, work_items) == 1
