"""OAuth2 access tokens: JWTs signed with rotatable Ed25519 keys (PyJWT + cryptography).

The newest key that is not retired signs; every unretired key verifies, so rotating the signing key never
invalidates a token already issued. Retiring a key makes the tokens it signed fail at once (after the
verifying process refreshes its key cache, at most ``KeyCache.refresh_every`` later). Each token names its
key (``kid``), its principal (``sub``), the permissions it carries (``scope``), the facilities in scope and
the principal's roles, so a request is authorised without a database read; the principal's being still
active is checked against a short-lived cache.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, select, update

from rcmflow.adapters.store.schema import signing_keys
from rcmflow.domain.access import Principal
from rcmflow.errors import DomainRuleError, NotFoundError

ALGORITHM = "EdDSA"
ISSUER = "rcmflow"
AUDIENCE = "rcmflow-api"
DEFAULT_TTL = timedelta(minutes=15)


class InvalidTokenError(Exception):
    """A bearer token that cannot be accepted; the message is safe to return to the caller."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    created_at: datetime
    retired_at: datetime | None


def _new_key(conn: Connection, now: datetime) -> str:
    private = Ed25519PrivateKey.generate()
    kid = now.strftime("%Y%m%d") + "-" + secrets.token_hex(4)
    conn.execute(signing_keys.insert().values(
        kid=kid, algorithm=ALGORITHM, created_at=now,
        private_key=private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()),
        public_key=private.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)))
    return kid


def ensure_signing_key(conn: Connection, now: datetime) -> str:
    """The kid of the current signing key, creating the first one on first use."""
    current = _current(conn)
    return current[0] if current else _new_key(conn, now)


def rotate_signing_key(conn: Connection, now: datetime) -> str:
    """A new signing key; the earlier ones keep verifying the tokens they signed until retired."""
    return _new_key(conn, now)


def retire_signing_key(conn: Connection, kid: str, now: datetime) -> None:
    """Stop accepting tokens signed by ``kid``. The current signing key cannot be retired: rotate first."""
    current = _current(conn)
    if current and current[0] == kid:
        raise DomainRuleError(f"key {kid} is the current signing key; rotate before retiring it")
    done = conn.execute(update(signing_keys).where(signing_keys.c.kid == kid, signing_keys.c.retired_at.is_(None))
                        .values(retired_at=now)).rowcount
    if not done:
        raise NotFoundError(kind="active signing key", key=kid)


def list_signing_keys(conn: Connection) -> list[SigningKey]:
    rows = conn.execute(select(signing_keys.c.kid, signing_keys.c.created_at, signing_keys.c.retired_at)
                        .order_by(signing_keys.c.created_at, signing_keys.c.kid))
    return [SigningKey(row.kid, row.created_at, row.retired_at) for row in rows]


def _current(conn: Connection) -> tuple[str, bytes] | None:
    row = conn.execute(select(signing_keys.c.kid, signing_keys.c.private_key)
                       .where(signing_keys.c.retired_at.is_(None))
                       .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid.desc()).limit(1)).first()
    return (row.kid, bytes(row.private_key)) if row else None


def issue_token(conn: Connection, principal: Principal, *, now: datetime, ttl: timedelta = DEFAULT_TTL) -> str:
    ensure_signing_key(conn, now)
    current = _current(conn)
    assert current is not None
    kid, private_pem = current
    issued = int(now.timestamp())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": principal.id, "iat": issued, "nbf": issued,
              "exp": issued + int(ttl.total_seconds()), "jti": secrets.token_hex(12),
              "scope": " ".join(sorted(principal.permissions)), "roles": list(principal.roles),
              "fac": list(principal.facilities), "kind": principal.kind, "name": principal.name,
              "org": principal.organisation_id}
    key = serialization.load_pem_private_key(private_pem, password=None)
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})  # type: ignore[arg-type]


