"""A seeded regional health network for ``rcmflow demo``: hospitals, clinics and imaging centres with their
providers and EHR interfaces, a dozen payers, and patients with their coverage (made with Faker).

Same seed, same network: every name, identifier and coverage comes from one ``random.Random(seed)`` and a
Faker seeded from it, so a demo run can be killed and started again and rebuild exactly what it had.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from faker import Faker

from rcmflow.domain.identifiers import make_npi

CT_CITIES = (("HARTFORD", "06105"), ("NEW HAVEN", "06510"), ("STAMFORD", "06901"), ("WATERBURY", "06702"),
             ("NORWALK", "06850"), ("DANBURY", "06810"), ("NEW BRITAIN", "06051"), ("BRISTOL", "06010"),
             ("MERIDEN", "06450"), ("MIDDLETOWN", "06457"))


@dataclass(frozen=True)
class Service:
    """A billable service a specialty performs: code, charge, diagnoses it goes with, revenue code (hospital)."""

    code: str
    charge: Decimal
    diagnoses: tuple[str, ...]
    revenue_code: str = ""


def _services(*rows: tuple[str, str, str, str]) -> tuple[Service, ...]:
    return tuple(Service(code, Decimal(charge), tuple(dx.split()), revenue) for code, charge, dx, revenue in rows)


# What each kind of practice bills (CPT/HCPCS codes with typical charges; ICD-10-CM codes with dots).
SPECIALTIES: dict[str, tuple[Service, ...]] = {
    "family medicine": _services(
        ("99213", "125.00", "I10 E11.9 J06.9 E78.5 J02.0 N39.0", ""), ("99214", "180.00", "I10 E11.9 E78.5", ""),
        ("99396", "230.00", "Z00.00", ""), ("36415", "15.00", "E11.9 E78.5", ""), ("80053", "60.00", "E11.9 I10", ""),
        ("85025", "35.00", "E11.9 N39.0", ""), ("93000", "55.00", "I10 R07.89", ""), ("81002", "12.00", "N39.0", "")),
    "pediatrics": _services(
        ("99393", "180.00", "Z00.129", ""), ("99392", "170.00", "Z00.129", ""), ("90460", "30.00", "Z23", ""),
        ("99213", "125.00", "J06.9 H66.91 J02.0", ""), ("87880", "28.50", "J02.0", "")),
    "cardiology": _services(
        ("99214", "180.00", "I10 I25.10 I48.0", ""), ("93000", "55.00", "I48.0 R07.89", ""),
        ("93306", "850.00", "I25.10 I48.0", ""), ("93015", "320.00", "R07.89 I25.10", "")),
    "orthopedics": _services(
        ("99213", "125.00", "M17.11 M25.561", ""), ("20610", "210.00", "M17.11", ""),
        ("73030", "120.00", "M25.561", ""), ("73721", "1100.00", "M25.561 S83.241A", "")),
    "imaging": _services(
        ("71046", "180.00", "R05.1 J18.9", ""), ("72148", "1400.00", "M54.50", ""), ("70551", "1500.00", "R51.9", ""),
        ("76700", "450.00", "R10.13", ""), ("73721", "1100.00", "M25.561", "")),
    "hospital outpatient": _services(
        ("99284", "1800.00", "R07.89 R10.13 S09.90XA", "0450"), ("85025", "90.00", "R07.9 J18.9", "0300"),
        ("71046", "400.00", "J18.9 R05.1", "0320"), ("93005", "120.00", "R07.89", "0730")),
}
TAXONOMY = {"family medicine": "207Q00000X", "pediatrics": "208000000X", "cardiology": "207RC0000X",
            "orthopedics": "207X00000X", "imaging": "261QR0200X", "hospital outpatient": "282N00000X"}
CLINIC_SPECIALTIES = ("family medicine", "family medicine", "pediatrics", "cardiology", "orthopedics")


@dataclass(frozen=True)
class Payer:
    payer_id: str
    name: str
    filing_indicator: str  # SBR09 of its claims
    share: int  # relative weight among the network's patients


# The four payers whose contracts and policies ship with rcmflow, and eight more of the region.
PAYERS = (
    Payer("60054", "ACME HEALTH PLAN", "CI", 22), Payer("00590", "BLUE RIVER BCBS", "BL", 20),
    Payer("04412", "MEDICARE PART B", "MB", 18), Payer("77001", "SUNRISE MEDICAID", "MC", 12),
    Payer("31114", "HARBOR HEALTH PLAN", "CI", 6), Payer("52133", "SUMMIT CARE HMO", "HM", 5),
    Payer("61101", "PIONEER MUTUAL", "CI", 4), Payer("38217", "LAKESIDE PPO", "CI", 4),
    Payer("77002", "TRICOUNTY MEDICAID", "MC", 3), Payer("84980", "VETERANS COMMUNITY CARE", "VA", 2),
    Payer("90211", "WORKERS COMP MUTUAL", "WC", 2), Payer("44410", "NUTMEG STATE PLAN", "CI", 2),
)
SECONDARY_PAYERS = ("00590", "77001", "44410")  # who most often pays after another payer


@dataclass(frozen=True)
class Provider:
    npi: str
    last_name: str
    first_name: str
    taxonomy: str


@dataclass(frozen=True)
class Facility:
    """A billing provider of the network and the interface its EHR sends charges through."""

    key: str  # short id: also the HL7 sending facility of DFT feeds
    name: str
    kind: str  # hospital, clinic, imaging
    specialty: str
    npi: str
    tax_id: str
    city: str
    postal_code: str
    interface: str  # fhir, hl7, csv
    providers: tuple[Provider, ...]

    @property
    def claim_type(self) -> str:
        return "I" if self.kind == "hospital" else "P"

    @property
    def taxonomy(self) -> str:
        return TAXONOMY[self.specialty]


@dataclass(frozen=True)
class Coverage:
    payer: Payer
    member_id: str
    group_number: str
    start: date


@dataclass(frozen=True)
class Patient:
    key: str  # the EHR's medical record number
    last_name: str
    first_name: str
    birth_date: date
    sex: str  # M / F
    address: str
    city: str
    postal_code: str
    coverage: Coverage
    secondary: Coverage | None
    subscriber: tuple[str, str, date, str] | None  # (last, first, birth, sex) of the parent holding the policy


@dataclass(frozen=True)
class Network:
    seed: int
    facilities: tuple[Facility, ...]
    patients: tuple[Patient, ...]
    payers: tuple[Payer, ...]


def _npi(rng: random.Random, first: str = "1") -> str:
    return make_npi(first + f"{rng.randrange(10 ** 8):08d}")


def _facilities(rng: random.Random, fake: Faker, clinics: int, hospitals: int, imaging: int) -> tuple[Facility, ...]:
    found = []
    names: set[str] = set()

    def add(kind: str, specialty: str, interface: str, label: str) -> None:
        city, postal = rng.choice(CT_CITIES)
        name = f"{city.title()} {label}"
        while name in names:  # two clinics of one kind in one city get a street name to tell them apart
            name = f"{fake.street_name()} {label}"
        names.add(name)
        providers = tuple(Provider(_npi(rng), fake.last_name().upper(), fake.first_name().upper(),
                                   TAXONOMY[specialty] if specialty != "imaging" else "2085R0202X")
                          for _ in range(rng.randint(2, 4)))
        key = f"{kind[:3].upper()}{len(found) + 1:02d}"
        tax_id = f"{rng.randint(10, 99)}-{rng.randrange(10 ** 7):07d}"
        found.append(Facility(key, name.upper()[:55], kind, specialty, _npi(rng, "1"), tax_id, city, postal,
                              interface, providers))

    for _ in range(hospitals):
        add("hospital", "hospital outpatient", "fhir", "Regional Hospital")
    interfaces = ("hl7", "hl7", "fhir", "csv")
    for number in range(clinics):
        specialty = CLINIC_SPECIALTIES[number % len(CLINIC_SPECIALTIES)]
        add("clinic", specialty, interfaces[number % len(interfaces)], f"{specialty.title()} Associates")
    for _ in range(imaging):
        add("imaging", "imaging", "csv", "Imaging Center")
    return tuple(found)


def _coverage(rng: random.Random, payer: Payer, start: date) -> Coverage:
    return Coverage(payer, f"{payer.payer_id[:2]}{rng.randrange(10 ** 9):09d}", f"G{rng.randint(1000, 9999)}", start)


def _patients(rng: random.Random, fake: Faker, count: int, start: date) -> tuple[Patient, ...]:
    weights = [payer.share for payer in PAYERS]
    by_id = {payer.payer_id: payer for payer in PAYERS}
    patients = []
    for number in range(count):
        sex = rng.choice("MF")
        first = (fake.first_name_male() if sex == "M" else fake.first_name_female()).upper()
        child = rng.random() < 0.2
        age = rng.randint(1, 16) if child else rng.randint(19, 88)
        birth = start - timedelta(days=age * 365 + rng.randint(0, 364))
        payer = rng.choices(PAYERS, weights)[0]
        if age >= 65 and rng.random() < 0.8:
            payer = by_id["04412"]
        secondary = None
        if not child and rng.random() < 0.15:
            other = by_id[rng.choice([p for p in SECONDARY_PAYERS if p != payer.payer_id])]
            secondary = _coverage(rng, other, start - timedelta(days=rng.randint(30, 900)))
        last = fake.last_name().upper()
        city, postal = rng.choice(CT_CITIES)
        parent = (last, fake.first_name().upper(), birth - timedelta(days=rng.randint(22, 40) * 365),
                  rng.choice("MF")) if child else None
        patients.append(Patient(
            f"MRN{number + 1:06d}", last, first, birth, sex, fake.street_address().upper()[:55], city, postal,
            _coverage(rng, payer, start - timedelta(days=rng.randint(30, 1500))), secondary, parent))
    return tuple(patients)


# The facilities are the same whatever the run's seed: their NPIs are configured beside rcmflow (the HL7 feeds'
# billing providers in config/hl7_facilities.yaml), as a real network's are.
FACILITY_SEED = 2026


def network_facilities(clinics: int = 40, hospitals: int = 6, imaging: int = 4) -> tuple[Facility, ...]:
    rng = random.Random(FACILITY_SEED)
    fake = Faker("en_US")
    fake.seed_instance(FACILITY_SEED)
    return _facilities(rng, fake, clinics, hospitals, imaging)


def build_network(seed: int, *, patients: int, start: date) -> Network:
    """The network's facilities and, for ``seed``, ``patients`` patients with their coverage."""
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return Network(seed, network_facilities(), _patients(rng, fake, patients, start), PAYERS)
