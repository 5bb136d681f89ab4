"""Webhook subscriptions: fan-out from the event log exactly once, and signed delivery to a real HTTP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from rcmflow.adapters.store.schema import audit_log, outbox, webhook_subscriptions
from rcmflow.errors import DomainRuleError, InputError, NotFoundError
from rcmflow.services.delivery import HandlerRegistry
from rcmflow.services.events import Event, append_events
from rcmflow.services.outbox import relay_once
from rcmflow.services.webhook_delivery import SubscriptionWebhooks, register_subscription_handlers
from rcmflow.services.webhooks import (
    FanOutResult,
    Subscription,
    create_subscription,
    deactivate_subscription,
    event_horizon,
    event_type,
    fan_out,
    fan_out_pending,
    get_subscription,
    known_event_types,
    list_subscriptions,
    rotate_secret,
    secrets_in_force,
)
from rcmflow.services.worker import JobRegistry, Worker, default_schedules, webhook_schedule
from rcmflow.webhook_signature import BadSignatureError, SignatureError, verify
from tests.services.http_receiver import Received, Receiver, http_receiver

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ACTOR = "user:integrations"


def _subscribe(engine: Engine, event_types: list[str], url: str = "https://erp.example.org/hooks",
               organisation_id: str = "default") -> tuple[Subscription, str]:
    with engine.begin() as conn:
        return create_subscription(conn, url=url, event_types=event_types, actor=ACTOR, now=NOW,
                                   organisation_id=organisation_id)


def _log(engine: Engine, *transitions: tuple[str, str], organisation_id: str = "default") -> None:
    events = [Event(object_type, str(1000 + n), to_state, f"move to {to_state}", "system:test",
                    from_state="submitted", organisation_id=organisation_id, facility_id="F01", payer_id="P01",
                    occurred_at=NOW, attributes={"n": n})
              for n, (object_type, to_state) in enumerate(transitions)]
    with engine.begin() as conn:
        append_events(conn, events)


def _messages(engine: Engine, destination: str | None = None) -> list[dict[str, object]]:
    query = select(outbox.c.destination, outbox.c.idempotency_key, outbox.c.payload, outbox.c.status)
    if destination is not None:
        query = query.where(outbox.c.destination == destination)
    with engine.connect() as conn:
        return [row._asdict() for row in conn.execute(query.order_by(outbox.c.id))]


def _fan_out(engine: Engine, **options: int) -> FanOutResult:
    with engine.begin() as conn:
        return fan_out(conn, now=NOW, **options)


# -- event types and subscriptions ------------------------------------------------------------------------------

def test_event_types_come_from_the_state_machines_normalised() -> None:
    types = known_event_types()
    assert {"claim.denied", "claim.partially_paid", "work_item.resolved", "remittance.posted",
            "document.failed"} <= set(types)
    assert types == sorted(types)
    assert not [t for t in types if t.startswith(("outbox", "job"))]  # plumbing is not an event type
    assert event_type("Work Item", "in progress") == "work_item.in_progress"


def test_a_subscription_is_created_with_a_secret_shown_once_and_listed_without_it(engine: Engine) -> None:
    subscription, secret = _subscribe(engine, ["Claim.Denied", "claim.denied", "remittance.posted"])
    assert secret.startswith("whsec_") and len(secret) > 40
    assert subscription.event_types == ("claim.denied", "remittance.posted")
    assert subscription.active and subscription.created_by == ACTOR
    assert subscription.destination == f"webhook:{subscription.id}"
    with engine.connect() as conn:
        assert list_subscriptions(conn) == [subscription]
        assert get_subscription(conn, subscription.id) == subscription
        assert not hasattr(get_subscription(conn, subscription.id), "secret")
        audit = conn.execute(select(audit_log.c.action, audit_log.c.object_id)).all()
    assert [tuple(row) for row in audit] == [("create webhook subscription", str(subscription.id))]


@pytest.mark.parametrize(("url", "types", "reason"), [
    ("ftp://erp.example.org/x", ["claim.denied"], "http"),
    ("/relative/path", ["claim.denied"], "http"),
    ("https://user:pw@erp.example.org/", ["claim.denied"], "credentials"),
    ("https://erp.example.org/", [], "at least one event type"),
    ("https://erp.example.org/", ["claim.exploded"], "unknown event type"),
    ("https://erp.example.org/", ["*", "claim.denied"], "alone"),
])
def test_invalid_urls_and_event_types_are_refused(engine: Engine, url: str, types: list[str], reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        _subscribe(engine, types, url=url)


def test_subscriptions_are_scoped_by_organisation(engine: Engine) -> None:
    mine, _ = _subscribe(engine, ["*"], organisation_id="north")
    with engine.connect() as conn:
        assert list_subscriptions(conn, organisation_id="south") == []
        with pytest.raises(NotFoundError):
            get_subscription(conn, mine.id, organisation_id="south")
        with pytest.raises(NotFoundError):
            get_subscription(conn, mine.id + 1_000)


def test_deactivation_is_idempotent_and_hides_the_subscription_from_the_default_list(engine: Engine) -> None:
    subscription, _ = _subscribe(engine, ["*"])
    with engine.begin() as conn:
        removed = deactivate_subscription(conn, subscription.id, actor=ACTOR, now=NOW)
        again = deactivate_subscription(conn, subscription.id, actor=ACTOR, now=NOW)
        assert not removed.active and again == removed
        assert list_subscriptions(conn) == []
        assert list_subscriptions(conn, include_inactive=True) == [removed]
        with pytest.raises(DomainRuleError):
            rotate_secret(conn, subscription.id, actor=ACTOR, now=NOW)


def test_a_rotated_secret_overlaps_with_the_previous_one_until_the_overlap_ends(engine: Engine) -> None:
    subscription, first = _subscribe(engine, ["*"])
    with engine.begin() as conn:
        second = rotate_secret(conn, subscription.id, actor=ACTOR, now=NOW, overlap=timedelta(hours=1))
        stored = conn.execute(select(webhook_subscriptions.c.secret)).scalar_one()
    assert second != first
    assert secrets_in_force(stored, NOW + timedelta(minutes=59)) == (second, first)
    assert secrets_in_force(stored, NOW + timedelta(hours=1)) == (second,)
    with engine.begin() as conn:
        third = rotate_secret(conn, subscription.id, actor=ACTOR, now=NOW, overlap=timedelta(0))
        assert secrets_in_force(conn.execute(select(webhook_subscriptions.c.secret)).scalar_one(), NOW) == (third,)


# -- fan-out ---------------------------------------------------------------------------------------------------

def test_fan_out_enqueues_each_matching_event_once_even_when_run_again(engine: Engine) -> None:
    denials, _ = _subscribe(engine, ["claim.denied"])
    everything, _ = _subscribe(engine, ["*"])
    _log(engine, ("claim", "denied"), ("claim", "paid"), ("remittance", "posted"), ("claim", "denied"))
    first = _fan_out(engine)
    assert (first.subscriptions, first.events, first.enqueued, first.more) == (2, 6, 6, False)
    again = _fan_out(engine)
    assert again == FanOutResult()  # both are at the end of the log: nothing read, nothing enqueued
    denied = _messages(engine, denials.destination)
    assert [m["payload"]["type"] for m in denied] == ["claim.denied", "claim.denied"]  # type: ignore[index]
    assert len(_messages(engine, everything.destination)) == 4
    assert len(_messages(engine)) == 6


def test_the_payload_is_the_event_and_the_key_names_subscription_and_event(engine: Engine) -> None:
    subscription, _ = _subscribe(engine, ["claim.denied"])
    _log(engine, ("claim", "denied"))
    _fan_out(engine)
    [message] = _messages(engine)
    payload = message["payload"]
    assert isinstance(payload, dict)
    assert message["idempotency_key"] == f"webhook:{subscription.id}:{payload['id']}"
    assert payload == {"id": payload["id"], "type": "claim.denied", "occurred_at": NOW.isoformat(),
                       "object_type": "claim", "object_id": "1000", "from_state": "submitted",
                       "to_state": "denied", "activity": "move to denied", "actor": "system:test",
                       "facility_id": "F01", "payer_id": "P01", "attributes": {"n": 0}}


def test_history_before_the_subscription_and_other_organisations_are_not_sent(engine: Engine) -> None:
    _log(engine, ("claim", "denied"))  # before anyone subscribed
    _subscribe(engine, ["*"])
    _log(engine, ("claim", "denied"), organisation_id="elsewhere")
    _log(engine, ("claim", "paid"))
    _fan_out(engine)
    assert [m["payload"]["type"] for m in _messages(engine)] == ["claim.paid"]  # type: ignore[index]


def test_inactive_subscriptions_get_nothing(engine: Engine) -> None:
    subscription, _ = _subscribe(engine, ["*"])
    with engine.begin() as conn:
        deactivate_subscription(conn, subscription.id, actor=ACTOR, now=NOW)
    _log(engine, ("claim", "denied"))
    assert _fan_out(engine).subscriptions == 0
    assert _messages(engine) == []


def test_a_fan_out_that_dies_before_commit_leaves_nothing_and_the_next_run_sends_everything(engine: Engine) -> None:
    subscription, _ = _subscribe(engine, ["*"])
    _log(engine, ("claim", "denied"), ("claim", "paid"))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert fan_out(conn, now=NOW).enqueued == 2
        raise RuntimeError("killed")
    assert _messages(engine) == []
    with engine.connect() as conn:
        assert get_subscription(conn, subscription.id).last_event_id == subscription.last_event_id
    assert _fan_out(engine).enqueued == 2


def test_a_rewound_read_position_does_not_duplicate_deliveries(engine: Engine) -> None:
    subscription, _ = _subscribe(engine, ["*"])
    _log(engine, ("claim", "denied"), ("claim", "paid"))
    _fan_out(engine)
    with engine.begin() as conn:  # as if the position update had been lost
        conn.execute(update(webhook_subscriptions).values(last_event_id=subscription.last_event_id))
    result = _fan_out(engine)
    assert (result.events, result.enqueued) == (2, 0)
    assert len(_messages(engine)) == 2


def test_batches_move_the_read_position_one_batch_at_a_time(engine: Engine) -> None:
    subscription, _ = _subscribe(engine, ["claim.denied"])
    _log(engine, *[("claim", "denied"), ("claim", "paid")] * 5)
    first = _fan_out(engine, batch=2)
    assert (first.enqueued, first.more) == (2, True)
    total = fan_out_pending(engine, now=NOW, batch=2)
    assert total.enqueued == 3 and not total.more
    with engine.connect() as conn:
        position = get_subscription(conn, subscription.id).last_event_id
    assert position == event_horizon(engine)
    assert len(_messages(engine)) == 5


def test_webhook_delivery_outcomes_do_not_fan_out_again(engine: Engine) -> None:
    _subscribe(engine, ["*"])
    with engine.begin() as conn:
        append_events(conn, [Event("outbox message", "1", "dead", "dead-letter outbox message", "job:outbox-relay",
                                   from_state="in_flight", occurred_at=NOW)])
    assert _fan_out(engine).enqueued == 0


def test_fan_out_pending_does_nothing_without_subscribers(engine: Engine) -> None:
    _log(engine, ("claim", "denied"))
    assert fan_out_pending(engine, now=NOW) == FanOutResult()


def test_the_worker_runs_the_fan_out_schedule(engine: Engine) -> None:
    assert webhook_schedule().name in [s.name for s in default_schedules(relay=None)]  # type: ignore[arg-type]
    _subscribe(engine, ["claim.denied"])
    _log(engine, ("claim", "denied"))
    result = Worker(engine, registry=JobRegistry(), schedules=[webhook_schedule()]).run_once()
    assert result.schedules == ["webhook fan-out"]
    assert len(_messages(engine)) == 1


# -- delivery --------------------------------------------------------------------------------------------------

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as running:
        yield running


@pytest.fixture
def handlers(engine: Engine) -> Iterator[HandlerRegistry]:
    registry = HandlerRegistry()
    register_subscription_handlers(registry, engine, timeout=2.0)
    yield registry
    registry.close()


def _verifying(receiver: Receiver, secret: str | list[str]) -> list[SignatureError]:
    """Make the receiver check each request's signature with the helper, answering 401 if it fails."""
    failures: list[SignatureError] = []

    def check(request: Received) -> int | None:
        try:
            verify(secret, request.headers, body=request.raw)
        except SignatureError as exc:
            failures.append(exc)
            return 401
        return None

    receiver.on_request = check
    return failures


