"""Read a licensed CPT descriptor file that the user supplies (CPT is the AMA's copyright and never ships).

One code and its descriptor a line, separated by a tab or a pipe, as in the AMA's data files (LONGULT.txt,
MEDU.txt, SHORTU.txt)::

    99213<TAB>Office or other outpatient visit for the evaluation and management of an established patient...
    0001U|Red blood cell antigen typing, DNA, human erythrocyte antigen gene analysis...

Blank lines are skipped, and so is a first line that is a header (``Code<TAB>Descriptor``). Anything else that
is not a five-character code with a descriptor, or a code listed twice, raises ``InputError`` naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from rcmflow.domain.coding import CptDescriptors
from rcmflow.errors import InputError

_CODE = re.compile(r"[0-9A-Z]{5}")
_SEPARATOR = re.compile(r"[\t|]")
_HEADER_NAMES = frozenset({"CODE", "CPT", "CPT CODE", "HCPCS", "HCPCS CODE"})


def parse_cpt_text(text: str, *, source: str = "<text>") -> CptDescriptors:
    """The descriptors of a CPT file's text."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if lines and _SEPARATOR.split(lines[0][1], maxsplit=1)[0].strip().upper() in _HEADER_NAMES:
        lines = lines[1:]
    descriptors: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for number, line in lines:
        parts = _SEPARATOR.split(line, maxsplit=1)
        if len(parts) < 2:
            raise _error(source, number, "expected a code and a descriptor separated by a tab or |")
        code, descriptor = parts[0].strip().upper(), parts[1].strip()
        if not _CODE.fullmatch(code):
            raise _error(source, number, f"{code!r} is not a five-character CPT code")
        if not descriptor:
            raise _error(source, number, f"code {code} has no descriptor")
        if code in descriptors:
            raise _error(source, number, f"code {code} is listed again (first on line {first_seen[code]})")
        descriptors[code] = descriptor
        first_seen[code] = number
    return CptDescriptors(descriptors, source=source)


def _error(source: str, line: int, problem: str) -> InputError:
    return InputError(f"CPT file {source}: line {line}: {problem}", source=source, line=line)


def load_cpt_descriptors(path: str | Path) -> CptDescriptors:
    """The CPT descriptors of a licensed file (UTF-8, else Windows-1252 as the AMA's text files may be)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"CPT file {path}: cannot be read ({exc.strerror or exc})", source=str(path)) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return parse_cpt_text(text, source=str(path))
