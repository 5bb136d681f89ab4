"""Claims, batches and inbox files for the sandbox tests, and readers of what the sandbox wrote."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rcmflow.domain.claim import Claim, ClaimBatch, HealthCareCode, ServiceLine, Subscriber
from rcmflow.domain.claim_status import ClaimStatus
from rcmflow.domain.deposit import Deposit
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate, Remittance
from rcmflow.formats.bai2 import parse_bai2
from rcmflow.formats.x12.parser import X12Document, parse
from rcmflow.formats.x12.ts837_write import write_837_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as Envelope
from rcmflow.sandbox import PROFILES, PayerProfile
from rcmflow.sandbox.eligibility import ACTIVE, member_status
from rcmflow.sandbox.state import STATE_FILE

SEED = 7
RECEIVED = date(2026, 11, 2)  # a Monday: the day the sandbox first looks at its inbox
LATER = date(2027, 3, 31)  # long after every payment and follow-up
CREATED = datetime(2026, 11, 2, 9, 30)
DOS = date(2026, 10, 5)
SUBMITTER, SANDBOX = Envelope("RCMFLOWDEMO"), Envelope("SANDBOXPAYER")
ADDRESS = Address("12 ELM ST", "", "HARTFORD", "CT", "06105")
BILLING = Party("85", "VALLEY CLINIC", entity_type="2", id_qualifier="XX", id="1234567893", address=ADDRESS,
                references=(Reference("EI", "123456789"),), taxonomy="207Q00000X")
RENDERING = Party("82", "SMITH", "ANA", entity_type="1", id_qualifier="XX", id="1245319599", taxonomy="207Q00000X")
ACME = Party("PR", "ACME HEALTH PLAN", entity_type="2", id_qualifier="PI", id="60054")
MEDICARE = Party("PR", "MEDICARE PART B", entity_type="2", id_qualifier="PI", id="04412")
MEDICAID = Party("PR", "SUNRISE MEDICAID", entity_type="2", id_qualifier="PI", id="77001")
SUBMITTER_PARTY = Party("41", "RCMFLOW BILLING OFFICE", entity_type="2", id_qualifier="46", id="RCMFLOWDEMO",
                        contacts=(Contact("IC", "BILLING OFFICE", (("TE", "8605550100"),)),))
RECEIVER_PARTY = Party("40", "RCMFLOW SANDBOX PAYER", entity_type="2", id_qualifier="46", id="SANDBOXPAYER")

# Every habit switched off: a test turns on the one it looks at.
QUIET_RATES: dict[str, Any] = {
    "rejection_rate": 0.0, "denial_rate": 0.0, "bundling_rate": 0.0, "noncovered_rate": 0.0,
    "underpayment_rate": 0.0, "review_rate": 0.0, "check_rate": 0.0, "reversal_rate": 0.0, "recoupment_rate": 0.0,
    "deposit_split_rate": 0.0, "deposit_late_rate": 0.0, "inactive_rate": 0.0, "unknown_member_rate": 0.0,
    "deductible_rate": 0.0,
}


def quiet(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, PayerProfile]:
    """The demo payers with every random habit off; ``overrides`` maps a payer id to the knobs it turns on."""
    return {payer_id: dataclasses.replace(profile, **{**QUIET_RATES, **(overrides or {}).get(payer_id, {})})
            for payer_id, profile in PROFILES.items()}


def active_member(profile: PayerProfile, prefix: str = "M", seed: int = SEED, status: str = ACTIVE) -> str:
    """A member id the payer's eligibility gives ``status`` under ``seed``."""
    for number in range(100_000):
        member = f"{prefix}{number:06d}"
        if member_status(seed, profile, member) == status:
            return member
    raise AssertionError(f"no {status} member found")


def line(number: int, code: str, charge: str, *, modifiers: tuple[str, ...] = (), day: date = DOS,
         units: str = "1") -> ServiceLine:
    return ServiceLine(number, Decimal(charge), Procedure("HC", code, modifiers), unit_basis="UN",
                       units=Decimal(units), diagnosis_pointers=("1",), dates=(QualifiedDate("472", day),),
                       line_item_control_number=f"L{number}")


