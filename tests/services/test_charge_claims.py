"""Captured claims through intake: stored, scrubbed, routed to ready or to the right queue; corrections
supersede; review releases; a rule change and a rescrub re-route held claims."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claims, scrub_findings, utc_now, work_items
from rcmflow.errors import DomainRuleError
from rcmflow.services.charge_claims import release_claim, rescrub_claims
from rcmflow.services.intake import ingest_file
from rcmflow.services.scrubbing import build_scrubber
from rcmflow.services.transitions import history
from tests.entrypoints.test_cli_claims import CHARGES, CLINIC, HEADER, PATIENT

TODAY = date(2026, 3, 20)


@pytest.fixture(autouse=True)
def _scrub_as_of_march(monkeypatch: pytest.MonkeyPatch) -> None:
    """Intake scrubs "as of now": pin the date the scrubber sees so timely filing does not age the test data."""
    import rcmflow.services.intake as intake

    real = intake.store_charge_claims

    def as_of_today(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - pass-through
        return real(*args, **{**kwargs, "today": TODAY})

    monkeypatch.setattr(intake, "store_charge_claims", as_of_today)


def ingest(engine: Engine, text: str, name: str = "charges.csv"):
    with engine.begin() as conn:
        return ingest_file(conn, text.encode(), filename=name, channel="test")


def claim_states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.source_id: row.state for row in conn.execute(
            select(claims.c.source_id, claims.c.state).where(claims.c.state != "voided"))}


def items(engine: Engine, **where: str) -> list[dict]:
    with engine.connect() as conn:
        query = select(work_items).order_by(work_items.c.id)
        for column, value in where.items():
            query = query.where(work_items.c[column] == value)
        return [dict(row._mapping) for row in conn.execute(query)]


def claim_id(engine: Engine, source_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(claims.c.id).where(claims.c.source_id == source_id,
                                                      claims.c.state != "voided")).scalar_one()


def test_captured_claims_are_scrubbed_and_routed(engine: Engine) -> None:
    outcome = ingest(engine, CHARGES)
    assert outcome.status == "parsed" and outcome.detected_type == "charge_csv"
    assert outcome.summary["claims_captured"] == {"stored": 4, "duplicate": 0, "superseded": 0, "ready": 2,
                                                  "held": 1, "review": 1}
    assert claim_states(engine) == {"V1": "ready", "H1": "ready", "V2": "scrubbed", "V3": "scrubbed"}
    held = items(engine, item_type="claim held by scrubber")
    assert [(i["queue"], i["object_id"], i["priority"]) for i in held] == [
        ("coding_review", str(claim_id(engine, "V2")), 3)]
    assert set(held[0]["details"]["findings"]) == {"icd10-not-billable@1", "billing-npi-invalid@1"}
    review = items(engine, item_type="claim review")
    assert [(i["queue"], i["priority"]) for i in review] == [("registration_eligibility", 4)]
    # The claim the reader could not build (V4: charge "12.x") is an intake exception, not lost.
    [unreadable] = items(engine, item_type="unreadable claim")
    assert unreadable["queue"] == "intake_exceptions" and unreadable["details"]["source_id"] == "V4"
    with engine.connect() as conn:
        assert history(conn, "claim", claim_id(engine, "V1")) == [
            (None, "registered", "receive claim"), ("registered", "coded", "capture coded charges"),
            ("coded", "scrubbed", "scrub claim"), ("scrubbed", "ready", "pass scrub")]
        numbers = set(conn.execute(select(scrub_findings.c.scrub_number)).scalars())
    assert numbers == {1}


def test_the_same_file_again_changes_nothing(engine: Engine) -> None:
    ingest(engine, CHARGES)
    again = ingest(engine, CHARGES.replace("\n", "\r\n"), "same-claims-other-bytes.csv")
    assert again.summary["claims_captured"]["stored"] == 0 and again.summary["claims_captured"]["duplicate"] == 4
    assert len(items(engine, item_type="claim held by scrubber")) == 1


def test_a_corrected_claim_supersedes_the_held_one(engine: Engine) -> None:
    ingest(engine, CHARGES)
    old_id = claim_id(engine, "V2")
    fixed = "\n".join([HEADER, f"V2,P,{PATIENT},60054,ACME HEALTH PLAN,1234567893,{CLINIC},11,E11.9,Y,2026-03-03,"
                               "99214,,1,180.00,1,,"]) + "\n"
    outcome = ingest(engine, fixed, "v2-corrected.csv")
    assert outcome.summary["claims_captured"] == {"stored": 1, "duplicate": 0, "superseded": 1, "ready": 1,
                                                  "held": 0, "review": 0}
    assert claim_states(engine)["V2"] == "ready" and claim_id(engine, "V2") != old_id
    with engine.connect() as conn:
        assert history(conn, "claim", old_id)[-1] == ("scrubbed", "voided", "supersede claim")
    [held] = items(engine, item_type="claim held by scrubber")
    assert held["state"] == "cancelled"


def test_review_releases_warnings_but_not_errors(engine: Engine) -> None:
    ingest(engine, CHARGES)
    with engine.begin() as conn:
        release_claim(conn, claim_id(engine, "V3"), actor="user:ana", now=utc_now())
    assert claim_states(engine)["V3"] == "ready"
    assert [i["state"] for i in items(engine, item_type="claim review")] == ["resolved"]
    with engine.begin() as conn, pytest.raises(DomainRuleError, match="error finding"):
        release_claim(conn, claim_id(engine, "V2"), actor="user:ana", now=utc_now())


def test_a_rule_change_and_a_rescrub_reroute_held_claims(engine: Engine, tmp_path: Path) -> None:
    ingest(engine, CHARGES)
    (tmp_path / "site.yaml").write_text(
        "pack: site\nversion: '2'\noverrides:\n  - {rule: billing-npi-invalid, severity: warning}\n"
        "  - {rule: icd10-not-billable, severity: warning}\n", encoding="utf-8")
    lenient = build_scrubber(pack_paths=[tmp_path])
    v2 = claim_id(engine, "V2")
    with engine.begin() as conn:
        result = rescrub_claims(conn, [v2, claim_id(engine, "V1")], scrubber=lenient, today=TODAY,
                                actor="system:scrubber", now=utc_now())
    assert result.review == [v2] and result.held == [] and result.ready == []  # V1 was ready: left alone
    with engine.connect() as conn:
        numbers = sorted(set(conn.execute(select(scrub_findings.c.scrub_number).where(
            scrub_findings.c.claim_id == v2)).scalars()))
        assert history(conn, "claim", v2)[-2:] == [("scrubbed", "coded", "rescrub claim"),
                                                   ("coded", "scrubbed", "scrub claim")]
    assert numbers == [1, 2]
    assert [i["state"] for i in items(engine, item_type="claim held by scrubber")] == ["cancelled"]
    open_reviews = [i["object_id"] for i in items(engine, item_type="claim review", state="open")]
    assert sorted(open_reviews) == sorted([str(v2), str(claim_id(engine, "V3"))])


def test_the_capture_event_records_the_charge_lag(engine: Engine) -> None:
    from datetime import UTC, datetime

    from rcmflow.services.events import events_for

    with engine.begin() as conn:
        ingest_file(conn, CHARGES.encode(), filename="late.csv", channel="test",
                    now=datetime(2026, 3, 9, 18, tzinfo=UTC))
    with engine.connect() as conn:
        [capture] = [e for e in events_for(conn, "claim", str(claim_id(engine, "V1"))) if e.to_state == "coded"]
    assert capture.attributes["charge_lag_days"] == 7 and capture.attributes["source_id"] == "V1"
