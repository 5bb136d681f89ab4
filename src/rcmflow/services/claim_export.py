"""Export the claims a scrub found clean (no error findings) as one 5010 837 interchange.

Claims are grouped into one transaction set per claim type, ordered so that the writer's billing provider
and subscriber loops stay together; control numbers come from the store, so no two exports of one sender
reuse an interchange control number (ISA13).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Connection

from rcmflow.adapters.store.control_numbers import StoredControlNumbers
from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.charges import SourceClaim
from rcmflow.domain.claim import Claim, ClaimBatch
from rcmflow.domain.money import ZERO
from rcmflow.domain.parties import Contact, Party
from rcmflow.domain.scrubber import ScrubResult
from rcmflow.formats.x12.ts837_write import write_837, write_837_interchange
from rcmflow.formats.x12.writing import Party as InterchangeParty
from rcmflow.formats.x12.writing import WriteError

IMPLEMENTATIONS = {"P": "005010X222A1", "I": "005010X223A2"}
K = TypeVar("K")


@dataclass
class ExportResult:
    """What an export wrote and what it left out, by source claim id."""

    text: str | None = None
    claims: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # error findings
    unwritable: dict[str, str] = field(default_factory=dict)  # clean, but a value X12 cannot carry: why
    other_type: list[str] = field(default_factory=list)
    line_count: int = 0
    total_charge: Decimal = ZERO


def split_writable(header: ClaimBatch, chosen: Sequence[tuple[K, Claim]]) -> tuple[list[tuple[K, Claim]],
                                                                                  dict[K, str]]:
    """The claims the writer accepts, and why each other one was refused. A value holding a delimiter (a name
    with "*" from an EHR) would make the writer refuse a whole file: each claim is tried alone first, so one
    bad value never blocks the rest."""
    writable, refused = [], {}
    for key, claim in chosen:
        try:
            write_837(header._replace(claims=(claim,)))
        except WriteError as exc:
            refused[key] = str(exc)
        else:
            writable.append((key, claim))
    return writable, refused


def _order(claim: Claim) -> tuple[str, str, str]:
    return claim.billing_provider.id, claim.subscriber.party.id, claim.patient.party.name if claim.patient else ""


def export_clean_claims(conn: Connection, sources: Sequence[SourceClaim], results: Sequence[ScrubResult],
                        claim_type: str, *, sender: str, receiver: str | None = None,
                        submitter_name: str = "RCMFLOW BILLING", contact_phone: str = "8005550100",
                        now: datetime | None = None) -> ExportResult:
    """An 837 of the claims of ``claim_type`` whose scrub found no error, in the caller's transaction."""
    status = {result.source_id: result.status for result in results}
    outcome = ExportResult()
    chosen: list[Claim] = []
    for source in sources:
        if status.get(source.source_id) == "error":
            outcome.held.append(source.source_id)
        elif source.claim.claim_type != claim_type:
            outcome.other_type.append(source.source_id)
        else:
            outcome.claims.append(source.source_id)
            chosen.append(source.claim)
    outcome.held.extend(result.source_id for result in results
                        if result.status == "error" and result.source_id not in outcome.held)
    if not chosen:
        return outcome
    payers = {claim.payer.id for claim in chosen}
    receiver_id = receiver or (payers.pop() if len(payers) == 1 and "" not in payers else "CLEARINGHOUSE")
    now = now or utc_now()
    header = ClaimBatch(
        "0001", claim_type, IMPLEMENTATIONS[claim_type], "00", f"{sender[:20]}{now:%Y%m%d%H%M%S}"[:30],
        now.date(), now.strftime("%H%M"), "CH",
        Party("41", submitter_name, entity_type="2", id_qualifier="46", id=sender,
              contacts=(Contact("IC", submitter_name, (("TE", contact_phone),)),)),
        Party("40", receiver_id, entity_type="2", id_qualifier="46", id=receiver_id),
    )
    accepted, outcome.unwritable = split_writable(header, list(zip(outcome.claims, chosen, strict=True)))
    outcome.claims = [source_id for source_id, _ in accepted]
    if not accepted:
        return outcome
    batch = header._replace(claims=tuple(sorted((claim for _, claim in accepted), key=_order)))
    numbers = StoredControlNumbers(conn, sender)
    outcome.text = write_837_interchange([batch], InterchangeParty(sender), InterchangeParty(receiver_id), numbers,
                                         created=now)
    outcome.line_count = batch.service_line_count
    outcome.total_charge = batch.total_charge
    return outcome