def professional(pcn: str, *lines: ServiceLine, payer: Party = ACME, member: str = "M100200",
                 **changes: Any) -> Claim:
    lines = lines or (line(1, "99213", "150.00"), line(2, "36415", "20.00"))
    claim = Claim(
        "P", pcn, sum((item.charge for item in lines), Decimal(0)), "11", "B", "1", "Y", "A", "Y", "Y",
        billing_provider=BILLING,
        subscriber=Subscriber("P", "18", "GRP1", "", "", "", Party(
            "IL", "DOE", "JANE", entity_type="1", id_qualifier="MI", id=member, address=ADDRESS,
            birth_date=date(1971, 6, 1), gender="F")),
        payer=payer, health_care_codes=(HealthCareCode("ABK", "E119"), HealthCareCode("ABF", "I10")),
        providers=(RENDERING,), service_lines=lines)
    return claim._replace(**changes)


def institutional(pcn: str, *, payer: Party = ACME, member: str = "M100200", day: date = DOS,
                  **changes: Any) -> Claim:
    lines = (ServiceLine(1, Decimal("980.00"), Procedure("HC", "99284"), "0450", "UN", Decimal(1),
                         dates=(QualifiedDate("472", day),), line_item_control_number="I1"),
             ServiceLine(2, Decimal("90.00"), Procedure("HC", "85025"), "0300", "UN", Decimal(1),
                         dates=(QualifiedDate("472", day),), line_item_control_number="I2"),
             ServiceLine(3, Decimal("65.00"), None, "0250", "UN", Decimal(1), dates=(QualifiedDate("472", day),),
                         line_item_control_number="I3"))
    base = professional(pcn, *lines, payer=payer, member=member)
    return base._replace(claim_type="I", facility_code="13", facility_qualifier="A", providers=(),
                         dates=(QualifiedDate("434", day, day),), admission_type="1", admission_source="7",
                         patient_status="01", health_care_codes=(HealthCareCode("BK", "R0789"),), **changes)


def batch(*claims: Claim, reference: str = "BATCH1") -> ClaimBatch:
    kind = claims[0].claim_type
    return ClaimBatch("0001", kind, "005010X222A1" if kind == "P" else "005010X223A2", "00", reference, CREATED.date(),
                      "0930", "CH", SUBMITTER_PARTY, RECEIVER_PARTY, claims)


def drop(inbox: Path, name: str, *batches: ClaimBatch, start: int = 1) -> Path:
    """An 837 interchange in the inbox, as rcmflow's submission writes it."""
    inbox.mkdir(parents=True, exist_ok=True)
    text = write_837_interchange(batches, SUBMITTER, SANDBOX, CountingControlNumbers(start), usage="T",
                                 created=CREATED)
    path = inbox / name
    path.write_text(text, encoding="ascii")
    return path


def outbox_files(outbox: Path) -> dict[str, bytes]:
    """Every file the sandbox wrote (its state file aside)."""
    return {path.name: path.read_bytes() for path in sorted(outbox.iterdir()) if not path.name.startswith(".")}


def everything(outbox: Path) -> dict[str, bytes]:
    """Every file in the outbox, the state file included."""
    return {path.name: path.read_bytes() for path in sorted(outbox.iterdir())}


def read_x12(path: Path) -> X12Document:
    """Parse strictly; the sandbox's files must be free of every issue."""
    document = parse(path.read_bytes(), strict=True)
    assert [str(issue) for issue in document.issues] == [], path.name
    return document


def of_kind(outbox: Path, suffix: str) -> list[Path]:
    return sorted(path for path in outbox.iterdir() if path.name.endswith(suffix))


def remittances(outbox: Path, names: Iterable[str] | None = None) -> list[Remittance]:
    chosen = set(names) if names is not None else None
    return [remittance for path in of_kind(outbox, ".835") if chosen is None or path.name in chosen
            for remittance in read_x12(path).of_type("835")]


def statuses(outbox: Path) -> list[ClaimStatus]:
    return [claim for path in of_kind(outbox, ".277ca") for response in read_x12(path).of_type("277CA")
            for claim in response.claims]


def bank_deposits(outbox: Path) -> list[tuple[date, Deposit]]:
    """(the file's as-of date, deposit) for every deposit of every BAI2 file; each file must read cleanly."""
    found = []
    for path in of_kind(outbox, ".bai"):
        result = parse_bai2(path.read_bytes())
        assert result.issues == (), path.name
        (account_day,) = {account.as_of_date for account in result.accounts}
        assert account_day is not None
        found += [(account_day, deposit) for deposit in result.deposits]
    return found


def next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


def state_path(outbox: Path) -> Path:
    return outbox / STATE_FILE


def by_pcn(remits: Iterable[Remittance]) -> Mapping[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for remittance in remits:
        for claim in remittance.claims:
            found.setdefault(claim.patient_control_number, []).append(claim)
    return found
