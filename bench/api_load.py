"""Benchmark: the REST API under 100 concurrent authenticated clients, over a database filled by the demo.

    python bench/api_load.py [--database sqlite|postgresql] [--clients 100] [--duration 15] [--workers 2]
                             [--demo-claims 1500] [--database-url URL]

Fills a fresh database with ``rcmflow demo`` (or uses ``--database-url``), creates one API client per
simulated caller (role biller), obtains each one's token from ``POST /v1/oauth/token``, starts ``rcmflow
serve`` on loopback and drives it with that many concurrent keep-alive connections for ``--duration``
seconds: half the requests read one claim (``GET /v1/claims/{id}``, a read of PHI: it is audited, so every
one is also a write), half list work items (``GET /v1/work-items?limit=20``). Two phases, each printing
requests per second and p50/p95/p99 latency per route:

- saturation: every client sends its next request as soon as the last one is answered (closed loop): the
  most the server answers per second. Its latencies are queueing, not service time: with 100 requests
  always in flight, Little's law makes the mean latency 100 / throughput, whatever the server does.
- latency at a fixed offered rate (``--rate``, default 1,000 requests/s spread over the clients, open loop,
  wrk2-style): each request is due at its scheduled time and its latency counts from then, so a stall shows
  up in the figures instead of silently lowering the rate.

Anchor, MEASURED IN THE SAME RUN: ``GET /healthz`` on the same server with the same driver (no
authentication, no database): the ceiling of the HTTP stack on this machine, so the ratio shows what
authentication, authorisation, the database and the audit trail cost.

The load generator is a minimal asyncio HTTP/1.1 client in its own process (httpx would spend more CPU
than the server and measure itself). It shares the machine's cores with the server, as a reverse proxy
would. Goal (issue 6) on the 2-core reference machine: >= 1,000 requests/s overall (saturation), and
p99 < 50 ms while serving 1,000 requests/s.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

GOAL_RPS = 1_000
GOAL_P99_MS = 50.0

# The load generator: N keep-alive connections, each sending its requests one after the other. Reads a JSON
# plan on stdin ({port, duration, connections: [{token, paths}]}) and prints per-route latencies (ms).
DRIVER = r'''
import asyncio, json, random, sys, time

plan = json.load(sys.stdin)
latencies = {}
errors = {}
rate = plan.get("rate")  # requests/s per connection; None: closed loop (next request as soon as one answers)

async def connection(spec, start, stop_at):
    reader, writer = await asyncio.open_connection("127.0.0.1", plan["port"])
    auth = f"Authorization: Bearer {spec['token']}\r\n" if spec["token"] else ""
    i = 0
    paths = spec["paths"]
    scheduled = start + (random.random() / rate if rate else 0)
    while True:
        if rate:
            now = time.perf_counter()
            if scheduled > now:
                await asyncio.sleep(scheduled - now)
            started = scheduled  # latency from when the request was due: no coordinated omission
            scheduled += 1 / rate
        else:
            started = time.perf_counter()
        if started >= stop_at:
            break
        route, path = paths[i % len(paths)]
        i += 1
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await reader.readexactly(length)
        elapsed = (time.perf_counter() - started) * 1000
        if status == 200:
            latencies.setdefault(route, []).append(elapsed)
        else:
            errors[f"{route} {status}"] = errors.get(f"{route} {status}", 0) + 1
    writer.close()

async def main():
    start = time.perf_counter()
    stop_at = start + plan["duration"]
    await asyncio.gather(*(connection(spec, start, stop_at) for spec in plan["connections"]))
    print(json.dumps({"elapsed": time.perf_counter() - start,
                      "latencies": latencies, "errors": errors}))

asyncio.run(main())
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(database_url: str) -> dict[str, str]:
    return {**os.environ, "RCMFLOW_DATABASE_URL": database_url}


def _fill_with_demo(database_url: str, folder: Path, claims: int) -> None:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rcmflow", "demo", "--no-serve", "--claims", str(claims)], cwd=folder,
                   env={**_env(database_url), "RCMFLOW_LOG_LEVEL": "WARNING"}, check=True, stdout=subprocess.DEVNULL)
    print(f"demo database filled in {time.perf_counter() - started:.1f} s")


def _postgres_schema(base: str, schema: str, *, drop: bool = False) -> str:
    """Create (or drop) a throw-away schema; the URL whose connections use it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE' if drop else f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def _clients(database_url: str, count: int) -> list[tuple[str, str]]:
    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.principals import create_client

    engine = create_engine_for(database_url)
    credentials = []
    with engine.begin() as conn:
        for n in range(count):
            record, secret = create_client(conn, f"bench-{secrets.token_hex(3)}-{n}", roles=["biller"],
                                           actor="bench", now=utc_now())
            credentials.append((record.id, secret))
    engine.dispose()
    return credentials


