"""Approvals: one request per object that needs one, decided level by level under segregation of duties.

``submit`` matches the policy and fixes the outcome on the request (policy id, version, rule id and the
chain of levels), so a later policy version never changes a running request. The service, not any UI,
enforces segregation of duties on every decision (approve or reject):

- the maker never decides on their own object, neither directly nor as someone's delegate, and nobody
  decides on the maker's behalf (``sod_maker``);
- one person decides once per chain, at whatever level (``sod_repeat``). A delegate and the delegator they
  act for are both spent by that decision: a delegator who decided cannot have their delegate decide again
  for them, a delegate who decided (for themselves or for anyone) cannot act again, and vice versa. The
  table's UNIQUE(request_id, approver) is the last line of defence;
- the person holds the current level's role, directly or through an active delegation (``not_in_role``).

There is no user directory yet: the caller passes the roles the person acts in, and the roles of a delegator
come from ``roles_of`` (a mapping or callable). Without ``roles_of`` a delegation confers exactly the role it
names, and a delegation of "every role" (role None) confers none. A delegation is active from ``starts_at``
up to, not including, ``expires_at``. People are compared case-insensitively as "user:<name>".

Every decision and every move is a transition of the "approval request", with rule_version
"policy_id@version" on its event row::

    submit for approval ─▶ pending ─approve─▶ pending ─complete approval level─▶ pending (next level)
                                                       └─complete approval─────▶ approved
                           pending ─reject─▶ rejected      pending ─cancel approval─▶ cancelled

Races: the request row is locked before the checks (SELECT ... FOR UPDATE on PostgreSQL; SQLite has one
writer), and every transition is guarded on the level the decision was counted at, so two approvers racing
for the last slot of a level cannot both complete it. Everything runs in the caller's transaction; after
any error raised here, roll it back.

Work items: ``on_level_opened`` / ``on_level_closed`` callbacks (called in the same transaction) are the
hook for opening and resolving an approval task per level in the level's queue.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, approval_decisions, approval_requests, delegations
from rcmflow.domain.approval_policy import ApprovalPolicy, Level, chain_from_json, chain_to_json
from rcmflow.domain.money import MoneyError, to_cents
from rcmflow.errors import DomainRuleError, InputError, NotFoundError
from rcmflow.services.events import Event, append_events
from rcmflow.services.transitions import transition

OBJECT_TYPE = "approval request"
ACTIVITY_SUBMIT = "submit for approval"
ACTIVITY_APPROVE = "approve"
ACTIVITY_REJECT = "reject"
ACTIVITY_COMPLETE_LEVEL = "complete approval level"
ACTIVITY_COMPLETE = "complete approval"
ACTIVITY_CANCEL = "cancel approval"
ADMIN_ROLE = "approvals_admin"  # may cancel any request and manage anyone's delegations

RolesOf = Callable[[str], Collection[str]] | Mapping[str, Collection[str]]


class SegregationOfDutiesError(DomainRuleError):
    """A decision would break segregation of duties."""

    code = "segregation_of_duties"
    http_status = 403


class MakerCannotDecideError(SegregationOfDutiesError):
    code = "sod_maker"


class RepeatDecisionError(SegregationOfDutiesError):
    code = "sod_repeat"


class NotAuthorisedError(DomainRuleError):
    """The person does not hold the role the step needs, directly or by delegation."""

    code = "not_in_role"
    http_status = 403


class RequestClosedError(DomainRuleError):
    code = "approval_closed"


class AlreadyPendingError(DomainRuleError):
    code = "approval_already_pending"


class PolicyNotEffectiveError(DomainRuleError):
    code = "policy_not_effective"


class ReasonRequiredError(InputError):
    code = "reason_required"


@dataclass(frozen=True, slots=True)
class ApprovalRequestRef:
    """A submitted request: its id and what the policy fixed on it."""

    id: int
    policy_id: str
    policy_version: str
    rule_id: str
    chain: tuple[Level, ...]

    @property
    def rule_version(self) -> str:
        """``policy_id@version`` recorded on every event of the request."""
        return f"{self.policy_id}@{self.policy_version}"


@dataclass(frozen=True, slots=True)
class LevelEvent:
    """A level of a request opened or closed: what a work-item hook needs ("outcome" only when closed)."""

    request_id: int
    organisation_id: str
    object_type: str
    object_id: str
    level: int  # 0-based index into the chain
    role: str
    approvers_needed: int
    queue: str | None
    rule_version: str
    at: datetime
    due_at: datetime | None  # wall-clock hours; business-calendar SLAs belong to the work-item queue
    outcome: str | None = None  # "approved", "rejected" or "cancelled"


LevelHook = Callable[[Connection, LevelEvent], None]


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """What one decision did: the level decided at, and the request's state and level afterwards."""

    request_id: int
    decision: str
    level: int
    on_behalf_of: str | None
    state: str
    current_level: int
    level_completed: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """One recorded decision of one person in a chain."""

    level: int
    approver: str
    on_behalf_of: str | None
    decision: str
    reason: str | None
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """An approval request without its decisions."""

    id: int
    organisation_id: str
    object_type: str
    object_id: str
    maker: str
    amount: Decimal | None
    attributes: dict[str, Any]
    policy_id: str
    policy_version: str
    rule_id: str
    chain: tuple[Level, ...]
    state: str
    current_level: int
    created_at: datetime
    decided_at: datetime | None

    @property
    def rule_version(self) -> str:
        """``policy_id@version`` the request was submitted under."""
        return f"{self.policy_id}@{self.policy_version}"


