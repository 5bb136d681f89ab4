"""CORE 370 reassociation: trace, split, partial and amount/date matches, and what stays unmatched."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from rcmflow.domain.reassociation import (
    AMOUNT_DATE,
    TRACE,
    TRACE_PARTIAL,
    OpenDeposit,
    OpenRemittance,
    Reassociation,
    combination,
    reassociate,
    same_originator,
)

PAID = date(2025, 3, 10)
FULL, PARTIAL, LOOSE = Decimal("1"), Decimal("0.9"), Decimal("0.8")


def remittance(remittance_id: int, trace: str, amount: str, *, payer: str = "AETNA", originator: str | None = None,
               paid: date | None = PAID) -> OpenRemittance:
    return OpenRemittance(remittance_id, payer, trace, originator, Decimal(amount), paid)


def deposit(deposit_id: int, amount: str, *keys: str, originator: str | None = None,
            value_date: date | None = date(2025, 3, 11)) -> OpenDeposit:
    return OpenDeposit(deposit_id, keys, originator, Decimal(amount), value_date)


# ---- rule 1: trace number ----------------------------------------------------------------------------


def test_trace_and_amount_equal_is_a_full_match() -> None:
    matches = reassociate([remittance(10, "12345678", "48239.50"), remittance(11, "99999", "48239.50")],
                          [deposit(1, "48239.50", "12345678")])
    assert matches == [Reassociation(1, 10, Decimal("48239.50"), TRACE, FULL)]


def test_a_later_key_is_tried_when_the_first_names_no_remittance() -> None:
    matches = reassociate([remittance(10, "880012345", "125.00")], [deposit(1, "125.00", "NOT-A-TRACE", "880012345")])
    assert matches == [Reassociation(1, 10, Decimal("125.00"), TRACE, FULL)]


@pytest.mark.parametrize(("deposit_originator", "remittance_originator", "matched"), [
    ("1512345678", "1512345678", True),
    ("512345678", "1512345678", True),  # the bank dropped TRN03's leading "1"
    ("1512345678", "512345678", True),
    (None, "1512345678", True),  # unknown on one side: the trace decides
    ("1512345678", None, True),
    ("1999999999", "1512345678", False),
    ("512345678", "999999999", False),
])
def test_originator_ids_must_agree_when_both_are_known(deposit_originator: str | None,
                                                       remittance_originator: str | None, matched: bool) -> None:
    matches = reassociate([remittance(10, "T1", "100.00", originator=remittance_originator)],
                          [deposit(1, "100.00", "T1", originator=deposit_originator, value_date=PAID)])
    # A different originator is not the same payment, not even by amount and date.
    assert matches == ([Reassociation(1, 10, Decimal("100.00"), TRACE, FULL)] if matched else [])


def test_same_originator_ignores_only_one_leading_one() -> None:
    assert same_originator("1123456789", "123456789")
    assert not same_originator("11123456789", "123456789")
    assert same_originator("", "123")


def test_split_835s_of_one_payer_add_up_to_the_deposit() -> None:
    matches = reassociate([remittance(10, "EFT1", "600.00"), remittance(11, "EFT1", "400.00")],
                          [deposit(1, "1000.00", "EFT1")])
    assert matches == [Reassociation(1, 10, Decimal("600.00"), TRACE, FULL),
                       Reassociation(1, 11, Decimal("400.00"), TRACE, FULL)]


def test_split_uses_the_one_subset_that_adds_up_and_leaves_the_rest_open() -> None:
    matches = reassociate([remittance(10, "EFT1", "600.00"), remittance(11, "EFT1", "250.00"),
                           remittance(12, "EFT1", "400.00")],
                          [deposit(1, "1000.00", "EFT1")])
    assert matches == [Reassociation(1, 10, Decimal("600.00"), TRACE, FULL),
                       Reassociation(1, 12, Decimal("400.00"), TRACE, FULL)]


def test_one_remittance_paid_by_several_deposits() -> None:
    matches = reassociate([remittance(10, "CHK77", "1000.00")],
                          [deposit(1, "700.00", "CHK77"), deposit(2, "300.00", "CHK77")])
    assert matches == [Reassociation(1, 10, Decimal("700.00"), TRACE, FULL),
                       Reassociation(2, 10, Decimal("300.00"), TRACE, FULL)]


def test_deposit_short_of_the_remittance_matches_the_deposit_amount() -> None:
    matches = reassociate([remittance(10, "T1", "100.00")], [deposit(1, "98.50", "T1")])
    assert matches == [Reassociation(1, 10, Decimal("98.50"), TRACE_PARTIAL, PARTIAL)]


def test_deposit_above_the_remittance_matches_the_remittance_amount() -> None:
    matches = reassociate([remittance(10, "T1", "12000.00")], [deposit(1, "12500.00", "T1")])
    assert matches == [Reassociation(1, 10, Decimal("12000.00"), TRACE_PARTIAL, PARTIAL)]


def test_split_that_does_not_add_up_matches_partially_in_id_order() -> None:
    matches = reassociate([remittance(10, "EFT1", "600.00"), remittance(11, "EFT1", "500.00")],
                          [deposit(1, "1000.00", "EFT1")])
    # 600 + 500 is not 1000: the first remittance is covered, the second gets what is left (100 stays open on it).
    assert matches == [Reassociation(1, 10, Decimal("600.00"), TRACE_PARTIAL, PARTIAL),
                       Reassociation(1, 11, Decimal("400.00"), TRACE_PARTIAL, PARTIAL)]


def test_trace_shared_by_two_payers_matches_only_the_one_equal_amount() -> None:
    remittances = [remittance(10, "10023", "450.00", payer="CIGNA"), remittance(11, "10023", "125.00", payer="HUMANA")]
    assert reassociate(remittances, [deposit(1, "125.00", "10023")]) == [
        Reassociation(1, 11, Decimal("125.00"), TRACE, FULL)]
    # Neither amount: which payer's check is it? No guess, not even a partial one.
    assert reassociate(remittances, [deposit(1, "300.00", "10023")]) == []


def test_trace_shared_by_two_payers_with_the_same_amount_is_ambiguous() -> None:
    remittances = [remittance(10, "10023", "125.00", payer="CIGNA"), remittance(11, "10023", "125.00", payer="HUMANA")]
    assert reassociate(remittances, [deposit(1, "125.00", "10023")]) == []


def test_a_remittance_is_not_matched_twice_in_one_call() -> None:
    matches = reassociate([remittance(10, "T1", "100.00")], [deposit(1, "100.00", "T1"), deposit(2, "100.00", "T1")])
    assert matches == [Reassociation(1, 10, Decimal("100.00"), TRACE, FULL)]


def test_combination_refuses_two_equally_good_subsets() -> None:
    items = [(1, Decimal("50.00")), (2, Decimal("50.00")), (3, Decimal("50.00"))]
    assert combination(items, Decimal("100.00")) is None
    assert combination(items, Decimal("150.00")) == (1, 2, 3)
    assert combination(items[:1], Decimal("50.00")) is None  # one item is not a combination


# ---- rule 2: amount and date -------------------------------------------------------------------------


@pytest.mark.parametrize(("value_date", "matched"), [
    (date(2025, 3, 9), False),  # before the payment date
    (date(2025, 3, 10), True),  # the payment date itself
    (date(2025, 3, 15), True),  # the last day of the 5-day window
    (date(2025, 3, 16), False),
])
def test_amount_and_date_window_edges(value_date: date, matched: bool) -> None:
    matches = reassociate([remittance(10, "NOT-IN-BANK", "3000.00")],
                          [deposit(1, "3000.00", "WIRE-PAYER-77", value_date=value_date)])
    assert matches == ([Reassociation(1, 10, Decimal("3000.00"), AMOUNT_DATE, LOOSE)] if matched else [])


def test_date_window_is_a_parameter() -> None:
    remittances = [remittance(10, "X", "3000.00")]
    deposits = [deposit(1, "3000.00", value_date=date(2025, 3, 12))]
    assert reassociate(remittances, deposits, date_window_days=1) == []
    assert reassociate(remittances, deposits, date_window_days=2) == [
        Reassociation(1, 10, Decimal("3000.00"), AMOUNT_DATE, LOOSE)]


def test_amount_and_date_needs_exactly_one_candidate_each_way() -> None:
    two_remittances = [remittance(10, "A", "250.00"), remittance(11, "B", "250.00")]
    assert reassociate(two_remittances, [deposit(1, "250.00")]) == []
    two_deposits = [deposit(1, "250.00"), deposit(2, "250.00")]
    assert reassociate([remittance(10, "A", "250.00")], two_deposits) == []


def test_amount_and_date_needs_both_dates() -> None:
    assert reassociate([remittance(10, "A", "250.00", paid=None)], [deposit(1, "250.00")]) == []
    assert reassociate([remittance(10, "A", "250.00")], [deposit(1, "250.00", value_date=None)]) == []


def test_trace_candidates_are_not_matched_by_amount_and_date() -> None:
    # Deposit 1 names remittance 10 by trace but cannot be matched (two payers); deposit 2 has no trace and
    # the same amount: remittance 10 waits for a person rather than being paired by amount.
    remittances = [remittance(10, "10023", "125.00", payer="CIGNA"), remittance(11, "10023", "125.00", payer="HUMANA")]
    assert reassociate(remittances, [deposit(1, "125.00", "10023"), deposit(2, "125.00")]) == []


def test_zero_and_negative_open_amounts_take_no_part() -> None:
    assert reassociate([remittance(10, "T1", "0.00")], [deposit(1, "0.00", "T1")]) == []
    assert reassociate([remittance(10, "T1", "-5.00")], [deposit(1, "5.00", "T1")]) == []


def test_the_same_input_in_any_order_gives_the_same_matches() -> None:
    remittances = [remittance(10, "EFT1", "600.00"), remittance(11, "EFT1", "400.00"), remittance(12, "Z", "75.00")]
    deposits = [deposit(1, "1000.00", "EFT1"), deposit(2, "75.00")]
    expected = [Reassociation(1, 10, Decimal("600.00"), TRACE, FULL),
                Reassociation(1, 11, Decimal("400.00"), TRACE, FULL),
                Reassociation(2, 12, Decimal("75.00"), AMOUNT_DATE, LOOSE)]
    assert reassociate(remittances, deposits) == expected
    assert reassociate(remittances[::-1], deposits[::-1]) == expected
