"""Process what intake stored: post pending remittances, retry unapplied cash, reconcile deposits.

Each step commits in its own transactions and picks up only what is still pending, so a run killed at any
point and started again ends in the state an uninterrupted run reaches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, remittances, utc_now
from rcmflow.services.intake import IngestResult
from rcmflow.services.posting import PostingResult, post_pending, post_remittances
from rcmflow.services.reconciliation import ReconciliationResult, reconcile


@dataclass(frozen=True)
class ProcessingResult:
    posting: PostingResult
    reconciliation: ReconciliationResult


def process_pending(
    engine: Engine,
    *,
    actor: str = "system",
    now: datetime | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
    on_batch: Callable[[PostingResult], None] | None = None,
) -> ProcessingResult:
    """Post, apply and reconcile everything pending for one organisation."""
    now = now or utc_now()
    posting = post_pending(engine, actor=actor, now=now, organisation_id=organisation_id, on_batch=on_batch)
    with engine.begin() as conn:
        reconciliation = reconcile(conn, actor=actor, now=now, organisation_id=organisation_id)
    return ProcessingResult(posting, reconciliation)


def post_ingested(
    engine: Engine,
    result: IngestResult,
    *,
    actor: str = "system",
    now: datetime | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> PostingResult:
    """Post the remittances one ingest just stored, from what it read (no read back), in a transaction of
    its own; a crash here leaves them "received" for ``process_pending`` to post.

    Remittances post in the order they arrived: when earlier ones are still waiting (a run was killed
    between storing and posting them), they are posted first, with these, from the database; otherwise a
    reversal could post before the payment it reverses."""
    if not result.remittance_ids:
        return PostingResult()
    with engine.begin() as conn:
        earlier = conn.execute(select(remittances.c.id).where(
            remittances.c.organisation_id == organisation_id, remittances.c.state == "received",
            remittances.c.id < min(result.remittance_ids)).limit(1)).first()
        if earlier is None:
            return post_remittances(conn, result.remittance_ids, actor=actor, now=now or utc_now(),
                                    organisation_id=organisation_id, stored=result.payments)
    return post_pending(engine, actor=actor, now=now, organisation_id=organisation_id)
