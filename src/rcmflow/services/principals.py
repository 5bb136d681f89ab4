"""API principals: systems with OAuth2 client credentials and people with a username and password.

Secrets are stored as argon2id hashes (``argon2-cffi``); a client secret is shown once, when created. A
failed check costs the same whether or not the principal exists, so the token endpoint does not reveal
which client ids or usernames are real.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, select, update

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, principals
from rcmflow.domain.access import Principal, check_roles, permissions_of
from rcmflow.errors import DomainRuleError, InputError, NotFoundError

_HASHER = PasswordHasher()
# Hash of a random secret: verified against when the principal does not exist, to spend the same time.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 12


class DuplicatePrincipalError(DomainRuleError):
    code = "duplicate_principal"
    http_status = 409


@dataclass(frozen=True)
class PrincipalRecord:
    id: str
    kind: str
    name: str
    roles: tuple[str, ...]
    facilities: tuple[str, ...]
    active: bool
    created_at: datetime
    created_by: str
    organisation_id: str

    def principal(self, permissions: Iterable[str] | None = None) -> Principal:
        granted = permissions_of(self.roles)
        return Principal(self.id, self.kind, self.name, self.roles,
                         granted if permissions is None else frozenset(permissions) & granted,
                         self.facilities, self.organisation_id)


def _record(row: Any) -> PrincipalRecord:
    return PrincipalRecord(row.id, row.kind, row.name, tuple(row.roles), tuple(row.facilities), bool(row.active),
                           row.created_at, row.created_by, row.organisation_id)


def _facilities(facilities: Iterable[str]) -> list[str]:
    cleaned = sorted({f.strip() for f in facilities if f.strip()})
    for facility in cleaned:
        if len(facility) > 64:
            raise InputError(detail=f"facility id {facility[:20]!r}... is longer than 64 characters")
    return cleaned


def _insert(conn: Connection, *, principal_id: str, kind: str, name: str, roles: Sequence[str],
            facilities: Iterable[str], secret: str, actor: str, now: datetime, organisation_id: str) -> PrincipalRecord:
    from rcmflow.services.policies import configured_approval_policy

    try:
        checked = check_roles(roles, configured_approval_policy().roles)
    except ValueError as exc:
        raise InputError(detail=str(exc)) from exc
    exists = conn.execute(select(principals.c.id).where(
        principals.c.organisation_id == organisation_id, principals.c.kind == kind,
        principals.c.name == name)).first()
    if exists:
        raise DuplicatePrincipalError(f"a {kind} named {name!r} exists already")
    values = {"id": principal_id, "organisation_id": organisation_id, "kind": kind, "name": name,
              "roles": list(checked), "facilities": _facilities(facilities), "secret_hash": _HASHER.hash(secret),
              "active": True, "created_at": now, "created_by": actor}
    conn.execute(principals.insert().values(**values))
    return PrincipalRecord(principal_id, kind, name, checked, tuple(values["facilities"]), True, now, actor,
                           organisation_id)


def create_client(conn: Connection, name: str, *, roles: Sequence[str], facilities: Iterable[str] = (),
                  actor: str, now: datetime, organisation_id: str = DEFAULT_ORGANISATION,
                  ) -> tuple[PrincipalRecord, str]:
    """A new OAuth2 client and its secret (returned once; only its hash is kept)."""
    name = name.strip()
    if not name or len(name) > 128:
        raise InputError(detail="a client name is 1 to 128 characters")
    secret = secrets.token_urlsafe(32)
    record = _insert(conn, principal_id="cl_" + secrets.token_hex(12), kind="client", name=name, roles=roles,
                     facilities=facilities, secret=secret, actor=actor, now=now, organisation_id=organisation_id)
    return record, secret


def create_user(conn: Connection, username: str, password: str, *, roles: Sequence[str],
                facilities: Iterable[str] = (), actor: str, now: datetime,
                organisation_id: str = DEFAULT_ORGANISATION) -> PrincipalRecord:
    username = username.strip().lower()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
        raise InputError(detail="a username is 1 to 64 letters, digits and . _ - @")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(detail=f"a password is at least {MIN_PASSWORD_LENGTH} characters")
    return _insert(conn, principal_id="user:" + username, kind="user", name=username, roles=roles,
                   facilities=facilities, secret=password, actor=actor, now=now, organisation_id=organisation_id)


def set_password(conn: Connection, username: str, password: str) -> None:
    """Give a user a new password (only its argon2 hash is kept); their open sessions stay open."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(detail=f"a password is at least {MIN_PASSWORD_LENGTH} characters")
    changed = conn.execute(update(principals).where(principals.c.kind == "user",
                                                    principals.c.name == username.strip().lower())
                           .values(secret_hash=_HASHER.hash(password))).rowcount
    if not changed:
        raise NotFoundError(kind="user", key=username)


def _verify(secret_hash: str, secret: str) -> bool:
    try:
        return _HASHER.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(conn: Connection, kind: str, name_or_id: str, secret: str) -> PrincipalRecord | None:
    """The active principal these credentials belong to, else None (unknown, inactive, or wrong secret)."""
    key = principals.c.id if kind == "client" else principals.c.name
    value = name_or_id if kind == "client" else name_or_id.strip().lower()
    row = conn.execute(select(principals).where(key == value, principals.c.kind == kind)).first()
    if row is None:
        _verify(_DUMMY_HASH, secret)
        return None
    if not _verify(row.secret_hash, secret) or not row.active:
        return None
    if _HASHER.check_needs_rehash(row.secret_hash):  # parameters raised since it was hashed
        conn.execute(update(principals).where(principals.c.id == row.id).values(secret_hash=_HASHER.hash(secret)))
    return _record(row)


def get_principal(conn: Connection, principal_id: str) -> PrincipalRecord:
    row = conn.execute(select(principals).where(principals.c.id == principal_id)).first()
    if row is None:
        raise NotFoundError(kind="principal", key=principal_id)
    return _record(row)


def list_principals(conn: Connection, organisation_id: str = DEFAULT_ORGANISATION) -> list[PrincipalRecord]:
    rows = conn.execute(select(principals).where(principals.c.organisation_id == organisation_id)
                        .order_by(principals.c.kind, principals.c.name))
    return [_record(row) for row in rows]


def set_active(conn: Connection, principal_id: str, active: bool) -> None:
    """Deactivate (or reactivate) a principal: its tokens stop working at the next check."""
    done = conn.execute(update(principals).where(principals.c.id == principal_id).values(active=active)).rowcount
    if not done:
        raise NotFoundError(kind="principal", key=principal_id)


def active_ids(conn: Connection, ids: Iterable[str]) -> set[str]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    return set(conn.execute(select(principals.c.id).where(principals.c.id.in_(wanted),
                                                          principals.c.active.is_(True))).scalars())
