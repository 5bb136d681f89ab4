"""Web sessions of people: a random token in an HttpOnly cookie, its SHA-256 in the ``sessions`` table.

Only the hash is stored, so a copy of the database cannot be replayed as a login. A session ends when it
expires, when its user logs out, or when the user is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from rcmflow.adapters.store.schema import principals, sessions
from rcmflow.services.principals import PrincipalRecord, get_principal

DEFAULT_SESSION_TTL = timedelta(hours=8)  # one working shift


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(conn: Connection, principal_id: str, *, now: datetime, ttl: timedelta = DEFAULT_SESSION_TTL) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(sessions.insert().values(token_hash=_digest(token), principal_id=principal_id, created_at=now,
                                          expires_at=now + ttl))
    return token


def session_principal(conn: Connection, token: str, *, now: datetime) -> PrincipalRecord | None:
    """The active user of a live session, else None."""
    row = conn.execute(
        select(sessions.c.principal_id)
        .join(principals, principals.c.id == sessions.c.principal_id)
        .where(sessions.c.token_hash == _digest(token), sessions.c.revoked_at.is_(None),
               sessions.c.expires_at > now, principals.c.active.is_(True))).first()
    return get_principal(conn, row.principal_id) if row else None


def close_session(conn: Connection, token: str, *, now: datetime) -> bool:
    return bool(conn.execute(update(sessions).where(sessions.c.token_hash == _digest(token),
                                                    sessions.c.revoked_at.is_(None))
                             .values(revoked_at=now)).rowcount)