@dataclass(frozen=True, slots=True)
class RequestDetail(RequestSummary):
    """An approval request with its decisions, oldest first."""

    decisions: tuple[Decision, ...]


@dataclass(frozen=True, slots=True)
class Delegation:
    """Authority lent by ``delegator`` to ``delegate`` for ``role`` (None: every role) for a period."""

    id: int
    delegator: str
    delegate: str
    role: str | None
    starts_at: datetime
    expires_at: datetime
    created_by: str
    revoked_at: datetime | None

    def active_at(self, at: datetime) -> bool:
        """True from ``starts_at`` up to, not including, ``expires_at`` (or the revocation)."""
        return self.starts_at <= at < self.expires_at and (self.revoked_at is None or at < self.revoked_at)


@dataclass(frozen=True, slots=True)
class PendingItem:
    """A request a person can decide on now, at its current level, and for whom."""

    request: RequestSummary
    level: int
    role: str
    approvers_needed: int
    approvals: int
    on_behalf_of: str | None
    opened_at: datetime
    due_at: datetime | None


def normalise_person(text: str) -> str:
    """The canonical actor string of a person or system: "alice" and "User:Alice" are both "user:alice"."""
    cleaned = text.strip().casefold()
    if not cleaned or cleaned.endswith(":"):
        raise InputError(detail=f"{text!r} does not name anyone")
    return cleaned if ":" in cleaned else f"user:{cleaned}"


def _decider(text: str) -> str:
    who = normalise_person(text)
    if not who.startswith("user:"):  # a job, rule or model may prepare a decision, never make it
        raise NotAuthorisedError(f"{who} is not a person: only people decide on approvals")
    return who


def _roles_of(roles_of: RolesOf | None, who: str) -> Collection[str] | None:
    if roles_of is None:
        return None
    return roles_of.get(who, ()) if isinstance(roles_of, Mapping) else roles_of(who)


def _amount(value: Decimal | int | str | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float | bool):
        raise InputError(detail=f"amount {value!r} must be an exact Decimal, not a float")
    try:
        amount = Decimal(value)
        to_cents(amount)
    except (InvalidOperation, MoneyError) as exc:
        raise InputError(detail=f"amount {value!r} is not an amount in whole cents") from exc
    if amount < 0:  # a credit would otherwise fall into the lowest tier: pass its magnitude
        raise InputError(detail=f"amount {value} is negative: submit the amount at stake as a positive number")
    return amount


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _due(at: datetime, level: Level) -> datetime | None:
    return at + timedelta(hours=level.sla_hours) if level.sla_hours else None


def _summary(row: Row[Any]) -> RequestSummary:
    return RequestSummary(
        id=row.id, organisation_id=row.organisation_id, object_type=row.object_type, object_id=row.object_id,
        maker=row.maker, amount=Decimal(row.amount) if row.amount is not None else None,
        attributes=dict(row.attributes or {}), policy_id=row.policy_id, policy_version=row.policy_version,
        rule_id=row.rule_id, chain=chain_from_json(row.chain), state=row.state, current_level=row.current_level,
        created_at=row.created_at, decided_at=row.decided_at)


