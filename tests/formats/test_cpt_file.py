"""Reading a user-supplied licensed CPT descriptor file (the descriptors here are made up, not AMA text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcmflow.errors import InputError
from rcmflow.formats.cpt_file import load_cpt_descriptors, parse_cpt_text


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "LONGULT.txt"
    path.write_bytes(text.encode(encoding))
    return path


def test_tab_and_pipe_separated_lines_with_blank_lines(tmp_path: Path) -> None:
    text = ("99213\tOffice visit, established patient\r\n\r\n"
            "0001U|Red cell antigen typing | by DNA\n  \n3074F\tRecent BP\n")
    cpt = load_cpt_descriptors(write(tmp_path, text))
    assert cpt.loaded and len(cpt) == 3
    assert cpt.source == str(tmp_path / "LONGULT.txt")
    assert cpt.descriptor("99213") == "Office visit, established patient"
    assert cpt.descriptor("0001U") == "Red cell antigen typing | by DNA"  # only the first separator splits
    assert cpt.known("3074F") and not cpt.known("99214")


def test_a_header_line_is_skipped() -> None:
    cpt = parse_cpt_text("Code\tDescriptor\n99213\tOffice visit\n")
    assert len(cpt) == 1 and cpt.known("99213")


def test_a_file_with_a_byte_order_mark_or_in_windows_1252(tmp_path: Path) -> None:
    assert load_cpt_descriptors(write(tmp_path, "\ufeff99213\tOffice visit\n")).known("99213")
    cpt = load_cpt_descriptors(write(tmp_path, "99213\tOffice visit \u2013 established\n", encoding="cp1252"))
    assert cpt.descriptor("99213") == "Office visit \u2013 established"


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("99213\tOffice visit\n99214 Office visit\n", 2, "expected a code and a descriptor separated by a tab or |"),
    ("99213\tOffice visit\n\n9921\tOffice visit\n", 3, "'9921' is not a five-character CPT code"),
    ("99213\tOffice visit\n99214\t  \n", 2, "code 99214 has no descriptor"),
    ("99213\tOffice visit\n99214\tOther\n99213\tAgain\n", 3, "code 99213 is listed again (first on line 1)"),
    ("Code\tDescriptor\nCode\tDescriptor\n", 2, "'CODE' is not a five-character CPT code"),
])
def test_a_malformed_line_is_named(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_cpt_descriptors(path)
    assert str(caught.value) == f"CPT file {path}: line {line}: {problem}"
    assert caught.value.params["line"] == line


def test_an_empty_file_loads_nothing() -> None:
    cpt = parse_cpt_text("\n\n")
    assert not cpt.loaded and not cpt.known("99213")


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        load_cpt_descriptors(tmp_path / "missing.txt")
