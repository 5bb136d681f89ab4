"""The network's EHRs: each day's encounters, sent as charges the way each facility's interface sends them —
FHIR R4 Bundles (hospitals and some clinics), HL7 v2 DFT^P03 messages (most clinics) or the charge CSV (small
practices and imaging centres).

Encounters carry the mistakes real charge capture makes, at realistic rates, so the scrubber has work: a
diagnosis coded to a category instead of a billable code, a member id left blank, a lab panel billed with a
panel it contains (an NCCI pair), an imaging study without its prior authorisation, a visit billed twice.
Coding and registration mistakes are corrected the next day (the EHR sends the claim again, same id, fixed),
as coders and registrars do; the rest stay in their work queues. Everything is drawn from a
``random.Random`` seeded by (seed, day), so a day's files are the same bytes every time they are made.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rcmflow.demo.network import SPECIALTIES, Facility, Network, Patient, Provider, Service
from rcmflow.domain.payer_policy import PayerPolicies

MISTAKES = (("category-diagnosis", 0.025), ("missing-member-id", 0.01), ("ncci-pair", 0.01),
            ("duplicate", 0.005))
CORRECTED_NEXT_DAY = frozenset({"category-diagnosis", "missing-member-id"})
AUTHORIZED_SHARE = 0.9  # studies that need an authorisation carry one this often


@dataclass(frozen=True)
class Encounter:
    claim_id: str
    facility: Facility
    patient: Patient
    provider: Provider
    day: date
    lines: tuple[tuple[Service, int], ...]  # (service, units)
    diagnoses: tuple[str, ...]  # ICD-10-CM with dots, principal first
    authorization: str = ""
    mistake: str = ""

    @property
    def member_id(self) -> str:
        return "" if self.mistake == "missing-member-id" else self.patient.coverage.member_id

    @property
    def coded_diagnoses(self) -> tuple[str, ...]:
        if self.mistake == "category-diagnosis":
            return (self.diagnoses[0].split(".")[0], *self.diagnoses[1:])
        return self.diagnoses


def _encounter(rng: random.Random, network: Network, facility: Facility, day: date, number: int,
               policies: PayerPolicies) -> Encounter:
    patient = rng.choice(network.patients)
    services = SPECIALTIES[facility.specialty]
    first = rng.choice(services)
    chosen = [first] + [service for service in rng.sample(services, k=min(len(services), 2))
                        if service.code != first.code and rng.random() < 0.45]
    diagnoses = tuple(dict.fromkeys([rng.choice(first.diagnoses)] + [rng.choice(s.diagnoses) for s in chosen[1:]]))
    mistake = ""
    roll = rng.random()
    for name, rate in MISTAKES:
        if roll < rate:
            mistake = name
            break
        roll -= rate
    if patient.subscriber is not None and mistake == "category-diagnosis":
        mistake = ""  # keep the children's well visits clean: their codes have no category twin to mistype
    lines = [(service, 1) for service in chosen]
    if mistake == "ncci-pair":
        revenue = "0300" if facility.claim_type == "I" else ""
        lines += [(Service("80053", Decimal("60.00"), ("E11.9",), revenue), 1),
                  (Service("80048", Decimal("45.00"), ("E11.9",), revenue), 1)]
        diagnoses = tuple(dict.fromkeys((*diagnoses, "E11.9")))
    policy = policies.for_payer(patient.coverage.payer.payer_id, patient.coverage.payer.filing_indicator)
    needs_auth = any(policy.needs_authorization(service.code) for service, _ in lines)
    authorization = f"PA{rng.randrange(10 ** 7):07d}" if needs_auth and rng.random() < AUTHORIZED_SHARE else ""
    return Encounter(f"{facility.key}-{day:%y%m%d}-{number:04d}", facility, patient, rng.choice(facility.providers),
                     day, tuple(lines), diagnoses, authorization, mistake)


def encounters_for(network: Network, day: date, count: int, policies: PayerPolicies) -> list[Encounter]:
    """The day's encounters: ``count`` visits over the facilities (hospitals busier than clinics)."""
    rng = random.Random(f"{network.seed}:{day.isoformat()}")
    weights = [6 if facility.kind == "hospital" else 2 if facility.kind == "imaging" else 1
               for facility in network.facilities]
    numbers: dict[str, int] = defaultdict(int)
    found = []
    for _ in range(count):
        facility = rng.choices(network.facilities, weights)[0]
        numbers[facility.key] += 1
        found.append(_encounter(rng, network, facility, day, numbers[facility.key], policies))
    return found


