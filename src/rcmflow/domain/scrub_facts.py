"""The facts of a claim as the scrubber's rules see them: plain values, nothing to compute in a rule.

Rules are CEL expressions over these facts (``claim.subscriber.member_id == ""``). Everything that needs
more than one claim, a table or the calendar is worked out here once, in Python, and handed to every rule:
the patient's age on the date of service, the NCCI pairs that collide on a date, the units an MUE counts,
whether a payer wants prior authorisation for a code, the days left to file, eligibility on file, and
duplicates among other claims. Every field is always present (empty string, zero, -1 or false when the
claim lacks it), so a rule never fails on a missing key and tests for absence by value.

Money is in integer cents (CEL has no decimal type; cents keep comparisons exact). Dates are ISO text,
which compares in date order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from rcmflow.domain.charges import SourceClaim
from rcmflow.domain.claim import Claim, ServiceLine
from rcmflow.domain.coding import age_on
from rcmflow.domain.ncci import NcciTables
from rcmflow.domain.parties import Party
from rcmflow.domain.payer_policy import PayerPolicy


class EligibilityFact(NamedTuple):
    """Eligibility on file for the claim's patient and payer: from a stored 271 or the source's coverage."""

    on_file: bool = False
    active: bool | None = None  # active on the date of service; None when on file but silent about it
    source: str = ""  # "271", "coverage"
    start: date | None = None
    end: date | None = None


class DuplicateFact(NamedTuple):
    """Other claims this one repeats: exactly (same patient, provider, dates, codes, units and charges), or
    nearly (same patient, provider, dates and procedure codes, other charges, units or modifiers)."""

    exact_of: str = ""  # the other claim's id (a source id, or "claim 123" for a stored claim)
    near_of: str = ""


NO_ELIGIBILITY = EligibilityFact()
NOT_DUPLICATE = DuplicateFact()


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _cents(amount: Decimal | None) -> int:
    return int((amount or Decimal(0)) * 100)


def _person(party: Party) -> dict[str, Any]:
    return {"last_name": party.name, "first_name": party.first_name, "birth_date": _iso(party.birth_date),
            "sex": party.gender, "address_present": party.address is not None and bool(party.address.line1)}


def patient_party(claim: Claim) -> Party:
    """The patient: the 2000C patient when there is one, else the subscriber."""
    return claim.patient.party if claim.patient is not None else claim.subscriber.party


def service_period(claim: Claim) -> tuple[date | None, date | None]:
    """First and last date of service: the statement period (institutional), else the lines' dates."""
    statement = claim.date("434")
    if statement is not None:
        return statement.value, statement.end or statement.value
    starts = [line.service_date for line in claim.service_lines if line.service_date]
    ends = [item.end or item.value for line in claim.service_lines for item in line.dates if item.qualifier == "472"]
    return (min(starts) if starts else None, max(ends) if ends else None)


def _units(line: ServiceLine) -> Decimal:
    return line.units if line.units is not None else Decimal(1)


def _mue_units(claim: Claim, ncci: NcciTables) -> dict[int, tuple[int, str, int]]:
    """Per line number: (MUE limit, adjudication indicator, units the MUE counts) for lines whose code has one.
    A line edit (MAI 1) counts the line's units; a date-of-service edit (MAI 2, 3) the code's units that day."""
    per_day: dict[tuple[str, date | None], Decimal] = defaultdict(Decimal)
    for line in claim.service_lines:
        if line.procedure is not None:
            per_day[line.procedure.code, line.service_date] += _units(line)
    result = {}
    for line in claim.service_lines:
        edit = ncci.mue.get(line.procedure.code) if line.procedure is not None else None
        if edit is None:
            continue
        code = line.procedure.code
        counted = _units(line) if edit.adjudication_indicator == "1" else per_day[code, line.service_date]
        result[line.line_number] = (edit.units, edit.adjudication_indicator, math.ceil(counted))
    return result


