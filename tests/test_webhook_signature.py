"""Webhook signature verification: genuine requests pass; changed, forged, stale or malformed ones fail clearly."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from pathlib import Path
from typing import Any

import pytest

from rcmflow.webhook_signature import (
    BadSignatureError,
    MalformedSignatureError,
    StaleTimestampError,
    sign,
    signature_header,
    verify,
)

SECRET = "whsec_test-secret"
BODY = b'{"id":42,"type":"claim.denied","object_id":"1001"}'
NOW = 1_765_000_000


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == expected
    assert signature_header(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"


def test_a_genuine_request_verifies_from_headers_header_value_or_bare_signature() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify(SECRET, {"Rcmflow-Signature": header}, body=BODY, now=NOW + 10) == NOW
    assert verify(SECRET, {"rcmflow-signature": header}, body=BODY, now=NOW) == NOW  # any header-name case
    assert verify(SECRET, header, None, BODY, now=NOW) == NOW
    assert verify(SECRET, sign(SECRET, NOW, BODY), NOW, BODY, now=NOW) == NOW
    assert verify(SECRET.encode(), header, body=BODY, now=NOW) == NOW


def test_a_tampered_body_fails() -> None:
    header = signature_header(SECRET, NOW, BODY)
    with pytest.raises(BadSignatureError, match="no signature matches"):
        verify(SECRET, header, body=BODY.replace(b"1001", b"1002"), now=NOW)


def test_a_tampered_timestamp_fails() -> None:
    signature = sign(SECRET, NOW, BODY)
    with pytest.raises(BadSignatureError):
        verify(SECRET, f"t={NOW + 1},v1={signature}", body=BODY, now=NOW)


def test_the_wrong_secret_fails() -> None:
    header = signature_header("whsec_someone-else", NOW, BODY)
    with pytest.raises(BadSignatureError):
        verify(SECRET, header, body=BODY, now=NOW)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_a_stale_or_future_timestamp_fails_even_when_correctly_signed(offset: int) -> None:
    header = signature_header(SECRET, NOW, BODY)
    with pytest.raises(StaleTimestampError, match="tolerance 300s"):
        verify(SECRET, header, body=BODY, now=NOW + offset)
    assert verify(SECRET, header, body=BODY, now=NOW + offset, tolerance=abs(offset)) == NOW


def test_during_a_rotation_either_secret_verifies_a_request_signed_with_both() -> None:
    old, new = "whsec_old", "whsec_new"
    header = signature_header([new, old], NOW, BODY)
    assert header.count("v1=") == 2
    assert verify(old, header, body=BODY, now=NOW) == NOW  # a receiver that has not switched yet
    assert verify(new, header, body=BODY, now=NOW) == NOW  # one that has
    assert verify([new, old], signature_header(old, NOW, BODY), body=BODY, now=NOW) == NOW  # receiver holds both
    with pytest.raises(BadSignatureError):
        verify("whsec_neither", header, body=BODY, now=NOW)


def test_unknown_schemes_are_ignored_so_a_later_version_can_add_one() -> None:
    header = f"{signature_header(SECRET, NOW, BODY)},v2=abcdef"
    assert verify(SECRET, header, body=BODY, now=NOW) == NOW


@pytest.mark.parametrize(("header", "reason"), [
    ("", "empty"),
    (f"t={NOW},,v1={'0' * 64}", "not name=value"),
    ("v1=abc", "no t="),
    (f"t={NOW}", "no v1="),
    (f"t=soon,v1={'0' * 64}", "unix seconds"),
    (f"t={NOW},t={NOW},v1={'0' * 64}", "once"),
    (f"t={NOW};v1={'0' * 64}", "unix seconds"),
])
def test_a_malformed_header_is_named_as_such(header: str, reason: str) -> None:
    with pytest.raises(MalformedSignatureError, match=reason):
        verify(SECRET, header, body=BODY, now=NOW)


def test_a_missing_header_or_a_mismatched_timestamp_is_malformed() -> None:
    with pytest.raises(MalformedSignatureError, match="missing"):
        verify(SECRET, {"Content-Type": "application/json"}, body=BODY, now=NOW)
    with pytest.raises(MalformedSignatureError, match="does not match"):
        verify(SECRET, signature_header(SECRET, NOW, BODY), NOW + 5, BODY, now=NOW)


def test_the_body_is_required() -> None:
    with pytest.raises(TypeError, match="raw request body"):
        verify(SECRET, signature_header(SECRET, NOW, BODY), now=NOW)


def _documented_examples() -> list[str]:
    text = (Path(__file__).resolve().parents[1] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_documented_receiver_examples_run_and_verify_a_real_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    helper, standalone = _documented_examples()
    monkeypatch.setenv("RCMFLOW_WEBHOOK_SECRET", SECRET)
    helper_ns: dict[str, Any] = {}
    exec(compile(helper, "docs/webhooks.md", "exec"), helper_ns)  # noqa: S102 - our own documentation
    signed_at = int(time.time())
    headers = {"Rcmflow-Signature": signature_header(SECRET, signed_at, BODY), "Idempotency-Key": "webhook:3:42"}
    assert helper_ns["receive"](headers, BODY) == (200, {"id": 42, "type": "claim.denied", "object_id": "1001"})
    assert helper_ns["receive"](headers, BODY) == (200, None)  # the redelivery is recognised
    assert helper_ns["receive"](headers, BODY + b" ") == (401, None)

    standalone_ns: dict[str, Any] = {}
    exec(compile(standalone, "docs/webhooks.md", "exec"), standalone_ns)  # noqa: S102 - our own documentation
    check = standalone_ns["verify_signature"]
    check(SECRET, headers["Rcmflow-Signature"], BODY)
    check("whsec_old", signature_header(["whsec_new", "whsec_old"], signed_at, BODY), BODY)
    with pytest.raises(ValueError, match="bad webhook signature"):
        check(SECRET, headers["Rcmflow-Signature"], BODY.replace(b"42", b"43"))
    with pytest.raises(ValueError, match="stale"):
        check(SECRET, signature_header(SECRET, signed_at - 301, BODY), BODY)
