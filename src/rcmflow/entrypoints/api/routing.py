"""Routes whose blocking work costs one worker-thread hop per request.

FastAPI runs a synchronous route in a worker thread, and then, because the route was synchronous, validates
its answer against the response model in a worker thread too: two hand-offs between the event loop and the
thread pool per request, each a queue put, a wake-up and a contest for the GIL. Under load those hand-offs cost
more than a claim lookup itself (``bench/api_load.py``). ``OneHopRoute`` gives FastAPI an async endpoint that
runs the synchronous route in one thread hop; FastAPI then validates the answer on the event loop, which
takes microseconds. Routes stay plain synchronous functions (their queries block, as they should, in a thread).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi.routing import APIRoute


def in_worker_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a coroutine function that runs it in a worker thread. ``functools.wraps`` keeps its
    signature and module globals visible to FastAPI (which unwraps to read parameters and annotations)."""

    @functools.wraps(function)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))

    return endpoint


class OneHopRoute(APIRoute):
    """An APIRoute whose synchronous endpoint runs in one worker-thread hop (see the module's docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_worker_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)
