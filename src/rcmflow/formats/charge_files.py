"""Charge files of any supported kind, told apart by their content: a FHIR R4 Bundle (JSON) or the
documented charge CSV, or one HL7 v2 DFT^P03 message (as the MLLP listener stores each message)."""

from __future__ import annotations

from collections.abc import Mapping

from rcmflow.domain.charges import ChargeFile, SourceIssue
from rcmflow.formats.charge_csv import looks_like_charge_csv, read_charge_csv
from rcmflow.formats.fhir_claims import read_fhir_bundle
from rcmflow.formats.hl7_dft import HL7BillingProvider, read_dft_message

FHIR_BUNDLE = "fhir_bundle"
CHARGE_CSV = "charge_csv"
HL7_DFT = "hl7v2_dft"
CHARGE_TYPES = frozenset({FHIR_BUNDLE, CHARGE_CSV, HL7_DFT})


def detect_charge_type(data: bytes) -> str | None:
    """"fhir_bundle" for JSON, "hl7v2_dft" for an HL7 v2 message, "charge_csv" for a charge CSV header, else
    None (without parsing the file)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n\x0b")
    if head[:1] in {b"{", b"["}:
        return FHIR_BUNDLE
    if head[:4] == b"MSH|":
        return HL7_DFT
    return CHARGE_CSV if looks_like_charge_csv(data) else None


def read_charge_file(data: bytes, *, filename: str = "",
                     hl7_facilities: Mapping[str, HL7BillingProvider] | None = None) -> ChargeFile:
    """The claims of a FHIR Bundle or a charge CSV; any other content is one file-level issue."""
    kind = detect_charge_type(data)
    if kind == FHIR_BUNDLE:
        return read_fhir_bundle(data, filename=filename)
    if kind == CHARGE_CSV:
        return read_charge_csv(data, filename=filename)
    if kind == HL7_DFT:
        return read_dft_message(data, hl7_facilities).charges
    return ChargeFile("unknown", (), (SourceIssue(
        "", "the file", "content",
        "neither a FHIR R4 Bundle (JSON) nor a charge CSV (a header with claim_id, service_date and charge)"),))
