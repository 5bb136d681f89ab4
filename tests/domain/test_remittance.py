"""The canonical remittance and its balancing rules: line, claim and payment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rcmflow.domain.money import total
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import (
    Adjustment,
    ClaimPayment,
    Procedure,
    ProviderAdjustment,
    QualifiedAmount,
    QualifiedDate,
    Remittance,
    ServicePayment,
    claim_imbalance,
    remittance_imbalance,
    service_imbalance,
)

D = Decimal


def line(charge: str, paid: str, *adjustments: tuple[str, str, str], **fields: object) -> ServicePayment:
    return ServicePayment(Procedure("HC", "99213"), D(charge), D(paid),
                          adjustments=tuple(Adjustment(g, r, D(a)) for g, r, a in adjustments), **fields)


def claim(charge: str, paid: str, *lines: ServicePayment, adjustments: tuple[Adjustment, ...] = (),
          status: str = "1") -> ClaimPayment:
    return ClaimPayment("PCN1", status, D(charge), D(paid), adjustments=adjustments, service_payments=lines)


def remittance(payment: str, claims: tuple[ClaimPayment, ...], plbs: tuple[str, ...] = ()) -> Remittance:
    adjustments = tuple(ProviderAdjustment("1234567893", date(2026, 12, 31), "WO", "", D(a)) for a in plbs)
    return Remittance("0001", "I", D(payment), "C", "ACH", date(2026, 1, 15), "1", "EFT1", claims=claims,
                      provider_adjustments=adjustments)


def test_total_is_exact_decimal() -> None:
    assert total([]) == 0 and isinstance(total([]), Decimal)
    assert total(D("0.1") for _ in range(3)) == D("0.3")


def test_service_line_balance() -> None:
    assert service_imbalance(line("100", "80", ("CO", "45", "15"), ("PR", "2", "5"))) == 0
    assert service_imbalance(line("100", "80", ("CO", "45", "15"))) == D("5")
    assert service_imbalance(line("100", "90", ("CO", "45", "15"))) == D("-5")
    assert service_imbalance(line("100", "109", ("OA", "94", "-9"))) == 0  # negative adjustments add back


def test_claim_balance_counts_claim_and_line_adjustments() -> None:
    lines = (line("100", "80", ("CO", "45", "20")), line("50", "40", ("PR", "1", "10")))
    assert claim_imbalance(claim("150", "120", *lines)) == 0
    interest = (Adjustment("OA", "23", D("-2.5")),)  # a claim-level adjustment that raises the payment
    assert claim_imbalance(claim("150", "122.5", *lines, adjustments=interest)) == 0
    assert claim_imbalance(claim("150", "121", *lines)) == D("-1")
    assert claim_imbalance(claim("150", "150")) == 0  # no lines, no adjustments


def test_reversal_balances_with_negative_amounts() -> None:
    reversal = claim("-150", "-120", line("-150", "-120", ("CO", "45", "-30")), status="22")
    assert reversal.is_reversal and claim_imbalance(reversal) == 0
    assert not claim("1", "1").is_reversal


def test_remittance_balance_subtracts_provider_adjustments() -> None:
    claims = (claim("150", "120"), claim("80", "30.55"))
    assert remittance_imbalance(remittance("150.55", claims)) == 0
    assert remittance_imbalance(remittance("140.55", claims, ("10",))) == 0  # a withholding (positive PLB)
    assert remittance_imbalance(remittance("151.82", claims, ("-1.27",))) == 0  # a payment to the provider
    assert remittance_imbalance(remittance("150", claims)) == D("-0.55")
    assert remittance("0", ()).claim_payment_total == 0


def test_remittance_totals() -> None:
    claims = (claim("150", "120", line("150", "120", ("CO", "45", "30")), line("0", "0")), claim("80", "30.55"))
    era = remittance("140.55", claims, ("12.5", "-2.5"))
    assert era.claim_payment_total == D("150.55")
    assert era.provider_adjustment_total == D("10")
    assert era.service_line_count == 2


def test_service_payment_lookups() -> None:
    item = line("100", "80", amounts=(QualifiedAmount("B6", D("90")), QualifiedAmount("KH", D("5"))),
                dates=(QualifiedDate("150", date(2026, 1, 2)), QualifiedDate("151", date(2026, 1, 4))))
    assert item.amount("B6") == D("90") and item.amount("T") is None
    assert item.service_date == date(2026, 1, 2)
    assert line("1", "1", dates=(QualifiedDate("472", date(2026, 1, 5)),)).service_date == date(2026, 1, 5)
    assert line("1", "1", dates=(QualifiedDate("151", date(2026, 1, 5)),)).service_date is None


def test_claim_entity_and_party_reference() -> None:
    patient = Party("QC", "DOE", "JANE", references=(Reference("EA", "MRN1"), Reference("EA", "MRN2")))
    payment = ClaimPayment("PCN1", "1", D("1"), D("1"), entities=(patient, Party("82", "SMITH")))
    assert payment.entity("QC") is patient
    assert payment.entity("IL") is None
    assert patient.reference("EA") == "MRN1"
    assert patient.reference("1W") is None


def test_records_are_immutable_and_hashable() -> None:
    adjustment = Adjustment("CO", "45", D("1"))
    assert hash(adjustment) == hash(Adjustment("CO", "45", D("1.00")))
    assert {claim("1", "1"), claim("1", "1")} == {claim("1", "1")}
