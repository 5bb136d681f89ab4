"""MLLP over real TCP sockets on 127.0.0.1: framing however the bytes arrive, several messages per connection,
concurrent connections, oversized messages and failing handlers answered without losing the connection, and a
graceful stop. The server runs in a background thread with its own event loop (asyncio.run)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from rcmflow.adapters.channels.mllp import Frame, MllpFramer, frame_message, send_mllp, serve_mllp
from rcmflow.formats.hl7_ack import ack_for
from rcmflow.formats.hl7_dft import HL7BillingProvider, read_dft_message, split_message

TIMEOUT = 10.0  # generous: only a hang should ever reach it
HOST = "127.0.0.1"


def hl7(control_id: str, extra: str = "") -> bytes:
    return (f"MSH|^~\\&|EPIC|VALLEYCLINIC|RCMFLOW|BILLING|20240304153000||DFT^P03^DFT_P03|{control_id}|P|2.5.1\r"
            f"PID|1||MRN4471^^^VALLEY^MR||Rivera^Ana\r{extra}").encode()


def accept_all(message: bytes) -> str:
    return ack_for(message, "AA")


def answer(reply: bytes) -> tuple[str, str, str]:
    """(MSA-1, MSA-2, MSA-3) of an ACK."""
    parsed = split_message(reply.decode())
    msa = parsed.first("MSA")
    return parsed.value(msa, 1), parsed.value(msa, 2), parsed.value(msa, 3)


class RunningServer:
    """serve_mllp in a thread of its own, on an ephemeral port."""

    def __init__(self, handler: Callable[[bytes], str], **options: Any) -> None:
        self.port = 0
        self._listening = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, args=(handler, options), name="mllp-test-server")

    def _run(self, handler: Callable[[bytes], str], options: dict[str, Any]) -> None:
        try:
            asyncio.run(self._serve(handler, options))
        except BaseException as exc:  # reported to the test by start() / stop()
            self._error = exc
            self._listening.set()

    async def _serve(self, handler: Callable[[bytes], str], options: dict[str, Any]) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        ready = asyncio.Event()
        await serve_mllp(HOST, 0, handler, ready=ready, stop=self._stop, on_listening=self._bound, **options)
        assert ready.is_set()

    def _bound(self, port: int) -> None:
        self.port = port
        self._listening.set()

    def start(self) -> RunningServer:
        self._thread.start()
        assert self._listening.wait(TIMEOUT), "the server did not start listening"
        if self._error is not None:
            raise self._error
        return self

    def request_stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.request_stop()
            self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "the server did not stop"
        if self._error is not None:
            raise self._error

    def send(self, messages: list[bytes]) -> list[bytes]:
        return send_mllp(HOST, self.port, messages, timeout=TIMEOUT)

    def connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


@pytest.fixture
def serve() -> Iterator[Callable[..., RunningServer]]:
    servers: list[RunningServer] = []

    def start(handler: Callable[[bytes], str] = accept_all, **options: Any) -> RunningServer:
        server = RunningServer(handler, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def receive_frame(sock: socket.socket, framer: MllpFramer | None = None) -> bytes:
    """Read from a raw socket until one frame is complete."""
    framer = framer or MllpFramer()
    while True:
        data = sock.recv(65536)
        assert data, "the server closed the connection"
        frames = framer.feed(data)
        if frames:
            assert len(frames) == 1
            return frames[0].payload


# ---- framing -------------------------------------------------------------------------------------


def test_frames_are_found_however_the_stream_is_cut() -> None:
    stream = b"noise" + frame_message(b"MSH|1") + b"\r\n" + frame_message(b"MSH|2") + frame_message(b"MSH|3")
    expected = [Frame(b"MSH|1"), Frame(b"MSH|2"), Frame(b"MSH|3")]
    assert MllpFramer().feed(stream) == expected
    byte_by_byte = MllpFramer()
    assert [frame for n in range(len(stream)) for frame in byte_by_byte.feed(stream[n:n + 1])] == expected
    for cut in range(len(stream)):
        framer = MllpFramer()
        assert framer.feed(stream[:cut]) + framer.feed(stream[cut:]) == expected


def test_a_start_block_inside_a_frame_starts_over_and_stray_bytes_are_dropped() -> None:
    framer = MllpFramer()
    assert framer.feed(b"\x1c\rjunk\x0bMSH|abandoned\x0bMSH|kept\x1c") == [Frame(b"MSH|kept")]
    assert framer.feed(b"\r\x1c\rmore junk") == []


def test_an_oversized_frame_keeps_only_its_head_and_the_next_frame_is_normal() -> None:
    framer = MllpFramer(max_message_bytes=10_000)
    big = b"MSH|^~\\&|" + b"x" * 50_000
    frames = [frame for n in range(0, len(big), 7_000) for frame in framer.feed(
        (b"\x0b" if n == 0 else b"") + big[n:n + 7_000])]
    frames += framer.feed(b"\x1c\r" + frame_message(b"MSH|small"))
    assert [(len(frame.payload), frame.oversized) for frame in frames] == [(4096, True), (9, False)]
    assert frames[0].payload == big[:4096]
    exact = MllpFramer(max_message_bytes=5)
    assert exact.feed(frame_message(b"12345") + frame_message(b"123456")) == [Frame(b"12345"), Frame(b"123456", True)]


def test_a_message_holding_a_framing_byte_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="0x0B or 0x1C"):
        frame_message(b"MSH|\x1c")
    with pytest.raises(ValueError, match="positive"):
        MllpFramer(0)


# ---- the server ----------------------------------------------------------------------------------


def test_several_messages_on_one_connection(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    replies = server.send([hl7("M1"), hl7("M2"), hl7("M3")])
    assert [answer(reply)[:2] for reply in replies] == [("AA", "M1"), ("AA", "M2"), ("AA", "M3")]


def test_two_connections_are_served_at_once(serve: Callable[..., RunningServer]) -> None:
    # Each handler call waits for the other: only a server handling both connections concurrently gets past.
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    def meet(message: bytes) -> str:
        barrier.wait()
        return ack_for(message, "AA")

    server = serve(meet)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(server.send, [[hl7("LEFT")], [hl7("RIGHT")]]))
    assert [answer(replies[0])[:2] for replies in results] == [("AA", "LEFT"), ("AA", "RIGHT")]


def test_a_message_split_across_tcp_writes(serve: Callable[..., RunningServer]) -> None:
    received: list[bytes] = []

    def record(message: bytes) -> str:
        received.append(message)
        return ack_for(message, "AA")

    server = serve(record)
    framed = frame_message(hl7("SPLIT", "FT1|1|CHG0001||20240304||CG|99213\r"))
    with server.connect() as sock:
        # Cuts inside the start block's neighbourhood, the body, and between <FS> and <CR>.
        for piece in (framed[:1], framed[1:5], framed[5:60], framed[60:-1], framed[-1:]):
            sock.sendall(piece)
            time.sleep(0.02)  # lets each piece arrive as its own read; correctness does not depend on it
        assert answer(receive_frame(sock))[:2] == ("AA", "SPLIT")
    assert received == [framed[1:-2]]


def test_bytes_before_the_start_block_are_ignored(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    with server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n" + frame_message(hl7("AFTER-NOISE")))
        assert answer(receive_frame(sock))[:2] == ("AA", "AFTER-NOISE")
        sock.sendall(b"\r\n\x00garbage between frames" + frame_message(hl7("NEXT")))
        assert answer(receive_frame(sock))[:2] == ("AA", "NEXT")


def test_an_oversized_message_is_rejected_and_the_connection_stays_usable(
        serve: Callable[..., RunningServer]) -> None:
    calls: list[bytes] = []

    def record(message: bytes) -> str:
        calls.append(message)
        return ack_for(message, "AA")

    server = serve(record, max_message_bytes=2_000)
    big = hl7("BIG", "NTE|1||" + "x" * 10_000 + "\r")
    replies = server.send([big, hl7("SMALL")])
    assert answer(replies[0]) == ("AR", "BIG", "message larger than 2000 bytes refused")
    assert answer(replies[1])[:2] == ("AA", "SMALL")
    assert calls == [hl7("SMALL")]


def test_the_default_limit_is_one_megabyte(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    near = hl7("NEAR", "NTE|1||" + "x" * 990_000 + "\r")
    over = hl7("OVER", "NTE|1||" + "x" * 1_000_000 + "\r")
    assert [answer(reply)[:2] for reply in server.send([near, over])] == [("AA", "NEAR"), ("AR", "OVER")]


def test_a_failing_handler_is_answered_ae_with_the_exception_class(serve: Callable[..., RunningServer],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    def fragile(message: bytes) -> str:
        if b"|BOOM|" in message:
            raise LookupError("the database said no")
        if b"|WRONG|" in message:
            return message  # type: ignore[return-value]  # bytes, not the ACK text
        return ack_for(message, "AA")

    server = serve(fragile)
    replies = server.send([hl7("BOOM"), hl7("WRONG"), hl7("FINE")])
    assert [answer(reply) for reply in replies] == [("AE", "BOOM", "LookupError"), ("AE", "WRONG", "TypeError"),
                                                    ("AA", "FINE", "")]
    assert "the database said no" not in replies[0].decode()  # details go to the log, not to the sender
    assert "MLLP handler failed" in caplog.text and "the database said no" in caplog.text


def test_a_stop_lets_the_message_in_hand_finish_and_closes_idle_connections(
        serve: Callable[..., RunningServer]) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(message: bytes) -> str:
        entered.set()
        assert release.wait(TIMEOUT)
        return ack_for(message, "AA")

    server = serve(slow)
    with server.connect() as busy, server.connect() as idle:
        busy.sendall(frame_message(hl7("IN-FLIGHT")))
        assert entered.wait(TIMEOUT)
        server.request_stop()
        release.set()
        assert answer(receive_frame(busy))[:2] == ("AA", "IN-FLIGHT")
        assert busy.recv(1) == b"" and idle.recv(1) == b""  # both closed by the server
        server.stop()
    with pytest.raises(OSError):
        send_mllp(HOST, server.port, [hl7("LATE")], timeout=TIMEOUT)


def test_a_dft_handler_over_mllp(serve: Callable[..., RunningServer]) -> None:
    """The channel as deployed: read the DFT, acknowledge with its outcome and first problem."""
    billing = HL7BillingProvider("1234567893", "Valley Family Medicine")
    stored: list[str] = []

    def handle(message: bytes) -> str:
        result = read_dft_message(message, billing)
        stored.extend(source.source_id for source in result.charges.claims)
        problem = result.problems[0] if result.problems else None
        return ack_for(message, result.ack_code, problem.message if problem else "", problem.field if problem else "")

    server = serve(handle)
    charge = "PV1|1|O|||||||||||||||||V10231\rFT1|1|CHG0001||20240304||CG|99213|||1|95.00\r"
    credit = charge.replace("||CG|", "||CD|")
    replies = server.send([hl7("OK", charge), hl7("CREDIT", credit), hl7("NOCHARGE")])
    assert [answer(reply)[:2] for reply in replies] == [("AA", "OK"), ("AE", "CREDIT"), ("AR", "NOCHARGE")]
    assert b"ERR||FT1^1^6|" in replies[1] and b"ERR||FT1^1|" in replies[2]
    assert stored == ["V10231"]


def test_serve_mllp_in_the_callers_own_event_loop() -> None:
    async def main() -> list[bytes]:
        ready, stop = asyncio.Event(), asyncio.Event()
        ports: list[int] = []
        task = asyncio.create_task(serve_mllp(HOST, 0, accept_all, ready=ready, stop=stop,
                                              on_listening=ports.append))
        await asyncio.wait_for(ready.wait(), TIMEOUT)
        try:
            return await asyncio.to_thread(send_mllp, HOST, ports[0], [hl7("LOOP")], TIMEOUT)
        finally:
            stop.set()
            await asyncio.wait_for(task, TIMEOUT)

    assert [answer(reply)[:2] for reply in asyncio.run(main())] == [("AA", "LOOP")]
