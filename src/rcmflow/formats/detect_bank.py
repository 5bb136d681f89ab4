"""Tell a bank file's format from its first bytes, without parsing it (for the document store)."""

from __future__ import annotations

import csv
import re

from rcmflow.formats.lockbox_csv import REQUIRED, column_map

BAI2 = "bai2"
LOCKBOX_CSV = "lockbox_csv"
_HEAD = 8 * 1024
# An 01 file header: record code, then sender, receiver, YYMMDD creation date.
_BAI2_HEADER = re.compile(r"01,[^,\r\n]*,[^,\r\n]*,[0-9]{6},")


def detect_bank_type(content: bytes) -> str | None:
    """"bai2", "lockbox_csv", or None when the bytes are neither."""
    head = content[:_HEAD].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n\x00")
    if _BAI2_HEADER.match(head):
        return BAI2
    first_line = head.splitlines()[0] if head else ""
    try:
        header = next(csv.reader([first_line]), [])
    except csv.Error:
        return None
    columns = column_map(header)
    return LOCKBOX_CSV if all(name in columns for name in REQUIRED) else None
