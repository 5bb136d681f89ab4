"""Data for the record pages' tests, made through the real pipeline: a billing office (the scenario tests'
``Office``) bills two visits of one patient to the sandbox payer ACME, which underpays one and denies the
other; the payer's 999, 277CA, 835 and bank files are ingested, posted and reconciled; a 271 puts the
patient's eligibility on file; and a charge with an unbillable diagnosis is held by the scrubber."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claim_payments, claims
from rcmflow.formats.x12.ts271_write import write_271_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as Envelope
from rcmflow.services.intake import ingest_file
from tests.entrypoints.test_cli_claims import CLINIC, HEADER, PATIENT
from tests.scenarios.test_revenue_cycle_stories import Office, quiet, row
from tests.services.test_eligibility import answer

MEMBER_ID = "XKB884120301"  # the patient's member id with ACME: never shown whole on a page
CLINIC_NPI = "1234567893"
PAYMENT_DAYS = 25  # ACME answers within 10 to 18 days and pays on Tuesdays and Fridays


@dataclass(frozen=True)
class Story:
    paid: int  # claim ids
    denied: int
    held: int
    paid_remittance: int  # remittance ids
    denied_remittance: int


def _claim(engine: Engine, source_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(claims.c.id).where(claims.c.source_id == source_id)
                            .order_by(claims.c.id.desc()).limit(1)).scalar_one()


def _remittance(engine: Engine, claim_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(select(claim_payments.c.remittance_id).where(claim_payments.c.claim_id == claim_id)
                            .order_by(claim_payments.c.id.desc()).limit(1)).scalar_one()


def tell(engine: Engine, folder: Path) -> Story:
    """Run the story on ``engine`` (drop folders under ``folder``)."""
    # The paid visit is underpaid: the payer allows less than its contract, a variance beyond tolerance.
    office = Office(engine, folder, quiet(denial_rate=0.0, rejection_rate=0.0, reversal_rate=0.0,
                                          underpayment_rate=1.0))
    office.charges(row("VISITP", code="99213", charge="125.00"))
    office.submit()
    office.payer_answers(days=PAYMENT_DAYS)
    office.profiles = quiet(denial_rate=1.0, rejection_rate=0.0, reversal_rate=0.0)
    office.charges(row("VISITD", code="99214", charge="180.00"))
    office.submit()
    office.payer_answers(days=PAYMENT_DAYS)
    assert office.state("VISITP") in {"paid", "partially paid"} and office.state("VISITD") == "denied"

    eligibility = answer(MEMBER_ID, "RIVERA", "ANA", date(1984, 7, 19), "1")
    with engine.begin() as conn:
        ingest_file(conn, write_271_interchange([eligibility], Envelope("60054"), Envelope("VALLEY01"),
                                                CountingControlNumbers()).encode(), filename="acme.271",
                    channel="payer", now=office.clock())
        ingest_file(conn, "\n".join([HEADER, f"HELD1,P,{PATIENT},60054,ACME HEALTH PLAN,{CLINIC_NPI},{CLINIC},11,E11,Y,"
                                             f"2026-03-10,99214,,1,180.00,1,,"]).encode() + b"\n",
                    filename="held.csv", channel="ehr", now=office.clock())
    paid, denied = _claim(engine, "VISITP"), _claim(engine, "VISITD")
    return Story(paid, denied, _claim(engine, "HELD1"), _remittance(engine, paid), _remittance(engine, denied))
