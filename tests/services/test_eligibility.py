"""Eligibility: 270 inquiries for claims waiting on it, 271 answers stored per patient and payer, and the
claims they concern scrubbed again: active coverage releases them, inactive coverage holds them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claims, eligibility_responses, utc_now
from rcmflow.domain.eligibility import Benefit, EligibilityResponse, MemberEligibility, summarise_member
from rcmflow.domain.parties import Party
from rcmflow.domain.remittance import QualifiedDate
from rcmflow.domain.trading_partners import load_trading_partners
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts271_write import write_271_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as Envelope
from rcmflow.services.charge_claims import load_source_claims
from rcmflow.services.eligibility import write_inquiries
from rcmflow.services.intake import ingest_file
from tests.entrypoints.test_cli_claims import CLINIC, HEADER

ROWS = [  # no coverage columns: nothing on file until the payer answers
    f"E1,P,Rivera,Ana,1984-07-19,F,12 Oak St,Hartford,CT,06105,XKB884120301,60054,ACME HEALTH PLAN,1234567893,"
    f"{CLINIC},11,J02.9,,2026-03-02,99213,,1,125.00,1,,",
    f"E2,P,Stone,Bea,1990-01-02,F,3 Pine St,Hartford,CT,06105,XKB000000002,60054,ACME HEALTH PLAN,1234567893,"
    f"{CLINIC},11,J02.9,,2026-03-02,99213,,1,125.00,1,,",
]
ACME = Party("PR", "ACME HEALTH PLAN", entity_type="2", id_qualifier="PI", id="60054")
CLINIC_PARTY = Party("1P", "VALLEY CLINIC", entity_type="2", id_qualifier="XX", id="1234567893")


@pytest.fixture(autouse=True)
def _scrub_as_of_march(monkeypatch: pytest.MonkeyPatch) -> None:
    import rcmflow.services.intake as intake

    real_store, real_rescrub = intake.store_charge_claims, intake.rescrub_claims
    monkeypatch.setattr(intake, "store_charge_claims",
                        lambda *args, **kwargs: real_store(*args, **{**kwargs, "today": date(2026, 3, 20)}))
    monkeypatch.setattr(intake, "rescrub_claims",
                        lambda *args, **kwargs: real_rescrub(*args, **{**kwargs, "today": date(2026, 3, 20)}))


def answer(member_id: str, last: str, first: str, birth: date, information: str) -> EligibilityResponse:
    member = MemberEligibility(
        ACME, CLINIC_PARTY, Party("IL", last, first, entity_type="1", id_qualifier="MI", id=member_id,
                                  birth_date=birth, gender="F"),
        dates=(QualifiedDate("346", date(2026, 1, 1)),),
        benefits=(Benefit(information, "IND", ("30",), "PR", "GOLD PPO"),
                  Benefit("B", "IND", ("98",), time_period="27", amount=Decimal("25.00"), in_network="Y"),
                  Benefit("C", "IND", ("30",), time_period="29", amount=Decimal("350.00"), in_network="Y"),
                  Benefit("A", "IND", ("30",), time_period="27", percent=Decimal("0.2"), in_network="Y")))
    return EligibilityResponse("0001", (member,), reference="ELIG1", created=date(2026, 3, 10))


def ingest(engine: Engine, content: str, name: str):
    with engine.begin() as conn:
        return ingest_file(conn, content.encode(), filename=name, channel="test")


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(claims.c.source_id, claims.c.state)).all())


def test_a_271_releases_or_holds_the_claims_waiting_on_eligibility(engine: Engine) -> None:
    ingest(engine, "\n".join([HEADER, *ROWS]) + "\n", "charges.csv")
    assert states(engine) == {"E1": "scrubbed", "E2": "scrubbed"}  # routed for review: nothing on file

    with engine.begin() as conn:
        ids = list(conn.execute(select(claims.c.id).order_by(claims.c.id)).scalars())
        texts = write_inquiries(conn, [s for _, s in load_source_claims(conn, ids)], load_trading_partners(),
                                now=utc_now())
    [inquiry] = parse(texts["sandbox"].encode(), strict=True).of_type("270")
    assert [(m.subscriber.id, m.payer.id, m.dates[0].value) for m in inquiry.members] == [
        ("XKB884120301", "60054", date(2026, 3, 2)), ("XKB000000002", "60054", date(2026, 3, 2))]

    responses = [answer("XKB884120301", "RIVERA", "ANA", date(1984, 7, 19), "1"),
                 answer("XKB000000002", "STONE", "BEA", date(1990, 1, 2), "6")._replace(control_number="0002")]
    text = write_271_interchange(responses, Envelope("ACME"), Envelope("RCMFLOWDEMO"), CountingControlNumbers())
    outcome = ingest(engine, text, "acme.271")
    assert outcome.summary["eligibility"]["members"] == 2
    assert outcome.summary["eligibility"]["ready"] == 1 and outcome.summary["eligibility"]["held"] == 1
    assert states(engine) == {"E1": "ready", "E2": "scrubbed"}
    with engine.connect() as conn:
        stored = {row.member_id: row for row in conn.execute(select(eligibility_responses))}
    assert stored["XKB884120301"].status == "active" and str(stored["XKB884120301"].copay) == "25.00"
    assert str(stored["XKB884120301"].deductible_remaining) == "350.00"
    assert stored["XKB000000002"].status == "inactive"


def test_an_eligibility_summary_reads_status_dates_and_amounts() -> None:
    summary = summarise_member(answer("M1", "DOE", "JANE", date(1980, 1, 1), "1").members[0])
    assert (summary.status, summary.plan_begin, summary.copay, summary.coinsurance) == (
        "active", date(2026, 1, 1), Decimal("25.00"), Decimal("0.2"))
    assert summary.active_on(date(2026, 3, 2)) is True and summary.active_on(date(2025, 12, 31)) is False
    inactive = summarise_member(answer("M1", "DOE", "JANE", date(1980, 1, 1), "6").members[0])
    assert inactive.status == "inactive" and inactive.active_on(date(2026, 3, 2)) is False
