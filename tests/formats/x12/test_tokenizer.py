"""The tokenizer: delimiters from each ISA, line breaks, several interchanges, and chunk independence."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rcmflow.formats.x12.issues import ERROR, WARNING
from rcmflow.formats.x12.tokenizer import (
    ISA_LENGTH,
    Delimiters,
    IsaProblem,
    Tokenizer,
    iter_segments,
    read_delimiters,
)
from tests.formats.x12.builders import BODY_835, BODY_837P, IMPL_837P, interchange, isa

UNUSUAL = [
    # element, component, repetition, terminator, line break after it
    ("*", ":", "^", "~", "\n"),
    ("|", "}", "!", "\n", ""),
    ("|", ">", "!", "'", "\r\n"),
    ("*", ">", "^", "'", "\r"),
    ("^", "\\", "!", "~", ""),
    ("!", "}", "^", "\n", "\r"),
]


def tokens(data: bytes, chunk_size: int | None = None) -> tuple[list[tuple[Delimiters, str]], list, int, list[int]]:
    """Every segment with its delimiters, the issues, the segment count, and the envelope positions
    (file-wide, 0-based) of a tokenizer run, from bytes at once or streamed in chunks."""
    tokenizer = Tokenizer(io.BytesIO(data), chunk_size=chunk_size) if chunk_size else Tokenizer(data)
    segments: list[tuple[Delimiters, str]] = []
    envelope: list[int] = []
    for batch in tokenizer:
        envelope += [len(segments) + k for k in batch.envelope]
        segments += [(batch.delimiters, segment) for segment in batch.segments]
    return segments, tokenizer.issues, tokenizer.segment_count, envelope


def elements(data: bytes) -> list[list[str]]:
    """Each segment split into elements with its own delimiters, the ISA left out (it spells them)."""
    return [segment.split(delimiters.element) for delimiters, segment in tokens(data)[0] if segment[:3] != "ISA"]


@pytest.mark.parametrize(("element", "component", "repetition", "terminator", "line_break"), UNUSUAL)
def test_delimiters_are_taken_from_the_isa(element: str, component: str, repetition: str, terminator: str,
                                           line_break: str) -> None:
    data = interchange(*BODY_835, element=element, component=component, repetition=repetition,
                       terminator=terminator, line_break=line_break)
    segments, issues, count, envelope = tokens(data)
    assert issues == []
    assert {delimiters for delimiters, _ in segments} == {Delimiters(element, component, repetition, terminator)}
    assert count == len(BODY_835) + 6
    assert envelope == [0, 1, 2, count - 3, count - 2, count - 1]
    expected = elements(interchange(*BODY_835, line_break=""))
    translated = [[part.replace(component, ":") for part in split] for split in elements(data)]
    assert translated == expected


def test_read_delimiters_of_a_padded_and_an_unpadded_isa() -> None:
    assert read_delimiters(isa() + "~") == (Delimiters("*", ":", "^", "~"), ISA_LENGTH)
    unpadded = isa(pad=False)
    assert read_delimiters(unpadded + "~GS") == (Delimiters("*", ":", "^", "~"), len(unpadded) + 1)
    assert read_delimiters("\n\n" + isa(element="|", component="}", repetition="!") + "'", 2) == (
        Delimiters("|", "}", "!", "'"), ISA_LENGTH + 2)


def test_isa11_of_4010_is_not_a_repetition_separator() -> None:
    header = isa().replace("*^*00501*", "*U*00401*")
    assert read_delimiters(header + "~")[0] == Delimiters("*", ":", "", "~")


@pytest.mark.parametrize(("text", "message"), [
    ("ISX*00", "does not start with ISA"),
    ("ISA0" + isa()[4:] + "~", "'0' as element separator"),
    ("ISA " + isa()[4:] + "~", "' ' as element separator"),
    (isa(component="*") + "~", "same character for two delimiters"),
    (isa(component="A") + "~", "letter or digit"),
    (isa() + "A", "letter or digit"),
    (isa(), "ends inside the ISA"),
    ("ISA*00*          *00*", "fewer than 16 elements"),
])
def test_isa_problems(text: str, message: str) -> None:
    with pytest.raises(IsaProblem, match=message):
        read_delimiters(text)


@pytest.mark.parametrize("line_break", ["", "\r", "\n", "\r\n", "\r\n\r\n"])
def test_line_breaks_after_terminators_are_not_data(line_break: str) -> None:
    data = interchange(*BODY_835, line_break=line_break)
    assert tokens(data)[1] == []
    assert elements(data) == elements(interchange(*BODY_835, line_break=""))


def test_a_newline_terminator_with_crlf_line_ends() -> None:
    data = interchange(*BODY_835, terminator="\n", line_break="").replace(b"\n", b"\r\n")
    assert elements(data) == elements(interchange(*BODY_835, line_break=""))


def three_interchanges() -> bytes:
    """Three interchanges, each with its own delimiters and line ends, one after the other."""
    return (interchange(*BODY_835, element="|", component="}", repetition="!", terminator="\n", line_break="")
            + interchange(*BODY_835, component=">", terminator="'", line_break="\r\n", control="000000002")
            + interchange(*BODY_837P, st01="837", implementation=IMPL_837P, pad=False, control="000000003"))


def test_several_interchanges_with_different_delimiters() -> None:
    segments, issues, count, envelope = tokens(three_interchanges())
    assert issues == []
    sizes = [len(BODY_835) + 6, len(BODY_835) + 6, len(BODY_837P) + 6]
    assert count == sum(sizes)
    runs: list[tuple[Delimiters, int]] = []
    for delimiters, _ in segments:
        if runs and runs[-1][0] == delimiters:
            runs[-1] = (delimiters, runs[-1][1] + 1)
        else:
            runs.append((delimiters, 1))
    assert runs == [(Delimiters("|", "}", "!", "\n"), sizes[0]), (Delimiters("*", ">", "^", "'"), sizes[1]),
                    (Delimiters("*", ":", "^", "~"), sizes[2])]
    starts = [0, sizes[0], sizes[0] + sizes[1]]
    assert envelope == [start + k for start, size in zip(starts, sizes, strict=True)
                        for k in (0, 1, 2, size - 3, size - 2, size - 1)]


def test_empty_segments_are_skipped_with_a_warning() -> None:
    data = interchange(*BODY_835, line_break="").replace(b"TRN*", b"~TRN*", 1)
    segments, issues, count, _ = tokens(data)
    assert count == len(BODY_835) + 6
    assert [(i.segment_index, i.code, i.severity) for i in issues] == [(5, "unexpected_segment", WARNING)]  # before TRN


CHUNKED_INPUTS = {
    "plain": interchange(*BODY_835),
    "unusual": interchange(*BODY_835, element="|", component="}", repetition="!", terminator="\n", line_break=""),
    "crlf apostrophe": interchange(*BODY_835, terminator="'", line_break="\r\n"),
    "three interchanges": three_interchanges(),
    "same delimiters twice": interchange(*BODY_835) + interchange(*BODY_835, control="000000002"),
    "bom and blank lines": b"\xef\xbb\xbf\r\n\r\n   \n" + interchange(*BODY_835),
    "unpadded": interchange(*BODY_835, pad=False),
    "multibyte text": interchange(*BODY_835).replace(b"DOE", "DØÉ".encode()),
    "truncated mid segment": interchange(*BODY_835)[:-40],
    "doubled terminator": interchange(*BODY_835, line_break="").replace(b"CLP*", b"~CLP*"),
    "not x12": b"%PDF-1.7\n" + b"x" * 300,
    "blank": b" \r\n" * 50,
}


@pytest.mark.parametrize("name", sorted(CHUNKED_INPUTS))
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7, 13, 64, 105, 106, 107, 170, 4096])
def test_results_do_not_depend_on_chunk_boundaries(name: str, chunk_size: int) -> None:
    data = CHUNKED_INPUTS[name]
    assert tokens(data, chunk_size) == tokens(data)


def test_a_file_path_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "era.835"
    path.write_bytes(three_interchanges())
    tokenizer = Tokenizer(path, chunk_size=11)
    streamed = [(batch.delimiters, segment) for batch in tokenizer for segment in batch.segments]
    assert streamed == tokens(three_interchanges())[0]
    assert tokenizer.segment_count == 3 * 6 + 2 * len(BODY_835) + len(BODY_837P)
    assert tokenizer.bytes_read == len(three_interchanges())


def test_invalid_bytes_are_replaced_and_located_at_their_segment() -> None:
    data = interchange(*BODY_835).replace(b"DOE*JANE", b"D\xd6E*JANE")
    for chunk_size in (None, 7, 4096):
        segments, issues, _, _ = tokens(data, chunk_size)
        assert [(i.segment_index, i.code, i.severity) for i in issues] == [(17, "invalid_character", WARNING)]
        assert segments[16][1] == "NM1*QC*1*D\ufffdE*JANE****MI*MEMBER01"


@pytest.mark.parametrize("data", [b"", b"   \r\n\t  ", b"\x00\x00", b"\xef\xbb\xbf"])
def test_empty_input(data: bytes) -> None:
    segments, issues, count, _ = tokens(data)
    assert (segments, count) == ([], 0)
    assert [(i.segment_index, i.code, i.severity) for i in issues] == [(0, "empty", ERROR)]


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
    b"Dear provider, please find the remittance for January attached.",
    interchange(*BODY_835).decode().encode("utf-16"),
    b"GS*HP*SENDER*RECEIVER*20260115*1200*1*X*005010X221A1~",
    b"<?xml version='1.0'?><Remittance/>",
])
def test_not_x12(data: bytes) -> None:
    for chunk_size in (None, 5):
        segments, issues, _, _ = tokens(data, chunk_size)
        assert segments == []
        assert [(i.segment_index, i.code) for i in issues if i.severity == ERROR] == [(0, "not_x12")]


def test_truncated_final_segment() -> None:
    data = interchange(*BODY_835)
    cut = data[: data.index(b"PLB*") + 10]
    segments, issues, count, _ = tokens(cut)
    assert count == 2 + 1 + len(BODY_835) - 1  # ISA, GS, ST and the body up to the cut PLB
    assert [(i.segment_index, i.segment_id, i.code) for i in issues] == [(count + 1, "PLB", "truncated")]


def test_iter_segments_splits_elements() -> None:
    split = list(iter_segments(interchange("BPR*I*1", element="|", terminator="\n", line_break="")))
    assert [fields for _, fields in split][2:4] == [["ST", "835", "0001", "005010X221A1"], ["BPR", "I", "1"]]
    assert split[0][0] == Delimiters("|", ":", "^", "\n")
