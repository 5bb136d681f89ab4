"""Claims captured from charge sources (FHIR, HL7 v2 DFT, charge CSV): stored, scrubbed, and either made ready
to submit or held in the work queue of the people who can fix them.

A captured claim enters as "coded" (registered -> coded: the EHR sends coded charges) with its lines; the
scrubber's findings are stored under the claim's scrub number, the claim moves to "scrubbed" with the rule
packs' versions in the event log, then:

- no finding: on to "ready";
- an error: held, with one work item in the queue of its most frequent error category (coding ->
  ``coding_review``, registration -> ``registration_eligibility``, authorization -> ``authorizations``,
  billing -> ``claim_edits``), listing every finding;
- warnings only: held for review (a lower-priority item); a person releases it (``release_claim``).

The source fixes a held claim by sending it again: same source id, other content. The new version is a new
claim; the earlier one, not yet submitted, is voided ("superseded") and its open items cancelled. The same
content again changes nothing. Charges reach the ledger when the claim is submitted, not when captured, so a
superseded claim has no entry to reverse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    claim_contents,
    claim_lines,
    claims,
    scrub_findings,
)
from rcmflow.adapters.store.sql import bulk_insert, in_chunks
from rcmflow.domain.charges import SourceClaim
from rcmflow.domain.scrubber import STATUS_CLEAN, STATUS_ERROR, ScrubResult
from rcmflow.errors import DomainRuleError
from rcmflow.services.claims import CLAIM_OBJECT, claim_digest, claim_payer_key, claim_row, line_rows
from rcmflow.services.eligibility import eligibility_on_file
from rcmflow.services.events import Event, append_events
from rcmflow.services.scrubbing import Scrubber, stored_duplicates
from rcmflow.services.transitions import checked_path, creation_events, transition, transition_many
from rcmflow.services.work_items import WorkItemSpec, active_items_for, bulk_cancel, open_items

CAPTURED_STATE = "coded"
CAPTURE_PATH = checked_path(CLAIM_OBJECT, (("receive claim", "registered"), ("capture coded charges", "coded")))
ACTIVITY_SCRUB = "scrub claim"
ACTIVITY_RESCRUB = "rescrub claim"
ACTIVITY_PASS = "pass scrub"
ACTIVITY_RELEASE = "release after review"
ACTIVITY_SUPERSEDE = "supersede claim"
ITEM_HOLD = "claim held by scrubber"
ITEM_REVIEW = "claim review"
# States a claim can still be superseded in: not sent to a payer, or refused by its front end (a rejected claim
# was never adjudicated: the corrected one goes out as a new original claim).
SUPERSEDABLE_STATES = ("registered", "eligibility verified", "charge reviewed", "coded", "scrubbed", "ready",
                       "rejected")
QUEUE_BY_CATEGORY = {"coding": "coding_review", "registration": "registration_eligibility",
                     "authorization": "authorizations", "billing": "claim_edits"}


@dataclass
class ChargeStoreResult:
    """What storing a batch of captured claims did, by claim id."""

    stored: list[int] = field(default_factory=list)
    duplicates: int = 0  # the same content stored before
    superseded: list[int] = field(default_factory=list)
    ready: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # error findings
    review: list[int] = field(default_factory=list)  # warnings only

    def as_summary(self) -> dict[str, int]:
        return {"stored": len(self.stored), "duplicate": self.duplicates, "superseded": len(self.superseded),
                "ready": len(self.ready), "held": len(self.held), "review": len(self.review)}


def store_charge_claims(conn: Connection, document_id: int | None, sources: Sequence[SourceClaim], *,
                        scrubber: Scrubber, today: date, actor: str, now: datetime,
                        organisation_id: str = DEFAULT_ORGANISATION) -> ChargeStoreResult:
    """Store, scrub and route captured claims in the caller's transaction."""
    result = ChargeStoreResult()
    by_digest: dict[str, SourceClaim] = {}
    for source in sources:
        by_digest.setdefault(claim_digest(source.claim), source)
    known: set[str] = set()
    for condition in in_chunks(conn, claims.c.content_digest, list(by_digest)):
        known.update(conn.execute(select(claims.c.content_digest).where(
            claims.c.organisation_id == organisation_id, condition)).scalars())
    new = [(digest, source) for digest, source in by_digest.items() if digest not in known]
    result.duplicates = len(sources) - len(new)
    if not new:
        return result
    # Duplicates are judged against what was stored before this batch (and within it), never against itself.
    duplicates = stored_duplicates(conn, [source for _, source in new], organisation_id)
    result.superseded = _supersede(conn, [source.source_id for _, source in new], actor=actor, now=now,
                                   organisation_id=organisation_id)
    rows = []
    for digest, source in new:
        row = claim_row(source.claim, digest, document_id=document_id, state=CAPTURED_STATE, now=now,
                        organisation_id=organisation_id)
        row["source_id"] = source.source_id[:128]
        row["secondary_billing"] = "pending" if source.other_coverage else None
        rows.append(row)
    ids = bulk_insert(conn, claims, rows, with_ids=True)
    bulk_insert(conn, claim_lines, [line for claim_id, (_, source) in zip(ids, new, strict=True)
                                    for line in line_rows(claim_id, source.claim, organisation_id)])
    append_events(conn, [_with_charge_lag(event, row, document_id, now) for claim_id, row in zip(ids, rows, strict=True)
                         for event in creation_events(CLAIM_OBJECT, claim_id, CAPTURE_PATH, actor=actor, at=now,
                                                      organisation_id=organisation_id,
                                                      facility_id=row["facility_id"], payer_id=row["payer_id"])])
    result.stored = list(ids)
    pairs = [(claim_id, source) for claim_id, (_, source) in zip(ids, new, strict=True)]
    sources_now = [source for _, source in pairs]
    scrubbed = scrubber.scrub(sources_now, today=today, duplicates=duplicates,
                              eligibility=eligibility_on_file(conn, sources_now, organisation_id))
    record_and_route(conn, pairs, scrubbed, result, scrubber=scrubber, actor=actor, now=now,
                      organisation_id=organisation_id, from_state=CAPTURED_STATE)
    return result


