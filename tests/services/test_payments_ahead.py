"""Claim payments built ahead of their file: used only when built from the very inputs, and then the same rows."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import (
    claim_lines,
    claim_payments,
    claims,
    journal_entries,
    journal_lines,
    ledger_accounts,
    payment_adjustments,
    remittances,
    service_payments,
)
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers, Party
from rcmflow.services.claims import store_claims
from rcmflow.services.demo_data import build_network
from rcmflow.services.payments_ahead import PaymentsAhead
from rcmflow.services.posting_load import build_new_payments
from rcmflow.services.processing import ingest_and_post
from rcmflow.services.remittances import store_remittances
from rcmflow.services.x12_reading import DocumentContents, read_x12

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def _era(remittance: object, number: int) -> tuple[bytes, DocumentContents]:
    content = write_835_interchange([remittance], Party(remittance.payer.id), Party("CLINIC"),
                                    CountingControlNumbers(start=100 + number)).encode()
    return content, read_x12(f"era-{number}.835", content)


# Id columns and the tables they count in: ids are compared from each table's first id (PostgreSQL's sequences
# do not start over between tests), so the rows and what they point at must be the same.
_IDS = {"id": None, "remittance_id": remittances, "claim_id": claims, "claim_payment_id": claim_payments,
        "claim_line_id": claim_lines, "service_payment_id": service_payments, "entry_id": journal_entries,
        "account_id": ledger_accounts}


def _rows(engine: Engine) -> dict[str, list[tuple]]:
    """Every row posting wrote for the payments, ids counted from each table's first."""
    tables = (claim_payments, service_payments, payment_adjustments, journal_lines)
    with engine.connect() as conn:
        first = {table.name: conn.execute(select(func.min(table.c.id))).scalar_one()
                 for table in {*tables, *(table for table in _IDS.values() if table is not None)}}
        found = {}
        for table in tables:
            names = [column.name for column in table.columns]
            found[table.name] = [
                tuple(value - first[(_IDS[name] if _IDS[name] is not None else table).name]
                      if name in _IDS and value is not None else value for name, value in zip(names, row, strict=True))
                for row in conn.execute(select(table).order_by(table.c.id))]
        return found


def _two_databases(engine: Engine, empty_database_url: str) -> tuple[Engine, list, object]:
    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema

    network = build_network(60, seed=7)
    other = create_engine_for(empty_database_url)
    ensure_schema(other)
    for target in (engine, other):
        with target.begin() as conn:
            store_claims(conn, None, [batch for _, _, batch in network.batches], actor="test", now=NOW)
    eras = [_era(remittance, number) for number, (_, remittance) in enumerate(network.remittances[:3])]
    return other, eras, network


def _ingest(engine: Engine, eras: list, ahead: PaymentsAhead | None) -> None:
    for number, (content, contents) in enumerate(eras):
        if ahead is not None:
            following = eras[number + 1][1].remittances if number + 1 < len(eras) else None
            ahead.expect(None if following is None else lambda following=following: following)
        result = ingest_and_post(engine, content, filename=f"era-{number}.835", channel="test", now=NOW,
                                 contents=contents, ahead=ahead)
        assert result.posting is not None and result.posting.claim_payments > 0


def test_payments_built_ahead_are_taken_and_write_the_rows_building_them_then_would(
        engine: Engine, empty_database_url: str) -> None:
    other, eras, _ = _two_databases(engine, empty_database_url)
    try:
        ahead = PaymentsAhead()
        _ingest(engine, eras, ahead)
        _ingest(other, eras, None)
        assert (ahead.taken, ahead.missed) == (2, 0)  # every file after the first
        assert _rows(engine) == _rows(other)
    finally:
        other.dispose()


def test_ids_taken_by_another_writer_in_between_make_the_guess_miss_and_posting_builds_anew(
        engine: Engine, empty_database_url: str) -> None:
    other, eras, network = _two_databases(engine, empty_database_url)
    stray = network.remittances[5][1]
    try:
        ahead = PaymentsAhead()
        for target, files_ahead in ((engine, ahead), (other, None)):
            def post(number: int, following: int | None, target: Engine = target,
                     files_ahead: PaymentsAhead | None = files_ahead) -> None:
                if files_ahead is not None:
                    files_ahead.expect(None if following is None else lambda: eras[following][1].remittances)
                ingest_and_post(target, eras[number][0], filename=f"era-{number}.835", channel="test", now=NOW,
                                contents=eras[number][1], ahead=files_ahead)

            post(0, 1)  # builds file 1's payments while its rows are written
            with target.begin() as conn:  # another intake stores claim payments meanwhile: the ids move on
                store_remittances(conn, None, [stray], actor="test", now=NOW)
            post(1, 2)  # the guess misses: built anew; file 2's are built at its end
            post(2, None)  # taken
        assert (ahead.taken, ahead.missed) == (1, 1)
        assert _rows(engine) == _rows(other)
    finally:
        other.dispose()


def test_take_wants_every_input_the_same() -> None:
    network = build_network(20, seed=3)
    items = [network.remittances[0][1]]
    before = network.remittances[1][1]
    ahead = PaymentsAhead()
    ahead.expect(lambda: items)

    def after_the_file_before() -> None:
        ahead.take([(7, before)], {7: NOW.date()}, "default", [40], [90])  # notes the ids that follow
        ahead.build_next(closed=set(), now=NOW, organisation_id="default")

    claims = sum(len(item.claims) for item in items)
    lines = sum(len(claim.service_payments) for item in items for claim in item.claims)
    new, claim_ids, line_ids = [(8, items[0])], list(range(41, 41 + claims)), list(range(91, 91 + lines))
    dates = {8: items[0].payment_date}
    for changed in ((new, dates, "other", claim_ids, line_ids),
                    (new, dates, "default", [number + 1 for number in claim_ids], line_ids),
                    (new, dates, "default", claim_ids, [number + 1 for number in line_ids]),
                    ([(9, items[0])], {9: items[0].payment_date}, "default", claim_ids, line_ids),
                    ([(8, copy.copy(items[0]))], dates, "default", claim_ids, line_ids),  # equal, read again
                    (new, {8: NOW.date()}, "default", claim_ids, line_ids)):
        after_the_file_before()
        assert ahead.take(*changed) is None
    assert (ahead.taken, ahead.missed) == (0, 6)
    after_the_file_before()
    built = ahead.take(new, dates, "default", claim_ids, line_ids)
    assert built is not None and ahead.taken == 1
    assert [(p.id, p.row, p.adjustments, p.lines, p.posting_date, p.units, p.allowed, p.rows) for p in built] == [
        (p.id, p.row, p.adjustments, p.lines, p.posting_date, p.units, p.allowed, p.rows)
        for p in build_new_payments(new, dates, "default", claim_ids, line_ids)]
