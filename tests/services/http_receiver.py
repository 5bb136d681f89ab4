"""A real HTTP webhook receiver on 127.0.0.1 for delivery tests (stdlib server in a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""  # the body exactly as received (what a signature covers)


@dataclass
class Receiver:
    """Records every request; answers with the next scripted status (then ``default_status``)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    default_status: int = 200
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    # Called with each request before answering; returns a status to override the scripted one, or None.
    on_request: Callable[[Received], int | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> list[str]:
        """The Idempotency-Key header of every request, in order."""
        with self.lock:
            return [r.headers.get("idempotency-key", "") for r in self.requests]


@contextmanager
def http_receiver() -> Iterator[Receiver]:
    """Run a receiver on a free loopback port for the duration of the block."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a pooled client expects
        disable_nagle_algorithm = True  # headers and body go in two writes: without this, 40 ms per request

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"null"),
                               raw)
            with receiver.lock:
                receiver.requests.append(request)
                status = receiver.statuses.popleft() if receiver.statuses else receiver.default_status
            if receiver.on_request is not None:
                override = receiver.on_request(request)
                status = override if override is not None else status
            if receiver.delay:
                time.sleep(receiver.delay)
            payload = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that timed out and hung up is what some tests are about

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
