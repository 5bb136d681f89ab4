"""MLLP (Minimal Lower Layer Protocol): HL7 v2 messages over TCP, each framed <VT> message <FS><CR>.

``serve_mllp`` listens on asyncio. A connection may carry any number of messages, one after the other; each
complete message is passed to a synchronous handler, run in a worker thread (``asyncio.to_thread``) so that
it may use the database, and the ACK text it returns is framed and written back before the next message of
that connection is handled (MLLP is request/response). Connections are served concurrently.

The connection survives bad input: bytes outside a frame are skipped up to the next <VT>, a frame larger than
``max_message_bytes`` is answered AR without reaching the handler, and a handler that raises is answered AE
naming the exception's class (the details go to the log, not to the sender).

``send_mllp`` is a small blocking client for tests and demos.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from rcmflow.formats.hl7_ack import ack_for

__all__ = ["MAX_MESSAGE_BYTES", "Frame", "Handler", "MllpFramer", "frame_message", "send_mllp", "serve_mllp"]

log = logging.getLogger(__name__)

START_BLOCK = b"\x0b"  # <VT>
END_BLOCK = b"\x1c"  # <FS>, followed by <CR>
CARRIAGE_RETURN = b"\r"
MAX_MESSAGE_BYTES = 1_000_000
READ_SIZE = 64 * 1024
# What is kept of an oversized message: enough for its MSH, so that the AR echoes its control id.
OVERSIZED_HEAD_BYTES = 4 * 1024
# How long a stop waits for handlers already running to finish and their ACKs to be written.
STOP_GRACE_SECONDS = 30.0
CLIENT_MAX_REPLY_BYTES = 16 * 1024 * 1024

Handler = Callable[[bytes], str]


class Frame(NamedTuple):
    """One framed message; for an oversized one, ``payload`` holds only its first bytes."""

    payload: bytes
    oversized: bool = False


class MllpFramer:
    """Cuts a byte stream into MLLP frames, however the stream was split into reads.

    Bytes outside a frame are dropped; a <VT> inside a frame starts over (the sender abandoned the partial
    message); <FS> ends a frame and the <CR> after it, outside any frame, is dropped like other stray bytes.
    """

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        if max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")
        self._max = max_message_bytes
        self._buffer = bytearray()
        self._inside = False
        self._oversized = False

    def feed(self, data: bytes) -> list[Frame]:
        """The frames that ``data`` completes, in order."""
        frames: list[Frame] = []
        position = 0
        while position < len(data):
            if not self._inside:
                start = data.find(START_BLOCK, position)
                if start < 0:
                    break
                self._open()
                position = start + 1
                continue
            end = data.find(END_BLOCK, position)
            stop = end if end >= 0 else len(data)
            restart = data.find(START_BLOCK, position, stop)
            if restart >= 0:
                self._open()
                position = restart + 1
                continue
            self._add(data[position:stop])
            if end < 0:
                break
            frames.append(Frame(bytes(self._buffer), self._oversized))
            self._inside = False
            self._buffer.clear()
            position = end + 1
        return frames

    def _open(self) -> None:
        self._inside, self._oversized = True, False
        self._buffer.clear()

    def _add(self, chunk: bytes) -> None:
        if self._oversized:
            return  # only the head is kept
        self._buffer += chunk
        if len(self._buffer) > self._max:
            self._oversized = True
            del self._buffer[OVERSIZED_HEAD_BYTES:]


def frame_message(message: bytes) -> bytes:
    """<VT> message <FS><CR>; ValueError when the message holds a framing byte (it would split the frame)."""
    if START_BLOCK in message or END_BLOCK in message:
        raise ValueError("an HL7 message cannot contain the MLLP framing bytes 0x0B or 0x1C")
    return START_BLOCK + message + END_BLOCK + CARRIAGE_RETURN


class _Connection:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.busy = False  # a message is being handled or its ACK written


class _MllpServer:
    def __init__(self, handler: Handler, max_message_bytes: int) -> None:
        self._handler = handler
        self._max = max_message_bytes
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._stopping = False

    def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A task of our own rather than a coroutine callback: asyncio 3.11 logs an error when it must cancel
        # the task it wraps a coroutine callback in, and a stop may have to cancel a stuck connection.
        if self._stopping:
            writer.close()
            return
        connection = _Connection(writer)
        task = asyncio.get_running_loop().create_task(self._converse(reader, connection))
        self._connections[task] = connection
        task.add_done_callback(self._connections.pop)

    async def _converse(self, reader: asyncio.StreamReader, connection: _Connection) -> None:
        peer = connection.writer.get_extra_info("peername")
        framer = MllpFramer(self._max)
        try:
            while not self._stopping:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                connection.busy = True
                for frame in framer.feed(data):
                    reply = await self._reply(frame)
                    connection.writer.write(frame_message(reply.encode("utf-8")))
                    await connection.writer.drain()
                connection.busy = False
        except (ConnectionError, TimeoutError) as exc:
            log.info("MLLP connection from %s lost: %s", peer, exc)
        except Exception:  # a bug here must end this connection only, and be seen
            log.exception("MLLP connection from %s failed", peer)
        finally:
            connection.writer.close()
            try:
                await connection.writer.wait_closed()
            except (ConnectionError, TimeoutError):
                pass

    async def _reply(self, frame: Frame) -> str:
        """The handler's ACK, or the server's own AR (oversized) or AE (the handler failed)."""
        if frame.oversized:
            return ack_for(frame.payload, "AR", f"message larger than {self._max} bytes refused")
        try:
            reply = await asyncio.to_thread(self._handler, frame.payload)
            if not isinstance(reply, str):
                raise TypeError(f"the MLLP handler returned {type(reply).__name__}, not the ACK text")
            frame_message(reply.encode("utf-8"))  # an ACK that cannot be framed is the handler's error too
            return reply
        except Exception as exc:
            log.exception("MLLP handler failed; answering AE")
            return ack_for(frame.payload, "AE", type(exc).__name__)

    async def stop(self) -> None:
        """Close idle connections now; let busy ones finish the message in hand, then close them too."""
        self._stopping = True
        for connection in self._connections.values():
            if not connection.busy:
                connection.writer.close()  # its pending read sees the end of the stream
        tasks = list(self._connections)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def serve_mllp(host: str, port: int, handler: Handler, *, max_message_bytes: int = MAX_MESSAGE_BYTES,
                     ready: asyncio.Event | None = None, stop: asyncio.Event | None = None,
                     on_listening: Callable[[int], None] | None = None) -> None:
    """Serve MLLP on ``host``:``port`` until ``stop`` is set (or the task is cancelled).

    ``ready`` is set once the port listens; ``on_listening`` is first called with the port bound, which is
    how a caller that asked for port 0 (any free port; give a numeric host then, so that one socket is bound)
    learns it. On stop, new connections are refused, idle ones closed, and messages being handled get their
    ACK before their connection closes.
    """
    server = _MllpServer(handler, max_message_bytes)
    MllpFramer(max_message_bytes)  # refuses a bad size before the port opens
    listener = await asyncio.start_server(server.accept, host, port)
    try:
        bound = listener.sockets[0].getsockname()[1]
        log.info("MLLP listening on %s:%s", host, bound)
        if on_listening is not None:
            on_listening(bound)
        if ready is not None:
            ready.set()
        await (stop or asyncio.Event()).wait()
    finally:
        listener.close()
        await server.stop()
        await listener.wait_closed()


def send_mllp(host: str, port: int, messages: list[bytes], timeout: float = 5.0) -> list[bytes]:
    """Send messages on one connection, each after the previous one's answer, and return the answers (the
    ACK payloads, unframed). TimeoutError when an answer takes longer than ``timeout`` seconds;
    ConnectionError when the server closes the connection first."""
    replies: list[bytes] = []
    framer = MllpFramer(CLIENT_MAX_REPLY_BYTES)
    pending: deque[Frame] = deque()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for number, message in enumerate(messages, start=1):
            sock.sendall(frame_message(message))
            while not pending:
                data = sock.recv(READ_SIZE)
                if not data:
                    raise ConnectionError(f"the server closed the connection before answering message {number}")
                pending.extend(framer.feed(data))
            replies.append(pending.popleft().payload)
    return replies
