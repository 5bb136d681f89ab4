"""Submitting ready claims: batches per partner, payer and type, charges posted on submission, files dropped
atomically through the outbox; 999 rejections and 277CA acceptances and rejections move the claims; a
rejected claim corrected at the source goes out again."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from rcmflow.adapters.channels.folder import drop_file
from rcmflow.adapters.store.schema import claims, submissions, utc_now, work_items
from rcmflow.domain.trading_partners import parse_trading_partners
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts999_write import write_999
from rcmflow.services.delivery import PermanentDeliveryError
from rcmflow.services.intake import ingest_file
from rcmflow.services.ledger import trial_balance
from rcmflow.services.outbox import relay_once
from rcmflow.services.submission import submission_handlers, submit_ready_claims
from rcmflow.services.transitions import history
from tests.entrypoints.test_cli_claims import CLINIC, HEADER, PATIENT

PARTNERS = parse_trading_partners("""
version: "1"
submitter: {id: VALLEY01, name: VALLEY BILLING, contact: BILLING OFFICE, phone: "8605550100"}
partners:
  - {id: medicare, name: MEDICARE CONTRACTOR, receiver: {id: MAC01}, drop_folder: out/medicare, payers: ["04412"]}
  - {id: clearinghouse, name: CLEARINGHOUSE, receiver: {id: CH01}, drop_folder: out/ch, payers: ["*"],
     max_claims_per_batch: 2}
