"""Approvals: segregation of duties, delegation with expiry, level-by-level chains, all in the event log."""

from __future__ import annotations

import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from rcmflow.adapters.store.schema import approval_decisions, approval_requests
from rcmflow.domain.approval_policy import ApprovalPolicy, load_approval_policy, parse_approval_policy
from rcmflow.errors import InputError
from rcmflow.services.approvals import (
    AlreadyPendingError,
    LevelEvent,
    MakerCannotDecideError,
    NotAuthorisedError,
    PolicyNotEffectiveError,
    ReasonRequiredError,
    RepeatDecisionError,
    RequestClosedError,
    SegregationOfDutiesError,
    active_delegations,
    approve,
    cancel,
    delegate,
    pending_for,
    reject,
    request_detail,
    revoke_delegation,
    submit,
)
from rcmflow.services.events import events_for
from rcmflow.services.transitions import StaleStateError, history, transition

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
APPROVER, CONTROLLER = {"approver"}, {"controller"}


def _policy(version: str, chain: str) -> ApprovalPolicy:
    return parse_approval_policy(textwrap.dedent(f"""\
        policy_id: ap
        version: "{version}"
        effective_from: 2026-01-01
        rules:
          - id: invoice
            queue: ap_approvals
            when: {{object_type: supplier invoice, min_amount: "1000.00"}}
            chain: {chain}
        """))


TWO_LEVELS = _policy("1", "[{role: approver, sla_hours: 8}, {role: controller}]")
PAIR_THEN_ONE = _policy("1", "[{role: controller, approvers_needed: 2}, {role: approver}]")


def _submit(conn: Connection, policy: ApprovalPolicy = TWO_LEVELS, object_id: str = "INV-1",
            amount: str = "25000.00", maker: str = "user:alice", **kwargs: object) -> int:
    ref = submit(conn, policy, object_type="supplier invoice", object_id=object_id, maker=maker,
                 amount=Decimal(amount), attributes={"facility": "NORTH", "vendor": "V1"}, actor=maker, now=NOW,
                 **kwargs)  # type: ignore[arg-type]
    assert ref is not None
    return ref.id


def _state(conn: Connection, request_id: int) -> tuple[str, int]:
    row = conn.execute(select(approval_requests.c.state, approval_requests.c.current_level)
                       .where(approval_requests.c.id == request_id)).one()
    return row.state, row.current_level


def _decision_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(approval_decisions)).scalar_one()


def test_submit_fixes_rule_and_chain_and_logs_the_policy_version(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn)
        detail = request_detail(conn, request_id)
        [event] = events_for(conn, "approval request", str(request_id))
    assert (detail.state, detail.current_level, detail.rule_id, detail.rule_version) == (
        "pending", 0, "invoice", "ap@1")
    assert [level.role for level in detail.chain] == ["approver", "controller"]
    assert detail.amount == Decimal("25000.00") and detail.maker == "user:alice"
    assert (event.from_state, event.to_state, event.activity, event.rule_version, event.facility_id) == (
        None, "pending", "submit for approval", "ap@1", "NORTH")


def test_no_approval_needed_returns_none_and_stores_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        assert submit(conn, TWO_LEVELS, object_type="supplier invoice", object_id="INV-2", maker="user:alice",
                      amount=Decimal("999.99"), attributes={}, actor="user:alice", now=NOW) is None
        assert conn.execute(select(func.count()).select_from(approval_requests)).scalar_one() == 0