def _deliver(engine: Engine, handlers: HandlerRegistry, now: datetime = NOW) -> tuple[int, int, int]:
    result = relay_once(engine, handlers, worker_id="test-relay", now=now)
    return result.delivered, result.failed, result.dead


def test_a_delivery_is_signed_and_verifies_at_a_real_receiver(
        engine: Engine, receiver: Receiver, handlers: HandlerRegistry) -> None:
    subscription, secret = _subscribe(engine, ["claim.denied"], url=receiver.url)
    failures = _verifying(receiver, secret)
    _log(engine, ("claim", "denied"))
    _fan_out(engine)
    assert _deliver(engine, handlers) == (1, 0, 0)
    assert failures == []
    [request] = receiver.requests
    [message] = _messages(engine)
    payload = message["payload"]
    assert isinstance(payload, dict)
    assert request.body == payload and message["status"] == "delivered"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["rcmflow-event-type"] == "claim.denied"
    assert request.headers["rcmflow-event-id"] == str(payload["id"])
    assert request.headers["idempotency-key"] == f"webhook:{subscription.id}:{payload['id']}"
    assert request.headers["rcmflow-signature"].count("v1=") == 1
    with pytest.raises(BadSignatureError):  # and the signature covers the body
        verify(secret, request.headers, body=request.raw.replace(b"denied", b"paid__"))