def _ptp_conflicts(claim: Claim, ncci: NcciTables) -> list[dict[str, Any]]:
    by_day: dict[date | None, list[tuple[int, str, tuple[str, ...]]]] = defaultdict(list)
    for line in claim.service_lines:
        if line.procedure is not None:
            by_day[line.service_date].append((line.line_number, line.procedure.code, line.procedure.modifiers))
    conflicts = []
    for day, lines in by_day.items():
        if day is None or len(lines) < 2:
            continue
        for found in ncci.ptp_conflicts(lines, day):
            conflicts.append({
                "column1": found.column1, "column2": found.column2, "column1_line": found.column1_line,
                "column2_line": found.column2_line, "modifier_indicator": found.modifier_indicator,
                "bypassed": found.bypassed, "rationale": found.rationale, "service_date": day.isoformat(),
            })
    return conflicts


def claim_facts(source: SourceClaim, *, today: date, policy: PayerPolicy, ncci: NcciTables,
                eligibility: EligibilityFact = NO_ELIGIBILITY,
                duplicate: DuplicateFact = NOT_DUPLICATE) -> dict[str, Any]:
    """Everything the rules may test about one claim."""
    claim = source.claim
    patient = patient_party(claim)
    start, end = service_period(claim)
    age = age_on(patient.birth_date, start) if patient.birth_date and start else -1
    diagnoses = claim.diagnoses
    mue = _mue_units(claim, ncci)
    rendering = claim.provider("82") or claim.provider("71")
    days_since = (today - start).days if start else -1
    lines = []
    for line in claim.service_lines:
        procedure = line.procedure
        code = procedure.code if procedure else ""
        pointers = [int(p) if p.isdigit() else 0 for p in line.diagnosis_pointers]
        limit, indicator, counted = mue.get(line.line_number, (0, "", 0))
        lines.append({
            "number": line.line_number, "qualifier": procedure.qualifier if procedure else "", "code": code,
            "modifiers": list(procedure.modifiers) if procedure else [], "revenue_code": line.revenue_code,
            "units": float(_units(line)), "charge_cents": _cents(line.charge),
            "service_date": _iso(line.service_date),
            "service_date_end": _iso(next((d.end for d in line.dates if d.qualifier == "472" and d.end), None)),
            "place_of_service": line.place_of_service or (claim.facility_code if claim.claim_type == "P" else ""),
            "pointers": pointers,
            "pointers_valid": bool(pointers) and all(1 <= p <= len(diagnoses) for p in pointers),
            "control_number": line.line_item_control_number,
            "mue_limit": limit, "mue_indicator": indicator, "mue_units": counted,
            "auth_required": bool(code) and policy.needs_authorization(code),
            "age": age_on(patient.birth_date, line.service_date) if patient.birth_date and line.service_date else age,
        })
    subscriber = claim.subscriber
    return {
        "id": source.source_id, "type": claim.claim_type, "frequency": claim.frequency or "1",
        "patient_control_number": claim.patient_control_number,
        "payer_claim_number": claim.payer_claim_control_number or "",
        "prior_authorization": claim.prior_authorization or "",
        "total_charge_cents": _cents(claim.total_charge), "line_charge_cents": _cents(claim.line_charge_total),
        "facility_code": claim.facility_code, "facility_qualifier": claim.facility_qualifier,
        "payer": {"id": claim.payer.id, "name": claim.payer.name},
        "billing": {"npi": claim.billing_provider.id, "name": claim.billing_provider.name,
                    "tax_id": claim.billing_provider.reference("EI") or claim.billing_provider.reference("SY") or "",
                    "taxonomy": claim.billing_provider.taxonomy},
        "rendering": {"present": rendering is not None, "npi": rendering.id if rendering else "",
                      "taxonomy": rendering.taxonomy if rendering else ""},
        "subscriber": {"member_id": subscriber.party.id, "group_number": subscriber.group_number,
                       "filing_indicator": subscriber.filing_indicator,
                       "payer_responsibility": subscriber.payer_responsibility,
                       "relationship": subscriber.relationship, **_person(subscriber.party)},
        "patient": {**_person(patient), "age": age, "is_subscriber": claim.patient is None,
                    "relationship": claim.patient.relationship if claim.patient else "18"},
        "diagnoses": [{"position": n, "code": dx.code, "qualifier": dx.qualifier, "age": age,
                       "sex": patient.gender} for n, dx in enumerate(diagnoses, start=1)],
        "diagnosis_codes": [dx.code for dx in diagnoses],
        "lines": lines,
        "ptp_conflicts": _ptp_conflicts(claim, ncci),
        "service_from": _iso(start), "service_to": _iso(end), "today": today.isoformat(),
        "days_since_service": days_since,
        "filing": {"limit_days": policy.timely_filing_days, "warn_days_before": policy.warn_days_before,
                   "days_left": policy.timely_filing_days - days_since if start else 0},
        "eligibility": {"on_file": eligibility.on_file,
                        "active": eligibility.active if eligibility.active is not None else True,
                        "known": eligibility.active is not None, "source": eligibility.source,
                        "start": _iso(eligibility.start), "end": _iso(eligibility.end)},
        "duplicate": {"exact_of": duplicate.exact_of, "near_of": duplicate.near_of},
    }


