"""Hand a blocking generator to an async response, and close it when the client goes away."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import TypeVar

from anyio import to_thread

T = TypeVar("T")
_END = object()


def _next(gen: Generator[T, None, None]) -> object:
    return next(gen, _END)


async def in_thread(gen: Generator[T, None, None]) -> AsyncIterator[T]:
    """Yield the generator's items, each produced in a worker thread; close it however the iteration ends.

    When the client disconnects, the response task is cancelled: the running ``next`` finishes
    (threads cannot be interrupted), then ``close`` runs the generator's cleanup, which stops
    its model generation instead of leaving it to the garbage collector.
    """
    try:
        while True:
            item = await to_thread.run_sync(_next, gen)
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        gen.close()
