"""The outbox and relay: delivered once, retried with backoff, dead-lettered, replayed, never dropped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select

from rcmflow.adapters.store.schema import event_log, outbox, work_items
from rcmflow.services.delivery import (
    CircuitBreaker,
    HandlerRegistry,
    OutboxMessageView,
    RetryPolicy,
    WebhookHandler,
    apply_once,
)
from rcmflow.services.outbox import (
    NO_HANDLER_RETRY,
    OutboxMessage,
    Relay,
    enqueue,
    outbox_status,
    relay_once,
    replay,
)
from rcmflow.services.transitions import transition
from tests.services.http_receiver import Receiver, http_receiver

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as running:
        yield running


@pytest.fixture
def erp(receiver: Receiver) -> Iterator[HandlerRegistry]:
    """Destination "erp" posts to the loopback receiver."""
    registry = HandlerRegistry({"erp": WebhookHandler(receiver.url, timeout=2.0)})
    yield registry
    registry.close()


def _enqueue(engine: Engine, count: int = 1, destination: str = "erp") -> None:
    with engine.begin() as conn:
        enqueue(conn, [OutboxMessage(destination, {"journal": i}, f"journal:{i}") for i in range(count)], now=NOW)


def _rows(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(outbox).order_by(outbox.c.id)).all()


def _activities(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(event_log.c.object_id, event_log.c.activity, event_log.c.to_state)
            .where(event_log.c.object_type == "outbox message").order_by(event_log.c.id))]


def _relay(engine: Engine, handlers: HandlerRegistry, at: datetime, **options: object):
    return relay_once(engine, handlers, worker_id="relay-1", now=at, lease=LEASE, **options)  # type: ignore[arg-type]


def test_enqueue_is_part_of_the_callers_transaction_and_deduplicates(engine: Engine) -> None:
    with engine.begin() as conn:
        item = conn.execute(insert(work_items).values(
            queue="denials", item_type="denial", state="open", priority=3, object_type="claim", object_id="C1",
            dedup_key="denial:C1", title="t", created_at=NOW).returning(work_items.c.id)).scalar_one()
    with pytest.raises(RuntimeError), engine.begin() as conn:
        transition(conn, "work item", item, "open", "escalated", activity="escalate", actor="job:sla")
        enqueue(conn, [OutboxMessage("notifications", {"item": item}, f"escalation:{item}:1")])
        raise RuntimeError("the state change failed after all")
    assert _rows(engine) == []  # no effect without its cause

    with engine.begin() as conn:
        assert enqueue(conn, [OutboxMessage("erp", {"n": 1}, "k1"), OutboxMessage("erp", {"n": 1}, "k1"),
                              OutboxMessage("bank", {"n": 1}, "k1")], now=NOW) == 2
        assert enqueue(conn, [OutboxMessage("erp", {"n": 2}, "k1"), OutboxMessage("erp", {"n": 3}, "k2")]) == 1
    rows = _rows(engine)
    assert [(r.destination, r.idempotency_key, r.payload, r.status, r.attempts) for r in rows] == [
        ("erp", "k1", {"n": 1}, "pending", 0), ("bank", "k1", {"n": 1}, "pending", 0),
        ("erp", "k2", {"n": 3}, "pending", 0)]


def test_delivers_once_with_the_idempotency_key(engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine, 3)
    result = _relay(engine, erp, NOW)
    assert (result.claimed, result.delivered) == (3, 3)
    assert sorted(receiver.keys()) == ["journal:0", "journal:1", "journal:2"]
    assert {(r.status, r.attempts, r.delivered_at, r.locked_by) for r in _rows(engine)} == {
        ("delivered", 1, NOW, None)}
    assert _relay(engine, erp, NOW + timedelta(hours=1)).claimed == 0
    assert len(receiver.requests) == 3
    assert [a for _, a, _ in _activities(engine)] == ["deliver outbox message"] * 3


def test_transient_failure_is_retried_with_backoff_and_delivers_once(
        engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine)
    receiver.statuses.extend([503, 503])
    policy = RetryPolicy(max_attempts=5, initial=10.0, jitter=2.0)
    assert _relay(engine, erp, NOW, policy=policy).failed == 1
    [row] = _rows(engine)
    assert (row.status, row.attempts, row.locked_by) == ("failed", 1, None)
    assert "HTTP 503" in row.last_error
    assert NOW + timedelta(seconds=10) <= row.next_attempt_at <= NOW + timedelta(seconds=12)
    assert _relay(engine, erp, NOW + timedelta(seconds=9), policy=policy).claimed == 0  # not due yet

    second = NOW + timedelta(seconds=12)
    assert _relay(engine, erp, second, policy=policy).failed == 1
    [row] = _rows(engine)
    assert second + timedelta(seconds=20) <= row.next_attempt_at <= second + timedelta(seconds=22)  # doubled

    assert _relay(engine, erp, second + timedelta(seconds=22), policy=policy).delivered == 1
    [row] = _rows(engine)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert receiver.keys() == ["journal:0"] * 3
    assert [(a, s) for _, a, s in _activities(engine)] == [
        ("fail outbox delivery", "failed"), ("fail outbox delivery", "failed"), ("deliver outbox message", "delivered")]


def test_permanent_failure_goes_dead_at_once_and_replays_after_the_fix(
        engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine, 2)
    receiver.default_status = 422
    assert _relay(engine, erp, NOW).dead == 2
    assert {(r.status, r.attempts) for r in _rows(engine)} == {("dead", 1)}
    assert all("permanent" in r.last_error and "HTTP 422" in r.last_error for r in _rows(engine))
    assert _relay(engine, erp, NOW + timedelta(days=1)).claimed == 0  # the dead stay dead

    receiver.default_status = 200  # the receiver is fixed
    first_id = _rows(engine)[0].id
    with engine.begin() as conn:
        assert replay(conn, ids=[first_id], actor="user:ops", now=NOW) == [first_id]
    assert [(r.status, r.attempts) for r in _rows(engine)] == [("pending", 0), ("dead", 1)]
    with engine.begin() as conn:
        assert replay(conn, destination="erp", actor="user:ops", now=NOW) == [_rows(engine)[1].id]
    assert _relay(engine, erp, NOW).delivered == 2
    assert {r.status for r in _rows(engine)} == {"delivered"}
    with engine.connect() as conn:
        replays = conn.execute(select(event_log.c.from_state, event_log.c.to_state, event_log.c.actor)
                               .where(event_log.c.activity == "replay outbox message")).all()
    assert [tuple(r) for r in replays] == [("dead", "pending", "user:ops")] * 2


def test_temporary_failures_end_dead_after_max_attempts(
        engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine)
    receiver.default_status = 500
    at = NOW
    for expected in ("failed", "failed", "dead"):
        _relay(engine, erp, at, max_attempts=3)
        [row] = _rows(engine)
        assert row.status == expected
        at = row.next_attempt_at
    assert row.attempts == 3 and "gave up after 3 attempts" in row.last_error
    with engine.begin() as conn:
        assert replay(conn, dead_only=False, actor="user:ops", now=at) == [row.id]
    receiver.default_status = 200
    assert _relay(engine, erp, at, max_attempts=3).delivered == 1


def test_a_receiver_seeing_a_key_twice_applies_it_once(
        engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    effects = Table("test_receiver_effects", MetaData(), Column("id", Integer, primary_key=True),
                    Column("key", String(200), nullable=False))
    effects.drop(engine, checkfirst=True)  # left over by a crashed run
    effects.create(engine)
    try:
        def receive(request: object) -> int | None:
            key = request.headers["idempotency-key"]  # type: ignore[attr-defined]
            with engine.begin() as conn:
                if apply_once(conn, "ledger", key):
                    conn.execute(effects.insert().values(key=key))
            # The first answer is lost (a gateway error after the receiver committed): the relay retries.
            return 502 if len(receiver.requests) == 1 else 200

        receiver.on_request = receive
        _enqueue(engine)
        assert _relay(engine, erp, NOW).failed == 1
        assert _relay(engine, erp, NOW + timedelta(hours=1)).delivered == 1
        assert receiver.keys() == ["journal:0", "journal:0"]  # delivered twice...
        with engine.connect() as conn:
            assert conn.execute(select(effects.c.key)).scalars().all() == ["journal:0"]  # ...applied once
    finally:
        effects.drop(engine)


def test_circuit_breaker_opens_stops_sending_and_half_opens_with_one_probe(
        engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine, 5)
    receiver.default_status = 503
    breaker = CircuitBreaker(threshold=2, cool_down=timedelta(seconds=30))
    with Relay(engine, erp, worker_id="relay-1", lease=LEASE, breaker=breaker, concurrency=1) as relay:
        result = relay.run_once(NOW)
        assert (result.failed, result.deferred) == (2, 3)  # opened after 2: the other 3 were not sent
        assert len(receiver.requests) == 2
        rows = _rows(engine)
        assert sorted((r.status, r.attempts) for r in rows) == [("failed", 1)] * 2 + [("pending", 0)] * 3

        assert relay.run_once(NOW + timedelta(seconds=29)).claimed == 0  # open: nothing is claimed
        assert len(receiver.requests) == 2

        probe = relay.run_once(NOW + timedelta(seconds=30))  # half-open: one probe, which fails
        assert (probe.failed, probe.deferred, len(receiver.requests)) == (1, 4, 3)
        assert breaker.state("erp", NOW + timedelta(seconds=31)) == "open"

        receiver.default_status = 200
        recovered = relay.run_once(NOW + timedelta(hours=1))  # probe succeeds, the circuit closes
        assert recovered.delivered == 5
        assert breaker.state("erp", NOW + timedelta(hours=1)) == "closed"


def test_an_expired_lease_makes_an_in_flight_message_claimable_again(
        engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine)

    def crash(message: OutboxMessageView) -> None:
        raise KeyboardInterrupt  # the relay process dies mid-delivery, holding the lease

    with pytest.raises(KeyboardInterrupt):
        relay_once(engine, HandlerRegistry({"erp": crash}), worker_id="relay-dead", now=NOW, lease=LEASE)
    [row] = _rows(engine)
    assert (row.status, row.locked_by, row.lease_until) == ("in_flight", "relay-dead", NOW + LEASE)
    assert _relay(engine, erp, NOW + LEASE - timedelta(seconds=1)).claimed == 0  # still leased
    assert _relay(engine, erp, NOW + LEASE).delivered == 1
    [row] = _rows(engine)
    assert (row.status, row.attempts, len(receiver.requests)) == ("delivered", 2, 1)


def test_a_message_that_kills_the_relay_every_time_ends_dead(engine: Engine) -> None:
    _enqueue(engine)

    def crash(message: OutboxMessageView) -> None:
        raise KeyboardInterrupt

    handlers = HandlerRegistry({"erp": crash})
    at = NOW
    for _ in range(2):
        with pytest.raises(KeyboardInterrupt):
            relay_once(engine, handlers, worker_id="relay", now=at, lease=LEASE, max_attempts=2)
        at += LEASE
    result = relay_once(engine, handlers, worker_id="relay", now=at, lease=LEASE, max_attempts=2)
    assert (result.claimed, result.dead) == (1, 1)
    [row] = _rows(engine)
    assert row.status == "dead" and "abandoned" in row.last_error


def test_a_relay_whose_lease_was_taken_over_records_nothing(
        engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine)
    later = NOW + LEASE + timedelta(seconds=1)

    def slow(message: OutboxMessageView) -> None:
        # While this relay stalls past its lease, another one takes the message over and delivers it.
        assert relay_once(engine, erp, worker_id="relay-2", now=later, lease=LEASE).delivered == 1

    result = relay_once(engine, HandlerRegistry({"erp": slow}), worker_id="relay-1", now=NOW, lease=LEASE)
    assert (result.delivered, result.lost) == (0, 1)
    [row] = _rows(engine)
    assert (row.status, row.delivered_at) == ("delivered", later)
    assert [a for _, a, _ in _activities(engine)] == ["deliver outbox message"]  # one event, not two


def test_a_destination_without_handler_stays_pending_and_visible(engine: Engine, erp: HandlerRegistry) -> None:
    _enqueue(engine, 2, destination="notifications")
    result = _relay(engine, erp, NOW)
    assert (result.claimed, result.deferred) == (2, 2)
    for row in _rows(engine):
        assert (row.status, row.attempts, row.locked_by) == ("pending", 0, None)
        assert row.last_error == "no handler for destination notifications"
        assert row.next_attempt_at == NOW + NO_HANDLER_RETRY
    with engine.connect() as conn:
        [status] = outbox_status(conn, now=NOW + timedelta(minutes=10))
    assert (status.destination, status.counts["pending"], status.undelivered) == ("notifications", 2, 2)
    assert status.last_error == "no handler for destination notifications"
    assert status.lag == timedelta(minutes=10)


def test_outbox_status_counts_per_destination_and_status(
        engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine, 3)
    with engine.begin() as conn:
        enqueue(conn, [OutboxMessage("bank", {"n": 1}, "b1")], now=NOW + timedelta(minutes=1))
    receiver.statuses.extend([200, 200, 400])
    _relay(engine, erp, NOW, concurrency=1)
    with engine.connect() as conn:
        bank, erp_status = outbox_status(conn, now=NOW + timedelta(minutes=5))
    assert (bank.destination, bank.counts["pending"], bank.lag, bank.last_error) == (
        "bank", 1, timedelta(minutes=4), None)
    assert {k: v for k, v in erp_status.counts.items() if v} == {"delivered": 2, "dead": 1}
    assert (erp_status.lag, erp_status.undelivered) == (None, 0)
    assert "HTTP 400" in erp_status.last_error


def test_relay_delivers_a_batch_concurrently(engine: Engine, erp: HandlerRegistry, receiver: Receiver) -> None:
    _enqueue(engine, 250)
    with Relay(engine, erp, worker_id="relay-1", batch=100, concurrency=8) as relay:
        total = relay.drain(NOW)
    assert (total.claimed, total.delivered) == (250, 250)
    assert sorted(receiver.keys()) == sorted(f"journal:{i}" for i in range(250))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox).where(outbox.c.status == "delivered")
                            ).scalar_one() == 250


def test_a_relay_restarted_under_its_own_id_finishes_what_it_left_in_flight(engine) -> None:
    from sqlalchemy import select

    from rcmflow.adapters.store.schema import outbox
    from rcmflow.services.outbox import OutboxMessage, enqueue, release_own_leases

    with engine.begin() as conn:
        enqueue(conn, [OutboxMessage("files", {"n": 1}, "k1"), OutboxMessage("files", {"n": 2}, "k2")])
        first, second = conn.execute(select(outbox.c.id).order_by(outbox.c.id)).scalars().all()
        # Killed mid-delivery: one message in flight under "demo", one under another relay.
        conn.execute(outbox.update().where(outbox.c.id == first).values(status="in_flight", locked_by="demo"))
        conn.execute(outbox.update().where(outbox.c.id == second).values(status="in_flight", locked_by="host:42"))
        assert release_own_leases(conn, "demo") == 1
        states = dict(conn.execute(select(outbox.c.id, outbox.c.status)).all())
    assert states == {first: "pending", second: "in_flight"}
