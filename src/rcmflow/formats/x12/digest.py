"""The content digest of a transaction set: what makes "the same remittance in other bytes" recognisable.

SHA-256 of the segments between ST and SE (the control numbers there are envelope, not content), each
delimiter replaced by a fixed control character: so the same segments digest the same whatever the
interchange envelope, the delimiters the sender chose and the line breaks between segments. A digest over
the segment text (not the parsed records) costs a translate, three regular-expression passes and one hash
per transaction set; rendering the parsed records as JSON cost more than parsing them.

Decimal numbers are compared by value: the trailing zeros of a fraction with up to two significant places,
then a bare point, are dropped ("150.00", "150.0" and "150" are one amount, "12.50" and "12.5" another), as
X12's R type allows any of them and the 835 writer writes the shortest. Leading zeros are kept: "00123" is
an identifier, not an amount. (A non-numeric value such as "V1.10" is shortened too; two contents differing
only there would be taken for one, which for a resent remittance with the same payer and trace number is no
real risk.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

from rcmflow.formats.x12.tokenizer import Delimiters

_ELEMENT, _COMPONENT, _REPETITION, _SEGMENT = b"\x1d", b"\x1f", b"\x1c", b"\x1e"
_END = rb"(?=[\x1c-\x1f]|\Z)"  # the end of an element
# Every pattern starts with a literal ("." or "0"), so the scan skips ahead in C, and replaces with nothing, so
# re stays on its fast path (a group reference is expanded in Python, per match): a point with only zeros (or
# nothing) after it goes whole; then the trailing zeros of a fraction with one or two significant places
# ("12.50", "1.250"; the lookbehind checks the point and digits just consumed).
_POINT_ZEROS = re.compile(rb"\.0*" + _END)
_FRACTION_ZEROS = (re.compile(rb"0(?<=\.[0-9]0)0*" + _END), re.compile(rb"0(?<=\.[0-9][0-9]0)0*" + _END))


@lru_cache(maxsize=64)
def _table(element: str, component: str, repetition: str) -> bytes:
    # A delimiter may be absent (no repetition separator before 5010's ISA11 took that role): not mapped then.
    pairs = [(d.encode("latin-1"), c) for d, c in ((element, _ELEMENT), (component, _COMPONENT),
                                                   (repetition, _REPETITION)) if len(d) == 1 and ord(d) < 256]
    return bytes.maketrans(b"".join(d for d, _ in pairs), b"".join(c for _, c in pairs))


def segments_digest(segments: Sequence[str], delimiters: Delimiters) -> str:
    """SHA-256 (hex) of the transaction set ``segments`` (ST first, SE last when present) in canonical form."""
    body = segments[1:-1] if segments and segments[-1][:3] == f"SE{delimiters.element}" else segments[1:]
    text = "\x1e".join(body).encode("utf-8").translate(
        _table(delimiters.element, delimiters.component, delimiters.repetition))
    text = _POINT_ZEROS.sub(b"", text)
    for pattern in _FRACTION_ZEROS:
        text = pattern.sub(b"", text)
    return hashlib.sha256(text).hexdigest()
