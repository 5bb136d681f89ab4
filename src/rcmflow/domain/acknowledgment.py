"""Implementation acknowledgments (X12 999, 005010X231A1): what a receiver found in each group.

One ``FunctionalAck`` answers one functional group (AK1..AK9). It holds one ``TransactionAck`` per
transaction set (AK2..IK5), each with the ``SegmentError``s (IK3) found in it and their
``ElementError``s (IK4). The code tables below give the meaning of every code a 999 carries, so a
person reading a rejection sees words, not numbers.
"""

from __future__ import annotations

from typing import NamedTuple

# IK501 / AK901: acknowledgment codes.
ACK_STATUS = {
    "A": "Accepted",
    "E": "Accepted but errors were noted",
    "M": "Rejected, message authentication code (MAC) failed",
    "P": "Partially accepted, at least one transaction set was rejected",
    "R": "Rejected",
    "W": "Rejected, assurance failed validity tests",
    "X": "Rejected, content after decryption could not be analyzed",
}
ACCEPTED_STATUSES = frozenset({"A", "E"})
REJECTED_STATUSES = frozenset({"M", "R", "W", "X"})

# IK304: implementation segment syntax error codes.
SEGMENT_ERROR = {
    "1": "Unrecognized segment ID",
    "2": "Unexpected segment",
    "3": "Required segment missing",
    "4": "Loop occurs over maximum times",
    "5": "Segment exceeds maximum use",
    "6": "Segment not in defined transaction set",
    "7": "Segment not in proper sequence",
    "8": "Segment has data element errors",
    "I4": "Implementation 'not used' segment present",
    "I6": "Implementation dependent segment missing",
    "I7": "Implementation loop occurs under minimum times",
    "I8": "Implementation segment below minimum use",
    "I9": "Implementation dependent 'not used' segment present",
}

# IK403: implementation data element syntax error codes.
ELEMENT_ERROR = {
    "1": "Required data element missing",
    "2": "Conditional required data element missing",
    "3": "Too many data elements",
    "4": "Data element too short",
    "5": "Data element too long",
    "6": "Invalid character in data element",
    "7": "Invalid code value",
    "8": "Invalid date",
    "9": "Invalid time",
    "10": "Exclusion condition violated",
    "12": "Too many repetitions",
    "13": "Too many components",
    "I6": "Code value not used in implementation",
    "I9": "Implementation dependent data element missing",
    "I10": "Implementation 'not used' data element present",
    "I11": "Implementation too few repetitions",
    "I12": "Implementation pattern match failure",
    "I13": "Implementation dependent 'not used' data element present",
}

# IK502-IK506: implementation transaction set syntax error codes.
TRANSACTION_ERROR = {
    "1": "Transaction set not supported",
    "2": "Transaction set trailer missing",
    "3": "Transaction set control number in header and trailer do not match",
    "4": "Number of included segments does not match actual count",
    "5": "One or more segments in error",
    "6": "Missing or invalid transaction set identifier",
    "7": "Missing or invalid transaction set control number",
    "8": "Authentication key name unknown",
    "9": "Encryption key name unknown",
    "10": "Requested service (authentication or encryption) not available",
    "11": "Unknown security recipient",
    "12": "Incorrect message length (encryption only)",
    "13": "Message authentication code failed",
    "15": "Unknown security originator",
    "16": "Syntax error in decrypted text",
    "17": "Security not supported",
    "18": "Transaction set not in functional group",
    "19": "Invalid transaction set implementation convention reference",
    "23": "Transaction set control number not unique within the functional group",
    "24": "S3E security end segment missing for S3S security start segment",
    "25": "S3S security start segment missing for S3E security end segment",
    "26": "S4E security end segment missing for S4S security start segment",
    "27": "S4S security start segment missing for S4E security end segment",
    "I5": "Implementation one or more segments in error",
    "I6": "Implementation convention not supported",
}

# AK905-AK909: functional group syntax error codes.
GROUP_ERROR = {
    "1": "Functional group not supported",
    "2": "Functional group version not supported",
    "3": "Functional group trailer missing",
    "4": "Group control number in the functional group header and trailer do not agree",
    "5": "Number of included transaction sets does not match actual count",
    "6": "Group control number violates syntax",
    "10": "Authentication key name unknown",
    "11": "Encryption key name unknown",
    "12": "Requested service (authentication or encryption) not available",
    "13": "Unknown security recipient",
    "14": "Unknown security originator",
    "15": "Syntax error in decrypted text",
    "16": "Security not supported",
    "17": "Incorrect message length (encryption only)",
    "18": "Message authentication code failed",
    "19": "Functional group control number not unique within interchange",
    "23": "S3E security end segment missing for S3S security start segment",
    "24": "S3S security start segment missing for S3E security end segment",
    "25": "S4E security end segment missing for S4S security start segment",
    "26": "S4S security start segment missing for S4E security end segment",
}


