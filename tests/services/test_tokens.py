"""Access tokens: the verified-token cache answers repeats without I/O, and forgets a token whose key was
retired or whose principal was deactivated once the key cache refreshes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from rcmflow.adapters.store.schema import utc_now
from rcmflow.services.principals import create_client, set_active
from rcmflow.services.tokens import (
    InvalidTokenError,
    KeyCache,
    issue_token,
    retire_signing_key,
    rotate_signing_key,
    verify_token,
)


def _token(engine: Engine, ttl: timedelta = timedelta(minutes=15)) -> tuple[str, str]:
    with engine.begin() as conn:
        record, _ = create_client(conn, f"c-{utc_now().timestamp()}", roles=["biller"], actor="t", now=utc_now())
        return record.id, issue_token(conn, record.principal(), now=utc_now(), ttl=ttl)


def test_a_verified_token_is_answered_from_memory_until_the_cache_refreshes(engine: Engine) -> None:
    cache = KeyCache(engine, refresh_every=3600)
    client_id, token = _token(engine)
    assert cache.verified(token) is None  # never seen: verify the full way
    principal = verify_token(token, cache)
    assert cache.verified(token) == principal and principal.may("claims:read")
    with engine.begin() as conn:
        set_active(conn, client_id, False)
    assert cache.verified(token) == principal  # not yet seen: within refresh_every (documented)
    cache.refresh()
    assert cache.verified(token) is None
    with pytest.raises(InvalidTokenError, match="deactivated"):
        verify_token(token, cache)


def test_retiring_the_key_drops_cached_tokens_it_signed(engine: Engine) -> None:
    cache = KeyCache(engine, refresh_every=3600)
    _, token = _token(engine)
    verify_token(token, cache)
    with engine.begin() as conn:
        old = cache.public_jwks()["keys"][0]["kid"]
        rotate_signing_key(conn, utc_now())
        retire_signing_key(conn, old, utc_now())
    cache.refresh()
    assert cache.verified(token) is None
    with pytest.raises(InvalidTokenError, match="retired"):
        verify_token(token, cache)


def test_an_expired_token_is_never_answered_from_memory(engine: Engine) -> None:
    cache = KeyCache(engine, refresh_every=3600)
    # Expiry is in whole seconds from the issue time truncated to the second: a 3 s token lives 2 to 3 s, long
    # enough to be verified on a slow machine (a 1 s token could expire before its first verification).
    _, token = _token(engine, ttl=timedelta(seconds=3))
    verify_token(token, cache)
    time.sleep(3.1)
    assert cache.verified(token) is None
    with pytest.raises(InvalidTokenError, match="expired"):
        verify_token(token, cache)
