"""Coordination of benefits: after the primary's 835 posts, the secondary claim goes to the next payer with the
primary's adjudication (2320/2330/2430); a crossover (CLP02 19) is not billed again."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claims, submissions, utc_now
from rcmflow.domain.trading_partners import load_trading_partners
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as Envelope
from rcmflow.services.demo_data import PAYERS, _adjudicate, _remittance, build_network
from rcmflow.services.intake import ingest_file
from rcmflow.services.processing import ingest_and_post, process_pending
from rcmflow.services.submission import submit_ready_claims
from tests.entrypoints.test_cli_claims import CLINIC

HEADER = ("claim_id,claim_type,patient_last_name,patient_first_name,patient_birth_date,patient_sex,patient_address,"
          "patient_city,patient_state,patient_zip,member_id,payer_id,payer_name,billing_npi,billing_name,"
          "billing_tax_id,billing_taxonomy,billing_address,billing_city,billing_state,billing_zip,place_of_service,"
          "diagnoses,coverage_active,secondary_payer_id,secondary_payer_name,secondary_member_id,"
          "secondary_filing_indicator,service_date,procedure_code,units,charge,diagnosis_pointers")
PERSON = "Rivera,Ana,1984-07-19,F,12 Oak St,Hartford,CT,06105,XKB884120301,60054,ACME HEALTH PLAN,1234567893"
CHARGES = "\n".join([
    HEADER,
    f"S1,P,{PERSON},{CLINIC},11,J02.9,Y,00590,BLUE RIVER BCBS,BRX5512,BL,2026-03-02,99213,1,125.00,1",
    "S1,,,,,,,,,,,,,,,,,,,,,,,,,,,,2026-03-02,87880,1,28.50,1",
    f"S2,P,{PERSON},{CLINIC},11,J02.9,Y,00590,BLUE RIVER BCBS,BRX5512,BL,2026-03-03,99214,1,180.00,1",
]) + "\n"


@pytest.fixture(autouse=True)
def _as_of_march(monkeypatch: pytest.MonkeyPatch) -> None:
    import rcmflow.services.intake as intake
    import rcmflow.services.processing as processing

    real = intake.store_charge_claims
    monkeypatch.setattr(intake, "store_charge_claims",
                        lambda *args, **kwargs: real(*args, **{**kwargs, "today": date(2026, 3, 20)}))
    real_secondary = processing.bill_secondary
    monkeypatch.setattr(processing, "bill_secondary",
                        lambda *args, **kwargs: real_secondary(*args, **{**kwargs, "today": date(2026, 3, 25)}))


def primary_835(engine: Engine, crossover: set[str]) -> bytes:
    """The primary payer's 835 for what was submitted to it: paid with patient responsibility, as the demo's
    payers adjudicate (status 19, forwarded to the secondary, for the claims in ``crossover``)."""
    with engine.connect() as conn:
        content = conn.execute(select(submissions.c.content).where(submissions.c.payer_id == "60054")).scalar_one()
    [batch] = parse(bytes(content), strict=True).of_type("837P")
    acme = next(payer for payer in PAYERS if payer.payer_id == "60054")
    facility = build_network(1, 1).batches[0][0]
    rng = random.Random(3)
    payments = []
    for n, claim in enumerate(batch.claims):
        # The first seed (in a fixed order) at which the payer pays and leaves a balance to bill on.
        payment = next(p for p in (_adjudicate(random.Random(seed), claim, acme, n) for seed in range(200))
                       if p.status == "1" and p.patient_responsibility)
        payments.append(payment._replace(status="19") if claim.patient_control_number in crossover else payment)
    remittance = _remittance(rng, acme, facility, payments, 1, date(2026, 3, 15))._replace(provider_adjustments=())
    remittance = remittance._replace(payment_amount=sum(p.paid for p in payments))
    return write_835_interchange([remittance], Envelope("60054"), Envelope("RCMFLOWDEMO"),
                                 CountingControlNumbers()).encode()


def test_the_secondary_claim_carries_the_primary_adjudication(engine: Engine) -> None:
    with engine.begin() as conn:
        ingest_file(conn, CHARGES.encode(), filename="charges.csv", channel="test")
        assert submit_ready_claims(conn, load_trading_partners(), actor="test", now=utc_now()).claims == 2
    ingest_and_post(engine, primary_835(engine, crossover={"S2"}), filename="acme.835", channel="test")
    result = process_pending(engine)
    assert len(result.secondary.created) == 1 and len(result.secondary.crossover) == 1
    with engine.connect() as conn:
        rows = {row.source_id: row for row in conn.execute(select(claims))}
    assert rows["S1"].secondary_billing == "billed" and rows["S2"].secondary_billing == "crossover"
    secondary = rows["S1/S"]
    assert secondary.primary_claim_id == rows["S1"].id and secondary.payer_id == "00590"
    assert secondary.filing_order == "S" and secondary.member_id == "BRX5512"
    assert secondary.state in {"ready", "scrubbed"}

    # Submitted, the secondary 837 carries loops 2320/2330 and 2430 that the reader reads back.
    with engine.begin() as conn:
        conn.execute(claims.update().where(claims.c.id == secondary.id).values(state="ready"))
        submit_ready_claims(conn, load_trading_partners(), actor="test", now=utc_now())
        content = conn.execute(select(submissions.c.content).where(submissions.c.payer_id == "00590")).scalar_one()
    [batch] = parse(bytes(content), strict=True).of_type("837P")
    [claim] = batch.claims
    [other] = claim.other_payers
    assert claim.subscriber.payer_responsibility == "S" and other.subscriber.payer_responsibility == "P"
    assert other.payer.id == "60054" and other.adjudication_date == date(2026, 3, 15)
    paid = other.paid
    lines_paid = sum(line.adjudications[0].paid for line in claim.service_lines)
    assert paid == lines_paid and paid > 0
    for line in claim.service_lines:
        [adjudication] = line.adjudications
        cas = sum(adjustment.amount for adjustment in adjudication.adjustments)
        assert line.charge - cas == adjudication.paid  # each line balances as the primary adjudicated it
        assert {a.group for a in adjudication.adjustments} <= {"CO", "PR"}


def test_billing_the_secondary_again_changes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        ingest_file(conn, CHARGES.encode(), filename="charges.csv", channel="test")
        submit_ready_claims(conn, load_trading_partners(), actor="test", now=utc_now())
    ingest_and_post(engine, primary_835(engine, crossover=set()), filename="acme.835", channel="test")
    first = process_pending(engine)
    again = process_pending(engine)
    assert len(first.secondary.created) == 2 and again.secondary.created == []