class Context(NamedTuple):
    """A CTX segment: the business unit (e.g. CLM01) or the situational trigger behind an error."""

    name: str  # CTX01-1: "SITUATIONAL TRIGGER", "CLM01", "TRN02", ...
    reference: str = ""  # CTX01-2: the business unit identifier value
    segment_id: str = ""  # CTX02
    segment_position: int | None = None  # CTX03
    loop_id: str = ""  # CTX04
    element_position: tuple[str, ...] = ()  # CTX05 components: element, component, repetition
    element_reference: tuple[str, ...] = ()  # CTX06 components: reference numbers


class ElementError(NamedTuple):
    """An IK4: one data element in error inside a segment."""

    position: int  # IK401-1
    code: str  # IK403
    reference: str = ""  # IK402: data element reference number
    component: int | None = None  # IK401-2
    repetition: int | None = None  # IK401-3
    value: str = ""  # IK404: copy of the bad data element
    contexts: tuple[Context, ...] = ()

    @property
    def meaning(self) -> str:
        return ELEMENT_ERROR.get(self.code, f"element error {self.code}")


class SegmentError(NamedTuple):
    """An IK3: one segment in error, with its element errors."""

    segment_id: str  # IK301
    position: int  # IK302: position in the transaction set, ST = 1
    code: str  # IK304
    loop_id: str = ""  # IK303
    contexts: tuple[Context, ...] = ()
    elements: tuple[ElementError, ...] = ()

    @property
    def meaning(self) -> str:
        return SEGMENT_ERROR.get(self.code, f"segment error {self.code}")


class TransactionAck(NamedTuple):
    """An AK2 loop: the verdict on one transaction set (IK5) and the errors behind it."""

    transaction_set: str  # AK201: ST01 of the acknowledged set
    control_number: str  # AK202: its ST02
    implementation: str = ""  # AK203: its ST03
    status: str = "A"  # IK501
    codes: tuple[str, ...] = ()  # IK502-IK506
    segment_errors: tuple[SegmentError, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTED_STATUSES

    @property
    def rejected(self) -> bool:
        return self.status in REJECTED_STATUSES

    @property
    def reasons(self) -> tuple[str, ...]:
        """The IK5 codes in words."""
        return tuple(TRANSACTION_ERROR.get(code, f"transaction set error {code}") for code in self.codes)


class FunctionalAck(NamedTuple):
    """One 999 transaction set: the acknowledgment of one functional group."""

    functional_id: str  # AK101: GS01 of the acknowledged group (HC, HP, HB, ...)
    group_control_number: str  # AK102: its GS06
    version: str  # AK103: its GS08
    status: str  # AK901
    sets_included: int  # AK902: what GE01 declared
    sets_received: int  # AK903
    sets_accepted: int  # AK904
    codes: tuple[str, ...] = ()  # AK905-AK909
    transactions: tuple[TransactionAck, ...] = ()

    @property
    def accepted(self) -> bool:
        """The whole group was accepted (possibly with errors noted)."""
        return self.status in ACCEPTED_STATUSES

    @property
    def rejected(self) -> bool:
        """The whole group was rejected."""
        return self.status in REJECTED_STATUSES

    @property
    def partially_accepted(self) -> bool:
        return self.status == "P"

    @property
    def rejected_transactions(self) -> tuple[TransactionAck, ...]:
        return tuple(tx for tx in self.transactions if tx.rejected)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The AK9 codes in words."""
        return tuple(GROUP_ERROR.get(code, f"functional group error {code}") for code in self.codes)

    def transaction(self, control_number: str) -> TransactionAck | None:
        """The acknowledgment of the transaction set with this ST02, if it is in this group."""
        for tx in self.transactions:
            if tx.control_number == control_number:
                return tx
        return None


def group_status(received: int, accepted: int, errors_noted: bool, group_codes: tuple[str, ...]) -> str:
    """AK901 from the set verdicts: R on group-level errors or nothing accepted, P when some, else A/E."""
    if group_codes or (received and not accepted):
        return "R"
    if accepted < received:
        return "P"
    return "E" if errors_noted else "A"
