"""Benchmark: bulk state transitions with their event rows, and outbox deliveries to an HTTP receiver.

    python bench/workflow.py [--items 100000] [--calls 4] [--messages 5000] [--relay-concurrency 1,8]
                             [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-postgres]

Part 1 creates N work items, then moves all of them open -> in_progress -> resolved with
``transition_many`` in a few calls each (one guarded UPDATE per 5,000 ids plus one multi-row insert of
their event-log rows), and prints transitions per second, on SQLite (a fresh WAL file) and on
PostgreSQL (a throw-away schema, created and dropped here; skipped with a note if unreachable).

Part 2 enqueues M outbox messages and times the relay draining them to a webhook receiver on
127.0.0.1, running in a separate process (an asyncio HTTP/1.1 server), through pooled httpx
connections, with 1 and with 8 deliveries in parallel per batch (threads). On loopback the receiver
answers in microseconds, so delivery is CPU-bound in httpx and threads only add GIL contention; against
real receivers (milliseconds away) parallel deliveries are what keeps the rate up. The receiver counts
distinct idempotency keys, so the run also checks that every message arrived once.

Goal (issue 3): >= 20,000 transitions/s in bulk on both databases; >= 1,000 deliveries/s to loopback.
Anchor, QUOTED, NOT MEASURED HERE: DBOS Transact managed about 100 two-step durable workflows/s on
SQLite on this machine (figure from the issue; DBOS is not installed in this environment).
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.adapters.store.schema import event_log, outbox, work_items
from rcmflow.services.delivery import webhook_handlers
from rcmflow.services.outbox import OutboxMessage, Relay, enqueue
from rcmflow.services.transitions import transition_many

DBOS_ANCHOR_WORKFLOWS_PER_SECOND = 100  # quoted from the issue, not measured
GOAL_TRANSITIONS = 20_000
GOAL_DELIVERIES = 1_000
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# A minimal keep-alive HTTP/1.1 receiver: answers 200 to every POST, counts distinct Idempotency-Keys,
# and reports them on GET /stats. Runs in its own process so it does not share the relay's GIL.
RECEIVER = r'''
import asyncio, json, sys
keys = set()
requests = 0

async def handle(reader, writer):
    global requests
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if lines[0].startswith("GET /stats"):
                payload = json.dumps({"requests": requests, "distinct_keys": len(keys)}).encode()
            else:
                requests += 1
                keys.add(headers.get("idempotency-key"))
                payload = b"{}"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
'''


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine_for(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            ensure_schema(engine)
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres_engine(base_url: str) -> Iterator[Engine]:
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine_for(base_url, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine_for(make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}),
                               pool_size=20, max_overflow=0)
    try:
        ensure_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def postgres_reachable(url: str) -> str | None:
    """None if reachable, else the reason."""
    try:
        engine = create_engine_for(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: skip with a note
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def bench_transitions(engine: Engine, items: int, calls: int) -> list[tuple[str, float]]:
    rows = [{"queue": "denials", "item_type": "denial", "state": "open", "priority": 3, "object_type": "claim",
             "object_id": f"C{i}", "dedup_key": f"denial:C{i}", "title": "denial", "created_at": NOW,
             "facility_id": f"F{i % 7}", "payer_id": f"P{i % 13}"} for i in range(items)]
    with engine.begin() as conn:
        for start in range(0, items, 5_000):
            conn.execute(insert(work_items), rows[start:start + 5_000])
        ids = list(conn.execute(select(work_items.c.id).order_by(work_items.c.id)).scalars())
    per_call = -(-items // calls)
    results = []
    for expected, target, activity in (("open", "in_progress", "start work"), ("in_progress", "resolved", "resolve")):
        started = time.perf_counter()
        moved = 0
        for start in range(0, items, per_call):
            with engine.begin() as conn:
                moved += len(transition_many(conn, "work item", ids[start:start + per_call], expected, target,
                                             activity=activity, actor="job:bench").moved)
        elapsed = time.perf_counter() - started
        assert moved == items
        results.append((f"{expected} -> {target}", items / elapsed))
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(event_log)).scalar_one()
    assert events == 2 * items, events  # every transition has its event row
    return results


@contextmanager
def receiver_process() -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


def receiver_stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base}/stats", timeout=5) as response:
        return json.loads(response.read())


def bench_outbox(engine: Engine, base: str, messages: int, concurrency: int, batch: int) -> tuple[float, int]:
    before = receiver_stats(base)["distinct_keys"]
    tag = secrets.token_hex(3)
    with engine.begin() as conn:
        enqueue(conn, [OutboxMessage("bench", {"claim": f"C{i}", "amount": "150.00"}, f"{tag}:{i}")
                       for i in range(messages)])
    handlers = webhook_handlers({"bench": f"{base}/hook"})
    try:
        with Relay(engine, handlers, worker_id="bench:relay", batch=batch, concurrency=concurrency) as relay:
            started = time.perf_counter()
            delivered = 0
            while delivered < messages:
                result = relay.drain()
                delivered += result.delivered
                if result.claimed == 0:
                    break
            elapsed = time.perf_counter() - started
    finally:
        handlers.close()
    with engine.connect() as conn:
        done = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.status == "delivered")
                            ).scalar_one()
    arrived = receiver_stats(base)["distinct_keys"] - before
    assert done == messages and arrived == messages, (done, arrived)
    return messages / elapsed, arrived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="work items to transition (twice)")
    parser.add_argument("--calls", type=int, default=4, help="transition_many calls per pass")
    parser.add_argument("--messages", type=int, default=5_000, help="outbox messages to deliver")
    parser.add_argument("--relay-concurrency", default="1,8", help="parallel deliveries per batch (comma list)")
    parser.add_argument("--relay-batch", type=int, default=200, help="messages claimed per relay batch")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    databases: list[tuple[str, object]] = [("SQLite", sqlite_engine)]
    if args.no_postgres:
        print("PostgreSQL: skipped (--no-postgres)")
    elif (reason := postgres_reachable(args.postgres)) is not None:
        print(f"PostgreSQL: skipped, {args.postgres} unreachable ({reason})")
    else:
        databases.append(("PostgreSQL", lambda: postgres_engine(args.postgres)))

    print(f"\nBulk transitions with event rows: {args.items:,} work items, {args.calls} transition_many calls per "
          f"pass (goal >= {GOAL_TRANSITIONS:,}/s)")
    summary: dict[str, float] = {}
    for name, factory in databases:
        with factory() as engine:  # type: ignore[operator]
            for label, rate in bench_transitions(engine, args.items, args.calls):
                print(f"  {name:<10} {label:<24} {rate:>10,.0f} transitions/s")
                summary[f"{name} transitions"] = min(summary.get(f"{name} transitions", rate), rate)

    concurrencies = [int(c) for c in args.relay_concurrency.split(",")]
    print(f"\nOutbox deliveries to an HTTP receiver on 127.0.0.1 (separate process): {args.messages:,} messages, "
          f"batch {args.relay_batch} (goal >= {GOAL_DELIVERIES:,}/s); includes claim, POST, outcome and event rows")
    with receiver_process() as base:
        for name, factory in databases:
            for concurrency in concurrencies:
                with factory() as engine:  # type: ignore[operator]
                    rate, arrived = bench_outbox(engine, base, args.messages, concurrency, args.relay_batch)
                print(f"  {name:<10} {concurrency:>2} parallel {rate:>10,.0f} deliveries/s  "
                      f"({arrived:,} distinct keys received: each message once)")
                summary[f"{name} deliveries"] = max(summary.get(f"{name} deliveries", rate), rate)

    print(f"\nAnchor (QUOTED from the issue, not measured here): DBOS Transact ~{DBOS_ANCHOR_WORKFLOWS_PER_SECOND} "
          "two-step durable workflows/s on SQLite on this machine.")
    for key, rate in summary.items():
        transitions = key.endswith("transitions")
        goal = GOAL_TRANSITIONS if transitions else GOAL_DELIVERIES
        # Only transitions compare, loosely, with durable workflow steps; deliveries are different work.
        scale = f"  ({rate / DBOS_ANCHOR_WORKFLOWS_PER_SECOND:,.0f}x the quoted anchor)" if transitions else ""
        print(f"  {key:<24} {'slowest pass' if transitions else 'best setting'} {rate:>10,.0f}/s  goal {goal:,}/s: "
              f"{'met' if rate >= goal else 'NOT met'}{scale}")

if __name__ == "__main__":
    main()
