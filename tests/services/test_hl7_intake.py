"""DFT^P03 charge messages over a real MLLP socket into the store: AA for a captured visit, the same message
again changes nothing, AE for a visit whose claim cannot be built, AR for a message that is not a charge."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, func, select

from rcmflow.adapters.channels.mllp import send_mllp
from rcmflow.adapters.store.schema import claims, documents, work_items
from rcmflow.services.hl7_intake import acknowledge_message
from tests.adapters.channels.test_mllp import HOST, RunningServer, answer
from tests.formats.test_hl7_dft import VISIT


@pytest.fixture(autouse=True)
def _scrub_as_of_the_visit(monkeypatch: pytest.MonkeyPatch) -> None:
    import rcmflow.services.intake as intake

    real = intake.store_charge_claims
    monkeypatch.setattr(intake, "store_charge_claims",
                        lambda *args, **kwargs: real(*args, **{**kwargs, "today": date(2024, 3, 20)}))


def test_charge_messages_are_captured_and_acknowledged(engine: Engine) -> None:
    server = RunningServer(lambda message: acknowledge_message(engine, message)).start()
    credit = VISIT.replace("|CG|71046", "|CD|71046").replace("MSG00001", "MSG00003")
    admission = VISIT.replace("DFT^P03^DFT_P03", "ADT^A01^ADT_A01").replace("MSG00001", "MSG00004")
    try:
        replies = send_mllp(HOST, server.port, [VISIT.encode(), VISIT.encode(), credit.encode(),
                                                admission.encode()])
    finally:
        server.stop()
    codes = [answer(reply) for reply in replies]
    assert [code[:2] for code in codes] == [("AA", "MSG00001"), ("AA", "MSG00001"), ("AE", "MSG00003"),
                                           ("AR", "MSG00004")]
    assert "ERR||FT1^2^6|" in replies[2].decode() and "ERR|" in replies[3].decode()
    with engine.connect() as conn:
        [claim] = conn.execute(select(claims.c.source_id, claims.c.state, claims.c.total_charge)).all()
        assert claim.source_id == "V10231" and claim.state in {"ready", "scrubbed"}
        assert str(claim.total_charge) == "227.40"
        # Every message is kept verbatim, the refused ones too; the retry is the same document.
        assert conn.execute(select(func.count()).select_from(documents)).scalar_one() == 3
        assert conn.execute(select(documents.c.channel).distinct()).scalars().all() == ["mllp"]
        [unreadable] = conn.execute(select(work_items.c.item_type, work_items.c.details).where(
            work_items.c.queue == "intake_exceptions", work_items.c.item_type == "unreadable claim")).all()
        assert unreadable.details["field"] == "FT1[2]-6"
