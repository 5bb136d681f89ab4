"""Matching rules: exact keys with their preferences, the fuzzy score and its threshold, line pairing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rcmflow.domain.matching import (
    METHOD_FUZZY,
    METHOD_PATIENT_CONTROL_NUMBER,
    BilledLine,
    ClaimKey,
    ClaimMatch,
    LineKey,
    PaymentKey,
    best_claim,
    exact_match,
    fuzzy_score,
    pair_by_line_items,
    pair_lines,
    scored_candidates,
    text_similarity,
)

DAY = date(2026, 3, 2)


def payment(pcn: str = "PCN0012345", *, payer: str = "PAYER-A", member: str | None = "W123456789",
            service_from: date | None = DAY, service_to: date | None = DAY, charge: str = "250.00") -> PaymentKey:
    return PaymentKey(900, payer, pcn, None, member, service_from, service_to, Decimal(charge))


def claim(claim_id: int, pcn: str = "PCN0012345", *, payer: str = "PAYER-A", member: str | None = "W123456789",
          service_from: date | None = DAY, service_to: date | None = DAY, charge: str = "250.00",
          frequency: str = "1", state: str = "submitted") -> ClaimKey:
    return ClaimKey(claim_id, payer, pcn, None, member, service_from, service_to, Decimal(charge), frequency, state)


# ---- exact keys ---------------------------------------------------------------------------------------------

def test_exact_match_takes_the_payers_own_claim_among_claims_sharing_the_number() -> None:
    primary, secondary = claim(1, payer="PAYER-A"), claim(2, payer="PAYER-B")

    assert exact_match(payment(payer="PAYER-A"), [primary, secondary], METHOD_PATIENT_CONTROL_NUMBER) == \
        ClaimMatch(1, METHOD_PATIENT_CONTROL_NUMBER, Decimal(1))
    assert exact_match(payment(payer="PAYER-B"), [primary, secondary], METHOD_PATIENT_CONTROL_NUMBER).claim_id == 2
    # A crossover 835 from a payer with no claim of that number is not forced onto another payer's claim.
    assert exact_match(payment(payer="PAYER-C"), [primary, secondary], METHOD_PATIENT_CONTROL_NUMBER) is None


def test_exact_match_never_lands_on_a_voided_claim_or_a_void_request() -> None:
    voided, void_request = claim(1, state="voided"), claim(2, frequency="8")

    assert exact_match(payment(), [voided, void_request], METHOD_PATIENT_CONTROL_NUMBER) is None
    assert exact_match(payment(), [claim(3), voided, void_request], METHOD_PATIENT_CONTROL_NUMBER).claim_id == 3


def test_exact_match_prefers_the_replacement_then_the_newest_claim() -> None:
    # Ids need not follow billing order (claims loaded from another system): the replacement still wins.
    assert exact_match(payment(), [claim(5), claim(3, frequency="7")], METHOD_PATIENT_CONTROL_NUMBER).claim_id == 3
    assert exact_match(payment(), [claim(2), claim(4)], METHOD_PATIENT_CONTROL_NUMBER).claim_id == 4
    assert exact_match(payment(), [claim(6, frequency="7"), claim(8, frequency="7"), claim(9)],
                       METHOD_PATIENT_CONTROL_NUMBER).claim_id == 8


# ---- fuzzy score ----------------------------------------------------------------------------------------------

def test_text_similarity_is_the_normalised_indel_ratio_of_letters_and_digits() -> None:
    # One substituted character in ten: Indel distance 2 over 20 characters.
    assert text_similarity("PCN0012345", "PCN0012346") == Decimal("0.9")
    assert text_similarity("pcn-00123 45", "PCN0012345") == Decimal(1)
    assert text_similarity(None, "PCN0012345") == Decimal(0)
    assert text_similarity("", "") == Decimal(0)


def test_fuzzy_score_weighs_number_member_dates_and_charge() -> None:
    typo = claim(1, "PCN0012346")

    # 0.35 x 0.9 + 0.25 + 0.25 + 0.15
    assert fuzzy_score(payment(), typo) == Decimal("0.9650")
    # The member id is missing: no evidence, 0.315 + 0.25 + 0.15.
    assert fuzzy_score(payment(member=None), typo) == Decimal("0.7150")
    # Dates one day off at both ends: 0.25 / (1 + 2) = 0.08333.
    assert fuzzy_score(payment(), typo._replace(service_from=date(2026, 3, 3), service_to=date(2026, 3, 3))) == \
        Decimal("0.7983")
    # Another charge: 0.315 + 0.25 + 0.25.
    assert fuzzy_score(payment(), typo._replace(total_charge=Decimal("250.01"))) == Decimal("0.8150")
    assert fuzzy_score(payment(), claim(2, "pcn-00123-45")) == Decimal("1.0000")


def test_other_dates_or_another_charge_cap_the_score_below_the_default_threshold() -> None:
    # The candidate fetch relies on it: only a claim starting the same day with the same charge can reach 0.90.
    same_numbers = claim(1, "PCN-0012345")

    assert fuzzy_score(payment(), same_numbers._replace(service_to=date(2026, 3, 3))) == Decimal("0.8750")
    assert fuzzy_score(payment(), same_numbers._replace(total_charge=Decimal("250.01"))) == Decimal("0.8500")


def test_a_sequential_visit_of_the_same_patient_scores_below_the_default_threshold() -> None:
    # "A1001" vs "A1002": 0.8; a week later at both ends: 1 / 15. 0.28 + 0.25 + 0.01667 + 0.15.
    next_visit = claim(1, "A1002", service_from=date(2026, 3, 9), service_to=date(2026, 3, 9))

    assert fuzzy_score(payment("A1001"), next_visit) == Decimal("0.6967")
    assert best_claim(payment("A1001"), [next_visit], threshold=Decimal("0.90")) is None


def test_best_claim_keeps_a_score_at_the_threshold_and_refuses_one_below() -> None:
    typo = claim(1, "PCN0012346")

    assert best_claim(payment(), [typo], threshold=Decimal("0.9650")) == ClaimMatch(1, METHOD_FUZZY, Decimal("0.9650"))
    assert best_claim(payment(), [typo], threshold=Decimal("0.9651")) is None


def test_best_claim_refuses_a_tie_for_the_best_score() -> None:
    # Both numbers are one character away: a person decides which claim was paid.
    candidates = [claim(1, "PCN0012346"), claim(2, "PCN0012344"), claim(3, "XYZ")]

    assert best_claim(payment(), candidates, threshold=Decimal("0.90")) is None
    assert [match.claim_id for match in scored_candidates(payment(), candidates)] == [1, 2, 3]


def test_best_claim_scores_an_original_and_its_replacement_as_one_candidate() -> None:
    original, replacement = claim(1, "PCN0012346"), claim(2, "PCN0012346", frequency="7")

    assert best_claim(payment(), [replacement, original], threshold=Decimal("0.90")) == \
        ClaimMatch(2, METHOD_FUZZY, Decimal("0.9650"))


def test_best_claim_ignores_other_payers_and_voided_claims() -> None:
    other_payer = claim(1, "PCN0012346", payer="PAYER-B")
    voided = claim(2, "PCN0012347", state="voided")

    assert best_claim(payment(), [other_payer, voided], threshold=Decimal("0.50")) is None
    assert best_claim(payment(), [other_payer, voided, claim(3, "PCN0012348")],
                      threshold=Decimal("0.90")).claim_id == 3


# ---- line pairing -------------------------------------------------------------------------------------------

def paid(line_id: int, code: str | None = "99213", modifiers: tuple[str, ...] = (), *, charge: str = "100.00",
         service_date: date | None = DAY, revenue: str | None = None, line_item: str | None = None) -> LineKey:
    return LineKey(line_id, code, modifiers, revenue, Decimal(charge), service_date, line_item)


def billed(line_id: int, code: str | None = "99213", modifiers: tuple[str, ...] = (), *, charge: str = "100.00",
           service_date: date | None = DAY, revenue: str | None = None, line_item: str | None = None) -> BilledLine:
    return BilledLine(line_id, code, modifiers, revenue, Decimal(charge), service_date, line_item)


def test_line_item_control_number_pairs_first_whatever_the_codes() -> None:
    # The payer re-coded the line (bundling): the echoed REF*6R still says which billed line it pays.
    lines = [paid(1, "99214", line_item="L2"), paid(2, "99213", line_item="L1")]

    assert pair_lines(lines, [billed(10, line_item="L1"), billed(11, line_item="L2")]) == {1: 11, 2: 10}


def test_exact_pairs_come_before_looser_ones() -> None:
    # Pairing in one pass would give paid line 1 (modifiers dropped) the first billed line, leaving line 2's
    # exact partner taken. Strictest rule first: each gets its exact partner.
    lines = [paid(1, "99213"), paid(2, "99213", ("25",))]

    assert pair_lines(lines, [billed(10, "99213", ("25",)), billed(11, "99213")]) == {1: 11, 2: 10}


def test_modifiers_the_payer_drops_or_reorders_still_pair_on_the_same_charge() -> None:
    # Billed line 10 has another charge; line 11 has the same charge and the paid modifiers among its own.
    assert pair_lines([paid(1, "97110", charge="50.00")],
                      [billed(10, "97110", ("GP",), charge="60.00"), billed(11, "97110", ("GP", "59"), charge="50.00")]
                      ) == {1: 11}
    assert pair_lines([paid(1, "97110", ("59", "GP"))], [billed(10, "97110", ("GP", "59"))]) == {1: 10}
    assert pair_lines([paid(1, "97110", ("59",))], [billed(10, "97110", ("GP", "59"))]) == {1: 10}


def test_a_different_charge_pairs_last_on_code_and_date() -> None:
    assert pair_lines([paid(1, charge="90.00")], [billed(10, charge="100.00")]) == {1: 10}
    assert pair_lines([paid(1)], [billed(10, service_date=date(2026, 3, 3))]) == {}
    assert pair_lines([paid(1, "99214")], [billed(10, "99213")]) == {}


def test_a_line_without_a_date_pairs_on_the_rest() -> None:
    assert pair_lines([paid(1, service_date=None)], [billed(10)]) == {1: 10}


def test_institutional_lines_pair_on_the_revenue_code() -> None:
    assert pair_lines([paid(1, None, revenue="450")], [billed(10, None, revenue="0450")]) == {1: 10}
    # SVC01 qualified NU: the revenue code arrives as the procedure code.
    assert pair_lines([paid(1, "0300")], [billed(10, None, revenue="0300")]) == {1: 10}
    # The payer paid at revenue-code level a line billed with a HCPCS code too.
    assert pair_lines([paid(1, None, revenue="0300")], [billed(10, "85025", revenue="0300")]) == {1: 10}
    assert pair_lines([paid(1, None, revenue="0300")], [billed(10, None, revenue="0301")]) == {}


def test_identical_lines_pair_one_to_one_in_order() -> None:
    lines = [paid(1), paid(2), paid(3)]

    assert pair_lines(lines, [billed(10), billed(11)]) == {1: 10, 2: 11}
    assert list(pair_lines([paid(5, "97110"), paid(4)], [billed(11), billed(10, "97110")])) == [5, 4]


def test_pairing_by_control_numbers_alone_gives_what_every_rule_gives_or_nothing() -> None:
    billed_lines = [billed(11, line_item="A1"), billed(12, "85025", line_item="A2"), billed(13, line_item="A2")]
    numbers = [(line.claim_line_id, line.line_item_control_number) for line in billed_lines]
    echoed = [paid(1, "J1100", line_item="A2"), paid(2, line_item="A1"), paid(3, "85025", line_item="A2")]
    assert pair_by_line_items(echoed, numbers) == pair_lines(echoed, billed_lines) == {1: 12, 2: 11, 3: 13}
    # One line without its number, or with a number not billed: the whole lines must be seen.
    assert pair_by_line_items([paid(1, line_item="A1"), paid(2)], numbers) is None
    assert pair_by_line_items([paid(1, line_item="A9")], numbers) is None
