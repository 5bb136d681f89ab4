"""Read FHIR R4 Bundles of claims into ``SourceClaim``s (``domain.charges``).

Two shapes of bundle are read, as EHRs export them:

* Claim resources (with the Patient, Coverage, Organization, Practitioner... they reference): one
  ``SourceClaim`` per Claim, ``source_id`` = Claim.id.
* Encounter + ChargeItem: billable ChargeItems whose ``context`` is an Encounter that no Claim of the
  bundle covers become one professional claim per Encounter, ``source_id`` = Encounter.id.

Resources are validated with ``fhir.resources`` (R4B models, which accept R4 content) one entry at a
time, so a bad resource only keeps out the claims that use it. References are resolved inside the bundle
by ``Type/id`` or by ``entry.fullUrl`` (``urn:uuid:...`` in transaction bundles). Values map to the
canonical claim with X12 837 semantics (professional 005010X222A1, institutional 005010X223A2).

The reader never raises: a file that is not a FHIR Bundle gives one file issue, and a claim whose data
cannot be read (an invalid or missing resource, an unknown claim type, an item without a price) gives a
``SourceIssue`` naming the claim, the resource entry and the field.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim as FhirClaim
from fhir.resources.R4B.claim import ClaimItem
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.reference import Reference as FhirReference
from pydantic import ValidationError

from rcmflow.domain.charges import ChargeFile, CoverageFact, OtherCoverage, SourceClaim, SourceIssue
from rcmflow.domain.claim import (
    Claim,
    HealthCareCode,
    Patient,
    ServiceLine,
    Subscriber,
    assign_line_control_numbers,
)
from rcmflow.domain.money import ZERO
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate

__all__ = ["read_fhir_bundle"]

FORMAT = "fhir"

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
EIN_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
POS_SYSTEM = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
SOPT_SYSTEMS = frozenset({"https://nahdo.org/sopt", "urn:oid:2.16.840.1.113883.3.221.5"})
ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10"})
PROCEDURE_SYSTEMS = frozenset({
    "http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12",  # CPT
    "urn:oid:2.16.840.1.113883.6.285", "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",  # HCPCS
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
})

CLAIM_TYPES = {"professional": "P", "institutional": "I"}
# SBR09 claim filing indicator codes: a Coverage.type coding with one of these codes is taken as is.
FILING_INDICATORS = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM", "MA", "MB", "MC",
    "OF", "TV", "VA", "WC", "ZZ",
})
# Source of Payment Typology (what US Core and CARIN exports put in Coverage.type) by code prefix,
# longest first; Medicare is Part A on institutional claims and Part B on professional ones, Medicare managed
# care (11) is an HMO Medicare risk plan (16).
SOPT_FILING = (("311", "CH"), ("32", "VA"), ("95", "WC"), ("11", "16"), ("1", "MEDICARE"), ("2", "MC"), ("5", "CI"),
               ("6", "BL"))
# Coverage.relationship (beneficiary to subscriber) -> PAT01 patient's relationship to the insured.
PATIENT_RELATIONSHIPS = {"spouse": "01", "child": "19"}
GENDERS = {"male": "M", "female": "F"}
GENERATIONS = frozenset({"JR", "SR", "II", "III", "IV", "V"})
RESPONSIBILITY = "PST" + "ABCDEFGH"  # SBR01 by payer order 1, 2, 3, ...
# Claim.careTeam roles of the provider who performed the services: rendering (P) / attending (I).
RENDERING_ROLES = {"P": frozenset({"primary", "performing", "rendering"}), "I": frozenset({"attending", "primary"})}
RENDERING_ENTITY = {"P": "82", "I": "71"}
VOID_STATUSES = frozenset({"cancelled", "entered-in-error"})
MAX_PCN = 20  # CLM01 as the 837 guides limit it
MAX_PROFESSIONAL_DIAGNOSES = 12  # one HI segment
MAX_POINTERS = MAX_MODIFIERS = 4
POA_CODES = frozenset({"Y", "N", "U", "W", "1"})
PERSON_TYPES = ("Patient", "RelatedPerson")
PROVIDER_TYPES = ("Organization", "Practitioner", "PractitionerRole")


class _Problem(Exception):
    """Why a claim cannot be built: the field and what is wrong; ``location`` is the entry holding the
    bad value when it is not the claim's own."""

    def __init__(self, field: str, message: str, location: str = "") -> None:
        super().__init__(message)
        self.field, self.message, self.location = field, message, location


class _Entry(NamedTuple):
    """One Bundle.entry: its raw JSON, and the validated resource or why validation failed."""

    index: int
    type: str
    id: str
    raw: dict[str, Any]
    resource: Any  # a fhir.resources model; None when the resource failed validation
    error: tuple[str, str] | None = None  # (field, message) of the first validation error
    full_url: str = ""

    @property
    def source_id(self) -> str:
        """What the source calls the resource: its id, else its fullUrl (transaction bundles), else where it is."""
        return self.id or self.full_url or self.location

    @property
    def location(self) -> str:
        named = f"{self.type}/{self.id}" if self.id else self.type
        return f"entry {self.index} ({named})" if named else f"entry {self.index}"

    def valid(self) -> Any:
        """The resource; _Problem (located at this entry) when it failed validation."""
        if self.error is not None:
            field, message = self.error
            raise _Problem(field, f"invalid {self.type}: {message}", self.location)
        return self.resource