def test_submit_refuses_floats_a_second_pending_request_and_a_policy_not_yet_in_force(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(InputError, match="not a float"):
            submit(conn, TWO_LEVELS, object_type="supplier invoice", object_id="X", maker="user:a",
                   amount=25000.5, attributes={}, actor="user:a", now=NOW)  # type: ignore[arg-type]
        _submit(conn)
        with pytest.raises(AlreadyPendingError):
            _submit(conn)
        with pytest.raises(PolicyNotEffectiveError):
            submit(conn, TWO_LEVELS, object_type="supplier invoice", object_id="INV-9", maker="user:a",
                   amount=Decimal("5000"), attributes={}, actor="user:a", now=datetime(2025, 12, 31, tzinfo=UTC))


def test_the_makers_approval_is_refused_whatever_their_roles(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn, maker="user:alice")
        for spelling in ("user:alice", "Alice", " USER:Alice "):
            with pytest.raises(SegregationOfDutiesError) as caught:
                approve(conn, request_id, spelling, APPROVER | CONTROLLER, now=NOW)
            assert caught.value.code == "sod_maker"
        with pytest.raises(MakerCannotDecideError):
            reject(conn, request_id, "user:alice", APPROVER, reason="changed my mind", now=NOW)
        assert _state(conn, request_id) == ("pending", 0) and _decision_count(conn) == 0


def test_one_person_decides_once_per_chain_also_at_another_level(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn)
        approve(conn, request_id, "user:bob", APPROVER | CONTROLLER, now=NOW)
        assert _state(conn, request_id) == ("pending", 1)
        with pytest.raises(SegregationOfDutiesError) as caught:
            approve(conn, request_id, "user:bob", APPROVER | CONTROLLER, now=NOW)
        assert caught.value.code == "sod_repeat"
        with pytest.raises(RepeatDecisionError):
            reject(conn, request_id, "bob", CONTROLLER, reason="second thoughts", now=NOW)
        assert _state(conn, request_id) == ("pending", 1) and _decision_count(conn) == 1


def test_same_person_cannot_fill_two_slots_of_one_level(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn, PAIR_THEN_ONE)
        approve(conn, request_id, "user:carl", CONTROLLER, now=NOW)
        with pytest.raises(RepeatDecisionError):
            approve(conn, request_id, "user:carl", CONTROLLER, now=NOW)
        assert _state(conn, request_id) == ("pending", 0)


def test_an_approver_without_the_levels_role_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn)
        with pytest.raises(NotAuthorisedError) as caught:
            approve(conn, request_id, "user:carl", CONTROLLER, now=NOW)
        assert caught.value.code == "not_in_role"
        with pytest.raises(NotAuthorisedError):
            approve(conn, request_id, "job:auto-approve", APPROVER, now=NOW)  # only people decide
        assert _decision_count(conn) == 0


def test_two_distinct_controllers_complete_a_major_invoice_only_after_both(engine: Engine) -> None:
    policy = load_approval_policy()
    with engine.begin() as conn:
        ref = submit(conn, policy, object_type="supplier invoice", object_id="INV-BIG", maker="user:clerk",
                     amount=Decimal("150000.00"), attributes={}, actor="user:clerk", now=NOW)
        assert ref is not None and ref.rule_id == "ap-invoice-major"
        first = approve(conn, ref.id, "user:ann", APPROVER, now=NOW)
        assert (first.level_completed, first.state, first.current_level) == (True, "pending", 1)
        second = approve(conn, ref.id, "user:carl", CONTROLLER, now=NOW + timedelta(hours=1))
        assert (second.level_completed, second.state, second.current_level) == (False, "pending", 1)
        third = approve(conn, ref.id, "user:cara", CONTROLLER, now=NOW + timedelta(hours=2), reason="budgeted")
        assert (third.level_completed, third.state) == (True, "approved")
        assert history(conn, "approval request", ref.id) == [
            (None, "pending", "submit for approval"),
            ("pending", "pending", "approve"), ("pending", "pending", "complete approval level"),
            ("pending", "pending", "approve"),
            ("pending", "pending", "approve"), ("pending", "approved", "complete approval")]
        events = events_for(conn, "approval request", str(ref.id))
        detail = request_detail(conn, ref.id)
    # Every decision and every move carries the policy version it was made under, and who made it.
    assert {e.rule_version for e in events} == {"health-system-approvals@2026.1"}
    assert [e.actor for e in events if e.activity == "approve"] == ["user:ann", "user:carl", "user:cara"]
    assert [(d.level, d.approver, d.decision) for d in detail.decisions] == [
        (0, "user:ann", "approve"), (1, "user:carl", "approve"), (1, "user:cara", "approve")]
    assert detail.decided_at == NOW + timedelta(hours=2)