def next_day_versions(yesterday: list[Encounter]) -> list[Encounter]:
    """What the EHR sends again today: corrections of yesterday's coding and registration mistakes (same claim
    id), and the second copy of a visit billed twice (another claim id)."""
    again = []
    for encounter in yesterday:
        if encounter.mistake in CORRECTED_NEXT_DAY:
            again.append(replace(encounter, mistake=""))
        elif encounter.mistake == "duplicate":
            again.append(replace(encounter, claim_id=encounter.claim_id + "D", mistake=""))
    return again


# ---- FHIR R4 Bundles ------------------------------------------------------------------------------

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
ICD_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"


def _money(amount: Decimal) -> dict[str, Any]:
    return {"value": float(amount), "currency": "USD"}  # FHIR JSON numbers; the reader takes them as Decimal


def _fhir_patient(patient: Patient) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient.key,
            "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                 "code": "MR"}]}, "value": patient.key}],
            "name": [{"family": patient.last_name, "given": [patient.first_name]}],
            "gender": "male" if patient.sex == "M" else "female", "birthDate": patient.birth_date.isoformat(),
            "address": [{"line": [patient.address], "city": patient.city, "state": "CT",
                         "postalCode": patient.postal_code}]}


def _fhir_coverage(encounter: Encounter, which: str) -> list[dict[str, Any]]:
    patient = encounter.patient
    coverage = patient.coverage if which == "primary" else patient.secondary
    assert coverage is not None
    resources: list[dict[str, Any]] = [{
        "resourceType": "Organization", "id": f"payer-{coverage.payer.payer_id}", "name": coverage.payer.name,
        "identifier": [{"system": "https://rcmflow.example/payer-id", "value": coverage.payer.payer_id}]}]
    member_id = encounter.member_id if which == "primary" else coverage.member_id
    resource: dict[str, Any] = {
        "resourceType": "Coverage", "id": f"cov-{patient.key}-{which}", "status": "active",
        "type": {"coding": [{"system": "https://x12.org/codes/claim-filing-indicator",
                             "code": coverage.payer.filing_indicator}]},
        "beneficiary": {"reference": f"Patient/{patient.key}"},
        "period": {"start": coverage.start.isoformat()},
        "payor": [{"reference": f"Organization/payer-{coverage.payer.payer_id}"}],
        "class": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                        "code": "group"}]}, "value": coverage.group_number}],
        "order": 1 if which == "primary" else 2}
    if member_id:
        resource["subscriberId"] = member_id
    if patient.subscriber is not None and which == "primary":
        last, first, birth, sex = patient.subscriber
        resource["relationship"] = {"coding": [{"code": "child"}]}
        resource["subscriber"] = {"reference": f"RelatedPerson/parent-{patient.key}"}
        resources.append({"resourceType": "RelatedPerson", "id": f"parent-{patient.key}",
                          "patient": {"reference": f"Patient/{patient.key}"},
                          "name": [{"family": last, "given": [first]}],
                          "gender": "male" if sex == "M" else "female", "birthDate": birth.isoformat()})
    else:
        resource["relationship"] = {"coding": [{"code": "self"}]}
    return [*resources, resource]


def _fhir_claim(encounter: Encounter) -> dict[str, Any]:
    facility = encounter.facility
    institutional = facility.claim_type == "I"
    diagnoses = encounter.coded_diagnoses
    items = []
    for sequence, (service, units) in enumerate(encounter.lines, start=1):
        item: dict[str, Any] = {
            "sequence": sequence, "careTeamSequence": [1],
            "diagnosisSequence": [1 + diagnoses.index(next((d for d in diagnoses if d in service.diagnoses),
                                                           diagnoses[0]))],
            "productOrService": {"coding": [{"system": CPT_SYSTEM, "code": service.code}]},
            "servicedDate": encounter.day.isoformat(), "quantity": {"value": units},
            "unitPrice": _money(service.charge), "net": _money(service.charge * units)}
        if institutional:
            item["revenue"] = {"coding": [{"code": service.revenue_code}]}
        else:
            item["locationCodeableConcept"] = {"coding": [{"code": "11"}]}
        items.append(item)
    key = encounter.patient.key
    insurance: list[dict[str, Any]] = [{"sequence": 1, "focal": True,
                                        "coverage": {"reference": f"Coverage/cov-{key}-primary"}}]
    if encounter.authorization:
        insurance[0]["preAuthRef"] = [encounter.authorization]
    if encounter.patient.secondary is not None:
        insurance.append({"sequence": 2, "focal": False,
                          "coverage": {"reference": f"Coverage/cov-{encounter.patient.key}-secondary"}})
    claim: dict[str, Any] = {
        "resourceType": "Claim", "id": encounter.claim_id, "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                             "code": "institutional" if institutional else "professional"}]},
        "use": "claim", "patient": {"reference": f"Patient/{encounter.patient.key}"},
        "billablePeriod": {"start": encounter.day.isoformat(), "end": encounter.day.isoformat()},
        "created": f"{encounter.day.isoformat()}T17:00:00-05:00",
        "provider": {"reference": f"Organization/{facility.key}"},
        "priority": {"coding": [{"code": "normal"}]},
        "careTeam": [{"sequence": 1, "provider": {"reference": f"Practitioner/{encounter.provider.npi}"},
                      "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claimcareteamrole",
                                           "code": "primary"}]}}],
        "insurance": insurance,
        "diagnosis": [{"sequence": n, "diagnosisCodeableConcept": {"coding": [{"system": ICD_SYSTEM, "code": code}]}}
                      for n, code in enumerate(diagnoses, start=1)],
        "item": items, "total": _money(sum((s.charge * u for s, u in encounter.lines), Decimal(0)))}
    if institutional:
        claim["supportingInfo"] = [{"sequence": 1, "category": {"coding": [{"code": "typeofbill"}]},
                                    "code": {"coding": [{"code": "0131"}]}}]
    return claim