class KeyCache:
    """The verifying keys and active principals, read from the database at most every ``refresh_every``
    seconds (and at once, at most every ``min_refresh`` seconds, when a token names a key not seen yet)."""

    def __init__(self, engine: Engine, *, refresh_every: float = 30.0, min_refresh: float = 5.0) -> None:
        self.engine = engine
        self.refresh_every = refresh_every
        self.min_refresh = min_refresh
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._active: dict[str, bool] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()
        # Tokens already verified: (principal, expiry, kid). A repeat is checked against the expiry, the key
        # and the principal's being active (all in memory) instead of the signature again.
        self._verified: dict[str, tuple[Principal, float, str]] = {}

    def verified(self, token: str) -> Principal | None:
        """The principal of a token verified before whose expiry, key and principal still hold, without any
        I/O; None when the token must be verified (again) the full way."""
        if time.monotonic() - self._loaded_at >= self.refresh_every:
            return None
        entry = self._verified.get(token)
        if entry is None:
            return None
        principal, expires, kid = entry
        if expires <= time.time() or kid not in self._keys or not self._active.get(principal.id, False):
            return None
        return principal

    def remember(self, token: str, principal: Principal, expires: float, kid: str) -> None:
        if len(self._verified) >= 50_000:  # bounded: forget them all rather than track age per entry
            self._verified.clear()
        self._verified[token] = (principal, expires, kid)

    def refresh(self) -> None:
        from rcmflow.services.principals import active_ids

        with self.engine.connect() as conn:
            rows = conn.execute(select(signing_keys.c.kid, signing_keys.c.public_key)
                                .where(signing_keys.c.retired_at.is_(None))).all()
            known = list(self._active)
            active = active_ids(conn, known)
        keys: dict[str, Ed25519PublicKey] = {}
        for row in rows:
            public = serialization.load_pem_public_key(bytes(row.public_key))
            if isinstance(public, Ed25519PublicKey):
                keys[row.kid] = public
        with self._lock:
            self._keys = keys
            self._active = {pid: pid in active for pid in known}
            self._loaded_at = time.monotonic()

    def _fresh(self, force: bool = False) -> None:
        age = time.monotonic() - self._loaded_at
        if age >= self.refresh_every or (force and age >= self.min_refresh):
            self.refresh()

    def key(self, kid: str) -> Ed25519PublicKey | None:
        self._fresh()
        if kid not in self._keys:
            self._fresh(force=True)
        return self._keys.get(kid)

    def is_active(self, principal_id: str) -> bool:
        self._fresh()
        if principal_id not in self._active:
            from rcmflow.services.principals import active_ids

            with self.engine.connect() as conn:
                found = principal_id in active_ids(conn, [principal_id])
            with self._lock:
                self._active[principal_id] = found
        return self._active[principal_id]

    def public_jwks(self) -> dict[str, Any]:
        """The verifying keys as a JSON Web Key Set, for receivers that check tokens themselves."""
        self._fresh()
        keys = []
        for kid, public in sorted(self._keys.items()):
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            keys.append({"kty": "OKP", "crv": "Ed25519", "alg": ALGORITHM, "use": "sig", "kid": kid,
                         "x": jwt.utils.base64url_encode(raw).decode()})
        return {"keys": keys}


def verify_token(token: str, cache: KeyCache) -> Principal:
    """The principal a bearer token stands for, or ``InvalidTokenError`` saying why not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("the token is not a JWT") from exc
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise InvalidTokenError("the token is not signed by rcmflow")
    key = cache.key(kid)
    if key is None:
        raise InvalidTokenError("the token's signing key is unknown or retired")
    options: dict[str, Any] = {"require": ["exp", "iat", "sub", "aud", "iss"]}
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER, options=options)
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("the token is invalid") from exc
    principal = Principal(claims["sub"], claims.get("kind", "client"), claims.get("name", claims["sub"]),
                          tuple(claims.get("roles", ())), frozenset(str(claims.get("scope", "")).split()),
                          tuple(claims.get("fac", ())), claims.get("org", "default"))
    if not cache.is_active(principal.id):
        raise InvalidTokenError("the principal is deactivated")
    cache.remember(token, principal, float(claims["exp"]), kid)
    return principal
