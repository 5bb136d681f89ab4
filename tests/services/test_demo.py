"""``rcmflow demo`` end to end: real writers, real readers, the real document store."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import documents
from rcmflow.formats.x12.parser import parse
from rcmflow.services.demo import run_demo
from rcmflow.services.reports import summary


def test_demo_writes_stores_and_parses_everything(engine: Engine, tmp_path: Path) -> None:
    console = Console(record=True, width=140)
    out = tmp_path / "demo"
    run_demo(console, engine, out, claims=60, seed=5)
    files = sorted(out.iterdir())
    kinds = {path.suffix for path in files}
    assert kinds == {".837p", ".837i", ".999", ".835", ".bai"}
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(documents.c.status, func.count()).group_by(documents.c.status)).all())
    assert statuses == {"parsed": len(files) - 1, "failed": 1}  # only the truncated transmission fails
    with engine.connect() as conn:
        report = summary(conn)
    # Every claim stored, every ERA posted with balanced books; the stray payment waits in unapplied cash;
    # the bank file's deposits reconcile (the one without addenda by amount and date) but for the stray wire.
    assert report["claims"] == 60 and report["ledger"]["balanced"]
    assert report["claim_payments_unmatched"] == 1 and report["unapplied_cash_total"] != "0.00"
    assert report["deposits"] == report["deposits_reconciled"] + 1  # the stray wire
    assert set(report["claim_payments_by_state"]) <= {"posted", "reversed", "unapplied"}
    claims = sum(len(batch.claims) for path in files if path.suffix in (".837p", ".837i")
                 for batch in parse(path).of_type("837P") + parse(path).of_type("837I"))
    assert claims == 60
    for path in files:
        if path.suffix == ".999":
            [ack] = parse(path).of_type("999")
            assert ack.status == "A"  # every claim file the demo writes is accepted
    text = console.export_text()
    assert "truncated" in text and "claims denied" in text and "Summary" in text


def test_a_second_run_never_reuses_an_interchange_control_number(engine: Engine, tmp_path: Path) -> None:
    def claim_interchanges(out: Path) -> set[tuple[str, str]]:
        found = set()
        for path in out.iterdir():
            if path.suffix in (".837p", ".837i"):
                for tx in parse(path).transactions:
                    found.add((tx.sender_id, tx.interchange_control_number))
        return found

    run_demo(Console(record=True), engine, tmp_path / "one", claims=30, seed=5)
    run_demo(Console(record=True), engine, tmp_path / "two", claims=30, seed=5)
    first, second = claim_interchanges(tmp_path / "one"), claim_interchanges(tmp_path / "two")
    assert first and second and not first & second  # receivers reject an ISA13 they have seen
