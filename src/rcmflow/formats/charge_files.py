"""Charge files of any supported kind, told apart by their content: a FHIR R4 Bundle (JSON) or the
documented charge CSV. (HL7 v2 DFT^P03 messages arrive over MLLP, not as files.)"""

from __future__ import annotations

from rcmflow.domain.charges import ChargeFile, SourceIssue
from rcmflow.formats.charge_csv import looks_like_charge_csv, read_charge_csv
from rcmflow.formats.fhir_claims import read_fhir_bundle


def read_charge_file(data: bytes, *, filename: str = "") -> ChargeFile:
    """The claims of a FHIR Bundle or a charge CSV; any other content is one file-level issue."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in {b"{", b"["}:
        return read_fhir_bundle(data, filename=filename)
    if looks_like_charge_csv(data):
        return read_charge_csv(data, filename=filename)
    return ChargeFile("unknown", (), (SourceIssue(
        "", "the file", "content",
        "neither a FHIR R4 Bundle (JSON) nor a charge CSV (a header with claim_id, service_date and charge)"),))
