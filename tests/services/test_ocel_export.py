"""OCEL 2.0 export: a small revenue cycle written in each format, read back with pm4py, and nothing that names
a patient in the file."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import Connection, Engine, Table, delete

from rcmflow.adapters.store.schema import (
    claim_payments,
    claims,
    deposit_matches,
    deposits,
    event_log,
    remittances,
    work_item_links,
    work_items,
)
from rcmflow.errors import InputError
from rcmflow.services.events import Event, append_events
from rcmflow.services.ocel_export import export_ocel
from rcmflow.services.process_conformance import pm4py_module

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MEMBER_ID = "W99887766"  # PHI: must never reach the export
PATIENT_CONTROL_NUMBER = "PCN-CONFIDENTIAL-1"
READERS = {".jsonocel": "read_ocel2_json", ".sqlite": "read_ocel2_sqlite", ".xmlocel": "read_ocel2_xml"}


@dataclass(frozen=True)
class Network:
    """Ids of the objects ``build_network`` stored."""

    primary: int
    secondary: int
    remittance: int
    payment: int
    deposit: int
    work_item: int
    events: int


def _insert(conn: Connection, table: Table, row: dict[str, Any]) -> int:
    return int(conn.execute(table.insert().returning(table.c.id), row).scalar_one())


def _claim(conn: Connection, **overrides: Any) -> int:
    return _insert(conn, claims, {
        "payer_id": "PAYER-A", "facility_id": "F1", "claim_type": "P", "patient_control_number": PATIENT_CONTROL_NUMBER,
        "frequency": "1", "filing_order": "P", "member_id": MEMBER_ID, "service_from": T0.date(),
        "total_charge": Decimal("250.00"), "line_count": 2, "state": "paid",
        "content_digest": f"{len(overrides):064d}", "created_at": T0} | overrides)


def _path(object_type: str, object_id: int, states: list[str], start_hours: float = 0, **keys: Any) -> list[Event]:
    events, previous = [], None
    for step, state in enumerate(states):
        events.append(Event(object_type=object_type, object_id=str(object_id), to_state=state, from_state=previous,
                            activity=f"{object_type} {state}", actor="system", rule_version="r@1",
                            occurred_at=T0 + timedelta(hours=start_hours + step), **keys))
        previous = state
    return events


def build_network(conn: Connection) -> Network:
    """A paid primary claim and its secondary, the remittance and claim payment that paid it, the deposit that
    funded the remittance, a work item about the claim linked to the remittance; another organisation's claim."""
    primary = _claim(conn)
    secondary = _claim(conn, filing_order="S", primary_claim_id=primary, state="submitted", payer_id="PAYER-B",
                       total_charge=Decimal("80.10"))
    _claim(conn, organisation_id="elsewhere", state="registered", content_digest="e" * 64)
    remittance = _insert(conn, remittances, {
        "payer_id": "PAYER-A", "trace_number": "TRACE1", "payment_amount": Decimal("200.00"), "credit_debit": "C",
        "payment_method": "ACH", "control_number": "0001", "state": "reconciled", "content_digest": "r" * 64,
        "claim_count": 1, "created_at": T0})
    payment = _insert(conn, claim_payments, {
        "remittance_id": remittance, "patient_control_number": PATIENT_CONTROL_NUMBER, "status": "1",
        "charge": Decimal("250.00"), "paid": Decimal("200.00"), "state": "posted", "member_id": MEMBER_ID,
        "claim_id": primary, "match_method": "patient_control_number"})
    deposit = _insert(conn, deposits, {
        "source": "bai2", "account": "ACCT-1", "currency": "USD", "amount": Decimal("200.00"), "direction": "credit",
        "line": 1, "state": "reconciled", "dedup_key": "d" * 64, "created_at": T0})
    _insert(conn, deposit_matches, {
        "deposit_id": deposit, "remittance_id": remittance, "amount": Decimal("200.00"), "method": "trace_number",
        "confidence": Decimal(1), "created_at": T0, "actor": "system"})
    work_item = _insert(conn, work_items, {
        "queue": "denials", "item_type": "review", "state": "resolved", "priority": 2, "object_type": "claim",
        "object_id": str(primary), "dedup_key": "k", "title": f"Review {PATIENT_CONTROL_NUMBER}", "created_at": T0})
    conn.execute(work_item_links.insert(), {"work_item_id": work_item, "object_type": "remittance",
                                            "object_id": str(remittance)})
    events = [
        *_path("claim", primary, ["registered", "coded", "scrubbed", "ready", "submitted", "accepted", "paid"],
               facility_id="F1", payer_id="PAYER-A"),
        *_path("claim", secondary, ["registered", "coded", "scrubbed", "ready", "submitted"], 30),
        *_path("remittance", remittance, ["received", "matched", "posted", "reconciled"], 10),
        *_path("claim payment", payment, ["received", "matched", "posted"], 10),
        *_path("bank deposit", deposit, ["received", "matched", "reconciled"], 20),
        *_path("work item", work_item, ["open", "resolved"], 12),
        *_path("claim", 999, ["registered"], organisation_id="elsewhere"),
    ]
    append_events(conn, events)
    return Network(primary, secondary, remittance, payment, deposit, work_item, len(events) - 1)


