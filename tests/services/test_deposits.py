"""Bank deposits are stored once each: from BAI2 and lockbox files, through intake, whatever is re-sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, func, select

from rcmflow.adapters.store.schema import deposits, documents, event_log
from rcmflow.domain.deposit import CREDIT, Deposit
from rcmflow.formats.bai2 import parse_bai2
from rcmflow.formats.lockbox_csv import parse_lockbox_csv
from rcmflow.services.deposits import deposit_key, store_deposits
from rcmflow.services.intake import ingest_file

FIXTURES = Path(__file__).parents[1] / "formats" / "fixtures"
BAI2 = (FIXTURES / "bai2_two_groups.bai").read_bytes()
LOCKBOX = (FIXTURES / "lockbox_march.csv").read_bytes()
NOW = datetime(2025, 3, 14, 7, 0, tzinfo=UTC)


def _count(conn: Connection, table: Table = deposits) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _receipts(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(event_log).where(
        event_log.c.object_type == "bank deposit", event_log.c.activity == "receive bank deposit")).scalar_one()


def test_bai2_deposits_are_stored_with_their_direction_and_trace(engine: Engine) -> None:
    items = parse_bai2(BAI2).deposits
    with engine.begin() as conn:
        result = store_deposits(conn, None, items, actor="job:bank", now=NOW)
        rows = conn.execute(select(deposits).order_by(deposits.c.id)).all()
        receipts = _receipts(conn)

    assert len(result.stored) == 7 and result.duplicates == 0
    assert [row.id for row in rows] == list(result.stored)
    assert [(r.account, r.amount, r.direction, r.type_code, r.value_date) for r in rows] == [
        ("4000123456", Decimal("48239.50"), "credit", "165", date(2025, 3, 13)),
        ("4000123456", Decimal("12500.00"), "credit", "165", date(2025, 3, 13)),
        ("4000123456", Decimal("31575.24"), "credit", "175", date(2025, 3, 13)),
        ("4000123456", Decimal("3000.00"), "credit", "195", date(2025, 3, 14)),
        ("7700555000", Decimal("10000.00"), "credit", "169", date(2025, 3, 13)),
        ("7700555000", Decimal("450.00"), "debit", "475", date(2025, 3, 13)),
        ("7700555000", Decimal("125.00"), "credit", "399", date(2025, 3, 13)),
    ]
    aetna = rows[0]
    assert (aetna.trace_number, aetna.originator_id, aetna.payer_name, aetna.source, aetna.line) == (
        "12345678", "1512345678", "AETNA AS01", "bai2", 5)
    assert (aetna.state, aetna.matched_amount, aetna.bank, aetna.currency) == (
        "received", Decimal("0.00"), "122000661", "USD")
    assert rows[6].trace_number is None and rows[6].customer_reference is None  # empty text is NULL, not ""
    assert receipts == 7


def test_the_same_file_twice_stores_nothing_the_second_time(engine: Engine) -> None:
    items = parse_bai2(BAI2).deposits
    with engine.begin() as conn:
        store_deposits(conn, None, items, actor="job:bank", now=NOW)
    with engine.begin() as conn:
        again = store_deposits(conn, None, items, actor="job:bank", now=NOW)
        count, receipts = _count(conn), _receipts(conn)
    assert (again.stored, again.duplicates) == ((), 7)
    assert (count, receipts) == (7, 7)


def test_intraday_then_prior_day_report_of_one_transaction_is_one_deposit(engine: Engine) -> None:
    intraday = parse_bai2(BAI2).deposits[0]
    prior_day = intraday._replace(line=41)  # same transaction, elsewhere in another file
    with engine.begin() as conn:
        first = store_deposits(conn, None, [intraday], actor="job:bank", now=NOW)
        second = store_deposits(conn, None, [prior_day], actor="job:bank", now=NOW)
        assert _count(conn) == 1
    assert len(first.stored) == 1 and (second.stored, second.duplicates) == ((), 1)
    assert deposit_key(intraday) == deposit_key(prior_day)


def test_key_changes_with_what_identifies_the_transaction() -> None:
    base = Deposit(account="1", amount=Decimal("10.00"), value_date=date(2025, 3, 13), direction=CREDIT,
                   check_number="100")
    assert deposit_key(base) == deposit_key(base._replace(amount=Decimal("10.0")))  # same amount, other scale
    assert len({deposit_key(base), deposit_key(base._replace(amount=Decimal("10.01"))),
                deposit_key(base._replace(check_number="101")), deposit_key(base._replace(direction="debit")),
                deposit_key(base._replace(value_date=date(2025, 3, 14))),
                deposit_key(base._replace(account="2"))}) == 6


def test_identical_items_in_one_file_are_different_money(engine: Engine) -> None:
    item = Deposit(account="4000123456", amount=Decimal("25.00"), value_date=date(2025, 3, 14), direction=CREDIT,
                   batch="003", source="lockbox_csv")
    with engine.begin() as conn:
        first = store_deposits(conn, None, [item, item._replace(line=3)], actor="job:bank", now=NOW)
        again = store_deposits(conn, None, [item, item._replace(line=3)], actor="job:bank", now=NOW)
        count = _count(conn)
    assert len(first.stored) == 2 and (again.stored, again.duplicates) == ((), 2)
    assert count == 2


def test_long_bank_text_is_cut_to_the_column(engine: Engine) -> None:
    item = Deposit(account="1", amount=Decimal("1.00"), value_date=None, direction=CREDIT, text="X" * 700,
                   source="bai2")
    with engine.begin() as conn:
        store_deposits(conn, None, [item], actor="job:bank", now=NOW)
        stored = conn.execute(select(deposits.c.text, deposits.c.value_date)).one()
    assert (len(stored.text), stored.value_date) == (500, None)


def test_lockbox_items_keep_check_batch_and_claim_reference(engine: Engine) -> None:
    with engine.begin() as conn:
        result = store_deposits(conn, None, parse_lockbox_csv(LOCKBOX).deposits, actor="job:bank",
                                now=NOW, organisation_id="north")
        rows = conn.execute(select(deposits).order_by(deposits.c.id)).all()
    assert len(result.stored) == 4
    assert [(r.organisation_id, r.check_number, r.batch, r.amount, r.claim_reference, r.source) for r in rows] == [
        ("north", "104233", "001", Decimal("1520.75"), "PCN-0042", "lockbox_csv"),
        ("north", "104234", "001", Decimal("2310.00"), "PCN-0043", "lockbox_csv"),
        ("north", "88120", "002", Decimal("0.01"), None, "lockbox_csv"),
        ("north", "88121", "002", Decimal("410.50"), None, "lockbox_csv"),
    ]


def test_ingesting_a_bai2_file_stores_its_deposits_once(engine: Engine) -> None:
    with engine.begin() as conn:
        result = ingest_file(conn, BAI2, filename="prior-day.bai", channel="sftp", actor="job:intake")
    with engine.begin() as conn:
        again = ingest_file(conn, BAI2, filename="prior-day-copy.bai", channel="sftp", actor="job:intake")
        linked = conn.execute(select(func.count()).select_from(deposits)
                              .where(deposits.c.document_id == result.document_id)).scalar_one()
        count, document_count = _count(conn), _count(conn, documents)
    assert (result.status, result.detected_type, result.summary["deposits"]) == ("parsed", "bai2", 6)
    assert not again.created
    assert (linked, count, document_count) == (7, 7, 1)


def test_a_bai2_file_with_errors_stores_no_deposits(engine: Engine) -> None:
    broken = BAI2.replace(b"49,255559031,9/", b"49,255559032,9/")  # account control total off by a cent
    with engine.begin() as conn:
        result = ingest_file(conn, broken, filename="bad.bai", channel="sftp", actor="job:intake")
        count = _count(conn)
    assert result.status == "failed" and count == 0


def test_a_lockbox_file_through_intake_stores_its_items(engine: Engine) -> None:
    with engine.begin() as conn:
        result = ingest_file(conn, LOCKBOX, filename="lockbox.csv", channel="sftp", actor="job:intake")
        count = _count(conn)
    assert (result.status, result.detected_type, count) == ("parsed", "lockbox_csv", 4)
