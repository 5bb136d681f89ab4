"""``respond``: the sandbox payer's one entry point. Read what arrived in the inbox, answer it in the outbox.

For each new inbox file (by name and content; hidden files are skipped as partial uploads):

- an 837 gets a 999 per interchange and a 277CA per file, and its accepted claims are adjudicated;
- a 270 gets a 271;
- a file that does not parse cleanly (strict X12 validation) gets only the 999 of its errors;
- a file that is not X12, or X12 the payer does not answer, is noted and left alone.

Then the payment runs that have come due by ``as_of`` ("today" for the payer; None: everything) are written
as 835s, and the bank's EFT credits as one BAI2 file per value date. A file is received on ``as_of``, or on
the date its sender created it when that is later (or when there is no ``as_of``). An ``as_of`` earlier
than a previous run's writes nothing already written again: everything up to the latest one is done.

Deterministic: the same inbox, seed, profiles, contracts and ``as_of`` give the same bytes. Idempotent and
resumable: see ``state``; running again answers nothing twice, and a run killed at any point is finished by
the next one with the same outbox an uninterrupted run would have left.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path

from rcmflow.domain.contracts import PayerContracts, load_contracts
from rcmflow.domain.scrub_facts import service_period
from rcmflow.formats.x12.parser import X12Document, parse
from rcmflow.formats.x12.ts271_write import write_271_interchange
from rcmflow.formats.x12.ts999_write import grouped, write_999
from rcmflow.sandbox.eligibility import answer
from rcmflow.sandbox.payments import bank, pay
from rcmflow.sandbox.profiles import PayerProfile
from rcmflow.sandbox.receive import ACK_TIME, CLAIM_TYPES, receive_claims, route_of
from rcmflow.sandbox.session import SandboxRun, Session
from rcmflow.sandbox.state import SandboxState, load_state, remove_temporaries, save_state, write_atomically

ELIGIBILITY_TIME = time(8, 0)
UNDATED = date(1970, 1, 1)  # a file with no creation or service date at all (strict parsing refuses most)


def respond(inbox: Path, outbox: Path, *, seed: int, as_of: date | None = None,
            profiles: Mapping[str, PayerProfile] | None = None,
            contracts: PayerContracts | None = None) -> SandboxRun:
    """Answer every new file of ``inbox`` in ``outbox`` and write what has come due by ``as_of``.

    ``profiles`` replaces the payer profiles (``profiles.PROFILES``); ``contracts`` the payer contracts
    (default: rcmflow's configured ones, as ``load_contracts()`` finds them).
    """
    outbox.mkdir(parents=True, exist_ok=True)
    remove_temporaries(outbox)
    state = load_state(outbox, seed)
    run = SandboxRun()
    run.recovered = _flush(outbox, state, run)
    session = Session(state, seed, as_of, contracts if contracts is not None else load_contracts(), profiles, run)
    new_files = _new_files(inbox, state)
    for path in new_files:
        _read(session, path)
    pay(session)
    bank(session)
    latest = max(filter(None, (as_of, state.as_of)), default=None)
    if not (new_files or session.outputs or latest != state.as_of):
        return run  # nothing read, nothing due: the state stays as it is
    state.as_of = latest
    state.pending = dict(session.outputs)
    save_state(outbox, state)  # the journal: what is about to be written is recorded first
    _flush(outbox, state, run)
    return run


def _flush(outbox: Path, state: SandboxState, run: SandboxRun) -> int:
    """Write the journal's files (skipping any already in place) and clear it; how many there were."""
    if not state.pending:
        return 0
    count = len(state.pending)
    for name, content in state.pending.items():
        path = outbox / name
        data = content.encode("utf-8")
        if not (path.exists() and path.read_bytes() == data):
            write_atomically(path, data)
        run.written.append(name)
    state.pending = {}
    save_state(outbox, state)
    return count


def _new_files(inbox: Path, state: SandboxState) -> list[Path]:
    if not inbox.is_dir():
        return []
    found = []
    for path in sorted(inbox.iterdir()):
        if path.is_file() and not path.name.startswith(".") and not state.answered(path.name, _digest(path)):
            found.append(path)
    return found


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(session: Session, path: Path) -> None:
    state, run = session.state, session.run
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    # A name answered before with other content gets answers of its own.
    stem = f"{path.name}.{digest[:8]}" if path.name in state.files else path.name
    state.files.setdefault(path.name, []).append(digest)
    document = parse(content, strict=True)
    kinds = {transaction.type for transaction in document.transactions}
    if not document.groups:
        run.files_read["unreadable"] += 1
        return
    if not kinds & {*CLAIM_TYPES, "270"}:
        run.files_read["ignored"] += 1
        return
    # Received today, but never before the sender made the file: a run replayed with an earlier "today" (a
    # resumed demo) receives a file on the day an uninterrupted run would have.
    created = _created(document)
    received = max(session.as_of, created) if session.as_of is not None else created
    if document.errors:
        session.emit(f"{stem}.999", "999", write_999(document, control_numbers=state.numbers,
                                                     created=datetime.combine(received, ACK_TIME)))
        run.files_read["rejected"] += 1
        return
    if kinds & set(CLAIM_TYPES):
        receive_claims(session, stem, path.name, document, received)
        run.files_read["837"] += 1
    if "270" in kinds:
        _answer_inquiries(session, stem, document, received)
        run.files_read["270"] += 1


def _created(document: X12Document) -> date:
    """When the sender made the file: its latest BHT04, else its latest date of service."""
    days = [content.created for content in document.of_type("837P") + document.of_type("837I")
            + document.of_type("270") if content.created is not None]
    if days:
        return max(days)
    served = [end or start for batch in document.of_type("837P") + document.of_type("837I")
              for claim in batch.claims for start, end in [service_period(claim)] if start is not None]
    return max(served, default=UNDATED)


def _answer_inquiries(session: Session, stem: str, document: X12Document, received: date) -> None:
    for group, transactions in grouped(document):
        route = route_of(group)
        responses = [answer(transaction.content, session.seed, received, session.profiles)
                     for transaction in transactions if transaction.type == "270" and transaction.content is not None]
        if responses:
            numbers = session.state.numbers
            name = f"{stem}.271" if group is document.groups[0] else f"{stem}.{group.control_number}.271"
            session.emit(name, "271", write_271_interchange(responses, route.ours, route.theirs, numbers,
                                                            usage=route.usage,
                                                            created=datetime.combine(received, ELIGIBILITY_TIME)))