def fhir_bundle(facility: Facility, encounters: list[Encounter]) -> bytes:
    """One Bundle of a facility's claims with every resource they reference."""
    resources: dict[str, dict[str, Any]] = {
        f"Organization/{facility.key}": {
            "resourceType": "Organization", "id": facility.key, "name": facility.name,
            "identifier": [{"system": NPI_SYSTEM, "value": facility.npi},
                           {"system": "urn:oid:2.16.840.1.113883.4.4", "value": facility.tax_id}],
            "type": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": facility.taxonomy}]}],
            "address": [{"line": ["1 HEALTH WAY"], "city": facility.city, "state": "CT",
                         "postalCode": facility.postal_code}]}}
    for encounter in encounters:
        patient, provider = encounter.patient, encounter.provider
        resources.setdefault(f"Patient/{patient.key}", _fhir_patient(patient))
        resources[f"Practitioner/{provider.npi}"] = {
            "resourceType": "Practitioner", "id": provider.npi,
            "identifier": [{"system": NPI_SYSTEM, "value": provider.npi}],
            "name": [{"family": provider.last_name, "given": [provider.first_name]}],
            "qualification": [{"code": {"coding": [{"system": "http://nucc.org/provider-taxonomy",
                                                    "code": provider.taxonomy}]}}]}
        for which in ("primary", "secondary") if patient.secondary is not None else ("primary",):
            for resource in _fhir_coverage(encounter, which):
                resources[f"{resource['resourceType']}/{resource['id']}"] = resource
        resources[f"Claim/{encounter.claim_id}"] = _fhir_claim(encounter)
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"urn:rcmflow:{key}", "resource": resource} for key, resource in resources.items()]}
    return json.dumps(bundle, indent=1).encode("utf-8")


# ---- charge CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "claim_id", "claim_type", "patient_id", "patient_last_name", "patient_first_name", "patient_birth_date",
    "patient_sex", "patient_address", "patient_city", "patient_state", "patient_zip", "relationship",
    "subscriber_last_name", "subscriber_first_name", "subscriber_birth_date", "subscriber_sex", "member_id",
    "group_number", "payer_id", "payer_name", "filing_indicator", "billing_npi", "billing_name", "billing_tax_id",
    "billing_taxonomy", "billing_address", "billing_city", "billing_state", "billing_zip", "rendering_npi",
    "rendering_last_name", "rendering_first_name", "rendering_taxonomy", "place_of_service", "prior_authorization",
    "diagnoses", "coverage_active", "coverage_start", "secondary_payer_id", "secondary_payer_name",
    "secondary_member_id", "secondary_filing_indicator", "service_date", "procedure_code", "units", "charge",
    "diagnosis_pointers")