def test_rejection_needs_a_reason_and_ends_the_request(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn)
        with pytest.raises(ReasonRequiredError):
            reject(conn, request_id, "user:bob", APPROVER, reason="  ", now=NOW)
        outcome = reject(conn, request_id, "user:bob", APPROVER, reason="duplicate of INV-0", now=NOW)
        assert (outcome.state, outcome.level) == ("rejected", 0)
        with pytest.raises(RequestClosedError):
            approve(conn, request_id, "user:ann", APPROVER, now=NOW)
        [*_, last] = events_for(conn, "approval request", str(request_id))
    assert (last.from_state, last.to_state, last.activity, last.actor, last.reason, last.rule_version) == (
        "pending", "rejected", "reject", "user:bob", "duplicate of INV-0", "ap@1")


def test_a_delegate_can_approve_until_the_delegation_expires_and_not_after(engine: Engine) -> None:
    expires = NOW + timedelta(days=7)
    with engine.begin() as conn:
        delegate(conn, delegator="user:bob", delegate="user:dora", role="approver", starts_at=NOW,
                 expires_at=expires, created_by="user:bob", now=NOW)
        before, at_expiry = _submit(conn, object_id="INV-1"), _submit(conn, object_id="INV-2")
        outcome = approve(conn, before, "user:dora", set(), now=expires - timedelta(seconds=1))
        assert outcome.on_behalf_of == "user:bob" and outcome.current_level == 1
        with pytest.raises(NotAuthorisedError):
            approve(conn, at_expiry, "user:dora", set(), now=expires)
        with pytest.raises(NotAuthorisedError):  # nor before it starts
            approve(conn, at_expiry, "user:dora", set(), now=NOW - timedelta(seconds=1))
        [decision] = request_detail(conn, before).decisions
        [*_, event] = [e for e in events_for(conn, "approval request", str(before)) if e.activity == "approve"]
    assert (decision.approver, decision.on_behalf_of) == ("user:dora", "user:bob")
    assert event.actor == "user:dora" and event.attributes["on_behalf_of"] == "user:bob"


def test_delegate_and_delegator_count_as_one_decision_in_a_chain(engine: Engine) -> None:
    with engine.begin() as conn:
        delegate(conn, delegator="user:bob", delegate="user:dora", role="controller", starts_at=NOW,
                 expires_at=NOW + timedelta(days=1), created_by="user:bob", now=NOW)
        # The delegator decided: their delegate cannot decide for them again.
        first = _submit(conn, PAIR_THEN_ONE, object_id="INV-1")
        approve(conn, first, "user:bob", CONTROLLER, now=NOW)
        with pytest.raises(RepeatDecisionError):
            approve(conn, first, "user:dora", set(), now=NOW)
        # The delegate decided for the delegator: the delegator cannot decide too.
        second = _submit(conn, PAIR_THEN_ONE, object_id="INV-2")
        assert approve(conn, second, "user:dora", set(), now=NOW).on_behalf_of == "user:bob"
        with pytest.raises(RepeatDecisionError):
            approve(conn, second, "user:bob", CONTROLLER, now=NOW)
        # The delegate decided as themselves: they cannot act again, not even for someone else.
        third = _submit(conn, TWO_LEVELS, object_id="INV-3")
        approve(conn, third, "user:dora", APPROVER, now=NOW)
        with pytest.raises(RepeatDecisionError):
            approve(conn, third, "user:dora", set(), now=NOW)


def test_a_delegate_never_approves_their_own_object_nor_for_the_maker(engine: Engine) -> None:
    with engine.begin() as conn:
        delegate(conn, delegator="user:bob", delegate="user:dora", role="approver", starts_at=NOW,
                 expires_at=NOW + timedelta(days=1), created_by="user:bob", now=NOW)
        own = _submit(conn, maker="user:dora", object_id="INV-1")
        with pytest.raises(MakerCannotDecideError):
            approve(conn, own, "user:dora", set(), now=NOW)
        delegate(conn, delegator="user:alice", delegate="user:erin", role="approver", starts_at=NOW,
                 expires_at=NOW + timedelta(days=1), created_by="user:alice", now=NOW)
        alices = _submit(conn, maker="user:alice", object_id="INV-2")
        with pytest.raises(MakerCannotDecideError):
            approve(conn, alices, "user:erin", set(), now=NOW)