def _level_event(request: RequestSummary, level: int, at: datetime, outcome: str | None = None) -> LevelEvent:
    step = request.chain[level]
    return LevelEvent(request.id, request.organisation_id, request.object_type, request.object_id, level,
                      step.role, step.approvers_needed, step.queue, request.rule_version, at,
                      _due(at, step) if outcome is None else None, outcome)


def submit(
    conn: Connection, policy: ApprovalPolicy, *, object_type: str, object_id: str, maker: str,
    amount: Decimal | int | str | None, attributes: Mapping[str, Any], actor: str, now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION, on_level_opened: LevelHook | None = None,
) -> ApprovalRequestRef | None:
    """Open an approval request for an object if the policy asks for one; None when no approval is needed."""
    exact = _amount(amount)
    if not policy.is_effective(now):
        raise PolicyNotEffectiveError(f"policy {policy.rule_version} takes effect on "
                                      f"{policy.effective_from.isoformat()}, not yet at {now.isoformat()}")
    match = policy.match(object_type, exact, attributes)
    if not match.required or match.rule_id is None:
        return None
    requests = approval_requests.c
    pending = conn.execute(select(requests.id).where(
        requests.organisation_id == organisation_id, requests.object_type == object_type,
        requests.object_id == str(object_id), requests.state == "pending")).scalar_one_or_none()
    if pending is not None:
        raise AlreadyPendingError(f"{object_type} {object_id} already awaits approval (request {pending})")
    values = {"organisation_id": organisation_id, "object_type": object_type, "object_id": str(object_id),
              "maker": normalise_person(maker), "amount": exact, "attributes": dict(attributes),
              "policy_id": match.policy_id, "policy_version": match.version, "rule_id": match.rule_id,
              "chain": chain_to_json(match.chain), "state": "pending", "current_level": 0, "created_at": now}
    try:
        request_id = conn.execute(insert(approval_requests).values(values).returning(requests.id)).scalar_one()
    except IntegrityError as exc:  # a concurrent submission for the same object won
        raise AlreadyPendingError(f"{object_type} {object_id} already awaits approval") from exc
    append_events(conn, [Event(
        object_type=OBJECT_TYPE, object_id=str(request_id), to_state="pending", activity=ACTIVITY_SUBMIT,
        actor=actor, rule_version=match.rule_version, organisation_id=organisation_id,
        facility_id=_text(attributes.get("facility")), payer_id=_text(attributes.get("payer")),
        department_id=_text(attributes.get("department")), occurred_at=now,
        attributes={"object_type": object_type, "object_id": str(object_id), "rule_id": match.rule_id,
                    "amount": None if exact is None else str(exact)})])
    if on_level_opened is not None:
        request = RequestSummary(id=request_id, **{**values, "chain": match.chain, "decided_at": None})
        on_level_opened(conn, _level_event(request, 0, now))
    return ApprovalRequestRef(request_id, match.policy_id, match.version, match.rule_id, match.chain)


def _locked(conn: Connection, request_id: int) -> Row[Any]:
    # FOR UPDATE: concurrent deciders on one request queue here, so each counts the others' decisions.
    row = conn.execute(select(approval_requests).where(approval_requests.c.id == request_id)
                       .with_for_update()).one_or_none()
    if row is None:
        raise NotFoundError(kind="approval request", key=request_id)
    return row


def _decisions(conn: Connection, request_id: int) -> tuple[Decision, ...]:
    d = approval_decisions.c
    rows = conn.execute(select(d.level, d.approver, d.on_behalf_of, d.decision, d.reason, d.decided_at)
                        .where(d.request_id == request_id).order_by(d.decided_at, d.id))
    return tuple(Decision(*row) for row in rows)


def _spent(decisions: Collection[Decision]) -> set[str]:
    """Everyone a decision in this chain was made by or for: none of them may decide again."""
    return {d.approver for d in decisions} | {d.on_behalf_of for d in decisions if d.on_behalf_of}


def _grants(delegation: Delegation, role: str, roles_of: RolesOf | None) -> bool:
    held = _roles_of(roles_of, delegation.delegator)
    if delegation.role is None:
        return held is not None and role in held
    return delegation.role == role and (held is None or role in held)