def _with_charge_lag(event: Event, row: dict[str, Any], document_id: int | None, now: datetime) -> Event:
    """The capture event records the charge lag (days from the first date of service to capture) and the
    document the charges came in: the KPI of how late charges reach billing reads it from the event log."""
    if event.to_state != CAPTURED_STATE:
        return event
    start = row["service_from"]
    lag = (now.date() - start).days if start is not None else None
    return replace(event, attributes={"charge_lag_days": lag, "document_id": document_id,
                                      "source_id": row["source_id"]})


def _supersede(conn: Connection, source_ids: Sequence[str], *, actor: str, now: datetime,
               organisation_id: str) -> list[int]:
    """Void the earlier versions of these source claims not yet with a payer (unsubmitted, or rejected at the
    front end), and cancel their open items."""
    earlier: dict[str, list[int]] = {}
    for condition in in_chunks(conn, claims.c.source_id, sorted(set(source_ids))):
        for row in conn.execute(select(claims.c.id, claims.c.state).where(
                claims.c.organisation_id == organisation_id, claims.c.state.in_(SUPERSEDABLE_STATES), condition)):
            earlier.setdefault(row.state, []).append(row.id)
    voided: list[int] = []
    for state, ids in sorted(earlier.items()):
        voided.extend(transition_many(conn, CLAIM_OBJECT, ids, state, "voided", activity=ACTIVITY_SUPERSEDE,
                                      actor=actor, reason="a corrected version arrived from the source",
                                      at=now).moved)
    if voided:
        items = active_items_for(conn, CLAIM_OBJECT, [str(claim_id) for claim_id in voided])
        bulk_cancel(conn, items, actor=actor, reason="claim superseded by a corrected version", now=now)
    return voided


def _next_scrub_numbers(conn: Connection, claim_ids: Sequence[int]) -> dict[int, int]:
    numbers = dict.fromkeys(claim_ids, 1)
    for condition in in_chunks(conn, scrub_findings.c.claim_id, list(claim_ids)):
        for claim_id, last in conn.execute(select(scrub_findings.c.claim_id, func.max(scrub_findings.c.scrub_number))
                                           .where(condition).group_by(scrub_findings.c.claim_id)):
            numbers[claim_id] = last + 1
    return numbers


