"""Exporting clean claims: errors held, the other claim type left out, a value X12 cannot carry reported."""

from __future__ import annotations

from sqlalchemy import Engine

from rcmflow.domain.scrubber import Finding, ScrubResult
from rcmflow.formats.x12.parser import parse
from rcmflow.services.claim_export import export_clean_claims
from tests.services.test_scrubbing import institutional, professional, source, with_patient

ERROR = Finding("icd10-invalid", "1", "code-validity@1", "error", "coding", "bad")


def test_only_clean_writable_claims_of_the_type_are_exported(engine: Engine) -> None:
    sources = [source(professional(), "OK"), source(professional(patient_control_number="PCN2"), "HELD"),
               source(with_patient(name="O*BRIEN")._replace(patient_control_number="PCN3"), "STAR"),
               source(institutional(), "INST")]
    results = [ScrubResult("OK", ()), ScrubResult("HELD", (ERROR,)), ScrubResult("STAR", ()), ScrubResult("INST", ())]
    with engine.begin() as conn:
        outcome = export_clean_claims(conn, sources, results, "P", sender="CLINIC1")
    assert outcome.claims == ["OK"] and outcome.held == ["HELD"] and outcome.other_type == ["INST"]
    assert set(outcome.unwritable) == {"STAR"} and "*" in outcome.unwritable["STAR"]
    [batch] = parse(outcome.text.encode(), strict=True).of_type("837P")
    assert [claim.patient_control_number for claim in batch.claims] == ["PCN1"]
    assert batch.receiver.id == "60054" and batch.submitter.id == "CLINIC1"
    assert str(outcome.total_charge) == "170.00" and outcome.line_count == 2
