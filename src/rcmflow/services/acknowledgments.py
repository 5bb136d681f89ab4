"""Acknowledgments of submitted claims: 999 (did the file's syntax pass?) and 277CA (did the payer or
clearinghouse accept each claim into adjudication?).

A 999 is matched to the submission it answers by its AK1 group control number and AK2 transaction set
control number (rcmflow writes one group and one set per submission). A rejected set rejects every claim it
carried: each goes to "rejected" with a ``claim_rejections`` work item naming the segment and element
errors. An accepted set only marks the submission acknowledged: acceptance of a claim is the 277CA's to say.

A 277CA claim status is matched to the submitted claim by its patient control number (TRN02), the newest
submitted one first. Accepted (A1/A2/A5): the claim moves to "accepted" and learns the payer's claim
number (REF*1K). Rejected (A3/A6/A7/A8, E0/E3/E4, or STC03 U): the claim moves to "rejected" with a work
item listing the STC codes and their meanings. A status for a claim already in that state changes nothing,
so the same acknowledgment read twice is harmless; one naming no claim of ours is counted, not guessed at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select, update

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, claims, submissions
from rcmflow.domain.acknowledgment import FunctionalAck, TransactionAck
from rcmflow.domain.claim_status import ClaimStatus, ClaimStatusResponse
from rcmflow.services.claims import CLAIM_OBJECT
from rcmflow.services.transitions import transition, transition_many
from rcmflow.services.work_items import WorkItemSpec, open_items

ACTIVITY_REJECT_999 = "reject at front end (999)"
ACTIVITY_ACCEPT_277 = "accept into adjudication (277CA)"
ACTIVITY_REJECT_277 = "reject at front end (277CA)"
REJECTIONS_QUEUE = "claim_rejections"
ACKNOWLEDGED_STATES = ("submitted", "accepted")


@dataclass
class AckResult:
    """What applying acknowledgments did."""

    submissions_acknowledged: int = 0
    accepted: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    unmatched: int = 0  # statuses or sets naming nothing rcmflow submitted

    def as_summary(self) -> dict[str, int]:
        return {"submissions_acknowledged": self.submissions_acknowledged, "accepted": len(self.accepted),
                "rejected": len(self.rejected), "unmatched": self.unmatched}


def _reasons_999(transaction: TransactionAck) -> list[str]:
    """The segment and element errors first (what a person fixes), then the set's IK5 codes."""
    reasons = []
    for error in transaction.segment_errors:
        elements = "; ".join(f"element {element.position}: {element.meaning}" for element in error.elements)
        reasons.append(f"{error.segment_id} at segment {error.position}: {error.meaning}"
                       + (f" ({elements})" if elements else ""))
    reasons.extend(f"IK5 {code}: {reason}" for code, reason in zip(transaction.codes, transaction.reasons,
                                                                   strict=False))
    return reasons


