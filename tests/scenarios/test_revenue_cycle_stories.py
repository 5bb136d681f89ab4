"""The revenue cycle as stories a billing office tells, each through the real pipeline and the sandbox payer:
a clinic visit from charge to paid, a claim the payer's front end rejects that is corrected and paid, and a
secondary claim after the primary paid."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claims, work_items
from rcmflow.domain.trading_partners import parse_trading_partners
from rcmflow.entrypoints.cli_ingest import in_processing_order
from rcmflow.sandbox import PROFILES, respond
from rcmflow.services.intake import ingest_file
from rcmflow.services.outbox import relay_once
from rcmflow.services.processing import ingest_and_post, process_pending
from rcmflow.services.reports import summary
from rcmflow.services.submission import submission_handlers, submit_ready_claims
from tests.entrypoints.test_cli_claims import CLINIC

PARTNERS = parse_trading_partners("""
version: "1"
submitter: {id: VALLEY01, name: VALLEY BILLING, contact: BILLING OFFICE, phone: "8605550100"}
partners:
  - {id: sandbox, name: SANDBOX PAYER, receiver: {id: SANDBOXPAYER}, drop_folder: outbound, payers: ["*"]}
""", source="stories")
HEADER = ("claim_id,claim_type,patient_last_name,patient_first_name,patient_birth_date,patient_sex,patient_address,"
          "patient_city,patient_state,patient_zip,member_id,payer_id,payer_name,billing_npi,billing_name,"
          "billing_tax_id,billing_taxonomy,billing_address,billing_city,billing_state,billing_zip,place_of_service,"
          "diagnoses,coverage_active,secondary_payer_id,secondary_payer_name,secondary_member_id,"
          "secondary_filing_indicator,service_date,procedure_code,units,charge,diagnosis_pointers")
VISIT_DAY = date(2026, 3, 2)


class Office:
    """A billing office: rcmflow on a database, its drop folder, and the sandbox payer's answers."""

    def __init__(self, engine: Engine, folder: Path, profiles: dict | None = None) -> None:
        self.engine, self.folder, self.profiles = engine, folder, profiles
        self.day = VISIT_DAY

    def clock(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, 20, tzinfo=UTC)

    def charges(self, *rows: str) -> None:
        with self.engine.begin() as conn:
            ingest_file(conn, "\n".join([HEADER, *rows]).encode() + b"\n", filename=f"charges-{self.day}.csv",
                        channel="ehr", now=self.clock())

    def submit(self) -> int:
        with self.engine.begin() as conn:
            count = submit_ready_claims(conn, PARTNERS, actor="system:test", now=self.clock()).claims
        relay_once(self.engine, submission_handlers(self.engine, PARTNERS, self.folder), worker_id="test")
        return count

    def payer_answers(self, days: int) -> None:
        """Let ``days`` days pass: the payer answers what is due each day, rcmflow reads and posts it."""
        for _ in range(days):
            self.day += timedelta(days=1)
            respond(self.folder / "outbound", self.folder / "payer", seed=11, as_of=self.day,
                    profiles=self.profiles)
            for path in in_processing_order(sorted(p for p in (self.folder / "payer").iterdir()
                                                   if p.is_file() and not p.name.startswith("."))):
                ingest_and_post(self.engine, path.read_bytes(), filename=path.name, channel="payer",
                                now=self.clock())
            process_pending(self.engine, now=self.clock())
            self.submit()  # what became ready (a secondary claim) goes out the same evening

    def state(self, source_id: str) -> str:
        with self.engine.connect() as conn:
            return conn.execute(select(claims.c.state).where(claims.c.source_id == source_id)
                                .order_by(claims.c.id.desc()).limit(1)).scalar_one()


def row(claim_id: str, *, member: str = "XKB884120301", code: str = "99213", charge: str = "125.00",
        secondary: str = ",,,") -> str:
    return (f"{claim_id},P,Rivera,Ana,1984-07-19,F,12 Oak St,Hartford,CT,06105,{member},60054,ACME HEALTH PLAN,"
            f"1234567893,{CLINIC},11,J02.9,Y,{secondary},{VISIT_DAY},{code},1,{charge},1")


def quiet(**changes: float) -> dict:
    """The demo payer profiles with the randomness taken out where a story needs certainty."""
    calm = {"review_rate": 0.0, "check_rate": 0.0, "recoupment_rate": 0.0, "bundling_rate": 0.0,
            "noncovered_rate": 0.0, "underpayment_rate": 0.0, "deposit_split_rate": 0.0, "deposit_late_rate": 0.0}
    return {payer_id: replace(profile, **{**calm, **changes}) for payer_id, profile in PROFILES.items()}


def test_a_clinic_visit_from_charge_to_paid(engine: Engine, tmp_path: Path) -> None:
    office = Office(engine, tmp_path, quiet(denial_rate=0.0, rejection_rate=0.0, reversal_rate=0.0))
    office.charges(row("VISIT1"))
    assert office.state("VISIT1") == "ready"  # clean at the scrubber
    assert office.submit() == 1
    office.payer_answers(days=30)
    assert office.state("VISIT1") in {"paid", "partially paid"}
    with engine.connect() as conn:
        report = summary(conn)
    assert report["ledger"]["balanced"] and report["claim_payments"] == 1
    assert report["deposits"] >= 1 and report["deposits_reconciled"] == report["deposits"]


