"""Posting what intake stored keeps the arrival order, also after a crash left earlier ERAs unposted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claim_payments
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers, Party
from rcmflow.services.claims import store_claims
from rcmflow.services.demo_data import build_network
from rcmflow.services.intake import ingest_file
from rcmflow.services.processing import ingest_and_post, process_pending


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
    ingest_and_post(engine, _835(follow_up, 200), filename="era-2.835", channel="test")
    process_pending(engine)
    with engine.connect() as conn:
        states = conn.execute(select(claim_payments.c.status, claim_payments.c.state)).all()
    reversals = [state for status, state in states if status == "22"]
    assert len(reversals) == 2 and set(reversals) == {"posted"}
    # Each reversed original is "reversed", not left posted beside a reversal without original.
    assert sum(1 for status, state in states if status == "1" and state == "reversed") == 2


def _sorted(rows: object) -> list[tuple]:
    return sorted((tuple(row) for row in rows), key=lambda row: tuple("" if v is None else str(v) for v in row))


def _ledger_and_payments(engine: Engine) -> tuple[dict, list, list, list]:
    """What posting produced, independent of row ids: the summary, the trial balance, every claim payment's
    outcome and the event log's activities."""
    from sqlalchemy import func

    from rcmflow.adapters.store.schema import claims, event_log, service_payments
    from rcmflow.services.ledger import trial_balance
    from rcmflow.services.reports import summary

    with engine.connect() as conn:
        report = summary(conn)
        report.pop("documents")  # the two runs store the files through different calls, counted alike elsewhere
        balance = [(row.key, row.debits, row.credits) for row in trial_balance(conn).rows]
        payments = _sorted(conn.execute(
            select(claim_payments.c.patient_control_number, claim_payments.c.status, claim_payments.c.state,
                   claim_payments.c.match_method, claim_payments.c.expected_allowed, claim_payments.c.variance,
                   claims.c.patient_control_number.label("claim"), claims.c.state.label("claim_state"),
                   func.count(service_payments.c.claim_line_id).label("paired_lines"))
            .outerjoin(claims, claims.c.id == claim_payments.c.claim_id)
            .outerjoin(service_payments, service_payments.c.claim_payment_id == claim_payments.c.id)
            .group_by(claim_payments.c.id, claims.c.id)).all())
        activities = _sorted(conn.execute(
            select(event_log.c.object_type, event_log.c.from_state, event_log.c.to_state, event_log.c.activity,
                   func.count()).group_by(event_log.c.object_type, event_log.c.from_state, event_log.c.to_state,
                                          event_log.c.activity)).all())
    return report, balance, payments, activities


def _second_database(engine: Engine, empty_database_url: str, network: object, now: datetime) -> Engine:
    """Another migrated database holding the same open claims as ``engine``: the run to compare with."""
    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema

    other = create_engine_for(empty_database_url)
    ensure_schema(other)
    for target in (engine, other):
        with target.begin() as conn:
            store_claims(conn, None, [batch for _, _, batch in network.batches], actor="test", now=now)
    return other


def test_posting_while_storing_ends_where_storing_then_posting_does(engine: Engine, empty_database_url: str) -> None:
    """``ingest_and_post`` writes each claim payment once, already posted; the state, the ledger and the event
    log must be exactly those of storing every ERA "received" and posting it afterwards."""

    network = build_network(120, seed=11)
    eras = [_835(remittance, 100 + number) for number, (_, remittance) in
            enumerate([*network.remittances, *network.follow_ups])]
    now = datetime(2026, 11, 21, tzinfo=UTC)
    other = _second_database(engine, empty_database_url, network, now)
    try:
        for number, era in enumerate(eras):
            ingest_and_post(engine, era, filename=f"era-{number}.835", channel="test")
            with other.begin() as conn:
                ingest_file(conn, era, filename=f"era-{number}.835", channel="test")
        process_pending(engine)
        process_pending(other)
        fused, stored_then_posted = _ledger_and_payments(engine), _ledger_and_payments(other)
    finally:
        other.dispose()
    report, balance, payments, activities = fused
    assert report["claim_payments"] > 100 and report["ledger"]["balanced"]
    assert {state for _, _, state, *_ in payments} >= {"posted", "unapplied", "reversed"}
    assert fused == stored_then_posted


def test_a_file_whose_posting_fails_is_stored_unposted_and_nothing_is_lost(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from rcmflow.services import posting
    from rcmflow.services.reports import summary

    network = build_network(40, seed=5)
    era = _835(network.remittances[0][1], 100)
    with engine.begin() as conn:
        store_claims(conn, None, [batch for _, _, batch in network.batches], actor="test",
                     now=datetime(2026, 11, 21, tzinfo=UTC))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("contract file unreadable")

    monkeypatch.setattr(posting, "_post_payments", broken)
    result = ingest_and_post(engine, era, filename="era.835", channel="test")
    assert result.status == "parsed" and result.posting is None and len(result.remittance_ids) == 1
    with engine.connect() as conn:
        assert {state for (state,) in conn.execute(select(claim_payments.c.state))} == {"received"}
    with pytest.raises(RuntimeError):  # the failure shows where pending work is posted
        process_pending(engine)
    monkeypatch.undo()
    process_pending(engine)
    with engine.connect() as conn:
        report = summary(conn)
    assert report["claim_payments"] == len(network.remittances[0][1].claims)
    assert report["claim_payments_unmatched"] == 0 and report["ledger"]["balanced"]


def test_ingesting_a_folder_while_reading_ahead_ends_where_file_by_file_ingest_does(
        engine: Engine, empty_database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ingest_and_post_files`` reads the next file in a worker process: the same ledger, states and event log
    as ``ingest_and_post`` of each file in turn, and the files after the first really were read ahead."""
    from rcmflow.services import processing

    network = build_network(120, seed=11)
    paths = []
    for number, (_, remittance) in enumerate([*network.remittances, *network.follow_ups]):
        paths.append(tmp_path / f"era-{number:02d}.835")
        paths[-1].write_bytes(_835(remittance, 100 + number))
    now = datetime(2026, 11, 21, tzinfo=UTC)
    read_ahead: list[bool] = []
    plain = processing.ingest_and_post

    def recording(*args: object, **kwargs: object) -> object:
        read_ahead.append(kwargs.get("contents") is not None)
        return plain(*args, **kwargs)

    other = _second_database(engine, empty_database_url, network, now)
    try:
        monkeypatch.setattr(processing, "ingest_and_post", recording)
        results = list(processing.ingest_and_post_files(engine, paths, channel="test"))
        monkeypatch.undo()
        for path in paths:
            ingest_and_post(other, path.read_bytes(), filename=path.name, channel="test")
        process_pending(engine)
        process_pending(other)
        assert _ledger_and_payments(engine) == _ledger_and_payments(other)
    finally:
        other.dispose()
    assert [path for path, _ in results] == paths and {result.status for _, result in results} == {"parsed"}
    assert read_ahead == [False] + [True] * (len(paths) - 1)
