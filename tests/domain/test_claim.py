"""The canonical claim: lookups over HI codes and references, and the claim-level helpers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rcmflow.domain.claim import (
    Claim,
    ClaimBatch,
    HealthCareCode,
    OtherPayer,
    ServiceLine,
    Subscriber,
    assign_line_control_numbers,
    claim_charge_difference,
    duplicate_line_control_numbers,
    paid_by_other_payers,
    unique_line_control_numbers,
)
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedAmount, QualifiedDate


def line(number: int, charge: str, control: str = "") -> ServiceLine:
    return ServiceLine(number, Decimal(charge), Procedure("HC", "99213"), unit_basis="UN", units=Decimal("1"),
                       line_item_control_number=control)


def claim(*lines: ServiceLine, total: str = "150.00", **fields: object) -> Claim:
    return Claim("P", "PCN1", Decimal(total), service_lines=lines, **fields)  # type: ignore[arg-type]


def test_charge_difference_is_zero_when_lines_add_up_to_the_claim_total() -> None:
    balanced = claim(line(1, "100.00"), line(2, "50.00"))
    assert claim_charge_difference(balanced) == Decimal("0.00")
    assert balanced.line_charge_total == Decimal("150.00")


def test_charge_difference_is_signed_total_minus_lines() -> None:
    assert claim_charge_difference(claim(line(1, "100.00"), total="120.50")) == Decimal("20.50")
    assert claim_charge_difference(claim(line(1, "100.00"), line(2, "30"), total="120")) == Decimal("-10")


def test_line_control_numbers_must_be_present_and_distinct() -> None:
    assert unique_line_control_numbers(claim(line(1, "1", "A"), line(2, "1", "B")))
    assert not unique_line_control_numbers(claim(line(1, "1", "A"), line(2, "1", "")))
    repeated = claim(line(1, "1", "B"), line(2, "1", "A"), line(3, "1", "B"), line(4, "1", "A"))
    assert not unique_line_control_numbers(repeated)
    assert duplicate_line_control_numbers(repeated) == ("A", "B")
    assert unique_line_control_numbers(claim())  # no lines: nothing can collide


def test_assign_line_control_numbers_keeps_existing_and_fills_the_rest() -> None:
    original = claim(line(1, "1", "KEEP"), line(2, "1"), line(3, "1", "PCN1-3"), line(4, "1"))
    assigned = assign_line_control_numbers(original)
    numbers = [item.line_item_control_number for item in assigned.service_lines]
    # Line 4's natural number is free; line 3 already took "PCN1-3", so nothing collides.
    assert numbers == ["KEEP", "PCN1-2", "PCN1-3", "PCN1-4"]
    assert unique_line_control_numbers(assigned)
    taken = claim(line(1, "1", "PCN1-2"), line(2, "1"))
    assert [item.line_item_control_number for item in assign_line_control_numbers(taken).service_lines] == [
        "PCN1-2", "PCN1-2-2"]
    complete = claim(line(1, "1", "X"))
    assert assign_line_control_numbers(complete) is complete


def test_diagnoses_follow_hi_order_and_pointers_index_them() -> None:
    codes = (
        HealthCareCode("ABK", "J209"),
        HealthCareCode("ABF", "R05"),
        HealthCareCode("BH", "A1", "D8", date(2024, 1, 2)),
        HealthCareCode("ABF", "R509", present_on_admission="Y"),
        HealthCareCode("BBR", "0DB60ZZ", "D8", date(2024, 1, 3)),
        HealthCareCode("BBQ", "0DJ08ZZ", "D8", date(2024, 1, 4)),
    )
    item = claim(health_care_codes=codes)
    assert [code.code for code in item.diagnoses] == ["J209", "R05", "R509"]
    assert item.principal_diagnosis == HealthCareCode("ABK", "J209")
    assert [code.code for code in item.procedures] == ["0DB60ZZ", "0DJ08ZZ"]
    assert item.diagnosis_for_pointer("3") == HealthCareCode("ABF", "R509", present_on_admission="Y")
    assert item.diagnosis_for_pointer("4") is None
    assert item.diagnosis_for_pointer("x") is None
    assert claim().principal_diagnosis is None


def test_reference_amount_date_and_provider_lookups() -> None:
    item = claim(
        references=(Reference("G1", "AUTH1"), Reference("9F", "REF2"), Reference("F8", "ORIG3"),
                    Reference("EA", "MRN4")),
        amounts=(QualifiedAmount("F5", Decimal("20")),),
        dates=(QualifiedDate("431", date(2024, 1, 1)),),
        providers=(Party("82", "RENDER"), Party("DN", "REFER")),
    )
    assert (item.prior_authorization, item.referral_number, item.payer_claim_control_number,
            item.medical_record_number) == ("AUTH1", "REF2", "ORIG3", "MRN4")
    assert item.amount("F5") == Decimal("20")
    assert item.amount("F3") is None
    assert item.date("431") == QualifiedDate("431", date(2024, 1, 1))
    assert item.date("435") is None
    assert item.provider("DN") == Party("DN", "REFER")
    assert item.provider("77") is None
    assert claim().prior_authorization is None


def test_other_payer_paid_amounts_add_up() -> None:
    paid = OtherPayer(Subscriber("P"), amounts=(QualifiedAmount("D", Decimal("39.15")),))
    nothing = OtherPayer(Subscriber("S"))
    assert paid.paid == Decimal("39.15")
    assert nothing.paid is None
    assert paid_by_other_payers(claim(other_payers=(paid, nothing, paid))) == Decimal("78.30")


def test_batch_totals() -> None:
    first = claim(line(1, "100.00"), line(2, "50.00"))
    second = claim(line(1, "10.25"), total="10.25")
    batch = ClaimBatch("0001", "P", "005010X222A1", "00", "B1", date(2024, 1, 5), claims=(first, second))
    assert batch.total_charge == Decimal("160.25")
    assert batch.service_line_count == 3


def test_line_lookups() -> None:
    item = line(1, "5")._replace(
        dates=(QualifiedDate("471", date(2024, 1, 1)), QualifiedDate("472", date(2024, 1, 2), date(2024, 1, 3))),
        amounts=(QualifiedAmount("T", Decimal("0.35")),),
    )
    assert item.service_date == date(2024, 1, 2)
    assert item.amount("T") == Decimal("0.35")
    assert item.amount("F4") is None
    assert line(2, "1").service_date is None
