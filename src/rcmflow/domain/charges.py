"""Claims as a source system sends them, before rcmflow stores them: what charge readers produce.

Every charge channel (FHIR R4 Bundle, HL7 v2 DFT^P03, the charge CSV) is read into ``SourceClaim``s: the
canonical ``Claim`` (the same model the 837 reader and writer use), the id the source gave the claim, what
the source said about coverage, and where in the file the claim came from. The scrubber and the claim
builder take only these, so every channel is scrubbed and billed the same way.

A reader never refuses a whole file for one bad claim: a value it cannot read (a date that is not a date,
an amount that is not an amount, a reference to a resource the bundle lacks) becomes a ``SourceIssue``
naming the claim, the place and the field, and that claim is left out; the other claims go on. Missing
data that a payer would reject (no member id, no diagnosis) is not a reading problem: the claim is built
without it and the scrubber's rules say what is missing.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from rcmflow.domain.claim import Claim, Patient, Subscriber
from rcmflow.domain.parties import Party


class CoverageFact(NamedTuple):
    """What the source says about the patient's coverage with the claim's payer (a FHIR Coverage, or
    coverage columns of a charge file): eligibility on file, as far as the source knows it."""

    payer_id: str
    member_id: str = ""
    active: bool | None = None  # Coverage.status active / cancelled; None when the source does not say
    start: date | None = None  # Coverage.period
    end: date | None = None

    def covers(self, day: date) -> bool:
        """True when the coverage is not known to be inactive and its period (if any) includes ``day``."""
        if self.active is False:
            return False
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


class OtherCoverage(NamedTuple):
    """Another payer of the patient, in billing order after the claim's own payer (a secondary, tertiary...
    coverage): who to bill next once the claim's payer has paid (coordination of benefits)."""

    payer: Party  # NM1*PR of the next claim
    subscriber: Subscriber  # its SBR (payer responsibility S, T...) and insured
    patient: Patient | None = None  # when the patient is not that coverage's subscriber


class SourceClaim(NamedTuple):
    """One claim read from a charge source."""

    source_id: str  # the id the source gave it: FHIR Claim.id, CSV claim_id, DFT visit number
    claim: Claim  # canonical; every line carries a line item control number (REF*6R)
    coverage: CoverageFact | None = None
    location: str = ""  # where it was read: "entry 7 (Claim/abc)", "rows 2-4"
    created: date | None = None  # when the source created the claim (FHIR Claim.created); None: not said
    other_coverage: tuple[OtherCoverage, ...] = ()  # further payers, in order (secondary first)


class SourceIssue(NamedTuple):
    """A located problem reading a charge source. ``source_id`` names the claim it kept out, or is empty
    when the problem is the file's (then no claim of the file could be read)."""

    source_id: str
    location: str  # "entry 3 (Claim/abc)", "row 12"
    field: str  # "Claim.item[0].servicedDate", "charge"
    message: str


class ChargeFile(NamedTuple):
    """What a charge reader made of one file: the claims it could build and the problems it found."""

    format: str  # "fhir", "charge-csv", "hl7v2"
    claims: tuple[SourceClaim, ...]
    issues: tuple[SourceIssue, ...] = ()

    @property
    def file_issues(self) -> tuple[SourceIssue, ...]:
        """Problems of the file as a whole (not of one claim)."""
        return tuple(issue for issue in self.issues if not issue.source_id)
