"""Process what intake stored: post pending remittances, retry unapplied cash, reconcile deposits.

Each step commits in its own transactions and picks up only what is still pending, so a run killed at any
point and started again ends in the state an uninterrupted run reaches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, select

from rcmflow.adapters.store.checkpoints import background_checkpoints
from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, remittances, utc_now
from rcmflow.domain.remittance import Remittance
from rcmflow.services.appeals import settle_appeals
from rcmflow.services.intake import IngestResult, detect, ingest_file
from rcmflow.services.payments_ahead import PaymentsAhead
from rcmflow.services.posting import PostingResult, post_pending
from rcmflow.services.reconciliation import ReconciliationResult, reconcile
from rcmflow.services.scrubbing import configured_scrubber
from rcmflow.services.secondary_claims import SecondaryResult, bill_secondary
from rcmflow.services.x12_reading import DocumentContents, ReadAhead, read_files_ahead

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessingResult:
    posting: PostingResult
    reconciliation: ReconciliationResult
    secondary: SecondaryResult = field(default_factory=SecondaryResult)


def process_pending(
    engine: Engine,
    *,
    actor: str = "system",
    now: datetime | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
    on_batch: Callable[[PostingResult], None] | None = None,
) -> ProcessingResult:
    """Post, apply and reconcile everything pending for one organisation, then bill the next payer of every
    claim whose primary payment posted (coordination of benefits)."""
    now = now or utc_now()
    posting = post_pending(engine, actor=actor, now=now, organisation_id=organisation_id, on_batch=on_batch)
    with engine.begin() as conn:
        reconciliation = reconcile(conn, actor=actor, now=now, organisation_id=organisation_id)
    with engine.begin() as conn:
        secondary = bill_secondary(conn, scrubber=configured_scrubber(), today=now.date(), actor=actor, now=now,
                                   organisation_id=organisation_id)
        settle_appeals(conn, actor=actor, now=now, organisation_id=organisation_id)
    return ProcessingResult(posting, reconciliation, secondary)


def ingest_and_post(
    engine: Engine,
    content: bytes,
    *,
    filename: str,
    channel: str,
    actor: str = "system",
    organisation_id: str = DEFAULT_ORGANISATION,
    now: datetime | None = None,
    contents: DocumentContents | None = None,
    ahead: PaymentsAhead | None = None,
) -> IngestResult:
    """Ingest one file and post the remittances it brings in the same transaction (``receive_and_post``).

    Remittances post in the order they arrived: when earlier ones are still waiting (a run was killed, or
    they were ingested with ``--no-post``), those are posted first; otherwise a reversal could post before the
    payment it reverses. If posting the file fails, the file is stored without posting (its remittances stay
    "received", so nothing is lost) and the failure shows when ``process_pending`` posts them."""
    with engine.connect() as conn:
        waiting = conn.execute(select(remittances.c.id).where(
            remittances.c.organisation_id == organisation_id, remittances.c.state == "received").limit(1)).first()
    if waiting is not None:
        post_pending(engine, actor=actor, organisation_id=organisation_id, now=now)
    try:
        with engine.begin() as conn:
            return ingest_file(conn, content, filename=filename, channel=channel, organisation_id=organisation_id,
                               actor=actor, post=True, now=now, contents=contents, ahead=ahead)
    except Exception:  # noqa: BLE001 - whatever posting hit, the file itself must still be kept
        log.warning("posting %s failed; storing it without posting", filename, exc_info=True)
    with engine.begin() as conn:  # read again: the failed attempt may have written into the summary it was given
        return ingest_file(conn, content, filename=filename, channel=channel, organisation_id=organisation_id,
                           actor=actor, now=now)


def ingest_and_post_files(
    engine: Engine,
    paths: Sequence[Path],
    *,
    channel: str,
    read: Callable[[Path], bytes] = Path.read_bytes,
    actor: str = "system",
    organisation_id: str = DEFAULT_ORGANISATION,
    now: datetime | None = None,
) -> Iterator[tuple[Path, IngestResult]]:
    """``ingest_and_post`` of each file in order (one transaction each), yielding (path, result) as each is done.

    While one file is stored and posted, the next X12 file is read in a worker process (``x12_reading``): on
    two cores its reading overlaps this file's database work. Each file's bytes are still read here, in turn,
    by ``read`` (whose errors are raised as a plain loop would raise them), and are what is stored. On SQLite
    the write-ahead log is checkpointed on a thread after each file (``background_checkpoints``), not by the
    commit that filled it. While a file's rows are written, the next file's claim payments are built when the
    worker has read it (``payments_ahead``)."""
    paths = list(paths)
    payments_ahead = PaymentsAhead()
    with ReadAhead() as ahead, background_checkpoints(engine) as checkpoints:
        for index, (path, content, _, contents) in enumerate(read_files_ahead(paths, read, ahead, detect)):
            following = paths[index + 1] if index + 1 < len(paths) else None
            payments_ahead.expect(None if following is None else partial(_remittances_read, ahead, following))
            checkpoints.before_write()
            done = ingest_and_post(engine, content, filename=path.name, channel=channel, actor=actor,
                                   organisation_id=organisation_id, now=now, contents=contents,
                                   ahead=payments_ahead)
            checkpoints.committed()
            yield path, done


def _remittances_read(ahead: ReadAhead, path: Path) -> list[Remittance] | None:
    """The remittances of ``path`` when the worker has read it already (never waits)."""
    contents = ahead.peek(path)
    return None if contents is None else contents.remittances