""", source="test")

ROWS = [
    f"A1,P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,J02.9,Y,2026-03-02,99213,,1,125.00,1,,",
    f"A2,P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,J02.9,Y,2026-03-03,99213,,1,125.00,1,,",
    f"A3,P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,J02.9,Y,2026-03-04,99213,,1,125.00,1,,",
    f"M1,P,{PATIENT},04412,MEDICARE PART B,1234567893,{CLINIC},11,I10,Y,2026-03-04,99214,,1,180.00,1,,",
    f"H1,I,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},,R10.9,Y,2026-03-05,,,1,900.00,,131,0450",
]


@pytest.fixture(autouse=True)
def _scrub_as_of_march(monkeypatch: pytest.MonkeyPatch) -> None:
    import rcmflow.services.intake as intake

    real = intake.store_charge_claims
    monkeypatch.setattr(intake, "store_charge_claims",
                        lambda *args, **kwargs: real(*args, **{**kwargs, "today": date(2026, 3, 20)}))


def ingest(engine: Engine, text: str | bytes, name: str):
    with engine.begin() as conn:
        return ingest_file(conn, text.encode() if isinstance(text, str) else text, filename=name, channel="test")


def submit(engine: Engine):
    with engine.begin() as conn:
        return submit_ready_claims(conn, PARTNERS, actor="test", now=utc_now())


def state_of(engine: Engine, source_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(select(claims.c.state).where(claims.c.source_id == source_id)
                            .order_by(claims.c.id.desc()).limit(1)).scalar_one()


def test_ready_claims_are_batched_posted_and_dropped(engine: Engine, tmp_path: Path) -> None:
    ingest(engine, "\n".join([HEADER, *ROWS]) + "\n", "charges.csv")
    result = submit(engine)
    assert result.claims == 5 and str(result.total_charge) == "1455.00"
    with engine.connect() as conn:
        rows = conn.execute(select(submissions.c.partner_id, submissions.c.payer_id, submissions.c.claim_type,
                                   submissions.c.claim_count, submissions.c.group_control_number)
                            .order_by(submissions.c.id)).all()
        # Partner "clearinghouse" takes two claims per batch: A1+A2, A3; the institutional claim alone.
        assert [tuple(row[:4]) for row in rows] == [
            ("clearinghouse", "60054", "I", 1), ("clearinghouse", "60054", "P", 2),
            ("clearinghouse", "60054", "P", 1), ("medicare", "04412", "P", 1)]
        assert len({row.group_control_number for row in rows}) == 4
        balance = trial_balance(conn)
        assert balance.balanced and str(balance.debits) == "1455.00"
        assert history(conn, "claim", conn.execute(select(claims.c.id).where(claims.c.source_id == "A1"))
                       .scalar_one())[-1] == ("ready", "submitted", "submit claim")
    assert submit(engine).claims == 0  # nothing ready any more

    handlers = submission_handlers(engine, PARTNERS, tmp_path)
    delivered = relay_once(engine, handlers, worker_id="test")
    assert delivered.delivered == 4
    dropped = sorted(path.name for path in (tmp_path / "out").rglob("*") if path.is_file())
    assert len(dropped) == 4 and not any(name.startswith(".") for name in dropped)
    medicare = next((tmp_path / "out" / "medicare").iterdir())
    [batch] = parse(medicare.read_bytes(), strict=True).of_type("837P")
    assert [claim.patient_control_number for claim in batch.claims] == ["M1"]
    assert batch.receiver.id == "MAC01" and batch.submitter.id == "VALLEY01"


def test_a_drop_is_idempotent_and_never_overwrites(tmp_path: Path) -> None:
    assert drop_file(tmp_path, "a.837p", b"ISA...") is True
    assert drop_file(tmp_path, "a.837p", b"ISA...") is False
    with pytest.raises(PermanentDeliveryError, match="other content"):
        drop_file(tmp_path, "a.837p", b"different")
    with pytest.raises(PermanentDeliveryError, match="plain file name"):
        drop_file(tmp_path, "../escape.837p", b"x")


def test_a_999_rejection_sends_the_claims_to_the_rejections_queue(engine: Engine) -> None:
    ingest(engine, "\n".join([HEADER, ROWS[3]]) + "\n", "medicare.csv")
    submit(engine)
    with engine.connect() as conn:
        content = conn.execute(select(submissions.c.content)).scalar_one()
    # The payer's translator could not read one segment: its 999 rejects the transaction set.
    broken = bytes(content).replace(b"DTP*472*D8*20260304", b"DTP*472*D8*20261304")
    ack = write_999(parse(broken))
    assert "IK5*R" in ack
    outcome = ingest(engine, ack, "medicare.999")
    assert outcome.summary["acknowledged"] == {"submissions_acknowledged": 1, "accepted": 0, "rejected": 1,
                                               "unmatched": 0}
    assert state_of(engine, "M1") == "rejected"
    with engine.connect() as conn:
        [item] = conn.execute(select(work_items).where(work_items.c.queue == "claim_rejections")).all()
        assert conn.execute(select(submissions.c.ack_status)).scalar_one() == "R"
    assert item.item_type == "claim rejected (999)" and "DTP at segment" in item.title and "Invalid date" in item.title
    again = ingest(engine, ack.replace("\n", "\r\n"), "medicare-again.999")
    assert again.summary["acknowledged"]["rejected"] == 0  # nothing moves twice


def claim_ack_277ca(pcn: str, category: str, status: str, payer_claim_number: str = "") -> str:
    ref = f"REF*1K*{payer_claim_number}~" if payer_claim_number else ""
    body = (f"ST*277*0001*005010X214~BHT*0085*08*ACK1*20260310*1200*TH~"
            f"HL*1**20*1~NM1*PR*2*ACME HEALTH PLAN*****PI*60054~TRN*1*BATCH1~DTP*050*D8*20260310~"
            f"DTP*009*D8*20260310~HL*2*1*21*1~NM1*41*2*VALLEY BILLING*****46*VALLEY01~TRN*2*T1~"
            f"STC*A1:19:PR*20260310*WQ*125~QTY*90*1~AMT*YU*125~HL*3*2*19*1~"
            f"NM1*85*2*VALLEY CLINIC*****XX*1234567893~HL*4*3*PT~NM1*QC*1*RIVERA*ANA****MI*XKB884120301~"
            f"TRN*2*{pcn}~STC*{category}:{status}:PR*20260310*{'WQ' if category in {'A1', 'A2'} else 'U'}*125~"
            f"{ref}DTP*472*D8*20260302~")
    segments = body.count("~") + 1
    return (f"ISA*00*          *00*          *ZZ*ACME           *ZZ*VALLEY01       *260310*1200*^*00501*"
            f"000000901*0*P*:~GS*HN*ACME*VALLEY01*20260310*1200*901*X*005010X214~{body}SE*{segments}*0001~"
            f"GE*1*901~IEA*1*000000901~")


def test_a_277ca_accepts_with_the_payer_claim_number_or_rejects_with_its_codes(engine: Engine) -> None:
    ingest(engine, "\n".join([HEADER, *ROWS[:2]]) + "\n", "acme.csv")
    submit(engine)
    assert parse(claim_ack_277ca("A1", "A2", "20", "ICN555").encode(), strict=True).errors == []
    accepted = ingest(engine, claim_ack_277ca("A1", "A2", "20", "ICN555"), "acme-a1.277")
    assert accepted.summary["claim_acknowledgments"]["accepted"] == 1
    assert state_of(engine, "A1") == "accepted"
    with engine.connect() as conn:
        assert conn.execute(select(claims.c.payer_claim_number).where(claims.c.source_id == "A1")).scalar_one() == (
            "ICN555")
    rejected = ingest(engine, claim_ack_277ca("A2", "A7", "21"), "acme-a2.277")
    assert rejected.summary["claim_acknowledgments"]["rejected"] == 1
    assert state_of(engine, "A2") == "rejected"
    with engine.connect() as conn:
        [item] = conn.execute(select(work_items).where(work_items.c.item_type == "claim rejected (277CA)")).all()
    assert item.details["stc"] == ["A7:21:PR"] and "A7:21:PR" in item.title

    # Corrected at the source (the diagnosis pointer fixed, a new charge) and sent again: a new claim that
    # supersedes the rejected one, scrubbed clean and submitted as an original.
    fixed = ROWS[1].replace("125.00", "130.00")
    ingest(engine, "\n".join([HEADER, fixed]) + "\n", "acme-a2-fixed.csv")
    assert state_of(engine, "A2") == "ready"
    assert submit(engine).claims == 1
    with engine.connect() as conn:
        states = conn.execute(select(claims.c.state).where(claims.c.source_id == "A2").order_by(claims.c.id)).all()
        assert [row.state for row in states] == ["voided", "submitted"]
        assert conn.execute(select(func.count()).select_from(work_items).where(
            work_items.c.item_type == "claim rejected (277CA)", work_items.c.state == "cancelled")).scalar_one() == 1
