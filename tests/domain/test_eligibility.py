"""Eligibility: is this person covered for this kind of service on this day?"""

from __future__ import annotations

from datetime import date

from rcmflow.domain.eligibility import (
    Benefit,
    EligibilityResponse,
    MemberEligibility,
    MemberInquiry,
    RequestError,
    ServiceInquiry,
    coverage_on,
    is_active_on,
)
from rcmflow.domain.parties import Party
from rcmflow.domain.remittance import QualifiedDate

PAYER, PROVIDER, SUBSCRIBER = Party("PR", "ACME"), Party("1P", "CLINIC"), Party("IL", "DOE")


def member(*benefits: Benefit, dates: tuple[QualifiedDate, ...] = ()) -> MemberEligibility:
    return MemberEligibility(PAYER, PROVIDER, SUBSCRIBER, dates=dates, benefits=benefits)


def test_active_from_plan_begin() -> None:
    someone = member(Benefit("1", service_types=("30",)), dates=(QualifiedDate("346", date(2026, 1, 1)),))
    assert coverage_on(someone, date(2026, 3, 1)) == "active"
    assert coverage_on(someone, date(2025, 12, 31)) == "inactive"  # before the plan began
    assert is_active_on(someone, date(2026, 3, 1))
    assert not is_active_on(someone, date(2025, 12, 31))


def test_benefit_dates_override_member_dates() -> None:
    someone = member(
        Benefit("1", service_types=("30",), dates=(QualifiedDate("291", date(2026, 1, 1), date(2026, 6, 30)),)),
        dates=(QualifiedDate("346", date(2020, 1, 1)),),
    )
    assert coverage_on(someone, date(2026, 6, 30)) == "active"
    assert coverage_on(someone, date(2026, 7, 1)) == "inactive"


def test_plan_end_closes_coverage() -> None:
    someone = member(Benefit("1", service_types=("30",)),
                     dates=(QualifiedDate("356", date(2026, 1, 1)), QualifiedDate("357", date(2026, 3, 31))))
    assert coverage_on(someone, date(2026, 3, 31)) == "active"
    assert coverage_on(someone, date(2026, 4, 1)) == "inactive"


def test_inactive_wins_and_service_types_matter() -> None:
    someone = member(Benefit("1", service_types=("30", "98")), Benefit("6", service_types=("35",)))
    assert coverage_on(someone, date(2026, 1, 1)) == "active"
    assert coverage_on(someone, date(2026, 1, 1), "98") == "active"
    assert coverage_on(someone, date(2026, 1, 1), "35") == "inactive"
    assert coverage_on(someone, date(2026, 1, 1), "88") == "unknown"
    both = member(Benefit("1", service_types=("30",)), Benefit("6", service_types=("30",)))
    assert coverage_on(both, date(2026, 1, 1)) == "inactive"
    # An active benefit that names no service type applies to every one.
    assert coverage_on(member(Benefit("1")), date(2026, 1, 1), "88") == "active"


def test_no_status_benefits_is_unknown() -> None:
    assert coverage_on(member(Benefit("B", service_types=("30",))), date(2026, 1, 1)) == "unknown"
    errors_only = EligibilityResponse("1", errors=(RequestError("2100B", "Y", "50", "N"),))
    assert not is_active_on(errors_only, date(2026, 1, 1))
    assert errors_only.all_errors[0].meaning == "Provider ineligible for inquiries"
    assert errors_only.all_errors[0].follow_up_meaning == "Resubmission not allowed"


def test_response_is_active_when_a_member_is() -> None:
    response = EligibilityResponse("1", members=(member(Benefit("6")), member(Benefit("1"))))
    assert is_active_on(response, date(2026, 1, 1))


def test_benefit_and_inquiry_helpers() -> None:
    copay = Benefit("B", service_types=("98",))
    assert copay.meaning == "Co-payment"
    assert not copay.active and not copay.inactive
    assert Benefit("7").inactive and Benefit("3").active
    error = RequestError("2110C", "N", "72", "C")
    with_error = MemberEligibility(PAYER, PROVIDER, SUBSCRIBER, errors=(RequestError("2100C", "Y", "75", "C"),),
                                   benefits=(Benefit("V", errors=(error,)),))
    assert [e.reason for e in with_error.all_errors] == ["75", "72"]
    assert error.meaning == "Invalid/missing subscriber/insured ID"
    inquiry = MemberInquiry(PAYER, PROVIDER, SUBSCRIBER, Party("03", "DOE", "KID"),
                            services=(ServiceInquiry(("30", "98")), ServiceInquiry(("98", "AL"))))
    assert inquiry.patient == Party("03", "DOE", "KID")
    assert inquiry.service_types == ("30", "98", "AL")