def _ids(database_url: str) -> list[int]:
    from sqlalchemy import select

    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.schema import claims

    engine = create_engine_for(database_url)
    with engine.connect() as conn:
        ids = list(conn.execute(select(claims.c.id).order_by(claims.c.id)).scalars())
    engine.dispose()
    return ids


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("rcmflow serve exited before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("rcmflow serve did not become ready within 60 s")


def _token(port: int, client_id: str, secret: str) -> str:
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": secret}).encode()
    for _ in range(30):
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/oauth/token", data=form, method="POST")) as response:
                return json.loads(response.read())["access_token"]
        except urllib.error.HTTPError as exc:
            if exc.code != 429:  # the token endpoint limits calls per address: wait and retry
                raise
            time.sleep(float(exc.headers.get("Retry-After", "1")))
    raise SystemExit("could not obtain a token")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and its children (uvicorn's worker processes), from /proc: the server's
    cost per request, a steadier figure than rates on a machine whose speed varies with its neighbours."""
    if not Path(f"/proc/{root}").exists():
        return float("nan")  # no /proc (not Linux): the figure is left out
    children = [pid for task in Path(f"/proc/{root}/task").glob("*") for pid in _read(task / "children").split()]
    total = 0
    for pid in [str(root), *children]:
        stat = _read(Path(f"/proc/{pid}/stat"))
        if not stat:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _drive(port: int, duration: float, connections: list[dict[str, object]],
           rate: float | None = None, server: int | None = None) -> dict[str, object]:
    plan = json.dumps({"port": port, "duration": duration, "connections": connections,
                       "rate": None if rate is None else rate / len(connections)})
    before = _cpu_seconds(server) if server else float("nan")
    done = subprocess.run([sys.executable, "-c", DRIVER], input=plan.encode(), capture_output=True, check=True)
    result = json.loads(done.stdout)
    result["server_cpu"] = _cpu_seconds(server) - before if server else float("nan")
    return result


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _report(title: str, result: dict[str, object]) -> tuple[float, float]:
    latencies: dict[str, list[float]] = result["latencies"]  # type: ignore[assignment]
    elapsed = float(result["elapsed"])  # type: ignore[arg-type]
    total = sum(len(v) for v in latencies.values())
    every = [x for v in latencies.values() for x in v]
    rps = total / elapsed
    print(f"\n{title}: {total:,} requests in {elapsed:.1f} s = {rps:,.0f} requests/s")
    print(f"  {'route':<28} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for route, values in sorted(latencies.items()):
        print(f"  {route:<28} {len(values):>9,} {_percentile(values, .5):>8.1f} {_percentile(values, .95):>8.1f} "
              f"{_percentile(values, .99):>8.1f}")
    p99 = _percentile(every, .99) if every else float("nan")
    print(f"  {'all':<28} {total:>9,} {_percentile(every, .5):>8.1f} {_percentile(every, .95):>8.1f} {p99:>8.1f}")
    cpu = float(result.get("server_cpu", float("nan")))  # type: ignore[arg-type]
    if total and cpu == cpu:
        print(f"  server CPU per request: {cpu / total * 1000:.2f} ms (all worker processes)")
    if result["errors"]:
        print(f"  non-200 answers: {result['errors']}")
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help="Use this database as it is (already filled), served from the "
                        "current folder, whose data folder holds its PHI key file.")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--demo-claims", type=int, default=1_500)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=GOAL_RPS, help="Offered requests/s for the latency phase.")
    args = parser.parse_args()

    schema = f"bench_api_{secrets.token_hex(4)}" if args.database_url is None and args.database == "postgresql" \
        else None
    try:
        _run(args, schema)
    finally:
        if schema:
            _postgres_schema(args.postgres, schema, drop=True)


def _run(args: argparse.Namespace, schema: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="rcmflow-api-bench-") as folder:
        database_url = args.database_url
        if database_url is None:
            database_url = (_postgres_schema(args.postgres, schema) if schema
                            else f"sqlite:///{Path(folder) / 'rcmflow.db'}")
            _fill_with_demo(database_url, Path(folder), args.demo_claims)
        credentials = _clients(database_url, args.clients)
        claim_ids = _ids(database_url)
        port = _free_port()
        env = {**_env(database_url), "RCMFLOW_LOG_LEVEL": "WARNING"}
        # A database given with --database-url is served from here, where its data folder (and so its PHI key
        # file, unless RCMFLOW_PHI_KEY_FILE names it) is: from the temporary folder the server would make a new key.
        server = subprocess.Popen([sys.executable, "-m", "rcmflow", "serve", "--port", str(port), "--workers",
                                   str(args.workers)], cwd=folder if args.database_url is None else None, env=env)
        try:
            _wait_ready(port, server)
            tokens = [_token(port, client_id, secret) for client_id, secret in credentials]
            print(f"{len(tokens)} clients authenticated; {len(claim_ids):,} claims; server workers: {args.workers}")
            anchor = [{"token": None, "paths": [["GET /healthz", "/healthz"]]} for _ in tokens]
            _drive(port, 2.0, anchor)  # warm up the server processes
            anchor_rps, _ = _report("anchor: GET /healthz (no auth, no database)",
                                    _drive(port, args.duration, anchor, server=server.pid))
            rng = secrets.SystemRandom()
            plans = []
            for token in tokens:
                paths = []
                for _ in range(50):
                    paths.append(["GET /v1/claims/{id}", f"/v1/claims/{rng.choice(claim_ids)}"])
                    paths.append(["GET /v1/work-items", "/v1/work-items?limit=20"])
                plans.append({"token": token, "paths": paths})
            _drive(port, 2.0, plans)
            rps, _ = _report("saturation: as fast as the server answers (closed loop)",
                             _drive(port, args.duration, plans, server=server.pid))
            offered = float(args.rate)
            at_rate, p99 = _report(f"latency at {offered:,.0f} requests/s offered by {len(plans)} clients (open loop, "
                                   "measured from when each request was due)",
                                   _drive(port, args.duration, plans, rate=offered, server=server.pid))
            half = rps / 2
            _report(f"for comparison, latency at half the saturation rate ({half:,.0f} requests/s, open loop)",
                    _drive(port, args.duration, plans, rate=half, server=server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\nsaturation throughput: {rps:,.0f} requests/s = {rps / anchor_rps:.2f} of the anchor (GET /healthz, "
          f"{anchor_rps:,.0f} requests/s)")
    kept_up = at_rate >= 0.98 * offered
    verdict = "met" if rps >= GOAL_RPS and kept_up and p99 < GOAL_P99_MS else "NOT met"
    print(f"goal (>= {GOAL_RPS:,} requests/s; p99 < {GOAL_P99_MS:.0f} ms at {offered:,.0f} requests/s): {verdict}")


if __name__ == "__main__":
    main()