def test_a_receiver_answering_500_then_200_gets_the_message_retried_and_delivered_once(
        engine: Engine, receiver: Receiver, handlers: HandlerRegistry) -> None:
    _, secret = _subscribe(engine, ["claim.denied"], url=receiver.url)
    failures = _verifying(receiver, secret)
    receiver.statuses.append(500)
    _log(engine, ("claim", "denied"))
    _fan_out(engine)
    assert _deliver(engine, handlers) == (0, 1, 0)
    assert _deliver(engine, handlers) == (0, 0, 0)  # the backoff has not passed yet
    assert _deliver(engine, handlers, NOW + timedelta(hours=1)) == (1, 0, 0)
    assert _deliver(engine, handlers, NOW + timedelta(hours=2)) == (0, 0, 0)
    assert failures == []
    keys = receiver.keys()
    assert len(keys) == 2 and keys[0] == keys[1]  # the same key: the receiver can apply it once
    assert [m["status"] for m in _messages(engine)] == ["delivered"]


def test_a_receiver_answering_400_dead_letters_the_message(
        engine: Engine, receiver: Receiver, handlers: HandlerRegistry) -> None:
    _subscribe(engine, ["claim.denied"], url=receiver.url)
    receiver.statuses.append(400)
    _log(engine, ("claim", "denied"))
    _fan_out(engine)
    assert _deliver(engine, handlers) == (0, 0, 1)
    assert _deliver(engine, handlers, NOW + timedelta(days=1)) == (0, 0, 0)
    assert [m["status"] for m in _messages(engine)] == ["dead"]
    assert len(receiver.requests) == 1