def _authority(
    conn: Connection, request: RequestSummary, role: str, who: str, roles: Collection[str], *, at: datetime,
    on_behalf_of: str | None, roles_of: RolesOf | None, spent: set[str],
) -> str | None:
    """Whom ``who`` decides for: None (themselves, holding ``role``) or the delegator they stand in for."""
    if on_behalf_of is None and role in roles:
        return None
    wanted = normalise_person(on_behalf_of) if on_behalf_of is not None else None
    candidates = [d.delegator for d in active_delegations(conn, who, at, organisation_id=request.organisation_id)
                  if _grants(d, role, roles_of) and (wanted is None or d.delegator == wanted)]
    usable = [c for c in candidates if c != request.maker and c not in spent]
    if usable:
        return usable[0]
    if request.maker in candidates:
        raise MakerCannotDecideError(f"{who} cannot act for {request.maker}, the maker of "
                                     f"{request.object_type} {request.object_id}")
    if candidates:
        raise RepeatDecisionError(f"{candidates[0]} already decided on approval request {request.id}: "
                                  f"{who} cannot decide again for them")
    through = f" for {wanted}" if wanted else ""
    raise NotAuthorisedError(f"{who} does not hold role {role!r}{through}, directly or through an active "
                             f"delegation, needed at level {request.current_level + 1} of request {request.id}")


def _decide(
    conn: Connection, request_id: int, approver: str, roles: Collection[str], *, decision: str, now: datetime,
    reason: str | None, on_behalf_of: str | None, roles_of: RolesOf | None,
) -> tuple[RequestSummary, str, str | None]:
    """Check segregation of duties and authority, then record the decision; the transitions are the caller's."""
    who = _decider(approver)
    request = _summary(_locked(conn, request_id))
    if request.state != "pending":
        raise RequestClosedError(f"approval request {request_id} is {request.state}: no more decisions")
    if who == request.maker:
        raise MakerCannotDecideError(f"{who} made {request.object_type} {request.object_id} and cannot "
                                     f"{decision} it")
    spent = _spent(_decisions(conn, request_id))
    if who in spent:
        raise RepeatDecisionError(f"{who} already decided on approval request {request_id}: "
                                  "one decision per person per chain")
    role = request.chain[request.current_level].role
    principal = _authority(conn, request, role, who, roles, at=now, on_behalf_of=on_behalf_of,
                           roles_of=roles_of, spent=spent)
    try:
        conn.execute(insert(approval_decisions).values(
            request_id=request_id, level=request.current_level, approver=who, on_behalf_of=principal,
            decision=decision, reason=reason, decided_at=now))
    except IntegrityError as exc:  # the UNIQUE(request_id, approver) backstop
        raise RepeatDecisionError(f"{who} already decided on approval request {request_id}") from exc
    return request, who, principal


def approve(
    conn: Connection, request_id: int, approver: str, roles: Collection[str], *, now: datetime,
    reason: str | None = None, on_behalf_of: str | None = None, roles_of: RolesOf | None = None,
    on_level_opened: LevelHook | None = None, on_level_closed: LevelHook | None = None,
) -> DecisionOutcome:
    """Approve at the current level; completing it opens the next level or approves the request."""
    request, who, principal = _decide(conn, request_id, approver, roles, decision="approve", now=now,
                                      reason=reason, on_behalf_of=on_behalf_of, roles_of=roles_of)
    level = request.current_level
    step = request.chain[level]
    d = approval_decisions.c
    approvals = conn.execute(select(func.count()).where(
        d.request_id == request_id, d.level == level, d.decision == "approve")).scalar_one()
    common: dict[str, Any] = {"actor": who, "rule_version": request.rule_version, "at": now,
                              "guard": {"current_level": level}}
    transition(conn, OBJECT_TYPE, request_id, "pending", "pending", activity=ACTIVITY_APPROVE, reason=reason,
               attributes={"level": level, "role": step.role, "on_behalf_of": principal,
                           "approvals": approvals, "approvers_needed": step.approvers_needed}, **common)
    state, current, completed = "pending", level, approvals >= step.approvers_needed
    if completed and level + 1 < len(request.chain):
        current = level + 1
        transition(conn, OBJECT_TYPE, request_id, "pending", "pending", activity=ACTIVITY_COMPLETE_LEVEL,
                   values={"current_level": current}, attributes={"level": level, "next_level": current}, **common)
    elif completed:
        state = "approved"
        transition(conn, OBJECT_TYPE, request_id, "pending", "approved", activity=ACTIVITY_COMPLETE,
                   values={"decided_at": now}, attributes={"level": level}, **common)
    if completed and on_level_closed is not None:
        on_level_closed(conn, _level_event(request, level, now, outcome="approved"))
    if current != level and on_level_opened is not None:
        on_level_opened(conn, _level_event(request, current, now))
    return DecisionOutcome(request_id, "approve", level, principal, state, current, completed)


