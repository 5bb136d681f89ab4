"""The end of the demo: logins for the UI, and the UI's clock at the simulated network's date."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from rcmflow.demo.serve import demo_logins, running_clock, simulated_now
from rcmflow.services.events import Event, append_events
from rcmflow.services.principals import authenticate


def test_each_run_gives_the_demo_users_fresh_passwords_that_log_in(engine: Engine) -> None:
    first = {login.username: login for login in demo_logins(engine)}
    second = {login.username: login for login in demo_logins(engine)}
    assert set(first) == {"lead", "biller", "approver"}
    with engine.begin() as conn:
        for name, login in second.items():
            assert first[name].password != login.password
            record = authenticate(conn, "user", name, login.password)
            assert record is not None and record.roles == login.roles
            assert authenticate(conn, "user", name, first[name].password) is None


def test_the_ui_clock_starts_at_the_last_simulated_claim_event_and_runs_on(engine: Engine) -> None:
    simulated = datetime(2026, 4, 24, 18, tzinfo=UTC)
    with engine.begin() as conn:
        append_events(conn, [
            Event("claim", "1", "paid", "record adjudication", "system", occurred_at=simulated),
            # Deliveries are logged at the wall clock: they must not move the simulated date.
            Event("outbox message", "9", "delivered", "deliver outbox message", "job",
                  occurred_at=datetime(2026, 12, 1, tzinfo=UTC))])
    assert simulated_now(engine) == simulated
    clock = running_clock(simulated)
    first, second = clock(), clock()
    assert simulated <= first <= second < datetime(2026, 4, 24, 18, 1, tzinfo=UTC)
