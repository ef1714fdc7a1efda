"""Import a module in a daemon thread and await it from the event loop: a shutdown never waits for the import."""

from __future__ import annotations

import asyncio
import importlib
import threading
from types import ModuleType


async def import_module(name: str) -> ModuleType:
    """Return the imported module; the import runs in a daemon thread (seconds of it must not hold up the loop or exit)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[ModuleType] = loop.create_future()

    def settle(module: ModuleType | None, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(module)  # type: ignore[arg-type]

    def run() -> None:
        try:
            module = importlib.import_module(name)
        except BaseException as exc:  # handed to the awaiting task, which reports it
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, module, None)

    threading.Thread(target=run, name=f"import-{name}", daemon=True).start()
    return await done