@pytest.fixture
def network(engine: Engine) -> Network:
    with engine.begin() as conn:
        return build_network(conn)


def _export(engine: Engine, out: Path, **options: Any) -> Any:
    with engine.connect() as conn:
        return export_ocel(conn, out, **options)


def _read(out: Path) -> Any:
    return getattr(pm4py_module(), READERS[out.suffix])(str(out))


@pytest.mark.parametrize("suffix", [".jsonocel", ".sqlite", ".xmlocel"])
def test_round_trip_through_pm4py(engine: Engine, network: Network, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"log{suffix}"
    summary = _export(engine, out)

    assert summary.objects_by_type == {"bank deposit": 1, "claim": 2, "claim payment": 1, "remittance": 1,
                                       "supplier invoice": 0, "work item": 1}
    assert summary.events == network.events == 24
    assert summary.relations == 24 + 2 * 2  # each event to its object; each work-item event also to 2 more
    assert summary.object_relations == 7
    ocel = _read(out)
    assert len(ocel.events) == 24
    assert ocel.objects["ocel:type"].value_counts().to_dict() == {
        "claim": 2, "bank deposit": 1, "claim payment": 1, "remittance": 1, "work item": 1}
    assert len(ocel.relations) == 28
    assert set(ocel.events["ocel:activity"]) >= {"claim registered", "work item resolved", "bank deposit matched"}

    o2o = {(row["ocel:oid"], row["ocel:oid_2"], row["ocel:qualifier"]) for _, row in ocel.o2o.iterrows()}
    assert o2o == {
        (f"claim payment:{network.payment}", f"claim:{network.primary}", "pays"),
        (f"claim payment:{network.payment}", f"remittance:{network.remittance}", "part of"),
        (f"claim:{network.primary}", f"remittance:{network.remittance}", "paid by"),
        (f"bank deposit:{network.deposit}", f"remittance:{network.remittance}", "funds"),
        (f"work item:{network.work_item}", f"claim:{network.primary}", "about"),
        (f"work item:{network.work_item}", f"remittance:{network.remittance}", "linked"),
        (f"claim:{network.secondary}", f"claim:{network.primary}", "secondary of"),
    }
    resolved = ocel.relations[ocel.relations["ocel:activity"] == "work item resolved"]
    assert dict(zip(resolved["ocel:oid"], resolved["ocel:qualifier"], strict=True)) == {
        f"work item:{network.work_item}": "subject", f"claim:{network.primary}": "about",
        f"remittance:{network.remittance}": "linked"}


def test_objects_carry_state_and_money_as_text_and_no_phi(engine: Engine, network: Network, tmp_path: Path) -> None:
    out = tmp_path / "log.jsonocel"
    _export(engine, out)
    content = out.read_text(encoding="utf-8")
    document = json.loads(content)

    for secret in (MEMBER_ID, PATIENT_CONTROL_NUMBER, "ACCT-1", "Review"):
        assert secret not in content
    attributes = {a["name"] for t in document["objectTypes"] for a in t["attributes"]}
    assert not attributes & {"member_id", "member_id_index", "patient_control_number", "service_from", "title",
                             "account", "payer_claim_number"}
    objects = {o["id"]: {a["name"]: a["value"] for a in o.get("attributes", [])} for o in document["objects"]}
    expected = {"state": "paid", "payer_id": "PAYER-A", "facility_id": "F1", "total_charge": "250.00",
                "line_count": "2"}
    assert objects[f"claim:{network.primary}"].items() >= expected.items()
    assert objects[f"claim:{network.secondary}"]["total_charge"] == "80.10"
    assert objects[f"work item:{network.work_item}"]["queue"] == "denials"
    event = next(e for e in document["events"] if e["type"] == "claim coded")
    assert {a["name"]: a["value"] for a in event["attributes"]} == {
        "actor": "system", "from_state": "registered", "to_state": "coded", "rule_version": "r@1"}


def _declared_types(out: Path) -> set[str]:
    """The object types an OCEL 2.0 file declares, read straight from the file."""
    if out.suffix == ".jsonocel":
        return {t["name"] for t in json.loads(out.read_text(encoding="utf-8"))["objectTypes"]}
    if out.suffix == ".xmlocel":
        return {t.get("name") for t in ElementTree.parse(out).getroot().iter("object-type")}
    with sqlite3.connect(out) as db:
        declared = dict(db.execute("SELECT ocel_type, ocel_type_map FROM object_map_type").fetchall())
        for table in declared.values():  # each declared type has its table, empty or not
            db.execute(f'SELECT count(*) FROM "object_{table}"').fetchone()
    db.close()
    return set(declared)


@pytest.mark.parametrize("suffix", list(READERS))
def test_supplier_invoices_are_declared_before_any_exists(
        engine: Engine, network: Network, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"log{suffix}"
    _export(engine, out)

    assert _declared_types(out) == {"claim", "claim payment", "remittance", "bank deposit", "work item",
                                    "supplier invoice"}


def test_a_window_exports_its_events_and_relations_between_its_objects(
        engine: Engine, network: Network, tmp_path: Path) -> None:
    out = tmp_path / "window.sqlite"
    # Hours 10 to 13: the remittance's and claim payment's whole paths, the work item opened and resolved.
    summary = _export(engine, out, since=T0 + timedelta(hours=10), until=T0 + timedelta(hours=14))

    ocel = _read(out)
    assert summary.events == len(ocel.events) == 9  # remittance 4 + claim payment 3 + work item 2
    # The work item brings the claim and remittance it is about; the deposit had no event in the window.
    assert summary.objects_by_type == {"claim": 1, "claim payment": 1, "remittance": 1, "supplier invoice": 0,
                                       "work item": 1, "bank deposit": 0}
    assert ("bank deposit", "funds") not in {(o.split(":")[0], q) for o, q in zip(ocel.o2o["ocel:oid"],
                                                                                   ocel.o2o["ocel:qualifier"],
                                                                                   strict=True)}
    assert summary.object_relations == 5  # pays, part of, paid by, about, linked


@pytest.mark.parametrize("suffix", list(READERS))
def test_an_empty_log_still_declares_the_object_types(engine: Engine, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"empty{suffix}"
    summary = _export(engine, out)

    assert (summary.events, summary.relations, sum(summary.objects_by_type.values())) == (0, 0, 0)
    # pm4py's readers refuse a log without events, so the file is checked directly.
    assert _declared_types(out) == {"claim", "remittance", "bank deposit", "work item", "supplier invoice"}


def test_an_unknown_extension_is_refused_before_any_work(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must end in"):
        _export(engine, tmp_path / "log.csv")
    assert not (tmp_path / "log.csv").exists()


def test_the_callers_connection_is_left_as_it_was(engine: Engine, network: Network, tmp_path: Path) -> None:
    """The export streams its reads as an option of its own statements: the caller's next statements on the same
    connection (a DELETE here, which PostgreSQL cannot run through a server-side cursor) are not streamed."""
    with engine.begin() as conn:
        export_ocel(conn, tmp_path / "log.jsonocel")
        assert "yield_per" not in conn.get_execution_options()
        deleted = conn.execute(delete(event_log).where(event_log.c.organisation_id == "elsewhere")).rowcount
    assert deleted == 1
