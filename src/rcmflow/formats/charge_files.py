"""Charge files of any supported kind, told apart by their content: a FHIR R4 Bundle (JSON) or the
documented charge CSV. (HL7 v2 DFT^P03 messages arrive over MLLP, not as files.)"""

from __future__ import annotations

from rcmflow.domain.charges import ChargeFile, SourceIssue
from rcmflow.formats.charge_csv import looks_like_charge_csv, read_charge_csv
from rcmflow.formats.fhir_claims import read_fhir_bundle

FHIR_BUNDLE = "fhir_bundle"
CHARGE_CSV = "charge_csv"
CHARGE_TYPES = frozenset({FHIR_BUNDLE, CHARGE_CSV})


def detect_charge_type(data: bytes) -> str | None:
    """"fhir_bundle" for JSON, "charge_csv" for a charge CSV header, else None (without parsing the file)."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in {b"{", b"["}:
        return FHIR_BUNDLE
    return CHARGE_CSV if looks_like_charge_csv(data) else None


def read_charge_file(data: bytes, *, filename: str = "") -> ChargeFile:
    """The claims of a FHIR Bundle or a charge CSV; any other content is one file-level issue."""
    kind = detect_charge_type(data)
    if kind == FHIR_BUNDLE:
        return read_fhir_bundle(data, filename=filename)
    if kind == CHARGE_CSV:
        return read_charge_csv(data, filename=filename)
    return ChargeFile("unknown", (), (SourceIssue(
        "", "the file", "content",
        "neither a FHIR R4 Bundle (JSON) nor a charge CSV (a header with claim_id, service_date and charge)"),))
