"""Write a 270 eligibility inquiry (005010X279A1) from an ``EligibilityInquiry``.

The flat member records are put back in the HL hierarchy: consecutive records with the same payer
share an information source level, then the same provider a receiver level, the same subscriber a
subscriber level, under which each dependent asked about gets its own level. Reading the result
with ``ts270.read_270`` gives the inquiry back.
"""

from __future__ import annotations

from rcmflow.domain.eligibility import EligibilityInquiry, MemberInquiry, ServiceInquiry
from rcmflow.domain.parties import Party
from rcmflow.formats.x12.hierarchy import (
    HLNumbers,
    procedure_value,
    runs,
    subscriber_blocks,
    write_dates,
    write_name,
    write_party,
)
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters
from rcmflow.formats.x12.writing import Repeated, TransactionBuilder

IMPLEMENTATION = "005010X279A1"
FUNCTIONAL_ID = "HS"
MAX_DIAGNOSES = 8  # HI01-HI08


def write_270(inquiry: EligibilityInquiry, control_number: str,
              delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[str]:
    """The segments ST..SE of one 270 transaction set."""
    builder = TransactionBuilder("270", control_number, inquiry.implementation or IMPLEMENTATION, delimiters)
    builder.add("BHT", "0022", inquiry.purpose or "13", inquiry.reference, inquiry.created, inquiry.created_time,
                inquiry.transaction_type)
    hl = HLNumbers(builder)
    for payer, by_payer in runs(inquiry.members, lambda member: member.payer):
        source = hl.open("", "20", True)
        write_name(builder, payer)
        for (provider, code), by_provider in runs(by_payer, lambda member: (member.provider, member.provider_code)):
            receiver = hl.open(source, "21", True)
            write_party(builder, provider, provider_code=code)
            for subscriber, by_subscriber in runs(by_provider, lambda member: member.subscriber):
                blocks = subscriber_blocks(by_subscriber, lambda member: member.dependent is None, max_own=1)
                for own, dependents in blocks:
                    subscriber_id = hl.open(receiver, "22", bool(dependents))
                    if own:
                        _member(builder, subscriber, own[0])
                    else:
                        write_party(builder, subscriber, demographics=True)
                    for member in dependents:
                        hl.open(subscriber_id, "23", False)
                        assert member.dependent is not None  # subscriber_blocks put it here for that reason
                        _member(builder, member.dependent, member)
    return builder.finish()


def _member(builder: TransactionBuilder, party: Party, member: MemberInquiry) -> None:
    """The patient level: TRN, then 2100 (NM1 ... DTP), then the EQ loops."""
    for trace in member.traces:
        builder.add("TRN", trace.type, trace.number, trace.originator, trace.supplemental)
    write_party(builder, party, demographics=True)
    if member.insured:
        builder.add("INS", *member.insured)
    for start in range(0, len(member.diagnoses), MAX_DIAGNOSES):
        chunk = member.diagnoses[start:start + MAX_DIAGNOSES]
        builder.add("HI", *[[qualifier, code] for qualifier, code in chunk])
    write_dates(builder, member.dates)
    for service in member.services:
        _service(builder, service)


def _service(builder: TransactionBuilder, service: ServiceInquiry) -> None:
    procedure = procedure_value(service.procedure) if service.procedure is not None else None
    builder.add("EQ", Repeated(service.service_types), procedure, service.coverage_level, "",
                list(service.diagnosis_pointers))
    for amount in service.amounts:
        builder.add("AMT", amount.qualifier, amount.value)
    if service.facility:
        builder.add("III", *service.facility)
    for ref in service.references:
        builder.add("REF", ref.qualifier, ref.value)
    write_dates(builder, service.dates)
