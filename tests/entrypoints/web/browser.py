"""What browser tests (and ``scripts/screenshots.py``) need besides pytest: the real app served by uvicorn on
loopback in a background thread, Debian's Chromium launched by Playwright, and logging in like a person.

Playwright's own browser download does not work here, so every launch goes through ``launch_chromium``: one
place for the executable and its flags (issue 7 names them).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from urllib.parse import urlencode

import httpx
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, Playwright, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: `apt-get install chromium`
LAUNCH_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run")
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 768, "height": 1024}
PASSWORD = "correct horse battery staple"  # every test user's: the login page is what is tested, not secrecy


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with the flags it needs in a container and without its background chatter."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS))


@dataclass
class Clock:
    """The UI's "now" (``create_app(clock=...)``): fixed, so pages show the same ages and overdue flags at every
    run, and movable, so a test can let time pass."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


class _ThreadServer(uvicorn.Server):
    # Signal handlers can only be installed by the main thread, and Ctrl+C belongs to the test runner.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # the same hook in uvicorn before 0.29
        pass


class LiveServer:
    """``app`` served by uvicorn on 127.0.0.1 at a free port in a background thread, as a context manager: ready
    (``/healthz`` answers) on entry, stopped on exit. ``url`` is its address, without a trailing slash."""

    def __init__(self, app: FastAPI, *, startup_timeout: float = 20.0) -> None:
        self.app = app
        self.startup_timeout = startup_timeout
        self._socket: socket.socket | None = None
        self._server: _ThreadServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def __enter__(self) -> LiveServer:
        # The socket is bound here and handed to uvicorn: no window in which another process takes the port.
        sock = self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        # log_config=None: uvicorn leaves logging alone (pytest captures it); the app writes its own access log.
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                lifespan="on", timeout_graceful_shutdown=5)
        self._server = _ThreadServer(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"uvicorn-{port}", daemon=True)
        self._thread.start()
        try:
            self._wait_until_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_healthy(self) -> None:
        assert self._thread is not None
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(trust_env=False, timeout=2.0) as client:  # trust_env: no proxy for loopback
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return
                if not self._thread.is_alive():
                    raise RuntimeError(f"the server at {self.url} stopped while starting (see the log above)")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server at {self.url} did not answer /healthz in "
                                       f"{self.startup_timeout:.0f} s")
                time.sleep(0.05)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
            if self._thread.is_alive():
                raise RuntimeError(f"the server at {self.url} did not stop within 15 s")
        if self._socket is not None:
            self._socket.close()


def login(page: Page, base_url: str, username: str, password: str, *, next_page: str | None = None) -> None:
    """Log in through the login form as a person would, landing on the person's home page (or ``next_page``, a
    path under /ui/); raises with the page's message if the login is refused."""
    page.goto(f"{base_url}/ui/login" + (f"?{urlencode({'next': next_page})}" if next_page else ""))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if "/ui/login" in page.url:
        alert = page.get_by_role("alert")
        message = alert.inner_text() if alert.count() else f"still on {page.url}"
        raise AssertionError(f"logging in as {username} failed: {message}")


def csrf_of(page: Page) -> str:
    """The form token of the page's session (every form carries it), for a request made outside a form."""
    return page.locator('input[name="csrf"]').first.input_value()


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the viewport (0: no horizontal scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
