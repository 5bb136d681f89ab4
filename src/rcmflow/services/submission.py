"""Submitting ready claims: 837P/837I batches per trading partner, payer and claim type, delivered through the
outbox to the partner's drop folder.

For each batch, in one transaction: the 837 is written (control numbers from the store, so ISA13, GS06 and
ST02 never repeat for a sender) and kept as a submission row with its bytes; its claims move ready ->
submitted, pointing at the submission, with their charge entries (DR insurance A/R, CR gross revenue: a
claim reaches the ledger when it is billed); and an outbox message asks the relay to deliver the file. The
relay writes it to the partner's folder atomically and idempotently (``adapters/channels/folder.py``), so a
crash between any two steps neither loses a batch nor delivers it twice.

A claim whose values X12 cannot carry (a delimiter in a name) stays ready with a work item, and never
blocks the rest of its batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from rcmflow.adapters.store.control_numbers import StoredControlNumbers
from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, claims, submissions
from rcmflow.adapters.store.sql import bulk_insert
from rcmflow.domain.claim import Claim, ClaimBatch
from rcmflow.domain.money import ZERO
from rcmflow.domain.parties import Contact, Party
from rcmflow.domain.scrub_facts import service_period
from rcmflow.domain.trading_partners import Partner, TradingPartners
from rcmflow.formats.x12.ts837_write import write_837_interchange
from rcmflow.formats.x12.writing import Party as InterchangeParty
from rcmflow.services.charge_claims import load_source_claims
from rcmflow.services.claim_export import IMPLEMENTATIONS, split_writable
from rcmflow.services.claims import CLAIM_OBJECT, charge_entry
from rcmflow.services.delivery import HandlerRegistry, OutboxMessageView, PermanentDeliveryError
from rcmflow.services.ledger import post_entries
from rcmflow.services.outbox import OutboxMessage, enqueue
from rcmflow.services.transitions import transition_many
from rcmflow.services.work_items import WorkItemSpec, open_items

ACTIVITY_SUBMIT = "submit claim"
SUFFIX = {"P": "837p", "I": "837i"}


@dataclass
class SubmitResult:
    """What one submission run did."""

    submissions: list[int] = field(default_factory=list)
    claims: int = 0
    total_charge: Decimal = ZERO
    unwritable: list[int] = field(default_factory=list)  # claim ids left ready with a work item
    no_partner: list[int] = field(default_factory=list)  # claim ids whose payer no partner takes


class _Recording:
    """Control numbers from the store, remembering the ones issued (the submission row keeps them)."""

    def __init__(self, numbers: StoredControlNumbers) -> None:
        self._numbers = numbers
        self.interchange = self.group = self.transaction = 0

    def next_interchange(self) -> int:
        self.interchange = self._numbers.next_interchange()
        return self.interchange

    def next_group(self) -> int:
        self.group = self._numbers.next_group()
        return self.group

    def next_transaction(self) -> int:
        self.transaction = self._numbers.next_transaction()
        return self.transaction


def batch_header(partners: TradingPartners, partner: Partner, claim_type: str, now: datetime,
                 reference: str) -> ClaimBatch:
    """BHT, submitter (1000A) and receiver (1000B) of a batch for this partner."""
    submitter = partners.submitter
    return ClaimBatch(
        "0001", claim_type, IMPLEMENTATIONS[claim_type], "00", reference[:30], now.date(), now.strftime("%H%M"), "CH",
        Party("41", submitter.name, entity_type="2", id_qualifier="46", id=submitter.id,
              contacts=(Contact("IC", submitter.contact, (("TE", submitter.phone),)),)),
        Party("40", partner.name.upper(), entity_type="2", id_qualifier="46", id=partner.receiver.id),
    )


def submit_ready_claims(conn: Connection, partners: TradingPartners, *, actor: str, now: datetime,
                        claim_ids: Sequence[int] | None = None,
                        organisation_id: str = DEFAULT_ORGANISATION) -> SubmitResult:
    """Batch, write, store and queue for delivery every ready claim (or the given ones that are ready)."""
    result = SubmitResult()
    query = select(claims.c.id, claims.c.payer_id, claims.c.claim_type).where(
        claims.c.organisation_id == organisation_id, claims.c.state == "ready").order_by(claims.c.id)
    if claim_ids is not None:
        query = query.where(claims.c.id.in_(list(claim_ids)))
    ready = conn.execute(query).all()
    if not ready:
        return result
    sources = dict(load_source_claims(conn, [row.id for row in ready]))
    groups: dict[tuple[str, str, str], list[tuple[int, Claim]]] = defaultdict(list)
    for row in ready:
        partner = partners.for_payer(row.payer_id)
        if partner is None:
            result.no_partner.append(row.id)
            continue
        groups[partner.id, row.payer_id, row.claim_type].append((row.id, sources[row.id].claim))
    by_id = {partner.id: partner for partner in partners.partners}
    refused_all: dict[int, str] = {}
    for (partner_id, payer_id, claim_type), chosen in sorted(groups.items()):
        partner = by_id[partner_id]
        for start in range(0, len(chosen), partner.max_claims_per_batch):
            chunk = chosen[start:start + partner.max_claims_per_batch]
            submission_id, refused = _submit_batch(conn, partners, partner, payer_id, claim_type, chunk, result,
                                                   actor=actor, now=now, organisation_id=organisation_id)
            refused_all.update(refused)
            if submission_id is not None:
                result.submissions.append(submission_id)
    result.unwritable = sorted(refused_all)
    open_items(conn, [WorkItemSpec(
        queue="claim_edits", item_type="claim not writable", object_type=CLAIM_OBJECT, object_id=str(claim_id),
        title=f"Claim {claim_id} cannot be written as X12: {reason}"[:300], exception_code="x12-unwritable",
        organisation_id=organisation_id) for claim_id, reason in refused_all.items()], actor=actor, now=now)
    open_items(conn, [WorkItemSpec(
        queue="claim_edits", item_type="no trading partner", object_type=CLAIM_OBJECT, object_id=str(claim_id),
        title=f"Claim {claim_id}: no trading partner takes its payer", exception_code="no-partner",
        organisation_id=organisation_id) for claim_id in result.no_partner], actor=actor, now=now)
    return result


def _submit_batch(conn: Connection, partners: TradingPartners, partner: Partner, payer_id: str, claim_type: str,
                  chosen: Sequence[tuple[int, Claim]], result: SubmitResult, *, actor: str, now: datetime,
                  organisation_id: str) -> tuple[int | None, dict[int, str]]:
    sender = partners.sender_of(partner)
    header = batch_header(partners, partner, claim_type, now, f"{partner.id}-{now:%Y%m%d%H%M%S}")
    writable, refused = split_writable(header, chosen)
    if not writable:
        return None, refused
    batch = header._replace(claims=tuple(claim for _, claim in writable))
    numbers = _Recording(StoredControlNumbers(conn, sender.id, organisation_id))
    text = write_837_interchange([batch], InterchangeParty(sender.id, sender.qualifier),
                                 InterchangeParty(partner.receiver.id, partner.receiver.qualifier), numbers,
                                 usage=partner.usage, ack_requested="0", created=now)
    file_name = f"{partner.id}-{payer_id}-{SUFFIX[claim_type]}-{numbers.interchange:09d}.{SUFFIX[claim_type]}"
    [submission_id] = bulk_insert(conn, submissions, [{
        "organisation_id": organisation_id, "partner_id": partner.id, "payer_id": payer_id,
        "claim_type": claim_type, "sender_id": sender.id, "receiver_id": partner.receiver.id,
        "interchange_control_number": numbers.interchange, "group_control_number": numbers.group,
        "transaction_control_number": f"{numbers.transaction:04d}", "file_name": file_name,
        "content": text.encode("ascii"), "claim_count": len(writable), "total_charge": batch.total_charge,
        "created_at": now}], with_ids=True)
    ids = [claim_id for claim_id, _ in writable]
    moved = transition_many(conn, CLAIM_OBJECT, ids, "ready", "submitted", activity=ACTIVITY_SUBMIT, actor=actor,
                            at=now, values={"submission_id": submission_id},
                            attributes={"submission_id": submission_id, "partner": partner.id})
    if moved.not_moved:  # another run submitted them first: this batch must not go out
        raise RuntimeError(f"claims {list(moved.not_moved)[:5]} left 'ready' during submission; run again")
    post_entries(conn, [charge_entry(claim_id, claim.patient_control_number, claim.total_charge,
                                     service_period(claim)[0] or now.date())
                        for claim_id, claim in writable if claim.total_charge > 0],
                 actor=actor, now=now, organisation_id=organisation_id)
    enqueue(conn, [OutboxMessage(partner.destination, {"submission_id": submission_id, "file_name": file_name},
                                 f"submission:{submission_id}", organisation_id)], now=now)
    result.claims += len(writable)
    result.total_charge += batch.total_charge
    return submission_id, refused


def submission_handlers(engine: Engine, partners: TradingPartners, data_dir: Path) -> HandlerRegistry:
    """One drop-folder handler per partner, reading each submission's bytes from the store (or the content a
    message carries itself)."""
    from rcmflow.adapters.channels.folder import FolderDropHandler

    def load(message: OutboxMessageView) -> bytes:
        if "content" in message.payload:  # a small document carried in the message itself (an appeal packet)
            return str(message.payload["content"]).encode("utf-8")
        with engine.connect() as conn:
            content = conn.execute(select(submissions.c.content).where(
                submissions.c.id == int(message.payload["submission_id"]))).scalar_one_or_none()
        if content is None:
            raise PermanentDeliveryError(f"submission {message.payload.get('submission_id')} does not exist")
        return bytes(content)

    return HandlerRegistry({partner.destination: FolderDropHandler(partners.folder_of(partner, data_dir), load)
                            for partner in partners.partners})
