"""Who may do what: API permissions, the roles that grant them, and the facility scope of a principal.

A permission is ``<resource>:<verb>``; a role is a named set of permissions. Access tokens carry the
permissions as OAuth2 scopes, so a client may ask for fewer than its roles grant (least privilege for one
integration job). Every refusal names a stable reason code, which the API returns in its 403 problem.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

PERMISSIONS: dict[str, str] = {
    "claims:read": "Read claims, their lines, findings and timeline (protected health information).",
    "claims:write": "Release held claims and scrub them again.",
    "documents:read": "List stored documents and their processing results.",
    "documents:write": "Upload documents (an upload is an ingest).",
    "remittances:read": "Read remittances and their claim payments.",
    "deposits:read": "Read bank deposits and their reconciliation.",
    "work_items:read": "Read work items, their links and notes.",
    "work_items:write": "Assign, resolve and annotate work items.",
    "approvals:read": "Read approval requests.",
    "approvals:decide": "Approve or reject approval requests (the policy still decides whose decision counts).",
    "ledger:read": "Read journal entries and the trial balance.",
    "reports:read": "Read the operational summary and KPIs.",
    "outbox:read": "Read the status of outbound deliveries.",
    "outbox:replay": "Send failed or dead outbound deliveries again.",
    "webhooks:manage": "Create, list and remove webhook subscriptions.",
    "audit:read": "Read the audit trail and verify its chain.",
}

_READ_ALL = frozenset(p for p in PERMISSIONS if p.endswith(":read"))

ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "biller": frozenset({"claims:read", "claims:write", "documents:read", "documents:write", "remittances:read",
                         "work_items:read", "work_items:write", "reports:read"}),
    "coder": frozenset({"claims:read", "claims:write", "work_items:read", "work_items:write"}),
    "payment_poster": frozenset({"claims:read", "documents:read", "documents:write", "remittances:read",
                                 "deposits:read", "work_items:read", "work_items:write", "ledger:read",
                                 "reports:read"}),
    "denial_specialist": frozenset({"claims:read", "claims:write", "remittances:read", "work_items:read",
                                    "work_items:write", "reports:read"}),
    "ap_clerk": frozenset({"documents:read", "documents:write", "work_items:read", "work_items:write",
                           "approvals:read"}),
    "approver": frozenset({"approvals:read", "approvals:decide", "work_items:read", "reports:read"}),
    "controller": frozenset({"ledger:read", "reports:read", "deposits:read", "remittances:read",
                             "approvals:read", "approvals:decide", "work_items:read", "outbox:read"}),
    # Auditors read everything, including the audit trail, and change nothing.
    "auditor": _READ_ALL,
    # A system feeding rcmflow or reading from it: the EHR interface engine, the clearinghouse connector.
    "integration": frozenset({"documents:read", "documents:write", "claims:read", "remittances:read",
                              "outbox:read", "outbox:replay", "webhooks:manage"}),
}


class UnknownRoleError(ValueError):
    pass


def check_roles(roles: Iterable[str], approval_roles: Collection[str] = ()) -> tuple[str, ...]:
    """The roles, validated and de-duplicated in order; an unknown one names the known ones. Besides the API
    roles, a principal may hold the roles the approval policy's chains name (``approval_roles``): they grant no
    API permission, but count when the person decides an approval level."""
    checked: list[str] = []
    for role in roles:
        name = role.strip().lower().replace("-", "_").replace(" ", "_")
        if name not in ROLES and name not in approval_roles:
            known = ", ".join(sorted(ROLES))
            extra = f"; approval roles: {', '.join(sorted(approval_roles))}" if approval_roles else ""
            raise UnknownRoleError(f"unknown role {role!r}; roles are: {known}{extra}")
        if name not in checked:
            checked.append(name)
    if not checked:
        raise UnknownRoleError("at least one role is needed")
    return tuple(checked)


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(ROLES[role] for role in roles if role in ROLES))


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a system (client) or a person (user)."""

    id: str
    kind: str  # "client" or "user"
    name: str
    roles: tuple[str, ...]
    permissions: frozenset[str]  # what this credential may do: the token's scopes, else the roles' permissions
    facilities: tuple[str, ...] = ()  # empty: every facility of the organisation
    organisation_id: str = "default"

    @property
    def actor(self) -> str:
        """How the principal appears in event logs, work items and the audit trail."""
        return f"{self.kind}:{self.name}"

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def every_facility(self) -> bool:
        return not self.facilities

    def sees_facility(self, facility_id: str | None) -> bool:
        """Whether an object of ``facility_id`` is in scope. An object without a facility (a remittance or a
        deposit before matching) belongs to the organisation and is visible to every principal of it."""
        return self.every_facility or facility_id is None or facility_id in self.facilities


def grantable_scopes(requested: str | None, granted: Collection[str]) -> frozenset[str]:
    """The scopes of a token: those requested (space-separated, OAuth2) that the principal holds, or all it
    holds when none are requested. Asking for one it does not hold is refused, not silently dropped."""
    if not requested or not requested.strip():
        return frozenset(granted)
    asked = frozenset(requested.split())
    missing = sorted(asked - frozenset(granted))
    if missing:
        raise PermissionError(f"scope not granted to this client: {' '.join(missing)}")
    return asked
