"""Reading an X12 document into what intake stores, and reading the next files ahead in a second process.

Intake of a folder is a pipeline of two kinds of work: reading a file (tokenising, building records, content
digests: pure CPU) and storing and posting it (database work and the Python around it). ``ReadAhead`` reads
file n+1 in a worker process while the caller stores and posts file n, so on two cores the reading of every file
but the first costs the caller only the unpickling of its result. The caller keeps the order and the
transactions: it reads each file's bytes itself, in turn, and uses the worker's reading only when the worker read
the very same bytes (same SHA-256); otherwise, or when the worker fails, it reads the file itself.

This module imports only the X12 reader, so the worker process starts in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from rcmflow.domain.acknowledgment import FunctionalAck
from rcmflow.domain.charges import ChargeFile
from rcmflow.domain.claim import ClaimBatch
from rcmflow.domain.claim_status import ClaimStatusResponse
from rcmflow.domain.deposit import Deposit
from rcmflow.domain.eligibility import EligibilityResponse
from rcmflow.domain.remittance import Remittance
from rcmflow.formats.x12.detect import NOT_X12, detect_type
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.reading import gc_paused
from rcmflow.formats.x12.summary import document_summary

log = logging.getLogger(__name__)


class DocumentContents(NamedTuple):
    """What one read of a document gives: its summary, the business records it carries and the content digest
    of each remittance (of its segments, as read)."""

    summary: dict[str, Any]
    remittances: list[Remittance]
    deposits: list[Deposit]
    claim_batches: list[ClaimBatch]
    digests: tuple[str, ...] = ()
    charge_file: ChargeFile | None = None
    acknowledgments: list[FunctionalAck] = []  # 999
    claim_statuses: list[ClaimStatusResponse] = []  # 277CA
    eligibility: list[EligibilityResponse] = []  # 271
    status_answers: list[ClaimStatusResponse] = []  # 277 (claim status follow-up)


def read_x12(filename: str, content: bytes) -> DocumentContents:
    """The summary and the records of an X12 document (835 remittances, 837 claims, 999, 277, 271), read once."""
    document = parse(content, digests=True)
    return DocumentContents(document_summary(filename, document), document.of_type("835"), [],
                            document.of_type("837P") + document.of_type("837I"),
                            tuple(document.digests_of_type("835")), None, document.of_type("999"),
                            document.of_type("277CA"), document.of_type("271"), document.of_type("277"))


def content_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class _Read(NamedTuple):
    sha256: str
    detected: str
    contents: DocumentContents


def _read_ahead(path: str) -> _Read | None:
    """In the worker: the reading of an X12 file (None for any other file, read by the caller as it comes)."""
    content = Path(path).read_bytes()
    detected = detect_type(content)
    if detected == NOT_X12:
        return None
    return _Read(content_sha256(content), detected, read_x12(Path(path).name, content))


# Worker protocol, over its stdin and stdout: each message is an 8-byte big-endian length and a pickle; a request is
# a path (str), an answer the ``_Read`` of it (or None). The worker runs as ``python -m`` of this module: a plain
# child process (not ``multiprocessing``, which would import the caller's main script again in the child, or fork
# the caller with its database connections and threads). It ends when its stdin closes, e.g. when the caller dies.
_LENGTH = struct.Struct("!Q")


class _RecordPickler(pickle.Pickler):
    """Pickles the reader's records (NamedTuples) as ``tuple.__new__(cls, values)``: unpickled in C, where the
    default goes through each NamedTuple's Python-level ``__new__``, once per record of the file. The worker
    pays a little more to pickle; the caller, whose time is the one that counts, less to unpickle."""

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is not tuple and isinstance(obj, tuple) and hasattr(cls, "_fields"):
            return tuple.__new__, (cls, tuple(obj))
        return NotImplemented


def _send(stream: BinaryIO, message: object) -> None:
    buffer = io.BytesIO()
    _RecordPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
    data = buffer.getbuffer()
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the read-ahead worker closed its output")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the read-ahead worker closed its output")
    # Acyclic records by the hundred thousand: the cyclic GC paused, as for parsing (``gc_paused``).
    with gc_paused():
        return pickle.loads(data)  # noqa: S301 - our own child process's answer, over its private pipe


def _serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """The worker's loop: answer each path with its reading, None when it cannot be read ahead."""
    while True:
        try:
            path = _receive(requests)
        except EOFError:
            return
        try:
            answer = _read_ahead(path)
        except Exception:  # noqa: BLE001 - the caller reads the file itself, and reports what it finds
            answer = None
        _send(answers, answer)


