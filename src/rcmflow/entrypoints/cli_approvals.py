"""``rcmflow approvals``: list, show, approve, reject, cancel and delegate; ``policy`` checks a policy file.

There is no login yet: ``--as`` names the person and ``--role`` the roles they act in. Segregation of
duties (maker never approves, one decision per person per chain) is enforced by the service whatever the
flags say.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rcmflow.adapters.store.schema import utc_now
from rcmflow.services.approvals import normalise_person
from rcmflow.services.audit import record_action

approvals_app = typer.Typer(help="Approval requests, decisions and delegations.", no_args_is_help=True)
console = Console()

IdArg = Annotated[int, typer.Argument(help="Approval request id.", show_default=False)]
AsOpt = Annotated[str, typer.Option("--as", help="Who is acting (a user name).", show_default=False)]
RoleOpt = Annotated[list[str] | None, typer.Option("--role", help="A role you act in (repeatable).")]


def _engine() -> Any:
    from rcmflow.entrypoints.cli import _engine as engine  # at call time: cli.py imports this module

    return engine()


def _when(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time with a time zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date or date-time") from None
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    if value.utcoffset() is None:
        raise typer.BadParameter(f"{text!r} has no time zone: add Z or an offset such as +00:00")
    return value


def _amount(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}"


@approvals_app.command("list")
def approvals_list(
    state: Annotated[str | None, typer.Option(help="pending, approved, rejected or cancelled")] = None,
    who: Annotated[str | None, typer.Option("--as", help="Only what this person can decide on now.")] = None,
    role: RoleOpt = None,
    limit: Annotated[int, typer.Option(help="How many at most.")] = 50,
) -> None:
    """List approval requests, or with --as what that person can decide on now (delegations included)."""
    from rcmflow.services.approvals import list_requests, pending_for

    with _engine().connect() as conn:
        if who is not None:
            items = pending_for(conn, set(role or ()), who, utc_now(), limit=limit)
            rows = [(i.request, f"{i.level + 1}/{len(i.request.chain)} {i.role} ({i.approvals}/{i.approvers_needed})",
                     f"for {i.on_behalf_of}" if i.on_behalf_of else "") for i in items]
        else:
            rows = [(r, f"{r.current_level + 1}/{len(r.chain)} {r.chain[r.current_level].role}", "")
                    for r in list_requests(conn, state=state, limit=limit)]
    table = Table("id", "object", "amount", "maker", "state", "level", "rule", "note")
    for request, level, note in rows:
        table.add_row(str(request.id), f"{request.object_type} {request.object_id}", _amount(request.amount),
                      request.maker, request.state, level, request.rule_id, note)
    console.print(table)


@approvals_app.command("show")
def approvals_show(request_id: IdArg) -> None:
    """Show one request: what it is, its chain (fixed at submission) and every decision."""
    from rcmflow.services.approvals import request_detail

    with _engine().connect() as conn:
        detail = request_detail(conn, request_id)
    console.print(f"[bold]approval request {detail.id}[/bold]: {detail.object_type} {detail.object_id}, "
                  f"amount {_amount(detail.amount) or 'none'}, made by {detail.maker}", highlight=False)
    console.print(f"state [bold]{detail.state}[/bold]; policy {detail.rule_version}, rule {detail.rule_id}",
                  highlight=False)
    chain = Table("level", "role", "approvers needed", "SLA hours", "queue")
    for number, level in enumerate(detail.chain):
        marker = " ◀" if detail.state == "pending" and number == detail.current_level else ""
        chain.add_row(f"{number + 1}{marker}", level.role, str(level.approvers_needed),
                      str(level.sla_hours or ""), level.queue or "")
    console.print(chain)
    decisions = Table("when", "level", "who", "for", "decision", "reason")
    for d in detail.decisions:
        decisions.add_row(d.decided_at.strftime("%Y-%m-%d %H:%M:%S"), str(d.level + 1), d.approver,
                          d.on_behalf_of or "", d.decision, d.reason or "")
    console.print(decisions if detail.decisions else "no decisions yet")


@approvals_app.command("approve")
def approvals_approve(
    request_id: IdArg, who: AsOpt, role: RoleOpt = None,
    on_behalf_of: Annotated[str | None, typer.Option(help="Act for this delegator.")] = None,
    reason: Annotated[str | None, typer.Option(help="Optional comment.")] = None,
) -> None:
    """Approve at the request's current level (as yourself, or as someone's delegate)."""
    from rcmflow.services.approvals import approve

    with _engine().begin() as conn:
        outcome = approve(conn, request_id, who, set(role or ()), now=utc_now(), reason=reason,
                          on_behalf_of=on_behalf_of)
        record_action(conn, normalise_person(who), "approve", "approval request", [request_id])
    acting = f" for {outcome.on_behalf_of}" if outcome.on_behalf_of else ""
    after = (outcome.state if outcome.state != "pending" else
             f"pending at level {outcome.current_level + 1}")
    console.print(f"approved{acting} at level {outcome.level + 1}: request {request_id} is now {after}",
                  highlight=False)


@approvals_app.command("reject")
def approvals_reject(
    request_id: IdArg, who: AsOpt,
    reason: Annotated[str, typer.Option(help="Why (required).", show_default=False)],
    role: RoleOpt = None,
    on_behalf_of: Annotated[str | None, typer.Option(help="Act for this delegator.")] = None,
) -> None:
    """Reject the request (a reason is required)."""
    from rcmflow.services.approvals import reject

    with _engine().begin() as conn:
        outcome = reject(conn, request_id, who, set(role or ()), reason=reason, now=utc_now(),
                         on_behalf_of=on_behalf_of)
        record_action(conn, normalise_person(who), "reject", "approval request", [request_id])
    console.print(f"request {request_id} rejected at level {outcome.level + 1}", highlight=False)


@approvals_app.command("cancel")
def approvals_cancel(
    request_id: IdArg, who: AsOpt,
    reason: Annotated[str, typer.Option(help="Why (required).", show_default=False)],
    role: RoleOpt = None,
) -> None:
    """Withdraw a pending request (its maker, or an approvals_admin)."""
    from rcmflow.services.approvals import cancel

    with _engine().begin() as conn:
        cancel(conn, request_id, who, reason, utc_now(), roles=set(role or ()))
        record_action(conn, normalise_person(who), "cancel approval", "approval request", [request_id])
    console.print(f"request {request_id} cancelled", highlight=False)


@approvals_app.command("delegate")
def approvals_delegate(
    delegator: Annotated[str, typer.Option("--from", help="Whose authority is lent.", show_default=False)],
    delegate_to: Annotated[str, typer.Option("--to", help="Who may act for them.", show_default=False)],
    until: Annotated[str, typer.Option(help="End (exclusive): ISO date or date-time with zone.",
                                       show_default=False)],
    role: Annotated[str | None, typer.Option(help="The one role lent [default: every role].")] = None,
    starts: Annotated[str | None, typer.Option(help="Start: ISO date or date-time [default: now].")] = None,
    who: Annotated[str | None, typer.Option("--as", help="Who records it [default: the delegator].")] = None,
    admin: Annotated[bool, typer.Option(help="Record it as an approvals_admin for someone else.")] = False,
) -> None:
    """Let someone approve for another person until a date (e.g. during leave)."""
    from rcmflow.services.approvals import ADMIN_ROLE, delegate

    now = utc_now()
    with _engine().begin() as conn:
        made = delegate(conn, delegator=delegator, delegate=delegate_to, role=role,
                        starts_at=_when(starts) if starts else now, expires_at=_when(until),
                        created_by=who or delegator, now=now, creator_roles={ADMIN_ROLE} if admin else set())
        record_action(conn, normalise_person(who or delegator), "delegate approvals", "delegation", [made.id])
    console.print(f"delegation {made.id}: {made.delegate} may act for {made.delegator} "
                  f"({made.role or 'every role'}) until {made.expires_at.isoformat()}", highlight=False)


@approvals_app.command("policy")
def approvals_policy(
    file: Annotated[Path | None, typer.Argument(help="A policy file [default: the shipped one].")] = None,
) -> None:
    """Validate an approval policy file and print its rules in the order they are tried."""
    from rcmflow.domain.approval_policy import load_approval_policy
    from rcmflow.services.policies import configured_approval_policy

    policy = load_approval_policy(file) if file else configured_approval_policy()
    console.print(f"[bold]{policy.rule_version}[/bold], effective from {policy.effective_from.isoformat()}: "
                  f"{len(policy.rules)} rule(s)", highlight=False)
    table = Table("rule", "when", "chain")
    for rule in (*policy.rules, *([policy.default_rule] if policy.default_rule else [])):
        tests = []
        for name, value in rule.when.model_dump(exclude_none=True).items():
            if name in ("min_amount", "max_amount"):
                tests.append(f"amount {'>' if name == 'min_amount' else '≤'} {value:,.2f}")
            else:
                tests.append(f"{name} = {' | '.join(value)}")
        when = ", ".join(tests) or ("(nothing else matched)" if rule is policy.default_rule else "(always)")
        chain = " → ".join(f"{level.role} ×{level.approvers_needed}" for level in rule.chain)
        table.add_row(rule.id, when, chain)
    console.print(table)


@approvals_app.command("submit")
def approvals_submit(
    object_type: Annotated[str, typer.Argument(help="e.g. refund, supplier invoice, write-off.", show_default=False)],
    object_id: Annotated[str, typer.Argument(help="The object's id.", show_default=False)],
    maker: AsOpt,
    amount: Annotated[str | None, typer.Option(help="Exact amount, e.g. 12500.00.")] = None,
    attribute: Annotated[list[str] | None, typer.Option(
        "--attr", help="KEY=VALUE the policy may match on (facility, payer, vendor, service_line...).")] = None,
) -> None:
    """Submit an object for approval under the configured policy (the maker is --as)."""
    from rcmflow.services.approvals import normalise_person, submit
    from rcmflow.services.policies import configured_approval_policy

    attributes: dict[str, str] = {}
    for item in attribute or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--attr")
        attributes[key.strip()] = value.strip()
    person = normalise_person(maker)
    with _engine().begin() as conn:
        ref = submit(conn, configured_approval_policy(), object_type=object_type, object_id=object_id, maker=person,
                     amount=amount, attributes=attributes, actor=person, now=utc_now())
    if ref is None:
        console.print(f"no approval needed for {object_type} {object_id} under the policy", highlight=False)
        return
    levels = " -> ".join(f"{level.role} x{level.approvers_needed}" for level in ref.chain)
    console.print(f"approval request {ref.id} opened under {ref.policy_id}@{ref.policy_version}, rule {ref.rule_id}: "
                  f"{levels}", highlight=False)
