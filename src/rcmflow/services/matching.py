"""Matching in the database: find the claims an 835 batch pays and the billed lines its service payments pay.

Set-based: each step runs one query for the whole batch (IN-lists chunked at 5,000 values on SQLite, one array
on PostgreSQL; row-value IN-lists chunked on both), whatever the number of payments; the rules themselves are in
``domain.matching``. Nothing is
written here: the posting orchestration records the matches, and sends what stays unmatched to unapplied cash.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, func, null, select

from rcmflow.adapters.crypto import blind_index
from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, claim_lines, claims
from rcmflow.adapters.store.sql import SQLITE_CHUNK, as_date, in_chunks, raw
from rcmflow.domain.matching import (
    METHOD_PATIENT_CONTROL_NUMBER,
    METHOD_PAYER_CLAIM_NUMBER,
    BilledLine,
    ClaimKey,
    ClaimMatch,
    LineKey,
    PaymentKey,
    best_claim,
    exact_match,
    pair_by_line_items,
    pair_lines,
    scored_candidates,
)
from rcmflow.domain.money import from_stored

DEFAULT_FUZZY_THRESHOLD = Decimal("0.90")
# A clinic bills many identical visits a day: beyond this many claims sharing a payer, first day and charge,
# date and charge cannot single one out, and scoring them all (for every unmatched payment, on every retry
# of unapplied cash) would cost more than it could find. Member-id candidates are still scored.
MAX_SAME_DAY_CANDIDATES = 50

_CENT = Decimal("0.01")
new_tuple = tuple.__new__
# Raw dates and amounts (converted here, amounts through a cache): a batch reads tens of thousands of claims.
_CLAIM_COLUMNS = (
    claims.c.id, claims.c.payer_id, claims.c.patient_control_number, claims.c.payer_claim_number,
    claims.c.member_id, raw(claims.c.service_from), raw(claims.c.service_to), raw(claims.c.total_charge),
    claims.c.frequency, claims.c.state,
)
# The exact keys never read the member id: leaving it out spares decrypting one per claim of the batch.
_EXACT_COLUMNS = tuple(null().label("member_id") if column is claims.c.member_id else column
                       for column in _CLAIM_COLUMNS)
# Voided claims never match (domain.matching.is_voided); leaving them out in SQL keeps the rows read small.
_LIVE = (claims.c.state != "voided", claims.c.frequency != "8")


def _claims_where(conn: Connection, organisation_id: str, conditions: Iterable[Any], *,
                  member: bool = True) -> list[ClaimKey]:
    """Live claims of the organisation meeting any of ``conditions`` (one query each); without ``member``, their
    member ids are left out (None)."""
    found: list[ClaimKey] = []
    for condition in conditions:
        rows = conn.execute(select(*(_CLAIM_COLUMNS if member else _EXACT_COLUMNS)).where(
            claims.c.organisation_id == organisation_id, condition, *_LIVE)).all()
        # tuple.__new__: every field given, without the NamedTuple's Python-level __new__ (a frame per claim).
        found.extend(new_tuple(ClaimKey, (claim_id, payer_id, pcn, payer_claim_number, member_id,
                                          as_date(service_from), as_date(service_to), from_stored(charge), frequency,
                                          state))
                     for claim_id, payer_id, pcn, payer_claim_number, member_id, service_from, service_to, charge,
                     frequency, state in rows)
    return found


def _in(conn: Connection, column: Any, values: Iterable[Any]) -> Iterator[Any]:
    """``column IN values`` conditions for the distinct values, chunked (none for no values)."""
    wanted = sorted(set(values))
    return in_chunks(conn, column, wanted) if wanted else iter(())


def _same_day(values: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
    """``(payer, first day, charge) IN values`` as one ``payer = ? AND day = ? AND charge IN (...)`` condition
    per payer and day: SQLite plans a row-value IN (or an OR of such terms) on the payer alone, i.e. every
    claim of the payer per batch; each of these uses the whole (organisation, payer, day) index. A batch's
    unmatched payments fall on a handful of days, so this is a handful of queries."""
    by_day: dict[tuple[Any, Any], list[Any]] = defaultdict(list)
    for payer, day, charge in sorted(set(values)):
        by_day[(payer, day)].append(charge)
    for (payer, day), charges in by_day.items():
        for start in range(0, len(charges), SQLITE_CHUNK):
            yield and_(claims.c.payer_id == payer, claims.c.service_from == day,
                       claims.c.total_charge.in_(charges[start:start + SQLITE_CHUNK]))


def _grouped(claim_keys: Iterable[ClaimKey], key: Callable[[ClaimKey], Hashable]) -> dict[Any, list[ClaimKey]]:
    groups: dict[Any, list[ClaimKey]] = defaultdict(list)
    for claim in claim_keys:
        groups[key(claim)].append(claim)
    return groups


def _fuzzy_candidates(conn: Connection, payments: Sequence[PaymentKey],
                      organisation_id: str) -> dict[int, list[ClaimKey]]:
    """Per payment, the same payer's claims worth scoring: those with the same member id, and those with the same
    total charge starting on the same day; widened to every claim sharing a candidate's patient control number,
    so that the domain can prefer a replacement over its original."""
    # The member id is encrypted: claims are found by its blind index, grouped by the same index.
    members = _in(conn, claims.c.member_id_index,
                  (index for p in payments if (index := blind_index(p.member_id)) is not None))
    by_member = _grouped(_claims_where(conn, organisation_id, members),
                         lambda c: (c.payer_id, blind_index(c.member_id)))
    # Only the same first day of service, not any overlap: a claim with other dates scores at most 0.875 and one
    # with another charge at most 0.85 (docs/design/matching.md), and an exact (payer, day, charge) fetch reads
    # a handful of rows where an overlap window reads every claim of those charges in the batch's dates.
    day_columns = (claims.c.payer_id, claims.c.service_from, claims.c.total_charge)
    wanted = {(p.payer_id, p.service_from, p.charge) for p in payments if p.service_from is not None}
    small: list[tuple[Any, ...]] = []
    for condition in _same_day(wanted):  # count first: large groups are not worth reading
        small.extend((payer, day, from_stored(charge)) for payer, day, charge, _ in conn.execute(
            select(*day_columns, func.count()).where(claims.c.organisation_id == organisation_id, condition, *_LIVE)
            .group_by(*day_columns).having(func.count() <= MAX_SAME_DAY_CANDIDATES)))
    by_charge = _grouped(_claims_where(conn, organisation_id, _same_day(small)),
                         lambda c: (c.payer_id, c.service_from, c.total_charge))
    candidates: dict[int, list[ClaimKey]] = {}
    for payment in payments:
        member = blind_index(payment.member_id)
        found = {claim.claim_id: claim for claim in by_member.get((payment.payer_id, member), ())} if member else {}
        same_day_claims = by_charge.get((payment.payer_id, payment.service_from, payment.charge), ())
        if len(same_day_claims) <= MAX_SAME_DAY_CANDIDATES:
            found.update((claim.claim_id, claim) for claim in same_day_claims)
        candidates[payment.claim_payment_id] = list(found.values())
    numbers = _in(conn, claims.c.patient_control_number,
                  (c.patient_control_number for group in candidates.values() for c in group))
    by_number = _grouped(_claims_where(conn, organisation_id, numbers),
                         lambda c: (c.payer_id, c.patient_control_number))
    return {payment_id: list({claim.claim_id: claim for c in group
                              for claim in by_number.get((c.payer_id, c.patient_control_number), [c])}.values())
            for payment_id, group in candidates.items()}


def match_claim_payments(
    conn: Connection,
    payments: Sequence[PaymentKey],
    *,
    organisation_id: str = DEFAULT_ORGANISATION,
    threshold: Decimal = DEFAULT_FUZZY_THRESHOLD,
) -> dict[int, ClaimMatch]:
    """The claim each payment pays: claim_payment_id -> match; a payment absent from the result is unmatched."""
    matches: dict[int, ClaimMatch] = {}
    if not payments:
        return matches
    numbers = _in(conn, claims.c.patient_control_number, (p.patient_control_number for p in payments))
    by_pcn = _grouped(_claims_where(conn, organisation_id, numbers, member=False), lambda c: c.patient_control_number)
    for payment in payments:
        match = exact_match(payment, by_pcn.get(payment.patient_control_number, ()), METHOD_PATIENT_CONTROL_NUMBER)
        if match is not None:
            matches[payment.claim_payment_id] = match

    rest = [p for p in payments if p.claim_payment_id not in matches and p.payer_claim_control_number]
    numbers = _in(conn, claims.c.payer_claim_number, (p.payer_claim_control_number for p in rest))
    by_number = _grouped(_claims_where(conn, organisation_id, numbers, member=False), lambda c: c.payer_claim_number)
    for payment in rest:
        match = exact_match(payment, by_number.get(payment.payer_claim_control_number, ()), METHOD_PAYER_CLAIM_NUMBER)
        if match is not None:
            matches[payment.claim_payment_id] = match

    rest = [p for p in payments if p.claim_payment_id not in matches]
    if rest:
        candidates = _fuzzy_candidates(conn, rest, organisation_id)
        for payment in rest:
            match = best_claim(payment, candidates[payment.claim_payment_id], threshold=threshold)
            if match is not None:
                matches[payment.claim_payment_id] = match
    return matches


def best_candidates(
    conn: Connection, payment: PaymentKey, *, organisation_id: str = DEFAULT_ORGANISATION, limit: int = 3,
) -> list[ClaimMatch]:
    """The ``limit`` best fuzzy candidates for one payment, best first: what a person resolving an unmatched
    payment's work item looks at (below the threshold, or tied)."""
    candidates = _fuzzy_candidates(conn, [payment], organisation_id)[payment.claim_payment_id]
    return scored_candidates(payment, candidates)[:limit]


