"""Reading ahead: the worker's reading of a file is the caller's own, or nothing (and the caller reads it)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from rcmflow.services.intake import detect, read_document
from rcmflow.services.x12_reading import ReadAhead, read_files_ahead
from tests.x12_text import remittance_835


def _files(tmp_path: Path, count: int) -> list[Path]:
    paths = []
    for number in range(count):
        path = tmp_path / f"era-{number}.835"
        path.write_text(remittance_835(trace=f"EFT{number}"))
        paths.append(path)
    return paths


def test_files_read_ahead_are_read_as_the_caller_reads_them(tmp_path: Path) -> None:
    paths = [*_files(tmp_path, 3), tmp_path / "notes.txt"]
    paths[-1].write_bytes(b"not a remittance")
    with ReadAhead() as ahead:
        read = list(read_files_ahead(paths, Path.read_bytes, ahead, detect))
    assert [path for path, *_ in read] == paths
    first, *rest = read
    assert first[3] is None  # the first file: nothing to overlap with, read by the caller
    for path, content, detected, contents in rest[:-1]:
        assert contents is not None and contents == read_document(path.name, detected, content)
        assert contents.remittances and contents.digests
    assert rest[-1][3] is None  # not X12: left to the caller


def test_a_file_changed_after_the_worker_read_it_is_read_again_by_the_caller(tmp_path: Path) -> None:
    [path] = _files(tmp_path, 1)
    with ReadAhead() as ahead:
        ahead.submit(path)
        ahead.submit(path.with_name("other.835"))  # skipped over when the caller takes the one after it
        assert ahead.take(path.with_name("never-asked.835"), b"", "835") is None
        changed = remittance_835(trace="EFT-CHANGED").encode()
        assert ahead.take(path, changed, detect(changed)) is None  # the worker read other bytes
        path.write_bytes(changed)
        ahead.submit(path)
        assert ahead.take(path, changed, detect(changed)) == read_document(path.name, "835", changed)


def test_without_a_worker_every_file_is_read_by_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    paths = _files(tmp_path, 3)
    with ReadAhead() as ahead:
        read = list(read_files_ahead(paths, Path.read_bytes, ahead, detect))
    assert [contents for *_, contents in read] == [None, None, None]


def test_a_read_error_is_raised_in_turn(tmp_path: Path) -> None:
    paths = _files(tmp_path, 3)
    paths[1].unlink()
    seen = []
    with ReadAhead() as ahead, pytest.raises(FileNotFoundError):
        for path, *_ in read_files_ahead(paths, Path.read_bytes, ahead, detect):
            seen.append(path)
    assert seen == paths[:1]


def test_closing_with_answers_not_taken_ends_the_worker_and_the_receiver(tmp_path: Path) -> None:
    """A caller that stops early (an error in its loop) leaves answers on their way: closing still ends the
    worker, and the thread receiving its answers, at once; none is left reading a pipe."""
    paths = _files(tmp_path, 4)
    ahead = ReadAhead()
    for path in paths:
        ahead.submit(path)
    worker, receiver = ahead._worker, ahead._receiver
    assert worker is not None and receiver is not None
    content = paths[0].read_bytes()
    assert ahead.take(paths[0], content, detect(content)) is not None
    started = time.monotonic()
    ahead.close()
    assert time.monotonic() - started < 4  # not the 5 s kill timeout: the worker ended by itself
    assert worker.poll() is not None
    assert not any(thread.name.startswith("rcmflow-read-ahead") for thread in threading.enumerate())
