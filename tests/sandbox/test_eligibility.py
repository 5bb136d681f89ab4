"""The sandbox's 271s: rcmflow's own 270 (``services.eligibility.inquiry_for``) goes in, a 271 rcmflow reads
back comes out, and the payer's claims agree with what it said about each member."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from rcmflow.domain.charges import SourceClaim
from rcmflow.domain.eligibility import is_active_on, summarise_member
from rcmflow.formats.x12.ts270_write import FUNCTIONAL_ID, IMPLEMENTATION, write_270
from rcmflow.formats.x12.writing import CountingControlNumbers, FunctionalGroup, build_interchange
from rcmflow.sandbox import PROFILES, respond
from rcmflow.sandbox.eligibility import ACTIVE, INACTIVE, UNKNOWN, deductible_remaining
from rcmflow.services.eligibility import inquiry_for
from tests.sandbox.builders import (
    DOS,
    LATER,
    MEDICARE,
    RECEIVED,
    SANDBOX,
    SEED,
    SUBMITTER,
    active_member,
    batch,
    drop,
    professional,
    quiet,
    read_x12,
    remittances,
    statuses,
)

ACME = PROFILES["60054"]
ASKED_AT = datetime(2026, 11, 2, 8, 0)


def ask(inbox: Path, claims: list) -> None:
    """A 270 about each claim's patient, as rcmflow's eligibility service writes it."""
    inquiry = inquiry_for([SourceClaim(f"S{n}", claim) for n, claim in enumerate(claims)], control_number="0001",
                          reference="ELIG1", today=RECEIVED)
    group = FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, [write_270(inquiry, "0001")])
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "eligibility.270").write_text(build_interchange(
        [group], SUBMITTER, SANDBOX, CountingControlNumbers(), usage="T", created=ASKED_AT), encoding="ascii")


def test_a_270_gets_a_271_rcmflow_reads_back(tmp_path: Path) -> None:
    members = {status: active_member(ACME, status=status) for status in (ACTIVE, INACTIVE, UNKNOWN)}
    medicare_member = active_member(PROFILES["04412"], prefix="1EG4")
    claims = [professional(f"E{n}", member=member) for n, member in enumerate(members.values())]
    claims.append(professional("E9", payer=MEDICARE, member=medicare_member))
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    ask(inbox, claims)
    run = respond(inbox, outbox, seed=SEED, as_of=RECEIVED)
    assert run.files_read == {"270": 1} and run.written == ["eligibility.270.271"]
    (response,) = read_x12(outbox / "eligibility.270.271").of_type("271")
    assert response.reference == "ELIG1" and response.created == RECEIVED
    active, inactive, unknown, medicare = response.members

    summary = summarise_member(active)
    assert summary.status == "active" and is_active_on(active, DOS)
    assert (summary.plan_begin, summary.plan_end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert (summary.copay, summary.coinsurance) == (Decimal("25.00"), Decimal("0.20"))
    assert summary.deductible_remaining == deductible_remaining(SEED, ACME, members[ACTIVE], 2026)
    assert Decimal(0) <= summary.deductible_remaining <= ACME.deductible
    assert active.traces[0].type == "2" and active.traces[0].number == "ELIG1-1"  # the 270's trace, echoed
    assert active.payer.id == "60054" and active.subscriber.id == members[ACTIVE]

    assert summarise_member(inactive).status == "inactive" and not is_active_on(inactive, DOS)
    assert summarise_member(unknown).reject_reasons == ("75",)

    benefit = next(item for item in medicare.benefits if item.information == "1")
    assert (benefit.insurance_type, benefit.plan_description) == ("MB", "MEDICARE PART B")
    assert summarise_member(medicare).copay is None


def test_the_payers_claims_agree_with_its_eligibility(tmp_path: Path) -> None:
    """An unknown member's claim is rejected at the front end; an inactive member's claim is denied CO-27."""
    members = {status: active_member(ACME, status=status) for status in (ACTIVE, INACTIVE, UNKNOWN)}
    profiles = quiet({"60054": {"inactive_rate": ACME.inactive_rate, "unknown_member_rate": ACME.unknown_member_rate}})
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    drop(inbox, "claims.837", batch(*[professional(status, member=member) for status, member in members.items()]))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=profiles)
    respond(inbox, outbox, seed=SEED, as_of=LATER, profiles=profiles)
    found = {status.patient_control_number: status for status in statuses(outbox)}
    assert found[UNKNOWN].rejected and found[UNKNOWN].statuses[0].statuses[0][:3] == ("A7", "33", "IL")
    paid = {claim.patient_control_number: claim for remittance in remittances(outbox) for claim in remittance.claims}
    assert set(paid) == {ACTIVE, INACTIVE}
    assert paid[ACTIVE].status == "1"
    assert paid[INACTIVE].status == "4"
    assert {(adj.group, adj.reason) for line in paid[INACTIVE].service_payments for adj in line.adjustments} == {
        ("CO", "27")}