def test_a_wrong_secret_at_the_receiver_dead_letters_rather_than_retrying_forever(
        engine: Engine, receiver: Receiver, handlers: HandlerRegistry) -> None:
    _subscribe(engine, ["claim.denied"], url=receiver.url)
    failures = _verifying(receiver, "whsec_not-the-one")
    _log(engine, ("claim", "denied"))
    _fan_out(engine)
    assert _deliver(engine, handlers) == (0, 0, 1)
    assert len(failures) == 1 and isinstance(failures[0], BadSignatureError)


def test_during_a_rotation_both_secrets_verify(engine: Engine, receiver: Receiver) -> None:
    subscription, old = _subscribe(engine, ["claim.denied"], url=receiver.url)
    with engine.begin() as conn:
        new = rotate_secret(conn, subscription.id, actor=ACTOR, now=datetime.now(UTC), overlap=timedelta(hours=1))
    _log(engine, ("claim", "denied"))
    _fan_out(engine)
    registry = HandlerRegistry()
    register_subscription_handlers(registry, engine)
    try:
        assert _deliver(engine, registry) == (1, 0, 0)
    finally:
        registry.close()
    [request] = receiver.requests
    assert request.headers["rcmflow-signature"].count("v1=") == 2
    verify(old, request.headers, body=request.raw)
    verify(new, request.headers, body=request.raw)


def test_messages_of_a_removed_subscription_are_dead_lettered(
        engine: Engine, receiver: Receiver, handlers: HandlerRegistry) -> None:
    subscription, _ = _subscribe(engine, ["claim.denied"], url=receiver.url)
    _log(engine, ("claim", "denied"))
    _fan_out(engine)
    with engine.begin() as conn:
        deactivate_subscription(conn, subscription.id, actor=ACTOR, now=NOW)
    assert _deliver(engine, handlers) == (0, 0, 1)
    assert receiver.requests == []
    with engine.connect() as conn:
        error = conn.execute(select(outbox.c.last_error)).scalar_one()
    assert "removed" in error


def test_the_resolver_answers_only_subscription_destinations(engine: Engine) -> None:
    resolver = SubscriptionWebhooks(engine)
    try:
        assert resolver("webhook:12") is not None
        assert resolver("webhook:erp") is None  # not a subscription id: left pending, never dropped
    finally:
        resolver.close()
    registry = HandlerRegistry()
    registry.register_prefix("webhook:", lambda destination: None)
    registry.register("webhook:erp", lambda message: None)
    assert registry.get("webhook:erp") is not None and registry.get("webhook:7") is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 0


@pytest.mark.postgres
def test_an_event_committed_late_with_a_lower_id_is_not_skipped(engine: Engine) -> None:
    """PostgreSQL hands out ids at insert and commits in any order: fan-out must wait for the open writer."""
    _subscribe(engine, ["*"])
    with engine.connect() as slow:
        transaction = slow.begin()
        append_events(slow, [Event("claim", "1", "denied", "deny", "system:test", occurred_at=NOW)])  # lower id
        _log(engine, ("claim", "paid"))  # higher id, committed first
        assert event_horizon(engine, lock_timeout=timedelta(milliseconds=100)) is None
        transaction.commit()
    assert fan_out_pending(engine, now=NOW).enqueued == 2
    assert sorted(m["payload"]["type"] for m in _messages(engine)) == ["claim.denied", "claim.paid"]  # type: ignore[index]