def apply_999(conn: Connection, acks: Sequence[FunctionalAck], *, actor: str, now: datetime,
              organisation_id: str = DEFAULT_ORGANISATION) -> AckResult:
    """Mark the submissions a 999 answers, and reject the claims of every rejected transaction set."""
    result = AckResult()
    for ack in acks:
        if ack.functional_id != "HC" or not ack.group_control_number.isdigit():
            result.unmatched += 1
            continue
        group = conn.execute(select(submissions.c.id, submissions.c.transaction_control_number).where(
            submissions.c.organisation_id == organisation_id,
            submissions.c.group_control_number == int(ack.group_control_number))
            .order_by(submissions.c.id.desc())).all()
        answered: list[tuple[int, str, list[str]]] = []  # (submission, status, reasons)
        for transaction in ack.transactions:
            match = next((row.id for row in group if row.transaction_control_number == transaction.control_number),
                         None)
            if match is None:
                result.unmatched += 1
                continue
            answered.append((match, transaction.status, _reasons_999(transaction)))
        if not ack.transactions and ack.rejected and group:  # the whole group refused, sets not listed
            answered = [(group[0].id, ack.status, [f"AK9 {code}" for code in ack.codes])]
        for submission_id, status, reasons in answered:
            conn.execute(update(submissions).where(submissions.c.id == submission_id)
                         .values(ack_status=status[:1], acknowledged_at=now))
            result.submissions_acknowledged += 1
            if status in {"A", "E"}:
                continue
            claim_rows = conn.execute(select(claims.c.id, claims.c.patient_control_number, claims.c.facility_id,
                                             claims.c.payer_id).where(claims.c.submission_id == submission_id,
                                                                      claims.c.state == "submitted")).all()
            moved = transition_many(conn, CLAIM_OBJECT, [row.id for row in claim_rows], "submitted", "rejected",
                                    activity=ACTIVITY_REJECT_999, actor=actor, at=now,
                                    reason=f"999 status {status}", attributes={"submission_id": submission_id,
                                                                                "reasons": reasons[:20]}).moved
            result.rejected.extend(moved)
            moved_set = set(moved)
            open_items(conn, [WorkItemSpec(
                queue=REJECTIONS_QUEUE, item_type="claim rejected (999)", object_type=CLAIM_OBJECT,
                object_id=str(row.id), title=f"Claim {row.patient_control_number}: file rejected (999 {status}): "
                                             f"{reasons[0] if reasons else 'no reason given'}"[:300],
                exception_code=f"999:{submission_id}", details={"submission_id": submission_id,
                                                                "reasons": reasons[:20]},
                links=(("submission", str(submission_id)),), organisation_id=organisation_id,
                facility_id=row.facility_id, payer_id=row.payer_id)
                for row in claim_rows if row.id in moved_set], actor=actor, now=now)
    return result


def _stc_codes(status: ClaimStatus) -> list[str]:
    return [":".join(part for part in (s.category, s.code, s.entity) if part)
            for entry in status.statuses for s in entry.statuses]


def _stc_meanings(status: ClaimStatus) -> list[str]:
    return [f"{s.category_meaning}" + (f" (status {s.code})" if s.code else "")
            for entry in status.statuses for s in entry.statuses]


def apply_277ca(conn: Connection, responses: Sequence[ClaimStatusResponse], *, actor: str, now: datetime,
                organisation_id: str = DEFAULT_ORGANISATION) -> AckResult:
    """Move each acknowledged claim to accepted or rejected (claim acknowledgments, 005010X214)."""
    result = AckResult()
    for response in responses:
        for status in response.claims:
            if not (status.accepted or status.rejected):
                continue  # pending or informational: nothing to move
            row = conn.execute(select(claims.c.id, claims.c.state, claims.c.facility_id, claims.c.payer_id).where(
                claims.c.organisation_id == organisation_id,
                claims.c.patient_control_number == status.patient_control_number,
                claims.c.state.in_(ACKNOWLEDGED_STATES)).order_by(claims.c.id.desc()).limit(1)).one_or_none()
            if row is None:
                result.unmatched += 1
                continue
            codes = _stc_codes(status)
            if status.accepted:
                if row.state == "accepted":
                    continue
                transition(conn, CLAIM_OBJECT, row.id, "submitted", "accepted", activity=ACTIVITY_ACCEPT_277,
                           actor=actor, at=now, attributes={"stc": codes},
                           values={"payer_claim_number": status.payer_claim_control_number[:50] or None}
                           if status.payer_claim_control_number else None)
                result.accepted.append(row.id)
                continue
            transition(conn, CLAIM_OBJECT, row.id, row.state, "rejected", activity=ACTIVITY_REJECT_277,
                       actor=actor, at=now, reason=", ".join(codes)[:500], attributes={"stc": codes})
            result.rejected.append(row.id)
            meanings = _stc_meanings(status)
            open_items(conn, [WorkItemSpec(
                queue=REJECTIONS_QUEUE, item_type="claim rejected (277CA)", object_type=CLAIM_OBJECT,
                object_id=str(row.id),
                title=f"Claim {status.patient_control_number} rejected: {', '.join(codes)}"[:300],
                exception_code=f"277ca:{codes[0] if codes else 'rejected'}"[:100],
                details={"stc": codes, "meanings": meanings, "payer_claim_number": status.payer_claim_control_number,
                         "message": next((entry.message for entry in status.statuses if entry.message), "")},
                organisation_id=organisation_id, facility_id=row.facility_id, payer_id=row.payer_id)],
                actor=actor, now=now)
    return result