def record_and_route(conn: Connection, pairs: Sequence[tuple[int, SourceClaim]], scrubbed: Sequence[ScrubResult],
                      result: ChargeStoreResult, *, scrubber: Scrubber, actor: str, now: datetime,
                      organisation_id: str, from_state: str) -> None:
    """Store the findings, move the claims to scrubbed, then to ready or into a work queue."""
    numbers = _next_scrub_numbers(conn, [claim_id for claim_id, _ in pairs])
    bulk_insert(conn, scrub_findings, [
        {"organisation_id": organisation_id, "claim_id": claim_id, "scrub_number": numbers[claim_id],
         "rule": finding.rule, "rule_version": finding.version, "pack": finding.pack, "severity": finding.severity,
         "category": finding.category, "message": finding.message, "line_number": finding.line,
         "inputs": dict(finding.inputs), "created_at": now}
        for (claim_id, _), outcome in zip(pairs, scrubbed, strict=True) for finding in outcome.findings])
    ids = [claim_id for claim_id, _ in pairs]
    packs = {"rule_packs": scrubber.version_label}
    transition_many(conn, CLAIM_OBJECT, ids, from_state, "scrubbed", activity=ACTIVITY_SCRUB, actor=actor,
                    rule_version=scrubber.version_key, at=now, attributes=packs)
    clean = [claim_id for claim_id, outcome in zip(ids, scrubbed, strict=True) if outcome.status == STATUS_CLEAN]
    transition_many(conn, CLAIM_OBJECT, clean, "scrubbed", "ready", activity=ACTIVITY_PASS, actor=actor,
                    rule_version=scrubber.version_key, at=now, attributes=packs)
    result.ready.extend(clean)
    specs = []
    for (claim_id, source), outcome in zip(pairs, scrubbed, strict=True):
        if outcome.status == STATUS_CLEAN:
            continue
        held = outcome.status == STATUS_ERROR
        (result.held if held else result.review).append(claim_id)
        specs.append(_work_item(claim_id, source, outcome, held, numbers[claim_id], organisation_id))
    open_items(conn, specs, actor=actor, now=now)


def _work_item(claim_id: int, source: SourceClaim, outcome: ScrubResult, held: bool, scrub_number: int,
               organisation_id: str) -> WorkItemSpec:
    severity = "error" if held else "warning"
    chosen = [finding for finding in outcome.findings if finding.severity == severity]
    category = Counter(finding.category for finding in chosen).most_common(1)[0][0]
    first = chosen[0]
    more = f" and {len(outcome.findings) - 1} more" if len(outcome.findings) > 1 else ""
    claim = source.claim
    return WorkItemSpec(
        queue=QUEUE_BY_CATEGORY[category], item_type=ITEM_HOLD if held else ITEM_REVIEW,
        object_type=CLAIM_OBJECT, object_id=str(claim_id),
        title=f"Claim {source.source_id}: {first.reference}{more}"[:300],
        # One item per claim and scrub: a rescrub that still fails opens the next one after this is closed.
        exception_code=f"scrub-{scrub_number}",
        details={"source_id": source.source_id, "scrub_number": scrub_number, "status": outcome.status,
                 # Rule references only: messages quote claim data (PHI) and stay in scrub_findings.
                 "findings": [finding.reference for finding in outcome.findings][:20]},
        priority=None if held else 4, organisation_id=organisation_id,
        facility_id=claim.billing_provider.id or None, payer_id=claim_payer_key(claim),
    )


def release_claim(conn: Connection, claim_id: int, *, actor: str, now: datetime) -> None:
    """A person reviewed a claim the scrubber routed with warnings only: it goes on to ready, and its review
    item is resolved. A claim with error findings in its latest scrub cannot be released."""
    latest = conn.execute(select(func.max(scrub_findings.c.scrub_number)).where(
        scrub_findings.c.claim_id == claim_id)).scalar_one_or_none()
    errors = conn.execute(select(func.count()).select_from(scrub_findings).where(
        scrub_findings.c.claim_id == claim_id, scrub_findings.c.scrub_number == latest,
        scrub_findings.c.severity == "error")).scalar_one() if latest is not None else 0
    if errors:
        raise DomainRuleError(f"claim {claim_id} has {errors} error finding(s): correct it at the source and send "
                              "it again, or rescrub after a rule change")
    transition(conn, CLAIM_OBJECT, claim_id, "scrubbed", "ready", activity=ACTIVITY_RELEASE, actor=actor, at=now)
    from rcmflow.services.work_items import bulk_resolve

    bulk_resolve(conn, active_items_for(conn, CLAIM_OBJECT, [str(claim_id)], [ITEM_REVIEW]), "released",
                 actor=actor, now=now)


# Built once with a bound parameter: findings are read on every claim page and API claim read.
_LATEST_FINDINGS = (
    select(scrub_findings.c.scrub_number, scrub_findings.c.rule, scrub_findings.c.rule_version,
           scrub_findings.c.pack, scrub_findings.c.severity, scrub_findings.c.category,
           scrub_findings.c.message, scrub_findings.c.line_number, scrub_findings.c.inputs)
    .where(scrub_findings.c.claim_id == bindparam("claim_id"),
           scrub_findings.c.scrub_number == select(func.max(scrub_findings.c.scrub_number))
           .where(scrub_findings.c.claim_id == bindparam("claim_id")).scalar_subquery())
    .order_by(scrub_findings.c.id))


def findings_of(conn: Connection, claim_id: int) -> list[dict[str, Any]]:
    """The findings of the claim's latest scrub, in the order they were found."""
    return [dict(row._mapping) for row in conn.execute(_LATEST_FINDINGS, {"claim_id": claim_id})]


