"""Routes whose blocking work costs at most one worker-thread hop per request, and bounded SQLite reads none.

FastAPI runs a synchronous route in a worker thread, and then, because the route was synchronous, validates
its answer against the response model in a worker thread too: two hand-offs between the event loop and the
thread pool per request, each a queue put, a wake-up and a contest for the GIL. Under load those hand-offs cost
more than a claim lookup itself (``bench/api_load.py``). ``OneHopRoute`` gives FastAPI an async endpoint that
runs the synchronous route in one thread hop; FastAPI then validates the answer on the event loop, which
takes microseconds. Routes stay plain synchronous functions (their queries block, as they should, in a thread),
and the request's database connection is checked out, committed and returned in that same thread
(``deps.RequestConnection``).

A route whose connections are all ``BoundedReadConn`` (one object, or one page through an index) takes no hop
on SQLite: it runs on the event loop, where its read is a fraction of a millisecond of CPU on a local file,
against about a millisecond of CPU for the hop when eight worker threads contend for the GIL (measured in
process, ``GET /v1/work-items``: 0.7 ms per request on the loop, 1.8-2.0 ms through the thread pool). The
loop must never stall on a read that turns out to be large, so the run has a time budget, enforced by SQLite's
progress handler: past it the query is interrupted and the whole route runs again in a worker thread. A
bounded route only reads, so running it again is safe. PostgreSQL reads wait on the network and always take
the hop.

Reads of PHI (``deps.audit_read``) are committed after the route returns, awaited on the event loop, so no
thread waits for the audit writer's commit.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import anyio.to_thread
from fastapi.routing import APIRoute
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from starlette.requests import HTTPConnection

from rcmflow.entrypoints.api.deps import PENDING_READ_AUDITS, RequestConnection

log = logging.getLogger(__name__)

# The longest a bounded read may hold the event loop before it moves to a worker thread (every request of the
# process waits meanwhile). A claim with its lines, findings and timeline takes 0.2 ms; a work-item page 0.3 ms.
INLINE_BUDGET_SECONDS = 0.005
# SQLite calls the progress handler every this many virtual-machine instructions: often enough to keep the
# overrun small, rarely enough to cost nothing measurable on a read that fits.
_PROGRESS_EVERY = 2_000


# What ``_run_inline`` returns when a bounded read overran its budget and answered nothing.
_NOT_RUN = object()


def one_hop_endpoint(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a coroutine function that runs it in a worker thread (or, when it only reads a bounded
    amount from SQLite, on the event loop), with its request connections (``deps.RequestConnection``) opened
    there, and that returns once the reads of PHI it recorded are committed. ``functools.wraps`` keeps its
    signature and module globals visible to FastAPI (which unwraps to read parameters and annotations)."""

    @functools.wraps(function)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        request = next((value for value in kwargs.values() if isinstance(value, HTTPConnection)), None)
        pending: list[Any] | None = None
        if request is not None:
            pending = request.scope.setdefault("state", {})[PENDING_READ_AUDITS] = []
        result = _run_inline(function, args, kwargs) if _may_run_inline(kwargs) else _NOT_RUN
        if result is _NOT_RUN:
            if pending:  # a run on the loop that overran recorded nothing that counts: the rerun records again
                pending.clear()
            result = await anyio.to_thread.run_sync(functools.partial(_with_connections, function, args, kwargs))
        if request is not None and pending:
            await request.app.state.audit_writer.committed(pending)
        return result

    return endpoint


def _may_run_inline(kwargs: dict[str, Any]) -> bool:
    connections = [value for value in kwargs.values() if isinstance(value, RequestConnection)]
    return bool(connections) and all(c.bounded and not c.write and c.engine.dialect.name == "sqlite"
                                     for c in connections)


class _Budget:
    """SQLite's progress handler: interrupts the statement running once the deadline has passed."""

    __slots__ = ("deadline", "exceeded")

    def __init__(self, seconds: float) -> None:
        self.deadline = time.perf_counter() + seconds
        self.exceeded = False

    def __call__(self) -> int:
        if time.perf_counter() > self.deadline:
            self.exceeded = True
            return 1  # non-zero: SQLite interrupts the statement
        return 0


def _run_inline(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run a bounded read on the event loop; ``_NOT_RUN`` when it overran its budget (nothing was answered)."""
    budget = _Budget(INLINE_BUDGET_SECONDS)
    try:
        return _with_connections(function, args, kwargs, budget=budget)
    except OperationalError:
        if budget.exceeded:  # rare (2 in 18,000 reads under saturation); often means the route is not bounded
            log.info("bounded read overran its budget; running it in a worker thread",
                     extra={"route_function": function.__name__, "budget_ms": INLINE_BUDGET_SECONDS * 1000})
            return _NOT_RUN
        raise


def _with_connections(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *,
                      budget: _Budget | None = None) -> Any:
    """Run ``function`` with each RequestConnection argument checked out; commit the writes when it returns. A
    failure closes them uncommitted (rolled back), so the change and its audit rows land together or not at all."""
    wanted = {name: value for name, value in kwargs.items() if isinstance(value, RequestConnection)}
    if not wanted:
        return function(*args, **kwargs)
    with ExitStack() as connections:
        opened = {name: connections.enter_context(request.engine.connect()) for name, request in wanted.items()}
        if budget is not None:
            for conn in opened.values():
                _watch(conn, budget)
                connections.callback(_unwatch, conn)
        result = function(*args, **{**kwargs, **opened})
        for name, request in wanted.items():
            if request.write:
                opened[name].commit()
        return result


def _watch(conn: Connection, budget: _Budget) -> None:
    conn.connection.driver_connection.set_progress_handler(budget, _PROGRESS_EVERY)  # type: ignore[union-attr]


def _unwatch(conn: Connection) -> None:
    conn.connection.driver_connection.set_progress_handler(None, 0)  # type: ignore[union-attr]


class OneHopRoute(APIRoute):
    """An APIRoute whose synchronous endpoint runs in one worker-thread hop (see the module's docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = one_hop_endpoint(endpoint)
        super().__init__(path, endpoint, **kwargs)
