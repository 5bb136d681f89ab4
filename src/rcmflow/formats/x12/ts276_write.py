"""Write a 276 claim status request (005010X212) from a ``ClaimStatusRequest``.

The flat claims are put back in the HL hierarchy: consecutive claims with the same payer share an
information source level, then receiver, provider, subscriber and dependent levels the same way.
Reading the result with ``ts276.read_276`` gives the request back.
"""

from __future__ import annotations

from rcmflow.domain.claim_status import ClaimInquiry, ClaimStatusRequest, ServiceLineStatus
from rcmflow.formats.x12.hierarchy import (
    HLNumbers,
    procedure_value,
    runs,
    subscriber_blocks,
    write_dates,
    write_demographics,
    write_name,
)
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters
from rcmflow.formats.x12.writing import TransactionBuilder

IMPLEMENTATION = "005010X212"
FUNCTIONAL_ID = "HR"


def write_276(request: ClaimStatusRequest, control_number: str,
              delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[str]:
    """The segments ST..SE of one 276 transaction set."""
    builder = TransactionBuilder("276", control_number, request.implementation or IMPLEMENTATION, delimiters)
    builder.add("BHT", "0010", request.purpose or "13", request.reference, request.created, request.created_time)
    hl = HLNumbers(builder)
    for payer, by_payer in runs(request.claims, lambda claim: claim.payer):
        source = hl.open("", "20", True)
        write_name(builder, payer)
        for receiver, by_receiver in runs(by_payer, lambda claim: claim.receiver):
            receiver_id = hl.open(source, "21", True)
            write_name(builder, receiver)
            for provider, by_provider in runs(by_receiver, lambda claim: claim.provider):
                provider_id = hl.open(receiver_id, "19", True)
                write_name(builder, provider)
                for subscriber, by_subscriber in runs(by_provider, lambda claim: claim.subscriber):
                    for own, dependents in subscriber_blocks(by_subscriber, lambda claim: claim.patient is None):
                        subscriber_id = hl.open(provider_id, "22", bool(dependents))
                        write_demographics(builder, subscriber)
                        write_name(builder, subscriber)
                        for claim in own:
                            _claim(builder, claim)
                        for patient, by_patient in runs(dependents, lambda claim: claim.patient):
                            hl.open(subscriber_id, "23", False)
                            write_demographics(builder, patient)
                            write_name(builder, patient)
                            for claim in by_patient:
                                _claim(builder, claim)
    return builder.finish()


def _claim(builder: TransactionBuilder, claim: ClaimInquiry) -> None:
    builder.add("TRN", "1", claim.trace_number)
    if claim.payer_claim_control_number:
        builder.add("REF", "1K", claim.payer_claim_control_number)
    for ref in claim.references:
        builder.add("REF", ref.qualifier, ref.value)
    if claim.charge is not None:
        builder.add("AMT", "T3", claim.charge)
    write_dates(builder, claim.dates)
    for line in claim.lines:
        _line(builder, line)


def _line(builder: TransactionBuilder, line: ServiceLineStatus) -> None:
    builder.add("SVC", procedure_value(line.procedure), line.charge, line.paid, line.revenue_code, "", "",
                line.units)
    if line.line_item_control_number:
        builder.add("REF", "FJ", line.line_item_control_number)
    for ref in line.references:
        builder.add("REF", ref.qualifier, ref.value)
    write_dates(builder, line.dates)
