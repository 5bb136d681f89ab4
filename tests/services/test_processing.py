"""Posting what intake stored keeps the arrival order, also after a crash left earlier ERAs unposted."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claim_payments
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers, Party
from rcmflow.services.claims import store_claims
from rcmflow.services.demo_data import build_network
from rcmflow.services.intake import ingest_file
from rcmflow.services.processing import post_ingested, process_pending


def _835(remittance, start: int) -> bytes:
    payer = remittance.payer.id
    return write_835_interchange([remittance], Party(payer), Party("CLINIC"),
                                 CountingControlNumbers(start=start)).encode()


def test_an_era_waiting_from_a_killed_run_posts_before_the_reversal_that_follows_it(engine: Engine) -> None:
    network = build_network(40, seed=5)
    [(_, follow_up)] = network.follow_ups
    original = network.remittances[0][1]  # the ERA whose claims the follow-up reverses
    now = datetime(2026, 11, 21, tzinfo=UTC)
    with engine.begin() as conn:
        store_claims(conn, None, [batch for _, _, batch in network.batches], actor="test", now=now)
        # A run stored the original ERA and was killed before posting it.
        ingest_file(conn, _835(original, 100), filename="era-1.835", channel="test")
    with engine.begin() as conn:
        result = ingest_file(conn, _835(follow_up, 200), filename="era-2.835", channel="test")
    post_ingested(engine, result)
    process_pending(engine)
    with engine.connect() as conn:
        states = conn.execute(select(claim_payments.c.status, claim_payments.c.state)).all()
    reversals = [state for status, state in states if status == "22"]
    assert len(reversals) == 2 and set(reversals) == {"posted"}
    # Each reversed original is "reversed", not left posted beside a reversal without original.
    assert sum(1 for status, state in states if status == "1" and state == "reversed") == 2