def charge_csv(facility: Facility, encounters: list[Encounter]) -> bytes:
    """A practice's day of charges in the documented charge CSV layout, one row per line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for encounter in encounters:
        patient, coverage = encounter.patient, encounter.patient.coverage
        parent = patient.subscriber
        diagnoses = encounter.coded_diagnoses
        secondary = patient.secondary
        for n, (service, units) in enumerate(encounter.lines):
            pointer = 1 + diagnoses.index(next((d for d in diagnoses if d in service.diagnoses), diagnoses[0]))
            claim_values = (
                "P", patient.key, patient.last_name, patient.first_name, patient.birth_date.isoformat(), patient.sex,
                patient.address, patient.city, "CT", patient.postal_code, "19" if parent else "18",
                parent[0] if parent else "", parent[1] if parent else "",
                parent[2].isoformat() if parent else "", parent[3] if parent else "", encounter.member_id,
                coverage.group_number, coverage.payer.payer_id, coverage.payer.name, coverage.payer.filing_indicator,
                facility.npi, facility.name, facility.tax_id, facility.taxonomy, "1 HEALTH WAY", facility.city, "CT",
                facility.postal_code, encounter.provider.npi, encounter.provider.last_name,
                encounter.provider.first_name, encounter.provider.taxonomy, "11", encounter.authorization,
                ";".join(diagnoses), "Y", coverage.start.isoformat(),
                secondary.payer.payer_id if secondary else "", secondary.payer.name if secondary else "",
                secondary.member_id if secondary else "", secondary.payer.filing_indicator if secondary else "")
            writer.writerow((encounter.claim_id, *(claim_values if n == 0 else ("",) * len(claim_values)),
                             encounter.day.isoformat(), service.code, units, f"{service.charge * units:.2f}",
                             pointer))
    return out.getvalue().encode("utf-8")


# ---- HL7 v2 DFT^P03 -------------------------------------------------------------------------------


def _fields(segment: str, values: dict[int, str]) -> str:
    width = max(values)
    return "|".join([segment, *(values.get(n, "") for n in range(1, width + 1))])


def dft_message(encounter: Encounter, sent: datetime) -> bytes:
    """One visit's charges as an HL7 v2.5.1 DFT^P03 message (segments ended by CR)."""
    facility, patient, provider = encounter.facility, encounter.patient, encounter.provider
    coverage, parent = patient.coverage, patient.subscriber
    diagnoses = encounter.coded_diagnoses
    day = f"{encounter.day:%Y%m%d}"
    segments = [
        f"MSH|^~\\&|EHR|{facility.key}|RCMFLOW|BILLING|{sent:%Y%m%d%H%M%S}||DFT^P03^DFT_P03|"
        f"{encounter.claim_id}|P|2.5.1",
        f"EVN|P03|{sent:%Y%m%d%H%M%S}",
        _fields("PID", {1: "1", 3: f"{patient.key}^^^{facility.key}^MR", 5: f"{patient.last_name}^{patient.first_name}",
                        7: f"{patient.birth_date:%Y%m%d}", 8: patient.sex,
                        11: f"{patient.address}^^{patient.city}^CT^{patient.postal_code}^USA^H"}),
        _fields("PV1", {1: "1", 2: "O", 3: f"EXAM^1^^{facility.key}",
                        7: f"{provider.npi}^{provider.last_name}^{provider.first_name}^^^^MD^^"
                           "NPI&2.16.840.1.113883.4.6&ISO^L", 19: encounter.claim_id, 39: facility.key}),
    ]
    for n, (service, units) in enumerate(encounter.lines, start=1):
        codes = [d for d in diagnoses if d in service.diagnoses] or [diagnoses[0]]
        segments.append(_fields("FT1", {
            1: str(n), 2: f"{encounter.claim_id}-{n}", 4: day, 6: "CG", 7: f"{service.code}^^C4", 10: str(units),
            11: f"{service.charge * units:.2f}&USD", 16: f"EXAM^1^^{facility.key}",
            19: "~".join(f"{code}^^I10" for code in codes),
            20: f"{provider.npi}^{provider.last_name}^{provider.first_name}^^^^MD^^NPI^L^^^NPI",
            25: f"{service.code}^^C4"}))
    for n, code in enumerate(diagnoses, start=1):
        segments.append(_fields("DG1", {1: str(n), 2: "I10", 3: f"{code}^^I10", 5: day, 6: "F", 15: str(n)}))
    insured = (f"{parent[0]}^{parent[1]}", "CHD", f"{parent[2]:%Y%m%d}") if parent else (
        f"{patient.last_name}^{patient.first_name}", "SEL", f"{patient.birth_date:%Y%m%d}")
    segments.append(_fields("IN1", {
        1: "1", 2: f"PLAN^{coverage.payer.name}", 3: coverage.payer.payer_id, 4: coverage.payer.name,
        8: coverage.group_number, 12: f"{coverage.start:%Y%m%d}", 15: coverage.payer.filing_indicator,
        16: insured[0], 17: insured[1], 18: insured[2], 36: encounter.member_id}))
    return ("\r".join(segments) + "\r").encode("utf-8")


def sent_at(day: date) -> datetime:
    """When the EHR sends a day's charges: that evening."""
    return datetime(day.year, day.month, day.day, 19, 0)