def match_service_lines(
    conn: Connection,
    lines_by_claim: Mapping[int, Sequence[LineKey]],
    *,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> dict[int, int]:
    """Pair each matched claim's paid lines with its billed lines: service_payment_id -> claim_line_id.

    One claim's paid lines are paired one-to-one, so pass the lines of one payment per claim; a claim paid
    twice in one batch (a reversal and its correction) needs a second call for the second payment.

    Most payers echo every line's REF*6R, and then the line item control numbers alone pair them: those claims
    read only (claim, line, control number) of their billed lines. A claim with a line that does not pair so is
    read whole and paired by every rule (``domain.matching.pair_lines``), which gives the same pairs for the
    lines the control numbers pair.
    """
    if not lines_by_claim:
        return {}
    pairs: dict[int, int] = {}
    by_control_number = [claim_id for claim_id, paid in lines_by_claim.items()
                         if paid and all(line.line_item_control_number for line in paid)]
    rest = set(lines_by_claim) - set(by_control_number)
    billed_numbers: dict[int, list[tuple[int, str | None]]] = defaultdict(list)
    columns = (claim_lines.c.claim_id, claim_lines.c.id, claim_lines.c.line_item_control_number,
               claim_lines.c.organisation_id)
    for condition in in_chunks(conn, claim_lines.c.claim_id, sorted(by_control_number)):
        for claim_id, line_id, licn, organisation in conn.execute(
                select(*columns).where(condition).order_by(claim_lines.c.claim_id, claim_lines.c.line_number)).all():
            if organisation == organisation_id:
                billed_numbers[claim_id].append((line_id, licn))
    for claim_id in by_control_number:
        found = pair_by_line_items(lines_by_claim[claim_id], billed_numbers.get(claim_id, ()))
        if found is None:
            rest.add(claim_id)
        else:
            pairs.update(found)
    if rest:
        pairs.update(_pair_by_every_rule(conn, {claim_id: lines_by_claim[claim_id] for claim_id in rest},
                                         organisation_id))
    return pairs


def _pair_by_every_rule(conn: Connection, lines_by_claim: Mapping[int, Sequence[LineKey]],
                        organisation_id: str) -> dict[int, int]:
    billed: dict[int, list[BilledLine]] = defaultdict(list)
    columns = (claim_lines.c.claim_id, claim_lines.c.id, claim_lines.c.procedure_code, claim_lines.c.modifiers,
               claim_lines.c.revenue_code, raw(claim_lines.c.charge), raw(claim_lines.c.service_date),
               claim_lines.c.line_item_control_number, claim_lines.c.organisation_id)
    for condition in in_chunks(conn, claim_lines.c.claim_id, sorted(lines_by_claim)):
        # Selected by claim id alone and the organisation checked here: with an organisation term in the WHERE,
        # SQLite (no statistics) walks the whole (organisation, line item) index instead of the claim id index.
        for claim_id, line_id, code, modifiers, revenue, charge, day, licn, organisation in conn.execute(
                select(*columns).where(condition)
                .order_by(claim_lines.c.claim_id, claim_lines.c.line_number)).all():
            if organisation == organisation_id:
                billed[claim_id].append(BilledLine(line_id, code, tuple(modifiers.split(":")) if modifiers else (),
                                                   revenue, from_stored(charge), as_date(day), licn))
    pairs: dict[int, int] = {}
    for claim_id, paid in lines_by_claim.items():
        pairs.update(pair_lines(paid, billed.get(claim_id, ())))
    return pairs
