"""Matching against stored claims: each rule in the database, set-based over a large batch, line pairing."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, event

from rcmflow.adapters.store.schema import claim_lines, claims
from rcmflow.domain.matching import ClaimMatch, LineKey, PaymentKey
from rcmflow.services.matching import best_candidates, match_claim_payments, match_service_lines

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
DAY = date(2026, 3, 2)
_digests = itertools.count()


def claim_row(pcn: str, **overrides: Any) -> dict[str, Any]:
    row = {"organisation_id": "default", "payer_id": "PAYER-A", "claim_type": "P", "patient_control_number": pcn,
           "frequency": "1", "payer_claim_number": None, "filing_order": "P", "member_id": "W123456789",
           "service_from": DAY, "service_to": DAY, "total_charge": Decimal("250.00"), "line_count": 1,
           "state": "submitted", "content_digest": hashlib.sha256(str(next(_digests)).encode()).hexdigest(),
           "created_at": NOW}
    return row | overrides


def add_claims(conn: Connection, *rows: dict[str, Any]) -> list[int]:
    return list(conn.execute(claims.insert().returning(claims.c.id, sort_by_parameter_order=True), list(rows))
                .scalars())


def payment(payment_id: int, pcn: str, *, payer: str = "PAYER-A", icn: str | None = None,
            member: str | None = "W123456789", charge: str = "250.00") -> PaymentKey:
    return PaymentKey(payment_id, payer, pcn, icn, member, DAY, DAY, Decimal(charge))


def exact(claim_id: int, method: str = "patient_control_number") -> ClaimMatch:
    return ClaimMatch(claim_id, method, Decimal(1))


def test_patient_control_number_matches_the_same_payers_claim(engine: Engine) -> None:
    with engine.begin() as conn:
        primary, secondary = add_claims(conn, claim_row("PCN1"),
                                        claim_row("PCN1", payer_id="PAYER-B", filing_order="S"))
        matches = match_claim_payments(conn, [payment(1, "PCN1"), payment(2, "PCN1", payer="PAYER-B"),
                                              payment(3, "PCN1", payer="PAYER-C"), payment(4, "OTHER77")])

    # The crossover payer C has no claim: it is not put on A's or B's claim, and nothing else finds one.
    assert matches == {1: exact(primary), 2: exact(secondary)}


def test_voided_claims_are_never_matched_and_a_replacement_beats_its_original(engine: Engine) -> None:
    with engine.begin() as conn:
        add_claims(conn, claim_row("VOID1", state="voided"), claim_row("VOID1", frequency="8"))
        original, replacement = add_claims(conn, claim_row("REPL1", total_charge=Decimal("200.00")),
                                           claim_row("REPL1", frequency="7"))
        add_claims(conn, claim_row("REPL1", state="voided"))
        matches = match_claim_payments(conn, [payment(1, "VOID1", member=None), payment(2, "REPL1")])

    assert original != replacement
    assert matches == {2: exact(replacement)}


def test_payer_claim_control_number_matches_when_the_patient_control_number_does_not(engine: Engine) -> None:
    with engine.begin() as conn:
        other_payer, claim_id = add_claims(conn, claim_row("ABC1", payer_id="PAYER-B", payer_claim_number="ICN77"),
                                           claim_row("ABC1", payer_claim_number="ICN77"))
        matches = match_claim_payments(conn, [payment(1, "MANGLED", icn="ICN77", member=None),
                                              payment(2, "MANGLED", icn="ICN77", payer="PAYER-C", member=None)])

    assert other_payer != claim_id
    assert matches == {1: exact(claim_id, "payer_claim_number")}


def test_fuzzy_match_finds_a_claim_with_a_typo_in_the_patient_control_number(engine: Engine) -> None:
    with engine.begin() as conn:
        typo, both_typos, _elsewhere = add_claims(
            conn, claim_row("PCN0012346"),
            claim_row("PCN0077778", member_id="W999999990", total_charge=Decimal("1234.57")),
            claim_row("PCN0012346", payer_id="PAYER-B"))
        matches = match_claim_payments(conn, [
            payment(1, "PCN0012345"),
            # Found by date and charge (the member id differs too): 0.315 + 0.25 x 0.9 + 0.25 + 0.15.
            payment(2, "PCN0077777", member="W999999999", charge="1234.57"),
        ])

    assert matches == {1: ClaimMatch(typo, "fuzzy", Decimal("0.9650")),
                       2: ClaimMatch(both_typos, "fuzzy", Decimal("0.9400"))}


def test_below_the_threshold_a_payment_stays_unmatched_with_its_candidates_listed(engine: Engine) -> None:
    with engine.begin() as conn:
        same_visit, other_visit = add_claims(conn, claim_row("ZZ-90001"),
                                             claim_row("QQ-55", service_from=date(2026, 3, 9),
                                                       service_to=date(2026, 3, 9)))
        unpaid = payment(1, "PCN0012345")
        matches = match_claim_payments(conn, [unpaid])
        candidates = best_candidates(conn, unpaid)
        top_one = best_candidates(conn, unpaid, limit=1)

    # "ZZ90001" vs "PCN0012345": Indel distance 11 over 17 characters: 0.35 x 6/17 + 0.65 = 0.7735.
    # The later visit ("QQ55": distance 12 over 14): 0.35 x 2/14 + 0.25 + 0.25 / 15 + 0.15 = 0.4667.
    assert matches == {}
    assert candidates == [ClaimMatch(same_visit, "fuzzy", Decimal("0.7735")),
                          ClaimMatch(other_visit, "fuzzy", Decimal("0.4667"))]
    assert top_one == candidates[:1]


def test_fuzzy_candidates_include_the_replacement_of_a_claim_found(engine: Engine) -> None:
    with engine.begin() as conn:
        # Only the original has the paid charge; its replacement corrected the charge. The payment lands on
        # the replacement, as an exact patient control number would.
        _original, replacement = add_claims(conn, claim_row("PCN0012346"),
                                            claim_row("PCN0012346", frequency="7", total_charge=Decimal("300.00")))
        matches = match_claim_payments(conn, [payment(1, "PCN0012345", member=None)], threshold=Decimal("0.5"))

    # 0.315 + 0 (no member) + 0.25 + 0 (another charge).
    assert matches == {1: ClaimMatch(replacement, "fuzzy", Decimal("0.5650"))}


def test_claims_of_another_organisation_are_invisible(engine: Engine) -> None:
    with engine.begin() as conn:
        add_claims(conn, claim_row("PCN1", organisation_id="other"))
        assert match_claim_payments(conn, [payment(1, "PCN1")]) == {}
        assert match_claim_payments(conn, [payment(1, "PCN1")], organisation_id="other") != {}


def charge(number: int) -> Decimal:
    return Decimal("100.00") + Decimal(number).scaleb(-2)


def test_a_large_batch_matches_in_a_handful_of_queries(engine: Engine) -> None:
    count = 6_000  # over the 5,000-value IN chunk on SQLite
    with engine.begin() as conn:
        ids = add_claims(conn, *(claim_row(f"C{number:05d}", member_id=f"M{number:05d}", total_charge=charge(number),
                                           payer_claim_number=f"ICN{number:05d}") for number in range(count)))
        batch = [payment(number, f"C{number:05d}", member=f"M{number:05d}", charge=str(charge(number)))
                 for number in range(count - 10)]
        # The last ten: five found by the payer's claim number, five with a typo in the patient control number.
        batch += [payment(number, f"X{number:05d}", icn=f"ICN{number:05d}", member=None)
                  for number in range(count - 10, count - 5)]
        batch += [payment(number, f"C{number:05d}9", member=f"M{number:05d}", charge=str(charge(number)))
                  for number in range(count - 5, count)]
        statements: list[str] = []

        def record(*args: Any) -> None:
            statements.append(args[2])

        event.listen(conn, "before_cursor_execute", record)
        try:
            matches = match_claim_payments(conn, batch)
        finally:
            event.remove(conn, "before_cursor_execute", record)

    assert len(matches) == count
    assert [matches[number].claim_id for number in range(count)] == ids
    assert {matches[number].method for number in range(count - 10)} == {"patient_control_number"}
    assert {matches[number].method for number in range(count - 10, count - 5)} == {"payer_claim_number"}
    # "C05995" vs "C059959": Indel distance 1 over 13 characters; 0.35 x 12/13 + 0.65.
    assert {matches[number].confidence for number in range(count - 5, count)} == {Decimal("0.9731")}
    # Two chunks of patient control numbers (one array on PostgreSQL), then one query per later step (the
    # same-day fallback counts its groups before reading the small ones).
    assert len(statements) <= 7


def add_lines(conn: Connection, claim_id: int, *lines: dict[str, Any], organisation_id: str = "default") -> list[int]:
    rows = [{"organisation_id": organisation_id, "claim_id": claim_id, "line_number": number,
             "procedure_code": "99213", "modifiers": None, "revenue_code": None, "charge": Decimal("100.00"),
             "service_date": DAY, "line_item_control_number": None} | line
            for number, line in enumerate(lines, start=1)]
    return list(conn.execute(claim_lines.insert().returning(claim_lines.c.id, sort_by_parameter_order=True), rows)
                .scalars())


def line(line_id: int, code: str | None = "99213", modifiers: tuple[str, ...] = (), *, charge: str = "100.00",
         revenue: str | None = None, line_item: str | None = None) -> LineKey:
    return LineKey(line_id, code, modifiers, revenue, Decimal(charge), DAY, line_item)


def test_service_payments_pair_with_the_billed_lines_of_their_own_claim(engine: Engine) -> None:
    with engine.begin() as conn:
        professional, institutional, empty = add_claims(conn, claim_row("P1"), claim_row("I1", claim_type="I"),
                                                        claim_row("E1"))
        visit, injection, xray = add_lines(
            conn, professional, {"modifiers": "25", "line_item_control_number": "L1"},
            {"procedure_code": "96372", "modifiers": "59:RT", "charge": Decimal("40.50")},
            {"procedure_code": "71046", "charge": Decimal("80.00")})
        lab, = add_lines(conn, institutional, {"procedure_code": None, "revenue_code": "0300"})
        pairs = match_service_lines(conn, {
            professional: [line(1, "99214", line_item="L1"), line(2, "96372", ("59",), charge="40.50"),
                           line(3, "71046", charge="75.00"), line(4, "J1100")],
            institutional: [line(5, None, revenue="300")],
            empty: [line(6)],
        })

    # Line 1 by REF*6R though re-coded, line 2 with a dropped modifier, line 3 with a different charge;
    # line 4 and the claim without billed lines pair with nothing.
    assert pairs == {1: visit, 2: injection, 3: xray, 5: lab}


def test_line_pairing_reads_only_the_organisations_lines(engine: Engine) -> None:
    with engine.begin() as conn:
        claim_id, = add_claims(conn, claim_row("P1"))
        add_lines(conn, claim_id, {}, organisation_id="other")
        assert match_service_lines(conn, {claim_id: [line(1)]}) == {}
        assert match_service_lines(conn, {}) == {}


def test_line_pairing_is_set_based_across_chunks(engine: Engine) -> None:
    count = 5_001  # over the 5,000-value IN chunk on SQLite
    with engine.begin() as conn:
        claim_ids = add_claims(conn, *(claim_row(f"P{number}") for number in range(count)))
        line_ids = list(conn.execute(
            claim_lines.insert().returning(claim_lines.c.id, sort_by_parameter_order=True),
            [{"organisation_id": "default", "claim_id": claim_id, "line_number": 1, "procedure_code": "99213",
              "charge": Decimal("100.00"), "service_date": DAY} for claim_id in claim_ids]).scalars())
        pairs = match_service_lines(conn, {claim_id: [line(number)] for number, claim_id in enumerate(claim_ids)})

    assert pairs == dict(enumerate(line_ids))


def test_lines_that_all_echo_their_control_numbers_pair_by_them_alone_and_the_rest_by_every_rule(
        engine: Engine) -> None:
    with engine.begin() as conn:
        echoed, partly, twice, foreign = add_claims(conn, claim_row("P1"), claim_row("P2"), claim_row("P3"),
                                                    claim_row("P4"))
        first, second = add_lines(conn, echoed, {"line_item_control_number": "A1"},
                                  {"procedure_code": "85025", "line_item_control_number": "A2"})
        visit, lab = add_lines(conn, partly, {"line_item_control_number": "B1"},
                               {"procedure_code": "85025", "line_item_control_number": "B2"})
        same_a, same_b = add_lines(conn, twice, {"line_item_control_number": "C1"}, {"line_item_control_number": "C1"})
        add_lines(conn, foreign, {"line_item_control_number": "D1"}, organisation_id="other")
        pairs = match_service_lines(conn, {
            # Re-coded and re-priced by the payer: the control numbers still pair them, in their order.
            echoed: [line(1, "J1100", charge="1.00", line_item="A2"), line(2, "J1100", line_item="A1")],
            # B9 is not on the claim: the claim is paired by every rule, B1 by its number, the lab by its code.
            partly: [line(3, line_item="B1"), line(4, "85025", line_item="B9")],
            # The same number twice: each paid line takes the first billed line still free.
            twice: [line(5, line_item="C1"), line(6, line_item="C1")],
            foreign: [line(7, line_item="D1")],
        })
    assert pairs == {1: second, 2: first, 3: visit, 4: lab, 5: same_a, 6: same_b}
