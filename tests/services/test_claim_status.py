"""Claim status follow-up: 276 inquiries for claims a payer holds too long, 277 answers moving them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claims, work_items
from rcmflow.domain.claim_status import ClaimStatus, ClaimStatusResponse, Status, StatusEntry
from rcmflow.domain.trading_partners import load_trading_partners
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts277_write import write_277_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as Envelope
from rcmflow.services.claim_status import overdue_claims, status_inquiries
from rcmflow.services.intake import ingest_file
from rcmflow.services.submission import submit_ready_claims
from tests.formats.x12.test_ts277_write import ACME, JOHN, PROVIDER, RECEIVER
from tests.services.test_submission import HEADER, ROWS

SUBMITTED = datetime(2026, 3, 20, 20, tzinfo=UTC)


def setup(engine: Engine) -> None:
    with engine.begin() as conn:
        ingest_file(conn, ("\n".join([HEADER, *ROWS[:2]]) + "\n").encode(), filename="c.csv", channel="test",
                    now=SUBMITTED - timedelta(days=1))
        assert submit_ready_claims(conn, load_trading_partners(), actor="test", now=SUBMITTED).claims == 2


def answer(pcn: str, category: str, code: str) -> bytes:
    entry = StatusEntry((Status(category, code),), date(2026, 4, 25))
    response = ClaimStatusResponse("0001", "005010X212", "08", "STATUS1", date(2026, 4, 25), "1000", "DG", (), (
        ClaimStatus(pcn, (entry,), "ICN77", payer=ACME, receiver=RECEIVER, provider=PROVIDER, subscriber=JOHN),))
    return write_277_interchange([response], Envelope("ACME"), Envelope("RCMFLOWDEMO"),
                                 CountingControlNumbers()).encode()


def test_overdue_claims_are_asked_about_and_answers_move_them(engine: Engine) -> None:
    setup(engine)
    with engine.begin() as conn:
        assert overdue_claims(conn, older_than=timedelta(days=30), now=SUBMITTED + timedelta(days=10)) == []
        ids = overdue_claims(conn, older_than=timedelta(days=30), now=SUBMITTED + timedelta(days=31))
        assert len(ids) == 2
        texts = status_inquiries(conn, ids, load_trading_partners(), now=SUBMITTED + timedelta(days=31))
    [request] = parse(texts["sandbox"].encode(), strict=True).of_type("276")
    assert sorted(inquiry.trace_number for inquiry in request.claims) == ["A1", "A2"]
    assert all(inquiry.payer.id == "60054" and inquiry.charge for inquiry in request.claims)

    with engine.begin() as conn:
        finalized = ingest_file(conn, answer("A1", "F1", "65"), filename="a1.277", channel="test")
        asks = ingest_file(conn, answer("A2", "R4", "252"), filename="a2.277", channel="test")
    assert finalized.summary["claim_status"]["adjudicated"] == 1
    assert asks.summary["claim_status"]["information_requested"] == 1
    with engine.connect() as conn:
        states = dict(conn.execute(select(claims.c.source_id, claims.c.state)).all())
        [item] = conn.execute(select(work_items).where(
            work_items.c.item_type == "payer requests information")).all()
    assert states == {"A1": "adjudicated", "A2": "submitted"}
    assert item.details["stc"] == ["R4:252"]