def test_a_rejected_claim_is_corrected_and_paid(engine: Engine, tmp_path: Path) -> None:
    office = Office(engine, tmp_path, quiet(denial_rate=0.0, rejection_rate=1.0, reversal_rate=0.0))
    office.charges(row("VISIT2"))
    office.submit()
    office.payer_answers(days=2)
    assert office.state("VISIT2") == "rejected"
    with engine.connect() as conn:
        [item] = conn.execute(select(work_items).where(work_items.c.queue == "claim_rejections")).all()
    assert item.state == "open"
    # The registrar fixes the member id in the EHR, which sends the claim again; this time the payer takes it.
    office.profiles = quiet(denial_rate=0.0, rejection_rate=0.0, reversal_rate=0.0)
    office.charges(row("VISIT2", member="XKB884120399"))
    assert office.state("VISIT2") == "ready"
    office.submit()
    office.payer_answers(days=30)
    assert office.state("VISIT2") in {"paid", "partially paid"}
    with engine.connect() as conn:
        assert conn.execute(select(work_items.c.state).where(work_items.c.id == item.id)).scalar_one() == "cancelled"


def test_a_secondary_claim_after_the_primary_paid(engine: Engine, tmp_path: Path) -> None:
    office = Office(engine, tmp_path, quiet(denial_rate=0.0, rejection_rate=0.0, reversal_rate=0.0))
    office.charges(row("VISIT3", code="99214", charge="180.00", secondary="00590,BLUE RIVER BCBS,BRX5512,BL"))
    office.submit()
    office.payer_answers(days=40)
    assert office.state("VISIT3") in {"paid", "partially paid"}
    with engine.connect() as conn:
        primary_id = conn.execute(select(claims.c.id).where(claims.c.source_id == "VISIT3")).scalar_one()
        secondary = conn.execute(select(claims).where(claims.c.primary_claim_id == primary_id)).one()
    assert secondary.payer_id == "00590" and secondary.filing_order == "S"
    assert secondary.state in {"submitted", "accepted", "paid", "partially paid", "denied", "scrubbed"}


def overturned_835(engine: Engine, source_id: str) -> bytes:
    """The payer's answer to an appeal: it reprocesses the claim and pays it (a later ERA, same claim number)."""
    import random

    from rcmflow.adapters.store.schema import submissions
    from rcmflow.formats.x12.parser import parse
    from rcmflow.formats.x12.ts835_write import write_835_interchange
    from rcmflow.formats.x12.writing import CountingControlNumbers
    from rcmflow.formats.x12.writing import Party as Envelope
    from rcmflow.services.demo_data import PAYERS, _adjudicate, _remittance, build_network

    with engine.connect() as conn:
        claim_row = conn.execute(select(claims).where(claims.c.source_id == source_id)).one()
        content = conn.execute(select(submissions.c.content).where(
            submissions.c.id == claim_row.submission_id)).scalar_one()
    [batch] = parse(bytes(content), strict=True).of_type("837P")
    [claim] = [c for c in batch.claims if c.patient_control_number == source_id]
    acme = next(payer for payer in PAYERS if payer.payer_id == "60054")
    payment = next(p for p in (_adjudicate(random.Random(seed), claim, acme, 1) for seed in range(200))
                   if p.status == "1")._replace(payer_claim_control_number=claim_row.payer_claim_number)
    remittance = _remittance(random.Random(1), acme, build_network(1, 1).batches[0][0], [payment], 77,
                             VISIT_DAY + timedelta(days=60))._replace(provider_adjustments=())
    remittance = remittance._replace(payment_amount=payment.paid)
    return write_835_interchange([remittance], Envelope("60054"), Envelope("VALLEY01"),
                                 CountingControlNumbers(900)).encode()


def test_a_denial_is_appealed_and_the_payer_overturns_it(engine: Engine, tmp_path: Path) -> None:
    from rcmflow.adapters.store.schema import appeals
    from rcmflow.services.appeals import draft_appeal, submit_appeal

    office = Office(engine, tmp_path, quiet(denial_rate=1.0, rejection_rate=0.0, reversal_rate=0.0))
    office.charges(row("VISIT4", code="99214", charge="180.00"))
    office.submit()
    office.payer_answers(days=30)
    assert office.state("VISIT4") == "denied"
    with engine.connect() as conn:
        claim_id = conn.execute(select(claims.c.id).where(claims.c.source_id == "VISIT4")).scalar_one()
        [denial] = conn.execute(select(work_items).where(work_items.c.queue == "denials")).all()
    assert denial.state == "open"

    # The denial specialist appeals with the visit notes; the packet goes to the payer's folder.
    with engine.begin() as conn:
        appeal_id = draft_appeal(conn, claim_id, reason="Visit notes attached: moderate complexity decision making "
                                 "supports 99214.", actor="user:dana", now=office.clock())
        submit_appeal(conn, appeal_id, PARTNERS, actor="user:dana", now=office.clock())
    relay_once(engine, submission_handlers(engine, PARTNERS, tmp_path), worker_id="test")
    assert (tmp_path / "outbound" / f"appeal-{appeal_id}-level1.json").exists()
    assert office.state("VISIT4") == "appealed"
    with engine.connect() as conn:
        assert conn.execute(select(work_items.c.state).where(work_items.c.id == denial.id)).scalar_one() == "resolved"
        denial_codes = conn.execute(select(appeals.c.denial_codes)).scalar_one()
    assert denial_codes and all(code.split("-")[0] in {"CO", "OA", "PI"} for code in denial_codes)

    # The payer reconsiders and pays in a later ERA: the claim is paid and the appeal won.
    ingest_and_post(engine, overturned_835(engine, "VISIT4"), filename="acme-reprocessed.835", channel="payer",
                    now=office.clock())
    process_pending(engine, now=office.clock())
    assert office.state("VISIT4") in {"paid", "partially paid"}
    with engine.connect() as conn:
        assert conn.execute(select(appeals.c.state)).scalar_one() in {"won", "partially won"}