class ReadAhead:
    """Reads files ahead in one worker process (``submit``), for the caller to ``take`` in the same order.

    A context manager: the worker is started on the first ``submit`` and stopped on exit. Anything the worker
    cannot do (an unreadable file, a crash, a file that changed between the two reads) only means the caller
    reads that file itself."""

    def __init__(self) -> None:
        self._worker: subprocess.Popen[bytes] | None = None
        self._pending: deque[str] = deque()  # paths asked for, answers not taken yet, in order
        # Each answer is received (read off the pipe and unpickled) on a thread of its own as soon as the worker
        # sends it, while the caller works on the file before: unpickling a file's records is 4% of posting it,
        # and it runs while the caller's SQLite statements, which release the GIL, step. One thread: in order.
        self._receiver: ThreadPoolExecutor | None = None
        self._answers: deque[Future[Any]] = deque()  # one per path in ``_pending``
        self._broken = False

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        worker, self._worker = self._worker, None
        receiver, self._receiver = self._receiver, None
        self._pending.clear()
        self._answers.clear()
        if worker is None:
            return
        try:
            # Its input first, which ends its loop once the answer it is writing is written (the receiver reads
            # every answer, so no write blocks); a worker that does not end is killed.
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            worker.kill()
            worker.wait()
        if receiver is not None:
            receiver.shutdown(wait=True, cancel_futures=True)  # a read under way ends at the pipe's end
        if worker.stdout is not None:
            worker.stdout.close()

    def submit(self, path: Path) -> None:
        """Start reading ``path`` in the worker."""
        if self._broken:
            return
        try:
            if self._worker is None:
                # The package's own root first on the worker's path: it imports rcmflow as this process did.
                root = str(Path(__file__).resolve().parents[2])
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
                self._worker = subprocess.Popen(  # noqa: S603 - this interpreter, this module, no shell
                    [sys.executable, "-m", "rcmflow.services.x12_reading"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            assert self._worker.stdin is not None
            _send(self._worker.stdin, str(path))
            if self._receiver is None:
                self._receiver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rcmflow-read-ahead")
            self._answers.append(self._receiver.submit(_receive, self._worker.stdout))
            self._pending.append(str(path))
        except OSError:
            log.debug("reading ahead is unavailable", exc_info=True)
            self._give_up()

    def take(self, path: Path, content: bytes, detected: str) -> DocumentContents | None:
        """The worker's reading of ``path`` when it read exactly ``content`` as ``detected``, else None."""
        if str(path) not in self._pending or self._worker is None or self._worker.stdout is None:
            return None
        try:
            while True:  # answers come in request order: skip those of paths the caller did not take
                asked = self._pending.popleft()
                read = self._answers.popleft().result()
                if asked == str(path):
                    break
        except Exception:  # noqa: BLE001 - a broken worker or answer: the caller reads the file itself
            log.debug("reading %s ahead failed", path.name, exc_info=True)
            self._give_up()
            return None
        if read is None or read.detected != detected or read.sha256 != content_sha256(content):
            return None
        return read.contents

    def peek(self, path: Path) -> DocumentContents | None:
        """The worker's reading of ``path`` when it is the next answer and has arrived already, else None; never
        waits, takes nothing (``take`` still checks it against the bytes the caller reads)."""
        if not self._pending or self._pending[0] != str(path) or not self._answers[0].done():
            return None
        try:
            read = self._answers[0].result()
        except Exception:  # noqa: BLE001 - ``take`` reports it
            return None
        return None if read is None else read.contents

    def _give_up(self) -> None:
        self._broken = True
        self.close()


def read_files_ahead(paths: list[Path], read: Callable[[Path], bytes], ahead: ReadAhead,
                     detect: Callable[[bytes], str]) -> Iterator[tuple[Path, bytes, str, DocumentContents | None]]:
    """(path, content, detected, contents) for each path in order, reading path n+1 in the worker while the
    caller works on path n; ``contents`` is None when the caller must read the file itself. The first file is
    read by the caller (nothing to overlap with yet). ``read`` raises as it would in a plain loop, in turn."""
    for index, path in enumerate(paths):
        if index + 1 < len(paths):
            ahead.submit(paths[index + 1])
        content = read(path)
        detected = detect(content)
        yield path, content, detected, ahead.take(path, content, detected) if index else None


if __name__ == "__main__":
    # Run as a script this file is ``__main__``: serve with the module imported under its own name, so that what
    # the worker pickles names classes the caller can load (not ``__main__``'s copies).
    from rcmflow.services.x12_reading import _serve as serve

    serve(sys.stdin.buffer, sys.stdout.buffer)