def sample_facts(ncci: NcciTables, policy: PayerPolicy) -> dict[str, Any]:
    """The facts of a complete claim (every optional part present), for dry-running packs at load time."""
    from rcmflow.domain.sample_claim import SAMPLE_SOURCE_CLAIM  # a fixture-like claim, kept out of this module

    facts = claim_facts(SAMPLE_SOURCE_CLAIM, today=date(2026, 1, 20), policy=policy, ncci=ncci,
                        eligibility=EligibilityFact(True, True, "271", date(2026, 1, 1), None),
                        duplicate=DuplicateFact("other", "other"))
    if not facts["ptp_conflicts"]:  # the sample's codes may not collide in a site's tables: give one anyway
        facts["ptp_conflicts"] = [{"column1": "80053", "column2": "80048", "column1_line": 1, "column2_line": 2,
                                   "modifier_indicator": "0", "bypassed": False, "rationale": "sample",
                                   "service_date": facts["service_from"]}]
    return facts


def duplicate_keys(claim: Claim) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """(exact key, near key) of a claim for duplicate detection, or None for a replacement or void (which
    repeats its original on purpose). The patient is the member id, else name and birth date."""
    if (claim.frequency or "1") in {"7", "8"}:
        return None
    patient = patient_party(claim)
    who = (claim.subscriber.party.id or "", patient.name.upper(), patient.first_name.upper(), patient.birth_date)
    start, end = service_period(claim)
    base = (who, claim.billing_provider.id, claim_payer(claim), start, end)
    exact = tuple(sorted((line.procedure.code if line.procedure else line.revenue_code,
                          line.procedure.modifiers if line.procedure else (), str(_units(line).normalize()),
                          str(line.charge.normalize()), _iso(line.service_date))
                         for line in claim.service_lines))
    near = tuple(sorted({line.procedure.code if line.procedure else line.revenue_code
                         for line in claim.service_lines}))
    return (*base, exact), (*base, near)


def claim_payer(claim: Claim) -> str:
    return claim.payer.id or claim.payer.name


def find_duplicates(claims: Sequence[SourceClaim]) -> dict[str, DuplicateFact]:
    """Duplicates among claims of one batch, by source id: the later claim points at the first one."""
    first_exact: dict[tuple[Any, ...], str] = {}
    first_near: dict[tuple[Any, ...], str] = {}
    result: dict[str, DuplicateFact] = {}
    for source in claims:
        keys = duplicate_keys(source.claim)
        if keys is None:
            continue
        exact, near = keys
        exact_of = first_exact.setdefault(exact, source.source_id)
        near_of = first_near.setdefault(near, source.source_id)
        fact = DuplicateFact(exact_of if exact_of != source.source_id else "",
                             near_of if near_of != source.source_id and exact_of == source.source_id else "")
        if fact != DuplicateFact():
            result[source.source_id] = fact
    return result
