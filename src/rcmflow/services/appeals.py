"""Appeals of denied claims: drafted by a denial specialist, sent to the payer, settled by the payer's next
answer on the claim.

Drafting an appeal moves the claim from denied (or partially paid) to appealed, records the denial codes
being appealed, and resolves the claim's open denial work item as "appealed". Submitting it sends the
appeal packet (claim, payer claim number, denial codes, the specialist's reasons) through the outbox to the
payer's trading partner folder, as a reconsideration request goes to a payer portal or clearinghouse. The
appeal is settled when the payer answers on the claim: a payment after the appeal was submitted wins it
(in full when the claim is paid, in part when partially paid); a new denial loses it, and a second-level
appeal can then be drafted.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    appeals,
    claim_payments,
    claims,
    payment_adjustments,
)
from rcmflow.adapters.store.sql import bulk_insert
from rcmflow.domain.trading_partners import TradingPartners
from rcmflow.errors import DomainRuleError, NotFoundError
from rcmflow.services.claims import CLAIM_OBJECT
from rcmflow.services.events import Event, append_events
from rcmflow.services.outbox import OutboxMessage, enqueue
from rcmflow.services.transitions import StateTable, register_state_table, transition
from rcmflow.services.work_items import active_items_for, bulk_resolve

APPEAL_OBJECT = "appeal"
APPEALABLE_STATES = ("denied", "partially paid")
OUTCOME_BY_CLAIM_STATE = {"paid": "won", "partially paid": "partially won", "denied": "lost"}

register_state_table(APPEAL_OBJECT, StateTable(appeals))


def _denial_codes(conn: Connection, claim_id: int) -> list[str]:
    """The non-contractual adjustment reasons of the claim's latest posted payment (what is appealed)."""
    latest = conn.execute(select(func.max(claim_payments.c.id)).where(
        claim_payments.c.claim_id == claim_id, claim_payments.c.state == "posted")).scalar_one_or_none()
    if latest is None:
        return []
    rows = conn.execute(select(payment_adjustments.c.group_code, payment_adjustments.c.reason_code).where(
        payment_adjustments.c.claim_payment_id == latest).distinct()).all()
    return sorted({f"{group}-{reason}" for group, reason in rows if (group, reason) != ("CO", "45")
                   and group != "PR"})


def draft_appeal(conn: Connection, claim_id: int, *, reason: str, actor: str, now: datetime,
                 organisation_id: str = DEFAULT_ORGANISATION) -> int:
    """Draft an appeal of a denied or partially paid claim; returns the appeal's id."""
    if not reason.strip():
        raise DomainRuleError("an appeal needs the reasons the payer should reconsider")
    state = conn.execute(select(claims.c.state).where(claims.c.id == claim_id)).scalar_one_or_none()
    if state is None:
        raise NotFoundError(kind="claim", key=claim_id)
    if state not in APPEALABLE_STATES:
        raise DomainRuleError(f"claim {claim_id} is {state!r}: only a denied or partially paid claim is appealed")
    level = 1 + conn.execute(select(func.count()).select_from(appeals).where(
        appeals.c.claim_id == claim_id)).scalar_one()
    codes = _denial_codes(conn, claim_id)
    [appeal_id] = bulk_insert(conn, appeals, [{
        "organisation_id": organisation_id, "claim_id": claim_id, "level": level, "state": "drafted",
        "reason": reason.strip(), "denial_codes": codes, "created_at": now}], with_ids=True)
    append_events(conn, [Event(APPEAL_OBJECT, str(appeal_id), "drafted", "draft appeal", actor, occurred_at=now,
                               organisation_id=organisation_id, attributes={"claim_id": claim_id, "level": level,
                                                                            "denial_codes": codes})])
    transition(conn, CLAIM_OBJECT, claim_id, state, "appealed", activity="appeal denial", actor=actor, at=now,
               attributes={"appeal_id": appeal_id, "level": level})
    bulk_resolve(conn, active_items_for(conn, CLAIM_OBJECT, [str(claim_id)]), "appealed", actor=actor, now=now)
    return appeal_id


def submit_appeal(conn: Connection, appeal_id: int, partners: TradingPartners, *, actor: str, now: datetime) -> None:
    """Send the appeal packet to the payer's trading partner through the outbox."""
    row = conn.execute(select(appeals, claims.c.payer_id, claims.c.patient_control_number,
                              claims.c.payer_claim_number, claims.c.total_charge)
                       .join(claims, claims.c.id == appeals.c.claim_id)
                       .where(appeals.c.id == appeal_id)).one_or_none()
    if row is None:
        raise NotFoundError(kind="appeal", key=appeal_id)
    partner = partners.for_payer(row.payer_id)
    if partner is None:
        raise DomainRuleError(f"no trading partner takes payer {row.payer_id!r}: send this appeal another way")
    transition(conn, APPEAL_OBJECT, appeal_id, "drafted", "submitted", activity="submit appeal", actor=actor,
               at=now, values={"submitted_at": now})
    packet: dict[str, Any] = {
        "appeal_id": appeal_id, "level": row.level, "payer_id": row.payer_id,
        "patient_control_number": row.patient_control_number, "payer_claim_number": row.payer_claim_number,
        "charge": str(row.total_charge), "denial_codes": row.denial_codes or [], "reason": row.reason,
        "submitted": now.isoformat(), "submitter": partners.submitter.id}
    name = f"appeal-{appeal_id}-level{row.level}.json"
    enqueue(conn, [OutboxMessage(partner.destination, {"file_name": name,
                                                       "content": json.dumps(packet, indent=1, sort_keys=True)},
                                 f"appeal:{appeal_id}", row.organisation_id)], now=now)


def settle_appeals(conn: Connection, *, actor: str, now: datetime,
                   organisation_id: str = DEFAULT_ORGANISATION) -> list[tuple[int, str]]:
    """Settle every submitted appeal whose claim the payer has answered since: (appeal id, outcome)."""
    rows = conn.execute(select(appeals.c.id, claims.c.state).join(claims, claims.c.id == appeals.c.claim_id).where(
        appeals.c.organisation_id == organisation_id, appeals.c.state == "submitted",
        claims.c.state.in_(list(OUTCOME_BY_CLAIM_STATE)))).all()
    settled = []
    for appeal_id, claim_state in rows:
        outcome = OUTCOME_BY_CLAIM_STATE[claim_state]
        transition(conn, APPEAL_OBJECT, appeal_id, "submitted", outcome, activity="settle appeal", actor=actor,
                   at=now, values={"decided_at": now}, attributes={"claim_state": claim_state})
        settled.append((appeal_id, outcome))
    return settled
