"""The content digest of a transaction set: what makes "the same remittance in other bytes" recognisable.

SHA-256 of the segments between ST and SE (the control numbers there are envelope, not content), each
delimiter replaced by a fixed control character: so the same segments digest the same whatever the
interchange envelope, the delimiters the sender chose and the line breaks between segments. A digest over
the segment text (not the parsed records) costs a translate, two regular-expression passes and one hash per
transaction set; rendering the parsed records cost more than parsing them.

Decimal numbers are compared by value: the trailing zeros of a fraction, then a bare point, are dropped
("150.00", "150.0" and "150" are one amount), as X12's R type allows any of them and the 835 writer writes
the shortest. Leading zeros are kept: "00123" is an identifier, not an amount. (A non-numeric value such as
"V1.10" is shortened too; two contents differing only there would be taken for one, which for a resent
remittance with the same payer and trace number is no real risk.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

from rcmflow.formats.x12.tokenizer import Delimiters

_ELEMENT, _COMPONENT, _REPETITION, _SEGMENT = b"\x1d", b"\x1f", b"\x1c", b"\x1e"
_END = rb"(?=[\x1c-\x1f]|\Z)"  # the end of an element
# Patterns that start with the point, so the scan skips ahead to each "." in C: a point with only zeros (or
# nothing) after it goes whole (a plain replacement, re's fast path); a fraction's trailing zeros after a
# non-zero digit go (a group reference, expanded per match, but few amounts end that way).
_POINT_ZEROS = re.compile(rb"\.0*" + _END)
_FRACTION_ZEROS = re.compile(rb"(\.[0-9]*[1-9])0+" + _END)


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
    text = _FRACTION_ZEROS.sub(rb"\1", _POINT_ZEROS.sub(b"", text))
    return hashlib.sha256(text).hexdigest()