class _Bundle:
    """The entries of a bundle, found by reference."""

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self._keys: dict[str, _Entry] = {}
        for entry in entries:
            if entry.full_url:
                self._keys.setdefault(entry.full_url, entry)
            if entry.id:
                self._keys.setdefault(f"{entry.type}/{entry.id}", entry)

    def of_type(self, resource_type: str) -> list[_Entry]:
        return [entry for entry in self.entries if entry.type == resource_type]

    def lookup(self, reference: str) -> _Entry | None:
        """The entry a reference string names: by fullUrl, by Type/id, or by the Type/id ending an absolute
        URL (a version suffix /_history/n is ignored)."""
        found = self._keys.get(reference)
        if found is not None:
            return found
        parts = reference.split("/_history/")[0].rstrip("/").split("/")
        return self._keys.get("/".join(parts[-2:])) if len(parts) >= 2 else None

    def entry(self, ref: FhirReference | None, field: str, types: Sequence[str]) -> _Entry:
        """The valid entry a reference names; _Problem when it names none, is missing, invalid or of another type."""
        if ref is None or not ref.reference:
            raise _Problem(field, "names no resource (a literal reference within the bundle is needed)")
        found = self.lookup(ref.reference)
        if found is None:
            raise _Problem(field, f"{ref.reference} is not in the bundle")
        if found.type not in types:
            raise _Problem(field, f"{ref.reference} is a {found.type}, not a {' or '.join(types)}")
        found.valid()
        return found

    def resolve(self, ref: FhirReference | None, field: str, types: Sequence[str]) -> Any:
        return self.entry(ref, field, types).resource


# ---- the file ------------------------------------------------------------------------------------


def read_fhir_bundle(data: bytes, *, filename: str = "") -> ChargeFile:
    """The claims of a FHIR R4 Bundle (JSON), with a located issue for every claim that could not be read."""
    where = filename or "bundle"
    try:
        bundle = _load(data)
    except _Problem as problem:
        return ChargeFile(FORMAT, (), (SourceIssue("", problem.location or where, problem.field, problem.message),))
    found: list[tuple[int, SourceClaim | SourceIssue]] = []
    covered = _covered_encounters(bundle)
    for entry in bundle.of_type("Claim"):
        found.append((entry.index, _read_claim(entry, bundle)))
    groups, ungrouped = _charge_groups(bundle, covered)
    for encounter_key, items in groups.items():
        found.append(_read_encounter(encounter_key, items, bundle))
    found += ungrouped
    if not bundle.of_type("Claim") and not bundle.of_type("ChargeItem"):
        nothing = SourceIssue("", where, "entry", "the bundle holds no Claim and no ChargeItem")
        found.append((len(bundle.entries), nothing))
    found.sort(key=lambda pair: pair[0])
    claims = tuple(item for _, item in found if isinstance(item, SourceClaim))
    issues = tuple(item for _, item in found if isinstance(item, SourceIssue))
    return ChargeFile(FORMAT, claims, issues)