def reject(
    conn: Connection, request_id: int, approver: str, roles: Collection[str], *, reason: str, now: datetime,
    on_behalf_of: str | None = None, roles_of: RolesOf | None = None, on_level_closed: LevelHook | None = None,
) -> DecisionOutcome:
    """Reject the request at its current level (a reason is required); the request ends rejected."""
    if not reason or not reason.strip():
        raise ReasonRequiredError(detail="a rejection needs a reason")
    request, who, principal = _decide(conn, request_id, approver, roles, decision="reject", now=now,
                                      reason=reason.strip(), on_behalf_of=on_behalf_of, roles_of=roles_of)
    level = request.current_level
    transition(conn, OBJECT_TYPE, request_id, "pending", "rejected", activity=ACTIVITY_REJECT, actor=who,
               reason=reason.strip(), rule_version=request.rule_version, at=now, values={"decided_at": now},
               guard={"current_level": level},
               attributes={"level": level, "role": request.chain[level].role, "on_behalf_of": principal})
    if on_level_closed is not None:
        on_level_closed(conn, _level_event(request, level, now, outcome="rejected"))
    return DecisionOutcome(request_id, "reject", level, principal, "rejected", level, False)


def cancel(
    conn: Connection, request_id: int, actor: str, reason: str, now: datetime, *, roles: Collection[str] = (),
    on_level_closed: LevelHook | None = None,
) -> None:
    """Withdraw a pending request: its maker, or someone holding ``approvals_admin``; a reason is required."""
    if not reason or not reason.strip():
        raise ReasonRequiredError(detail="a cancellation needs a reason")
    who = normalise_person(actor)
    request = _summary(_locked(conn, request_id))
    if request.state != "pending":
        raise RequestClosedError(f"approval request {request_id} is {request.state}: it cannot be cancelled")
    if who != request.maker and ADMIN_ROLE not in roles:
        raise NotAuthorisedError(f"only the maker or an {ADMIN_ROLE} may cancel approval request {request_id}")
    transition(conn, OBJECT_TYPE, request_id, "pending", "cancelled", activity=ACTIVITY_CANCEL, actor=who,
               reason=reason.strip(), rule_version=request.rule_version, at=now, values={"decided_at": now},
               guard={"current_level": request.current_level})
    if on_level_closed is not None:
        on_level_closed(conn, _level_event(request, request.current_level, now, outcome="cancelled"))


def delegate(
    conn: Connection, *, delegator: str, delegate: str, role: str | None = None, starts_at: datetime,
    expires_at: datetime, created_by: str, now: datetime, creator_roles: Collection[str] = (),
    roles_of: RolesOf | None = None, organisation_id: str = DEFAULT_ORGANISATION,
) -> Delegation:
    """Lend ``delegator``'s authority (one role, or every role) to ``delegate`` until ``expires_at``."""
    lender, borrower, creator = _decider(delegator), _decider(delegate), normalise_person(created_by)
    if lender == borrower:
        raise InputError(detail=f"{lender} cannot delegate to themselves")
    if expires_at <= starts_at or expires_at <= now:
        raise InputError(detail=f"a delegation must end after it starts and after now ({expires_at.isoformat()})")
    if creator != lender and ADMIN_ROLE not in creator_roles:
        raise NotAuthorisedError(f"only {lender} or an {ADMIN_ROLE} may lend {lender}'s authority")
    held = _roles_of(roles_of, lender)
    if held is not None and (role not in held if role is not None else not held):
        raise NotAuthorisedError(f"{lender} does not hold {role or 'any role'} and cannot delegate it")
    values = {"organisation_id": organisation_id, "delegator": lender, "delegate": borrower, "role": role,
              "starts_at": starts_at, "expires_at": expires_at, "created_by": creator}
    new_id = conn.execute(insert(delegations).values(values).returning(delegations.c.id)).scalar_one()
    return Delegation(new_id, lender, borrower, role, starts_at, expires_at, creator, None)