def load_source_claims(conn: Connection, claim_ids: Sequence[int]) -> list[tuple[int, SourceClaim]]:
    """The captured claims as their sources sent them, read again from the raw documents (each document once):
    the document store is the record of what arrived. A claim whose document no longer yields the same
    content (same source id and digest) is an error, never silently replaced by something else."""
    wanted: dict[int, list[tuple[int, str | None, str]]] = {}
    built: list[tuple[int, str | None]] = []
    for condition in in_chunks(conn, claims.c.id, list(claim_ids)):
        for row in conn.execute(select(claims.c.id, claims.c.document_id, claims.c.source_id,
                                       claims.c.content_digest).where(condition)):
            if row.document_id is None:
                built.append((row.id, row.source_id))
            else:
                wanted.setdefault(row.document_id, []).append((row.id, row.source_id, row.content_digest))
    from rcmflow.formats.charge_files import read_charge_file
    from rcmflow.services.documents import get_document
    from rcmflow.services.policies import configured_hl7_facilities

    found: dict[int, SourceClaim] = {}
    for document_id, rows in wanted.items():
        document = get_document(conn, document_id)
        by_digest = {claim_digest(source.claim): source
                     for source in read_charge_file(document.content, filename=document.filename or "",
                                                    hl7_facilities=configured_hl7_facilities()).claims}
        for claim_id, source_id, digest in rows:
            source = by_digest.get(digest)
            if source is None or source.source_id[:128] != source_id:
                raise DomainRuleError(f"claim {claim_id}: document {document_id} no longer yields claim {source_id} "
                                      "as stored")
            found[claim_id] = source
    found.update(_built_claims(conn, built))
    return [(claim_id, found[claim_id]) for claim_id in claim_ids if claim_id in found]


def _built_claims(conn: Connection, built: Sequence[tuple[int, str | None]]) -> dict[int, SourceClaim]:
    """Claims rcmflow built itself (secondary claims), read back from the 837 kept for each."""
    if not built:
        return {}
    from rcmflow.formats.x12.parser import parse

    contents = dict(conn.execute(select(claim_contents.c.claim_id, claim_contents.c.content).where(
        claim_contents.c.claim_id.in_([claim_id for claim_id, _ in built]))).all())
    found = {}
    for claim_id, source_id in built:
        if claim_id not in contents:
            raise DomainRuleError(f"claim {claim_id} has neither a source document nor stored content")
        document = parse(bytes(contents[claim_id]), strict=True)
        batches = document.of_type("837P") + document.of_type("837I")
        if document.errors or len(batches) != 1 or len(batches[0].claims) != 1:
            raise DomainRuleError(f"claim {claim_id}: its stored content is not one readable claim")
        found[claim_id] = SourceClaim(source_id or f"claim-{claim_id}", batches[0].claims[0], None, "built by rcmflow")
    return found


def rescrub_claims(conn: Connection, claim_ids: Sequence[int], *, scrubber: Scrubber, today: date, actor: str,
                   now: datetime, organisation_id: str = DEFAULT_ORGANISATION) -> ChargeStoreResult:
    """Scrub held or reviewed claims again (after a rule, table or policy change, or once eligibility is on
    file): their open items are closed, the new findings stored under the next scrub number, and each claim
    routed again. Claims not in "scrubbed" are left alone."""
    result = ChargeStoreResult()
    held = list(conn.execute(select(claims.c.id).where(
        claims.c.id.in_(list(claim_ids)), claims.c.state == "scrubbed")).scalars()) if claim_ids else []
    if not held:
        return result
    pairs = load_source_claims(conn, held)
    bulk_cancel(conn, active_items_for(conn, CLAIM_OBJECT, [str(claim_id) for claim_id in held],
                                       [ITEM_HOLD, ITEM_REVIEW]), actor=actor, reason="claim scrubbed again", now=now)
    transition_many(conn, CLAIM_OBJECT, held, "scrubbed", CAPTURED_STATE, activity=ACTIVITY_RESCRUB, actor=actor,
                    at=now)
    sources = [source for _, source in pairs]
    duplicates = stored_duplicates(conn, sources, organisation_id)
    # The claim itself is stored: it must not count as its own duplicate (same digest is skipped there).
    scrubbed = scrubber.scrub(sources, today=today, duplicates=duplicates,
                              eligibility=eligibility_on_file(conn, sources, organisation_id))
    record_and_route(conn, pairs, scrubbed, result, scrubber=scrubber, actor=actor, now=now,
                      organisation_id=organisation_id, from_state=CAPTURED_STATE)
    return result