def _load(data: bytes) -> _Bundle:
    """Parse and validate the bundle: the Bundle shell as a whole, each entry's resource on its own."""
    try:
        # Decimal for JSON numbers: amounts must never pass through float.
        document = json.loads(data, parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise _Problem("", f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise _Problem("", f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        what = document.get("resourceType") if isinstance(document, dict) else type(document).__name__
        raise _Problem("resourceType", f"not a FHIR Bundle (resourceType {what!r})")
    raw_entries = document.get("entry") or []
    shell = dict(document)
    if isinstance(raw_entries, list):
        shell["entry"] = [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
                          for e in raw_entries]
    try:
        Bundle.model_validate(shell)
    except ValidationError as exc:
        path, message = _first_error(exc)
        raise _Problem(path, f"invalid Bundle: {message}") from exc
    return _Bundle([_validate_entry(index, raw_entry.get("resource"))._replace(full_url=raw_entry.get("fullUrl") or "")
                    for index, raw_entry in enumerate(raw_entries)])


def _validate_entry(index: int, raw: object) -> _Entry:
    if not isinstance(raw, dict):
        return _Entry(index, "", "", {}, None, ("resource", "the entry holds no resource object"))
    resource_type = raw.get("resourceType")
    resource_id = raw.get("id") if isinstance(raw.get("id"), str) else ""
    if not isinstance(resource_type, str):
        return _Entry(index, "", resource_id, raw, None, ("resourceType", "the resource has no resourceType"))
    try:
        model = get_fhir_model_class(resource_type)
    except ValueError:
        return _Entry(index, resource_type, resource_id, raw, None,
                      ("resourceType", f"{resource_type!r} is not a FHIR R4 resource type"))
    try:
        return _Entry(index, resource_type, resource_id, raw, model.model_validate(raw))
    except ValidationError as exc:
        path, message = _first_error(exc)
        return _Entry(index, resource_type, resource_id, raw, None, (f"{resource_type}.{path}", message))
    except KeyError as exc:  # fhir_core's lookup of a nested resource (contained, outcome) of an unknown type
        return _Entry(index, resource_type, resource_id, raw, None,
                      (resource_type, f"holds a resource of unknown type {exc}"))
    except (ValueError, TypeError) as exc:
        return _Entry(index, resource_type, resource_id, raw, None, (resource_type, f"cannot be read: {exc}"))


def _first_error(exc: ValidationError) -> tuple[str, str]:
    """The path (``entry[3].resource.item[0].servicedDate``) and message of a validation's first error."""
    error = exc.errors()[0]
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = error["msg"]
    if error["type"] != "missing":
        shown = repr(error["input"])
        message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    return path, message


def _issue(source_id: str, location: str, problem: _Problem) -> SourceIssue:
    return SourceIssue(source_id, problem.location or location, problem.field, problem.message)


# ---- FHIR data types -----------------------------------------------------------------------------


def _codings(concepts: CodeableConcept | Iterable[CodeableConcept] | None) -> list[tuple[str, str]]:
    """(system, code) of every coding with a code, in order."""
    if concepts is None:
        return []
    if isinstance(concepts, CodeableConcept):
        concepts = [concepts]
    return [(coding.system or "", coding.code.strip()) for concept in concepts for coding in concept.coding or ()
            if coding.code and coding.code.strip()]


def _code(concepts: CodeableConcept | Iterable[CodeableConcept] | None, systems: Iterable[str] = ()) -> str:
    """The first code (of one of ``systems``, when given)."""
    wanted = frozenset(systems)
    return next((code for system, code in _codings(concepts) if not wanted or system in wanted), "")


def _has_code(concepts: CodeableConcept | Iterable[CodeableConcept] | None, codes: Iterable[str]) -> bool:
    wanted = frozenset(codes)
    return any(code in wanted for _, code in _codings(concepts))


def _day(value: object) -> date | None:
    """The calendar day of a FHIR date or dateTime; None for a partial date ("2024-05") or no value."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _bound(value: object, end: bool) -> date | None:
    """A period bound as a day; a partial date stands for its first (start) or last (end) day."""
    day = _day(value)
    if day is not None or not isinstance(value, str) or not value[:4].isdigit():
        return day
    year, month = int(value[:4]), int(value[5:7]) if value[5:7].isdigit() else None
    if month is None:
        return date(year, 12, 31) if end else date(year, 1, 1)
    return date(year, month, calendar.monthrange(year, month)[1] if end else 1)


def _period(period: Period | None) -> tuple[date | None, date | None]:
    if period is None:
        return None, None
    return _bound(period.start, False), _bound(period.end, True)


def _service_dates(qualifier: str, start: date | None, end: date | None) -> tuple[QualifiedDate, ...]:
    """One DTP: D8 for a day, RD8 for a range of days."""
    if start is None:
        return ()
    return (QualifiedDate(qualifier, start, end if end is not None and end != start else None),)


def _identifier(identifiers: Iterable[Any] | None, system: str) -> str:
    return next((i.value for i in identifiers or () if i.system == system and i.value), "")


def _address(addresses: Sequence[Any] | None) -> Address | None:
    """The first address (a billing or home one when marked so) as N3/N4 wants it."""
    if not addresses:
        return None
    chosen = next((a for a in addresses if a.use in ("billing", "home")), addresses[0])
    lines = list(chosen.line or ())
    country = chosen.country or ""
    return Address(lines[0] if lines else "", lines[1] if len(lines) > 1 else "", chosen.city or "",
                   chosen.state or "", (chosen.postalCode or "").replace("-", "").replace(" ", ""),
                   "" if country.upper() in ("US", "USA", "UNITED STATES") else country)


def _name(names: Sequence[Any] | None) -> tuple[str, str, str, str]:
    """(last, first, middle, suffix) of the official name, else the first."""
    if not names:
        return "", "", "", ""
    name = next((n for n in names if n.use == "official"), names[0])
    given = list(name.given or ())
    # NM107 carries generations only; credentials (MD, PhD) that FHIR also puts in suffix are left out.
    suffix = next((s for s in name.suffix or () if s.replace(".", "").upper() in GENERATIONS), "")
    return name.family or name.text or "", (given + [""])[0], (given[1:] + [""])[0], suffix


def _money(value: Any) -> Decimal | None:
    return value.value if value is not None and value.value is not None else None


# ---- parties -------------------------------------------------------------------------------------


def _person(role: str, resource: Any, **fields: Any) -> Party:
    """A Party for a Patient, RelatedPerson or Practitioner: names, address, birth date and gender."""
    last, first, middle, suffix = _name(resource.name)
    gender = GENDERS.get(resource.gender, "U") if resource.gender else ""
    return Party(role, last, first, middle, suffix, "1", address=_address(resource.address),
                 birth_date=_day(resource.birthDate), gender=gender, **fields)


def _taxonomy(*concepts: Iterable[CodeableConcept] | CodeableConcept | None) -> str:
    return next((code for concept in concepts if (code := _code(concept, (NUCC_SYSTEM,)))), "")


def _practitioner(entry: _Entry, bundle: _Bundle, field: str) -> Any:
    """The Practitioner of a Practitioner or PractitionerRole entry (None when the role names none)."""
    if entry.type == "Practitioner":
        return entry.resource
    role = entry.resource
    if role.practitioner is None:
        return None
    return bundle.resolve(role.practitioner, f"{field} (PractitionerRole.practitioner)", ("Practitioner",))


def _billing_provider(entry: _Entry, bundle: _Bundle, field: str) -> Party:
    """2010AA from an Organization, a Practitioner, or a PractitionerRole (its organization first)."""
    resource = entry.resource
    if entry.type == "PractitionerRole":
        if resource.organization is not None:
            resource = bundle.resolve(resource.organization, f"{field} (PractitionerRole.organization)",
                                      ("Organization",))
        else:
            resource = _practitioner(entry, bundle, field)
            if resource is None:
                raise _Problem(field, "the PractitionerRole names neither an organization nor a practitioner")
    ein = _identifier(resource.identifier, EIN_SYSTEM).replace("-", "")
    refs = (Reference("EI", ein),) if ein else ()
    npi = _identifier(resource.identifier, NPI_SYSTEM)
    ids = {"id_qualifier": "XX" if npi else "", "id": npi, "references": refs}
    if resource.get_resource_type() == "Organization":
        return Party("85", resource.name or "", entity_type="2", address=_address(resource.address),
                     taxonomy=_taxonomy(resource.type), **ids)
    last, first, middle, suffix = _name(resource.name)
    qualifications = [q.code for q in resource.qualification or ()]
    return Party("85", last, first, middle, suffix, "1", address=_address(resource.address),
                 taxonomy=_taxonomy(qualifications), **ids)


def _rendering(role: str, practitioner: Any, billing: Party, *concepts: Any) -> Party | None:
    """A rendering/attending provider (name, NPI, taxonomy; no address), or None when it is the billing one."""
    npi = _identifier(practitioner.identifier, NPI_SYSTEM)
    if npi and npi == billing.id:
        return None
    last, first, middle, suffix = _name(practitioner.name)
    taxonomy = _taxonomy(*concepts, [q.code for q in practitioner.qualification or ()])
    return Party(role, last, first, middle, suffix, "1", "XX" if npi else "", npi, taxonomy=taxonomy)


def _payer_id(organization: Any) -> str:
    """The payer id: an identifier marked as one (system ending in payer-id, type PI or NIIP), else the
    first identifier, else the Organization id."""
    identifiers = [i for i in organization.identifier or () if i.value]
    for identifier in identifiers:
        if (identifier.system or "").lower().endswith("payer-id") or _has_code(identifier.type, ("PI", "NIIP")):
            return identifier.value
    return identifiers[0].value if identifiers else organization.id or ""


def _payer(coverage: Coverage, insurer: FhirReference | None, bundle: _Bundle, field: str) -> Party:
    """2010BB from Coverage.payor[0]; from Claim.insurer when the payor is a person (self-pay coverage)."""
    payor = coverage.payor[0]
    target = bundle.lookup(payor.reference or "")
    if target is not None and target.type in PERSON_TYPES and insurer is not None:
        organization = bundle.resolve(insurer, "Claim.insurer", ("Organization",))
    else:
        organization = bundle.resolve(payor, f"{field} (Coverage.payor[0])", ("Organization",))
    return Party("PR", organization.name or "", entity_type="2", id_qualifier="PI", id=_payer_id(organization),
                 address=_address(organization.address))


def _member_id(coverage: Coverage) -> str:
    if coverage.subscriberId:
        return coverage.subscriberId
    identifiers = [i for i in coverage.identifier or () if i.value]
    member = next((i for i in identifiers if _has_code(i.type, ("MB",))), identifiers[0] if identifiers else None)
    return member.value if member is not None else ""


def _filing_indicator(coverage: Coverage, kind: str) -> str:
    """SBR09 from Coverage.type: an X12 code as sent, a Source of Payment Typology code mapped, else CI."""
    for system, code in _codings(coverage.type):
        if system in SOPT_SYSTEMS:
            found = next((value for prefix, value in SOPT_FILING if code.startswith(prefix)), "")
            if found == "MEDICARE":
                return "MA" if kind == "I" else "MB"
            if found:
                return found
        elif code in FILING_INDICATORS:
            return code
    return "CI"


def _coverage_fact(coverage: Coverage, payer: Party) -> CoverageFact:
    start, end = _period(coverage.period)
    active = True if coverage.status == "active" else False if coverage.status in VOID_STATUSES else None
    return CoverageFact(payer.id, _member_id(coverage), active, start, end)


def _insured(coverage: Coverage, patient: _Entry, order: int | None, kind: str, bundle: _Bundle,
             field: str) -> tuple[Subscriber, Patient | None]:
    """The subscriber (SBR, NM1*IL) and, when the patient is not the subscriber, the patient (PAT, NM1*QC)."""
    relationship = _code(coverage.relationship)
    person: _Entry | None = patient if relationship == "self" or coverage.subscriber is None else None
    if person is None:
        person = bundle.entry(coverage.subscriber, f"{field} (Coverage.subscriber)", PERSON_TYPES)
    is_self = relationship == "self" or (not relationship and person.index == patient.index)
    if not is_self and person.index == patient.index:
        person = None  # a dependent's coverage that does not say who the subscriber is: member id only
    group = next((c.value for c in coverage.class_fhir or () if _has_code(c.type, ("group",)) and c.value), "")
    position = order if order is not None and 1 <= order <= len(RESPONSIBILITY) else 1
    ids = {"id_qualifier": "MI", "id": _member_id(coverage)}
    member = _person("IL", person.resource, **ids) if person is not None else Party("IL", entity_type="1", **ids)
    # SBR02 is sent only when the subscriber is the patient; otherwise PAT01 says how they are related.
    subscriber = Subscriber(RESPONSIBILITY[position - 1], "18" if is_self else "", group,
                            filing_indicator=_filing_indicator(coverage, kind), party=member)
    if is_self:
        return subscriber, None
    return subscriber, Patient(PATIENT_RELATIONSHIPS.get(relationship, "G8"), _person("QC", patient.resource))


def _medical_record(patient: Any) -> tuple[Reference, ...]:
    """REF*EA from the Patient identifier typed MR."""
    number = next((i.value for i in patient.identifier or () if _has_code(i.type, ("MR",)) and i.value), "")
    return (Reference("EA", number),) if number else ()


def _control_number(identifiers: Sequence[Any] | None, resource_id: str, resource_type: str) -> str:
    """CLM01: the first identifier's value, else the resource id."""
    if identifiers and identifiers[0].value:
        number, field = identifiers[0].value, f"{resource_type}.identifier[0].value"
    else:
        number, field = resource_id or "", f"{resource_type}.id"
    if not number:
        raise _Problem(field, "no identifier or id to use as patient control number")
    if len(number) > MAX_PCN:
        raise _Problem(field, f"{number!r} is longer than the {MAX_PCN} characters of a patient control number")
    return number


def _icd10(concept: CodeableConcept | None) -> str:
    """An ICD-10(-CM) code as X12 sends it: upper case, without the dot."""
    return _code(concept, ICD10_SYSTEMS).replace(".", "").upper()


def _place_of_service(concept: CodeableConcept | None) -> str:
    """A CMS place of service code, or any two-digit code."""
    return next((code for system, code in _codings(concept)
                 if system == POS_SYSTEM or (len(code) == 2 and code.isdigit())), "")


def _procedure(concept: CodeableConcept | None, modifiers: Iterable[CodeableConcept] = ()) -> Procedure | None:
    """HC procedure from a CPT/HCPCS coding (a system-less five-character code counts as one)."""
    code = next((code for system, code in _codings(concept)
                 if system in PROCEDURE_SYSTEMS or (not system and len(code) == 5 and code.isalnum())), "")
    if not code:
        return None
    return Procedure("HC", code.upper(), tuple(_code(m) for m in modifiers if _code(m))[:MAX_MODIFIERS])


# ---- Claim resources ------------------------------------------------------------------------------


def _read_claim(entry: _Entry, bundle: _Bundle) -> SourceClaim | SourceIssue:
    try:
        return _build_claim(entry, entry.valid(), bundle)
    except _Problem as problem:
        return _issue(entry.source_id, entry.location, problem)


def _build_claim(entry: _Entry, fhir: FhirClaim, bundle: _Bundle) -> SourceClaim:
    kind = CLAIM_TYPES.get(_code(fhir.type, ("http://terminology.hl7.org/CodeSystem/claim-type", "")), "")
    if not kind:
        raise _Problem("Claim.type", f"claim type {_code(fhir.type) or 'absent'!r} is neither professional nor "
                                     "institutional")
    if fhir.use != "claim":
        raise _Problem("Claim.use", f"a {fhir.use} is not a claim to bill")
    pcn = _control_number(fhir.identifier, fhir.id, "Claim")
    patient = bundle.entry(fhir.patient, "Claim.patient", ("Patient",))
    billing = _billing_provider(bundle.entry(fhir.provider, "Claim.provider", PROVIDER_TYPES), bundle,
                                "Claim.provider")
    position, insurance = _focal_insurance(fhir)
    field = f"Claim.insurance[{position}].coverage"
    coverage = bundle.resolve(insurance.coverage, field, ("Coverage",))
    payer = _payer(coverage, fhir.insurer, bundle, field)
    subscriber, claim_patient = _insured(coverage, patient, coverage.order or insurance.sequence, kind, bundle, field)
    codes, pointers = _claim_diagnoses(fhir, kind, bundle)
    lines = _claim_lines(fhir, kind, pointers)
    facility, frequency = _facility(fhir, kind, bundle, lines)
    frequency, related = _frequency(fhir, frequency)
    if kind == "P":
        lines = tuple(line._replace(place_of_service="") if line.place_of_service == facility else line
                      for line in lines)
    prior_auth = tuple(Reference("G1", ref) for ref in (insurance.preAuthRef or [])[:1])
    total = _money(fhir.total)
    claim = Claim(
        kind, pcn, total if total is not None else sum((line.charge for line in lines), ZERO),
        facility, "B" if kind == "P" else "A", frequency, "Y", "A", "Y", "Y",
        billing_provider=billing, subscriber=subscriber, payer=payer, patient=claim_patient,
        dates=_claim_dates(fhir, kind, lines), references=related + prior_auth + _medical_record(patient.resource),
        health_care_codes=codes, providers=_claim_providers(fhir, kind, billing, bundle), service_lines=lines,
        **_institutional_codes(fhir, kind),
    )
    return SourceClaim(entry.source_id, assign_line_control_numbers(claim), _coverage_fact(coverage, payer),
                       entry.location, _day(fhir.created), _other_coverage(fhir, position, patient, kind, bundle))


def _other_coverage(fhir: FhirClaim, focal: int, patient: _Entry, kind: str,
                    bundle: _Bundle) -> tuple[OtherCoverage, ...]:
    """The claim's other insurances after the focal one, in sequence order: whom to bill next (COB)."""
    found = []
    later = sorted(((n, i) for n, i in enumerate(fhir.insurance) if n != focal
                    and i.sequence > fhir.insurance[focal].sequence), key=lambda pair: pair[1].sequence)
    for rank, (position, insurance) in enumerate(later, start=2):
        field = f"Claim.insurance[{position}].coverage"
        coverage = bundle.resolve(insurance.coverage, field, ("Coverage",))
        payer = _payer(coverage, None, bundle, field)
        subscriber, other_patient = _insured(coverage, patient, rank, kind, bundle, field)
        found.append(OtherCoverage(payer, subscriber, other_patient))
    return tuple(found)


def _focal_insurance(fhir: FhirClaim) -> tuple[int, Any]:
    """The insurance the claim is for: the focal one, else the first."""
    return next(((n, i) for n, i in enumerate(fhir.insurance) if i.focal), (0, fhir.insurance[0]))


def _frequency(fhir: FhirClaim, frequency: str) -> tuple[str, tuple[Reference, ...]]:
    """CLM05-3 and REF*F8: a claim related as "prior" replaces (7) or, cancelled, voids (8) the payer's claim."""
    for n, related in enumerate(fhir.related or ()):
        if not _has_code(related.relationship, ("prior",)):
            continue
        number = related.reference.value if related.reference is not None else None
        if not number and related.claim is not None and related.claim.identifier is not None:
            number = related.claim.identifier.value
        if not number:
            raise _Problem(f"Claim.related[{n}].reference", "a prior claim without the payer's claim number")
        if fhir.status in VOID_STATUSES:
            return "8", (Reference("F8", number),)
        return frequency if frequency in ("7", "8") else "7", (Reference("F8", number),)
    if fhir.status in VOID_STATUSES:
        raise _Problem("Claim.status", f"a {fhir.status} claim with no prior claim to void")
    return frequency, ()


def _facility(fhir: FhirClaim, kind: str, bundle: _Bundle, lines: tuple[ServiceLine, ...]) -> tuple[str, str]:
    """(CLM05-1, CLM05-3): place of service (P) or the type of bill's facility type and frequency (I)."""
    if kind == "P":
        place = lines[0].place_of_service if lines else ""
        if not place and fhir.facility is not None:
            location = bundle.resolve(fhir.facility, "Claim.facility", ("Location",))
            place = _place_of_service(location.type)
        return place, "1"
    for n, info in enumerate(fhir.supportingInfo or ()):
        if _has_code(info.category, ("typeofbill",)):
            bill = _code(info.code)
            digits = bill[1:] if len(bill) == 4 and bill.startswith("0") else bill
            if len(digits) != 3 or not digits.isdigit():
                raise _Problem(f"Claim.supportingInfo[{n}].code", f"type of bill {bill!r} is not 3 digits")
            return digits[:2], digits[2]
    return "", "1"


def _claim_dates(fhir: FhirClaim, kind: str, lines: tuple[ServiceLine, ...]) -> tuple[QualifiedDate, ...]:
    """Institutional: statement period (434, from billablePeriod, else the lines' span) and admission (435)."""
    if kind != "I":
        return ()
    start, end = _period(fhir.billablePeriod)
    if start is None:
        days = [d for line in lines for item in line.dates for d in (item.value, item.end) if d is not None]
        start, end = (min(days), max(days)) if days else (None, None)
    dates = (QualifiedDate("434", start, end or start),) if start is not None else ()
    for info in fhir.supportingInfo or ():
        if _has_code(info.category, ("admissionperiod",)) and info.timingPeriod is not None:
            admitted = info.timingPeriod.start
            day = _day(admitted)
            if day is not None:
                time = f"{admitted:%H%M}" if isinstance(admitted, datetime) else ""
                dates += (QualifiedDate("435", day, None, time),)
    return dates


def _institutional_codes(fhir: FhirClaim, kind: str) -> dict[str, str]:
    """CL1: admission type, source (point of origin) and patient (discharge) status, when sent."""
    if kind != "I":
        return {}
    fields = {"admtype": "admission_type", "pointoforigin": "admission_source", "discharge-status": "patient_status"}
    found = {}
    for info in fhir.supportingInfo or ():
        for category, name in fields.items():
            if _has_code(info.category, (category,)) and _code(info.code):
                found[name] = _code(info.code)
    return found


def _claim_diagnoses(fhir: FhirClaim, kind: str,
                     bundle: _Bundle) -> tuple[tuple[HealthCareCode, ...], dict[int, str]]:
    """HI diagnosis codes (principal first) and Claim.diagnosis.sequence -> SV107 pointer."""
    found: list[tuple[int, str, bool, str]] = []  # (sequence, code, principal, POA)
    for n, diagnosis in sorted(enumerate(fhir.diagnosis or ()), key=lambda pair: pair[1].sequence):
        concept = diagnosis.diagnosisCodeableConcept
        if diagnosis.diagnosisReference is not None:
            concept = bundle.resolve(diagnosis.diagnosisReference, f"Claim.diagnosis[{n}].diagnosisReference",
                                     ("Condition",)).code
        code = _icd10(concept)
        if code:
            poa = _code(diagnosis.onAdmission)
            found.append((diagnosis.sequence, code, _has_code(diagnosis.type, ("principal",)),
                          poa if kind == "I" and poa in POA_CODES else ""))
    return _diagnosis_codes(found, kind)


def _diagnosis_codes(found: list[tuple[int, str, bool, str]],
                     kind: str) -> tuple[tuple[HealthCareCode, ...], dict[int, str]]:
    """ABK for the principal (the one typed so, else the first), ABF for the others; pointers are 1-based
    positions in that order."""
    if not found:
        return (), {}
    principal = next((item for item in found if item[2]), found[0])
    ordered = [principal] + [item for item in found if item is not principal]
    if kind == "P" and len(ordered) > MAX_PROFESSIONAL_DIAGNOSES:
        # Dropping the extra codes would bill a claim other than the one sent: the source must choose.
        raise _Problem("Claim.diagnosis", f"{len(ordered)} diagnoses; a professional claim carries at most "
                                          f"{MAX_PROFESSIONAL_DIAGNOSES}")
    codes = tuple(HealthCareCode("ABK" if n == 0 else "ABF", code, present_on_admission=poa)
                  for n, (_, code, _, poa) in enumerate(ordered))
    return codes, {item[0]: str(n) for n, item in enumerate(ordered, start=1)}


def _claim_lines(fhir: FhirClaim, kind: str, pointers: dict[int, str]) -> tuple[ServiceLine, ...]:
    items = sorted(enumerate(fhir.item or ()), key=lambda pair: pair[1].sequence)
    if not items:
        raise _Problem("Claim.item", "the claim has no items")
    billed_period = _period(fhir.billablePeriod)
    return tuple(_claim_line(n, item, kind, pointers, billed_period) for n, item in items)


def _claim_line(n: int, item: ClaimItem, kind: str, pointers: dict[int, str],
                billed_period: tuple[date | None, date | None]) -> ServiceLine:
    field = f"Claim.item[{n}]"
    units = _money(item.quantity) if item.quantity is not None and item.quantity.value is not None else Decimal(1)
    charge = _money(item.net)
    if charge is None:
        price = _money(item.unitPrice)
        if price is None:
            raise _Problem(f"{field}.net", "the item has neither net nor unitPrice")
        charge = price * units * (item.factor if item.factor is not None else 1)
    procedure = _procedure(item.productOrService, item.modifier or ())
    revenue = _code(item.revenue)
    if kind == "P" and procedure is None:
        raise _Problem(f"{field}.productOrService", f"no CPT or HCPCS code ({_code(item.productOrService)!r})")
    if kind == "I":
        revenue = revenue.zfill(4) if revenue.isdigit() and len(revenue) <= 4 else revenue
        if len(revenue) != 4 or not revenue.isdigit():
            raise _Problem(f"{field}.revenue", f"revenue code {revenue or 'absent'!r} is not 4 digits")
    if item.servicedDate is not None or item.servicedPeriod is not None:
        start, end = (_day(item.servicedDate), None) if item.servicedDate is not None else _period(item.servicedPeriod)
        if start is None:
            raise _Problem(f"{field}.serviced[x]", "the date of service is not a full date")
    else:
        start, end = billed_period
    line_pointers = tuple(dict.fromkeys(pointers[s] for s in item.diagnosisSequence or () if s in pointers))
    line_pointers = line_pointers[:MAX_POINTERS]
    return ServiceLine(
        item.sequence, charge, procedure, revenue if kind == "I" else "", "UN", units,
        _place_of_service(item.locationCodeableConcept) if kind == "P" else "",
        line_pointers if kind == "P" else (), dates=_service_dates("472", start, end),
    )


def _claim_providers(fhir: FhirClaim, kind: str, billing: Party, bundle: _Bundle) -> tuple[Party, ...]:
    """The rendering (P, 82) or attending (I, 71) provider from the care team."""
    for n, member in enumerate(fhir.careTeam or ()):
        if not _has_code(member.role, RENDERING_ROLES[kind]):
            continue
        field = f"Claim.careTeam[{n}].provider"
        entry = bundle.entry(member.provider, field, PROVIDER_TYPES)
        if entry.type == "Organization":
            continue
        practitioner = _practitioner(entry, bundle, field)
        if practitioner is None:
            continue
        # The attending provider (837I 2310A) is sent even when they also bill; a rendering one is not.
        party = _rendering(RENDERING_ENTITY[kind], practitioner, billing if kind == "P" else Party("85"),
                           member.qualification)
        return (party,) if party is not None else ()
    return ()


# ---- Encounter + ChargeItem bundles ---------------------------------------------------------------


def _raw_reference(raw: object) -> str:
    return raw.get("reference", "") if isinstance(raw, dict) and isinstance(raw.get("reference"), str) else ""


def _covered_encounters(bundle: _Bundle) -> set[int]:
    """Entries of the Encounters a Claim covers (its items' encounters, its supporting info); read from the
    raw JSON so that an invalid Claim still keeps its encounter from being billed twice."""
    refs: list[str] = []
    for entry in bundle.of_type("Claim"):
        for item in entry.raw.get("item") or ():
            if isinstance(item, dict):
                refs += [_raw_reference(ref) for ref in item.get("encounter") or ()]
        for info in entry.raw.get("supportingInfo") or ():
            if isinstance(info, dict):
                refs.append(_raw_reference(info.get("valueReference")))
    found = (bundle.lookup(ref) for ref in refs if ref)
    return {entry.index for entry in found if entry is not None and entry.type == "Encounter"}


def _charge_groups(bundle: _Bundle, covered: set[int]) -> tuple[dict[str, list[_Entry]], list[tuple[int, SourceIssue]]]:
    """Billable ChargeItems by the Encounter (reference) they were charged in, Encounters a Claim covers left
    out; an issue for each billable ChargeItem that names no Encounter (nothing to group it into a claim by)."""
    groups: dict[str, list[_Entry]] = {}
    issues: list[tuple[int, SourceIssue]] = []
    for entry in bundle.of_type("ChargeItem"):
        if entry.raw.get("status") != "billable":
            continue
        reference = _raw_reference(entry.raw.get("context"))
        target = bundle.lookup(reference) if reference else None
        if target is not None and target.type == "Encounter":
            if target.index not in covered:
                groups.setdefault(f"Encounter/{target.id}" if target.id else reference, []).append(entry)
        elif target is None and reference and not reference.startswith("EpisodeOfCare/"):
            groups.setdefault(reference, []).append(entry)  # reported as a missing Encounter
        else:
            issues.append((entry.index, SourceIssue(entry.source_id, entry.location, "ChargeItem.context",
                                                    "a billable charge without an Encounter to bill it in")))
    return groups, issues


def _read_encounter(reference: str, items: list[_Entry], bundle: _Bundle) -> tuple[int, SourceClaim | SourceIssue]:
    target = bundle.lookup(reference)
    if target is None:
        source_id = reference.rsplit("/", 1)[-1]
        return items[0].index, SourceIssue(source_id, items[0].location, "ChargeItem.context",
                                           f"{reference} is not in the bundle")
    try:
        return target.index, _build_encounter_claim(target, target.valid(), items, bundle)
    except _Problem as problem:
        return target.index, _issue(target.source_id, target.location, problem)


def _build_encounter_claim(entry: _Entry, encounter: Encounter, items: list[_Entry], bundle: _Bundle) -> SourceClaim:
    if encounter.status in VOID_STATUSES:
        raise _Problem("Encounter.status", f"charges of a {encounter.status} encounter")
    charges = [item.valid() for item in items]
    pcn = _control_number(encounter.identifier, encounter.id, "Encounter")
    try:
        patient = bundle.entry(charges[0].subject, "ChargeItem.subject", ("Patient",))
    except _Problem as problem:
        problem.location = problem.location or items[0].location
        raise
    coverage_entry = _patient_coverage(patient, bundle)
    coverage = coverage_entry.resource
    field = f"Coverage/{coverage.id}" if coverage.id else "Coverage"
    payer = _payer(coverage, None, bundle, field)
    subscriber, claim_patient = _insured(coverage, patient, coverage.order, "P", bundle, field)
    if encounter.serviceProvider is None:
        raise _Problem("Encounter.serviceProvider", "no organization to bill as")
    billing = _billing_provider(bundle.entry(encounter.serviceProvider, "Encounter.serviceProvider",
                                             ("Organization",)), bundle, "Encounter.serviceProvider")
    codes, by_code = _encounter_diagnoses(encounter, charges, bundle)
    performers = [_performer(item, charge, billing, bundle) for item, charge in zip(items, charges, strict=True)]
    rendering = next((party for party in performers if party is not None), None)
    lines = tuple(_charge_line(number, item, charge, encounter, by_code, rendering, performer)
                  for number, (item, charge, performer) in enumerate(zip(items, charges, performers, strict=True), 1))
    claim = Claim(
        "P", pcn, sum((line.charge for line in lines), ZERO), _encounter_place(encounter, bundle), "B", "1",
        "Y", "A", "Y", "Y", billing_provider=billing, subscriber=subscriber, payer=payer, patient=claim_patient,
        references=_medical_record(patient.resource), health_care_codes=codes,
        providers=(rendering,) if rendering is not None else (), service_lines=lines,
    )
    return SourceClaim(entry.source_id, assign_line_control_numbers(claim),
                       _coverage_fact(coverage, payer), entry.location)


def _patient_coverage(patient: _Entry, bundle: _Bundle) -> _Entry:
    """The patient's Coverage: the lowest Coverage.order, active ones first."""
    mine = [entry for entry in bundle.of_type("Coverage")
            if getattr(bundle.lookup(_raw_reference(entry.raw.get("beneficiary"))), "index", None) == patient.index]
    if not mine:
        raise _Problem("Coverage.beneficiary", f"no Coverage in the bundle for {patient.type}/{patient.id}")
    for entry in mine:
        entry.valid()
    mine.sort(key=lambda e: (e.resource.status != "active", e.resource.order or len(RESPONSIBILITY) + 1))
    return mine[0]


def _encounter_place(encounter: Encounter, bundle: _Bundle) -> str:
    """Place of service from the first location's type; office (11) when the encounter does not say."""
    for n, location in enumerate((encounter.location or ())[:1]):
        place = bundle.resolve(location.location, f"Encounter.location[{n}].location", ("Location",))
        return _place_of_service(place.type) or "11"
    return "11"


def _encounter_diagnoses(encounter: Encounter, charges: list[Any],
                         bundle: _Bundle) -> tuple[tuple[HealthCareCode, ...], dict[str, str]]:
    """Diagnoses from Encounter.diagnosis (Condition codes by rank), else from the ChargeItems' reasons;
    with ICD code -> pointer."""
    found: list[tuple[int, str, bool, str]] = []
    # Ranked diagnoses first by rank, unranked ones after them in the order sent.
    ranked = sorted(enumerate(encounter.diagnosis or ()), key=lambda pair: pair[1].rank or (1000 + pair[0]))
    for n, diagnosis in ranked:
        condition = bundle.resolve(diagnosis.condition, f"Encounter.diagnosis[{n}].condition",
                                   ("Condition", "Procedure"))
        code = _icd10(condition.code)
        if code and code not in (item[1] for item in found):
            found.append((len(found) + 1, code, False, ""))
    if not found:
        for charge in charges:
            for concept in charge.reason or ():
                code = _icd10(concept)
                if code and code not in (item[1] for item in found):
                    found.append((len(found) + 1, code, False, ""))
    codes, pointers = _diagnosis_codes(found, "P")
    return codes, {code: pointers[sequence] for sequence, code, _, _ in found if sequence in pointers}


def _performer(item: _Entry, charge: Any, billing: Party, bundle: _Bundle) -> Party | None:
    """The rendering provider of a ChargeItem: its first performer, when a practitioner."""
    for performer in (charge.performer or ())[:1]:
        try:
            entry = bundle.entry(performer.actor, "ChargeItem.performer[0].actor", PROVIDER_TYPES + ("CareTeam",))
        except _Problem as problem:
            problem.location = problem.location or item.location
            raise
        if entry.type in ("Practitioner", "PractitionerRole"):
            practitioner = _practitioner(entry, bundle, "ChargeItem.performer[0].actor")
            return _rendering("82", practitioner, billing) if practitioner is not None else None
    return None


def _charge_line(number: int, item: _Entry, charge: Any, encounter: Encounter, by_code: dict[str, str],
                 rendering: Party | None, performer: Party | None) -> ServiceLine:
    def problem(field: str, message: str) -> _Problem:
        return _Problem(f"ChargeItem.{field}", message, item.location)

    procedure = _procedure(charge.code)
    if procedure is None:
        raise problem("code", f"no CPT or HCPCS code ({_code(charge.code)!r})")
    units = _money(charge.quantity) if charge.quantity is not None and charge.quantity.value is not None else Decimal(1)
    price = _money(charge.priceOverride)
    if price is None:
        raise problem("priceOverride", "no price")
    if charge.occurrenceDateTime is not None:
        start, end = _day(charge.occurrenceDateTime), None
    elif charge.occurrencePeriod is not None:
        start, end = _period(charge.occurrencePeriod)
    else:
        start, end = _period(encounter.period)
    if start is None:
        raise problem("occurrence[x]", "no full date of service (nor an Encounter.period start)")
    reasons = [by_code[code] for concept in charge.reason or () if (code := _icd10(concept)) in by_code]
    pointers = tuple(dict.fromkeys(reasons)) or tuple(sorted(set(by_code.values()), key=int))
    providers = (performer,) if performer is not None and performer != rendering else ()
    return ServiceLine(number, price * units, procedure, "", "UN", units, "", pointers[:MAX_POINTERS],
                       dates=_service_dates("472", start, end), providers=providers)
