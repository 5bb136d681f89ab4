"""HL7 v2 charge messages as they arrive over MLLP: each one stored verbatim in the raw document store and
ingested like any charge file (claims captured, scrubbed, routed), then answered.

The answer follows HL7's original acknowledgment mode: AA when the visit's claim was captured; AE when the
message was read but its claim could not be built (a bad value: the located problem goes back in ERR, and an
intake exception item keeps it for a person); AR when the message itself cannot be taken (not a DFT^P03, no
PID or FT1, unreadable). Either way the bytes are kept. A message sent again (a sender's retry after a lost
ACK) is the same document: nothing is captured twice, and the same answer goes back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from rcmflow.formats.hl7_ack import ack_for
from rcmflow.services.intake import ingest_file

CHANNEL = "mllp"


def acknowledge_message(engine: Engine, message: bytes, *, now: datetime | None = None) -> str:
    """Store and ingest one message in its own transaction; the ACK to send back."""
    with engine.begin() as conn:
        outcome = ingest_file(conn, message, filename=f"{CHANNEL}-message.hl7", channel=CHANNEL, now=now)
    summary = outcome.summary
    if outcome.status == "failed":
        first = (summary.get("errors") or [{}])[0]
        return ack_for(message, "AR", str(first.get("message", "the message cannot be read"))[:200],
                       str(first.get("field", "")))
    unreadable = summary.get("warnings") or []
    if unreadable:
        first = unreadable[0]
        return ack_for(message, "AE", str(first.get("message", ""))[:200], str(first.get("field", "")))
    return ack_for(message, "AA")
