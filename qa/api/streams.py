"""Hand a blocking generator to an async response, and close it when the client goes away."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread

T = TypeVar("T")
_END = object()
# Answering is CPU-bound: more threads than cores only slice the CPU (and the GIL) finer, and leave
# the event loop waiting for its turn. Requests beyond this wait as tasks, so health stays quick.
ANSWER_THREADS = max(2, 2 * (os.cpu_count() or 1))


def answer_limiter() -> CapacityLimiter:
    """Return the limiter shared by every route that answers (one per app)."""
    return CapacityLimiter(ANSWER_THREADS)


async def run_limited(limiter: CapacityLimiter | None, fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call in a worker thread, at most ``limiter.total`` at a time."""
    return await to_thread.run_sync(fn, *args, limiter=limiter)


def _next(gen: Generator[T, None, None]) -> object:
    return next(gen, _END)


async def in_thread(gen: Generator[T, None, None], limiter: CapacityLimiter | None = None) -> AsyncIterator[T]:
    """Yield the generator's items, each produced in a worker thread; close it however the iteration ends.

    When the client disconnects, the response task is cancelled: the running ``next`` finishes
    (threads cannot be interrupted), then ``close`` runs the generator's cleanup, which stops
    its model generation instead of leaving it to the garbage collector.
    """
    try:
        while True:
            item = await to_thread.run_sync(_next, gen, limiter=limiter)
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        gen.close()