def revoke_delegation(
    conn: Connection, delegation_id: int, *, actor: str, now: datetime, roles: Collection[str] = (),
) -> bool:
    """End a delegation now (its delegator, delegate, creator or an admin); False if it had already ended."""
    who = normalise_person(actor)
    row = conn.execute(select(delegations).where(delegations.c.id == delegation_id)).one_or_none()
    if row is None:
        raise NotFoundError(kind="delegation", key=delegation_id)
    if who not in (row.delegator, row.delegate, row.created_by) and ADMIN_ROLE not in roles:
        raise NotAuthorisedError(f"{who} may not revoke delegation {delegation_id}")
    if row.revoked_at is not None or row.expires_at <= now:
        return False
    conn.execute(update(delegations).where(delegations.c.id == delegation_id, delegations.c.revoked_at.is_(None))
                 .values(revoked_at=now))
    return True


def active_delegations(
    conn: Connection, delegate: str, at: datetime, *, organisation_id: str = DEFAULT_ORGANISATION,
) -> list[Delegation]:
    """Delegations ``delegate`` may act under at ``at``, oldest first."""
    c = delegations.c
    rows = conn.execute(select(c.id, c.delegator, c.delegate, c.role, c.starts_at, c.expires_at, c.created_by,
                               c.revoked_at)
                        .where(c.organisation_id == organisation_id, c.delegate == normalise_person(delegate),
                               c.starts_at <= at, c.expires_at > at)
                        .order_by(c.id))
    return [d for d in (Delegation(*row) for row in rows) if d.active_at(at)]


def pending_for(
    conn: Connection, roles: Collection[str], person: str, at: datetime, *, roles_of: RolesOf | None = None,
    organisation_id: str = DEFAULT_ORGANISATION, limit: int = 200,
) -> list[PendingItem]:
    """Pending requests ``person`` may decide on now (by role or delegation, SoD applied), oldest first."""
    me = normalise_person(person)
    lent = active_delegations(conn, me, at, organisation_id=organisation_id)
    r, d = approval_requests.c, approval_decisions.c
    pending = select(r.id).where(r.organisation_id == organisation_id, r.state == "pending")
    decisions: dict[int, list[Decision]] = {}
    for row in conn.execute(select(d.request_id, d.level, d.approver, d.on_behalf_of, d.decision, d.reason,
                                   d.decided_at).where(d.request_id.in_(pending))):
        decisions.setdefault(row[0], []).append(Decision(*row[1:]))
    items: list[PendingItem] = []
    for row in conn.execute(select(approval_requests).where(r.id.in_(pending)).order_by(r.created_at, r.id)):
        request = _summary(row)
        done = decisions.get(request.id, [])
        spent = _spent(done)
        if me == request.maker or me in spent:
            continue
        step = request.chain[request.current_level]
        principal: str | None = None
        if step.role not in roles:
            usable = [x.delegator for x in lent if _grants(x, step.role, roles_of)
                      and x.delegator != request.maker and x.delegator not in spent]
            if not usable:
                continue
            principal = usable[0]
        level = request.current_level
        previous = [x.decided_at for x in done if x.level == level - 1 and x.decision == "approve"]
        opened = max(previous) if previous else request.created_at
        items.append(PendingItem(request, level, step.role, step.approvers_needed,
                                 sum(1 for x in done if x.level == level and x.decision == "approve"),
                                 principal, opened, _due(opened, step)))
        if len(items) >= limit:
            break
    return items


def request_detail(conn: Connection, request_id: int) -> RequestDetail:
    """One request with its chain and every decision."""
    row = conn.execute(select(approval_requests).where(approval_requests.c.id == request_id)).one_or_none()
    if row is None:
        raise NotFoundError(kind="approval request", key=request_id)
    summary = _summary(row)
    fields = {name: getattr(summary, name) for name in RequestSummary.__dataclass_fields__}
    return RequestDetail(**fields, decisions=_decisions(conn, request_id))


def list_requests(
    conn: Connection, *, state: str | None = None, organisation_id: str = DEFAULT_ORGANISATION, limit: int = 50,
    source: Any = None, conditions: Sequence[Any] = (),
) -> list[RequestSummary]:
    """Requests, newest first, optionally in one state; ``source`` (a join from approval_requests) and
    ``conditions`` select further (a KPI's population: ``services.approval_search``)."""
    r = approval_requests.c
    query = (select(approval_requests).select_from(approval_requests if source is None else source)
             .where(r.organisation_id == organisation_id, *conditions))
    if state is not None:
        query = query.where(r.state == state)
    return [_summary(row) for row in conn.execute(query.order_by(r.created_at.desc(), r.id.desc()).limit(limit))]
