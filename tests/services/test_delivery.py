"""Delivery: the webhook handler's error classes, backoff, the circuit breaker, the idempotent receiver."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import processed_messages
from rcmflow.services.delivery import (
    CircuitBreaker,
    HandlerRegistry,
    OutboxMessageView,
    PermanentDeliveryError,
    RetryPolicy,
    TemporaryDeliveryError,
    WebhookHandler,
    apply_once,
    apply_once_many,
    webhook_handlers,
)
from tests.services.http_receiver import Receiver, http_receiver

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _message(key: str = "journal:42", attempts: int = 1) -> OutboxMessageView:
    return OutboxMessageView(id=7, destination="erp", payload={"journal": 42, "amount": "150.00"},
                             idempotency_key=key, attempts=attempts, organisation_id="default")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as running:
        yield running


@pytest.fixture
def webhook(receiver: Receiver) -> Iterator[WebhookHandler]:
    handler = WebhookHandler(receiver.url, timeout=2.0, headers={"Authorization": "Bearer test"})
    yield handler
    handler.close()


def test_webhook_posts_json_with_the_idempotency_key(receiver: Receiver, webhook: WebhookHandler) -> None:
    webhook(_message(attempts=3))
    [request] = receiver.requests
    assert request.body == {"journal": 42, "amount": "150.00"}
    assert request.headers["idempotency-key"] == "journal:42"
    assert request.headers["x-rcmflow-attempt"] == "3"
    assert request.headers["authorization"] == "Bearer test"
    assert request.headers["content-type"] == "application/json"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_overload_and_server_errors_are_temporary(receiver: Receiver, webhook: WebhookHandler, status: int) -> None:
    receiver.statuses.append(status)
    with pytest.raises(TemporaryDeliveryError, match=f"HTTP {status}"):
        webhook(_message())


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_other_client_errors_are_permanent(receiver: Receiver, webhook: WebhookHandler, status: int) -> None:
    receiver.statuses.append(status)
    with pytest.raises(PermanentDeliveryError, match=f"HTTP {status}"):
        webhook(_message())


def test_timeout_is_temporary(receiver: Receiver) -> None:
    receiver.delay = 0.5
    handler = WebhookHandler(receiver.url, timeout=0.1)
    try:
        with pytest.raises(TemporaryDeliveryError, match="Timeout"):
            handler(_message())
    finally:
        handler.close()


def test_connection_refused_is_temporary() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = WebhookHandler(f"http://127.0.0.1:{port}/hook", timeout=1.0)
    try:
        with pytest.raises(TemporaryDeliveryError, match="ConnectError"):
            handler(_message())
    finally:
        handler.close()


def test_webhook_refuses_a_non_http_url() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookHandler("ftp://example.org/hook")


def test_registry_has_handlers_only_for_configured_destinations(receiver: Receiver) -> None:
    registry = webhook_handlers({"erp": receiver.url})
    try:
        assert registry.destinations() == {"erp"}
        assert registry.get("notifications") is None
        handler = registry.get("erp")
        assert handler is not None
        handler(_message())
        assert receiver.keys() == ["journal:42"]
    finally:
        registry.close()
    assert HandlerRegistry().destinations() == frozenset()


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_attempts=10, initial=2.0, maximum=60.0, jitter=1.0)
    for attempts, base in ((1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0)):
        delays = {policy.delay(attempts).total_seconds() for _ in range(20)}
        assert all(base <= d <= base + 1.0 for d in delays), (attempts, delays)
        assert len(delays) > 1  # jittered, so a failed batch does not retry in lockstep
    assert policy.delay(20) == timedelta(seconds=60)


def test_circuit_opens_after_consecutive_failures_and_half_opens_after_cool_down() -> None:
    breaker = CircuitBreaker(threshold=3, cool_down=timedelta(seconds=30))
    for _ in range(2):
        breaker.record_failure("erp", NOW)
    assert breaker.allow("erp", NOW) and breaker.state("erp", NOW) == "closed"
    breaker.record_success("erp")  # success resets the count: failures must be consecutive
    for _ in range(3):
        breaker.record_failure("erp", NOW)
    assert breaker.state("erp", NOW) == "open"
    assert not breaker.allow("erp", NOW + timedelta(seconds=29))
    assert breaker.blocked(NOW) == {"erp"}
    assert breaker.allow("other", NOW)  # per destination

    later = NOW + timedelta(seconds=30)
    assert breaker.state("erp", later) == "half_open" and breaker.blocked(later) == frozenset()
    assert breaker.allow("erp", later)  # the one probe
    assert not breaker.allow("erp", later)  # nobody else while it is out
    breaker.record_failure("erp", later)  # failed probe: open again for a full cool-down
    assert not breaker.allow("erp", later + timedelta(seconds=29))
    assert breaker.allow("erp", later + timedelta(seconds=30))
    breaker.record_success("erp")
    assert breaker.state("erp", later) == "closed" and breaker.allow("erp", later)


def test_apply_once_applies_a_key_once_per_consumer(engine: Engine) -> None:
    with engine.begin() as conn:
        assert apply_once(conn, "ledger", "journal:42", now=NOW) is True
        assert apply_once(conn, "ledger", "journal:42", now=NOW) is False
        assert apply_once(conn, "other consumer", "journal:42", now=NOW) is True
    with engine.begin() as conn:
        assert apply_once(conn, "ledger", "journal:42") is False


def test_apply_once_in_a_rolled_back_transaction_records_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert apply_once(conn, "ledger", "journal:42")
        raise RuntimeError("the effect failed")
    with engine.begin() as conn:
        assert apply_once(conn, "ledger", "journal:42")  # so the redelivery applies it


def test_apply_once_many_returns_only_the_fresh_keys(engine: Engine) -> None:
    with engine.begin() as conn:
        assert apply_once_many(conn, "ledger", ["a", "b"]) == {"a", "b"}
        assert apply_once_many(conn, "ledger", ["b", "c", "c", *(f"k{i}" for i in range(2_500))]) == {
            "c", *(f"k{i}" for i in range(2_500))}
        assert conn.execute(select(func.count()).select_from(processed_messages)).scalar_one() == 2_503
