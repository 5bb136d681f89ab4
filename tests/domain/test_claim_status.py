"""Claim status records: what a status entry means for a billing team."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rcmflow.domain.claim_status import (
    ClaimInquiry,
    ClaimStatus,
    ClaimStatusResponse,
    Status,
    StatusEntry,
)
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import QualifiedDate


def entry(category: str, code: str = "", action: str = "", **amounts: Decimal) -> StatusEntry:
    return StatusEntry((Status(category, code),), date(2026, 1, 5), action, **amounts)


def test_acknowledgment_categories() -> None:
    assert entry("A1", "19").accepted
    assert entry("A2", "20").accepted
    assert entry("A3", "21").rejected
    assert entry("A7", "562").rejected
    assert not entry("A7", "562").accepted
    # A 277CA says "reject" with the action code even when the category reads like a receipt.
    assert entry("A1", "19", action="U").rejected
    assert entry("F1", "65").finalized and not entry("F1", "65").pending
    assert entry("P1", "1").pending
    assert Status("A7", "562", "85").category_meaning == "Acknowledgement/Rejected for invalid information"


def test_claim_status_summary() -> None:
    claim = ClaimStatus(
        "PCN001",
        statuses=(entry("F1", "65", charge=Decimal("150.00"), paid=Decimal("120.00")), entry("F1", "107")),
        references=(Reference("EJ", "ACCT1"), Reference("BLT", "111")),
        dates=(QualifiedDate("472", date(2026, 1, 2), date(2026, 1, 4)),),
        subscriber=Party("IL", "DOE"),
    )
    assert claim.charge == Decimal("150.00")
    assert claim.paid == Decimal("120.00")
    assert claim.service_period == (date(2026, 1, 2), date(2026, 1, 4))
    assert claim.reference("BLT") == "111"
    assert claim.reference("D9") is None
    assert claim.member == Party("IL", "DOE")
    assert not claim.rejected and not claim.accepted


def test_response_selects_claims() -> None:
    accepted = ClaimStatus("PCN1", (entry("A2", "20"),))
    rejected = ClaimStatus("PCN2", (entry("A2", "20"), entry("A7", "21")))
    response = ClaimStatusResponse("0001", "005010X214", claims=(accepted, rejected))
    assert response.is_claim_acknowledgment
    assert response.accepted_claims == (accepted,)
    assert response.rejected_claims == (rejected,)
    assert response.claim("PCN2") is rejected
    assert response.claim("NOPE") is None


def test_inquiry_helpers() -> None:
    inquiry = ClaimInquiry("T1", Party("PR"), Party("41"), Party("1P"), Party("IL", "MANN"), Party("QC", "MANN"),
                           references=(Reference("EJ", "MA345678"),),
                           dates=(QualifiedDate("472", date(2005, 5, 1)),))
    assert inquiry.member == Party("QC", "MANN")
    assert inquiry.patient_account_number == "MA345678"
    assert inquiry.service_period == (date(2005, 5, 1), None)