def test_a_blanket_delegation_confers_only_roles_the_delegator_holds(engine: Engine) -> None:
    with engine.begin() as conn:
        delegate(conn, delegator="user:bob", delegate="user:dora", starts_at=NOW, expires_at=NOW + timedelta(days=1),
                 created_by="user:bob", now=NOW)
        request_id = _submit(conn)
        with pytest.raises(NotAuthorisedError):  # no directory: "every role" of bob is unknown
            approve(conn, request_id, "user:dora", set(), now=NOW)
        with pytest.raises(NotAuthorisedError):
            approve(conn, request_id, "user:dora", set(), now=NOW, roles_of={"user:bob": {"controller"}})
        outcome = approve(conn, request_id, "user:dora", set(), now=NOW, roles_of=lambda who: {"approver"})
        assert outcome.on_behalf_of == "user:bob"


def test_delegations_are_checked_and_can_be_revoked(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(NotAuthorisedError):  # nobody lends someone else's authority to themselves
            delegate(conn, delegator="user:bob", delegate="user:mallory", role="approver", starts_at=NOW,
                     expires_at=NOW + timedelta(days=1), created_by="user:mallory", now=NOW)
        with pytest.raises(NotAuthorisedError):
            delegate(conn, delegator="user:bob", delegate="user:dora", role="controller", starts_at=NOW,
                     expires_at=NOW + timedelta(days=1), created_by="user:bob", now=NOW,
                     roles_of={"user:bob": {"approver"}})
        with pytest.raises(InputError):
            delegate(conn, delegator="user:bob", delegate="Bob", role="approver", starts_at=NOW,
                     expires_at=NOW + timedelta(days=1), created_by="user:bob", now=NOW)
        lent = delegate(conn, delegator="user:bob", delegate="user:dora", role="approver", starts_at=NOW,
                        expires_at=NOW + timedelta(days=1), created_by="user:admin", creator_roles={"approvals_admin"},
                        now=NOW)
        assert [d.id for d in active_delegations(conn, "dora", NOW)] == [lent.id]
        assert revoke_delegation(conn, lent.id, actor="user:bob", now=NOW + timedelta(hours=1))
        assert active_delegations(conn, "dora", NOW + timedelta(hours=1)) == []
        assert [d.id for d in active_delegations(conn, "dora", NOW)] == [lent.id]  # history stays true
        request_id = _submit(conn)
        with pytest.raises(NotAuthorisedError):
            approve(conn, request_id, "user:dora", set(), now=NOW + timedelta(hours=2))


def test_a_request_keeps_its_chain_when_the_policy_changes_version(engine: Engine) -> None:
    v1 = _policy("1", "[{role: approver}]")
    v2 = _policy("2", "[{role: approver}, {role: controller}]")
    with engine.begin() as conn:
        old = _submit(conn, v1, object_id="INV-1")
        new = _submit(conn, v2, object_id="INV-2")
        # v2 is the policy in force now; the running request still finishes under v1's one level.
        assert approve(conn, old, "user:bob", APPROVER, now=NOW).state == "approved"
        assert approve(conn, new, "user:bob", APPROVER, now=NOW).state == "pending"
        assert {e.rule_version for e in events_for(conn, "approval request", str(old))} == {"ap@1"}
        assert {e.rule_version for e in events_for(conn, "approval request", str(new))} == {"ap@2"}


def test_pending_for_shows_what_a_person_can_decide_now(engine: Engine) -> None:
    with engine.begin() as conn:
        mine = _submit(conn, maker="user:ann", object_id="INV-1")
        open_one = _submit(conn, object_id="INV-2")
        decided = _submit(conn, object_id="INV-3")
        at_controller = _submit(conn, object_id="INV-4")
        approve(conn, decided, "user:ann", APPROVER, now=NOW)
        approve(conn, at_controller, "user:bob", APPROVER, now=NOW + timedelta(hours=3))
        delegate(conn, delegator="user:carl", delegate="user:ann", role="controller", starts_at=NOW,
                 expires_at=NOW + timedelta(days=1), created_by="user:carl", now=NOW)
        items = pending_for(conn, APPROVER, "ann", NOW + timedelta(hours=4))
        later = pending_for(conn, APPROVER, "ann", NOW + timedelta(days=2))
    assert mine and [(i.request.id, i.on_behalf_of) for i in items] == [(open_one, None), (at_controller, "user:carl")]
    assert items[0].due_at == NOW + timedelta(hours=8)  # level 1's SLA from submission
    assert items[1].opened_at == NOW + timedelta(hours=3) and items[1].due_at is None
    assert [i.request.id for i in later] == [open_one]


def test_cancel_by_the_maker_or_an_admin_only(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn)
        with pytest.raises(NotAuthorisedError):
            cancel(conn, request_id, "user:bob", "not needed", NOW, roles=APPROVER)
        cancel(conn, request_id, "user:alice", "vendor withdrew the invoice", NOW)
        assert _state(conn, request_id) == ("cancelled", 0)
        assert history(conn, "approval request", request_id)[-1] == ("pending", "cancelled", "cancel approval")
        other = _submit(conn, object_id="INV-2")
        cancel(conn, other, "user:root", "entered twice", NOW, roles={"approvals_admin"})


def test_level_hooks_open_and_close_each_level_in_the_same_transaction(engine: Engine) -> None:
    seen: list[tuple[str, int, str | None, str | None]] = []

    def record(conn: Connection, event: LevelEvent) -> None:
        assert conn.in_transaction()
        seen.append((event.role, event.level, event.queue, event.outcome))

    with engine.begin() as conn:
        request_id = _submit(conn, on_level_opened=record)
        approve(conn, request_id, "user:ann", APPROVER, now=NOW, on_level_opened=record, on_level_closed=record)
        reject(conn, request_id, "user:carl", CONTROLLER, reason="over budget", now=NOW, on_level_closed=record)
    assert seen == [("approver", 0, "ap_approvals", None), ("approver", 0, "ap_approvals", "approved"),
                    ("controller", 1, "ap_approvals", None), ("controller", 1, "ap_approvals", "rejected")]


def test_a_transition_guarded_on_the_level_refuses_once_the_level_moved(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn)
        approve(conn, request_id, "user:ann", APPROVER, now=NOW)
        with pytest.raises(StaleStateError, match="no longer has"):
            transition(conn, "approval request", request_id, "pending", "approved", activity="complete approval",
                       actor="user:x", guard={"current_level": 0})
        assert _state(conn, request_id) == ("pending", 1)


@pytest.mark.postgres
def test_two_approvers_racing_for_the_last_slot_complete_it_once(engine: Engine) -> None:
    with engine.begin() as conn:
        request_id = _submit(conn, PAIR_THEN_ONE)
    errors: list[Exception] = []
    pids: list[int] = []
    first = engine.connect()
    first.begin()
    approve(first, request_id, "user:carl", CONTROLLER, now=NOW)  # holds the request row, uncommitted

    def second() -> None:
        try:
            with engine.begin() as conn:
                pids.append(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                approve(conn, request_id, "user:cara", CONTROLLER, now=NOW)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    racer = threading.Thread(target=second)
    racer.start()
    with engine.connect() as watcher:  # wait until the second approver is really blocked on the row
        for _ in range(1000):
            if pids and watcher.execute(text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :p"),
                                        {"p": pids[0]}).scalar_one_or_none():
                break
            time.sleep(0.01)
        else:
            pytest.fail("the second approver never waited for the first")
    first.commit()
    first.close()
    racer.join(10)
    assert errors == []
    with engine.connect() as conn:
        assert _state(conn, request_id) == ("pending", 1)  # both counted: the level completed exactly once
        assert [a for _, _, a in history(conn, "approval request", request_id)].count("complete approval level") == 1
