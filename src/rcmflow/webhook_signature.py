"""Sign and verify rcmflow webhook requests: HMAC-SHA256 over ``f"{timestamp}."`` followed by the raw body.

Standard library only, so a receiver can import this module or copy it into its own code base.

Every request carries ``Rcmflow-Signature: t=<unix seconds>,v1=<hex>``. While a secret is being rotated the
header carries one ``v1`` per secret still in force (``t=...,v1=<new>,v1=<old>``); a request is genuine when
any of them matches a secret the receiver holds. The timestamp is signed too, and requests older (or newer)
than ``tolerance`` seconds are refused, so a captured request cannot be replayed later.

Receivers must verify the exact bytes they received, before parsing the JSON: re-serialising changes them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_TOLERANCE",
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "BadSignatureError",
    "MalformedSignatureError",
    "SignatureError",
    "StaleTimestampError",
    "sign",
    "signature_header",
    "verify",
]

SIGNATURE_HEADER = "Rcmflow-Signature"
EVENT_ID_HEADER = "Rcmflow-Event-Id"
EVENT_TYPE_HEADER = "Rcmflow-Event-Type"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CONTENT_TYPE = "application/json"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300  # seconds; covers clock skew and a slow network, not a replay hours later

Secrets = str | bytes | Sequence[str | bytes]


class SignatureError(ValueError):
    """The request's signature does not prove it came from rcmflow unchanged and recently."""


class MalformedSignatureError(SignatureError):
    """The signature header is missing or not of the form ``t=<unix seconds>,v1=<hex>[,v1=<hex>...]``."""


class StaleTimestampError(SignatureError):
    """The signed timestamp is further from now than the tolerance: possibly a replayed request."""


class BadSignatureError(SignatureError):
    """No signature matches: a wrong secret, or the body or timestamp was changed."""


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the webhook secret must not be empty")
    return key


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` under ``secret``."""
    return hmac.new(_key(secret), f"{int(timestamp)}.".encode() + body, hashlib.sha256).hexdigest()


def _secret_list(secrets: Secrets) -> list[str | bytes]:
    listed = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    if not listed:
        raise ValueError("at least one webhook secret is needed")
    return listed


def signature_header(secrets: Secrets, timestamp: int, body: bytes) -> str:
    """The ``Rcmflow-Signature`` value: ``t=<timestamp>`` and one ``v1=`` per secret, in the order given."""
    return ",".join([f"t={int(timestamp)}", *(f"{SCHEME}={sign(s, timestamp, body)}" for s in _secret_list(secrets))])


def _header_value(headers: Mapping[str, str]) -> str:
    value = headers.get(SIGNATURE_HEADER)
    if value is None:  # a plain dict from a framework that did not normalise header names
        wanted = SIGNATURE_HEADER.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None:
        raise MalformedSignatureError(f"the {SIGNATURE_HEADER} header is missing")
    return value


def _parse(value: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        name, sep, item = part.strip().partition("=")
        if not sep or not item:
            raise MalformedSignatureError(f"{SIGNATURE_HEADER}: {part.strip()!r} is not name=value")
        if name == "t":
            if timestamp is not None or not item.isdigit():
                raise MalformedSignatureError(f"{SIGNATURE_HEADER}: t must appear once, as unix seconds")
            timestamp = int(item)
        elif name == SCHEME:
            signatures.append(item.lower())
        # Other schemes are ignored: a later version can add one without breaking today's receivers.
    return timestamp, signatures


def verify(secret: Secrets, headers_or_signature: Mapping[str, str] | str, timestamp: int | str | None = None,
           body: bytes | None = None, *, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None) -> int:
    """Check a request; return its signed timestamp, or raise a ``SignatureError`` saying what is wrong.

    ``headers_or_signature`` is the request's headers, the ``Rcmflow-Signature`` value, or a bare hex
    signature (then ``timestamp`` is required). ``secret`` may be several secrets (during a rotation).
    ``body`` is the raw request body, exactly as received.
    """
    if body is None:
        raise TypeError("verify() needs the raw request body")
    value = headers_or_signature if isinstance(headers_or_signature, str) else _header_value(headers_or_signature)
    if not value.strip():
        raise MalformedSignatureError(f"the {SIGNATURE_HEADER} header is empty")
    if "=" in value:
        signed_at, signatures = _parse(value)
    else:
        signed_at, signatures = None, [value.strip().lower()]
    if timestamp is not None:
        given = str(timestamp).strip()
        if not given.isdigit() or (signed_at is not None and int(given) != signed_at):
            raise MalformedSignatureError("the timestamp does not match the signature header's t")
        signed_at = int(given)
    if signed_at is None:
        raise MalformedSignatureError(f"{SIGNATURE_HEADER} has no t=<unix seconds>")
    if not signatures:
        raise MalformedSignatureError(f"{SIGNATURE_HEADER} has no {SCHEME}=<hex> signature")
    current = time.time() if now is None else now
    if abs(current - signed_at) > tolerance:
        raise StaleTimestampError(f"signed at {signed_at}, {abs(current - signed_at):.0f}s from now "
                                  f"(tolerance {tolerance}s)")
    expected = [sign(s, signed_at, body) for s in _secret_list(secret)]
    # compare_digest on every pair: how long this takes says nothing about how close a forgery came.
    matched = False
    for candidate in signatures:
        for digest in expected:
            matched |= hmac.compare_digest(candidate.encode(), digest.encode())
    if not matched:
        raise BadSignatureError("no signature matches: wrong secret, or the body or timestamp was changed")
    return signed_at
