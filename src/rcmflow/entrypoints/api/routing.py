"""Routes whose blocking work costs one worker-thread hop per request.

FastAPI runs a synchronous route in a worker thread, and then, because the route was synchronous, validates
its answer against the response model in a worker thread too: two hand-offs between the event loop and the
thread pool per request, each a queue put, a wake-up and a contest for the GIL. Under load those hand-offs cost
more than a claim lookup itself (``bench/api_load.py``). ``OneHopRoute`` gives FastAPI an async endpoint that
runs the synchronous route in one thread hop; FastAPI then validates the answer on the event loop, which
takes microseconds. Routes stay plain synchronous functions (their queries block, as they should, in a thread),
and the request's database connection is checked out, committed and returned in that same thread
(``deps.RequestConnection``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import anyio.to_thread
from fastapi.routing import APIRoute

from rcmflow.entrypoints.api.deps import RequestConnection


def in_worker_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a coroutine function that runs it in a worker thread, with its request connections
    (``deps.RequestConnection``) opened there. ``functools.wraps`` keeps its signature and module globals
    visible to FastAPI (which unwraps to read parameters and annotations)."""

    @functools.wraps(function)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(_with_connections, function, args, kwargs))

    return endpoint


def _with_connections(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``function`` with each RequestConnection argument checked out; commit the writes when it returns. A
    failure closes them uncommitted (rolled back), so the change and its audit rows land together or not at all."""
    wanted = {name: value for name, value in kwargs.items() if isinstance(value, RequestConnection)}
    if not wanted:
        return function(*args, **kwargs)
    with ExitStack() as connections:
        opened = {name: connections.enter_context(request.engine.connect()) for name, request in wanted.items()}
        result = function(*args, **{**kwargs, **opened})
        for name, request in wanted.items():
            if request.write:
                opened[name].commit()
        return result


class OneHopRoute(APIRoute):
    """An APIRoute whose synchronous endpoint runs in one worker-thread hop (see the module's docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_worker_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)
