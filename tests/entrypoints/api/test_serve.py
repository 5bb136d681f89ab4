"""``rcmflow serve`` as an operator starts it: a real uvicorn process on loopback, ready once migrated, its
access log one JSON object per line carrying the request id, and the API refusing anonymous callers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_and_logs_json_lines_with_request_ids(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "RCMFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
           "RCMFLOW_DATA_DIR": str(tmp_path / "data")}
    env.pop("RCMFLOW_LOG_FORMAT", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        _serve_and_call(port, env, tmp_path, log)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "rcmflow.access"]
    assert any(line["request_id"] == "op-42" and line["status"] == 401 and line["route"] == "/v1/claims"
               for line in access), lines


def _serve_and_call(port: int, env: dict[str, str], cwd: Path, log: object) -> None:
    server = subprocess.Popen([sys.executable, "-m", "rcmflow", "serve", "--port", str(port)], cwd=cwd,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    assert json.load(response)["status"] == "ok"
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not become ready"
                time.sleep(0.2)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/claims", headers={"X-Request-ID": "op-42"})
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("an anonymous caller was served")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401 and refused.headers["X-Request-ID"] == "op-42"
            assert refused.headers["Content-Type"] == "application/problem+json"
    finally:
        server.terminate()
        server.wait(timeout=30)
