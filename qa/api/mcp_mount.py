"""MCP at /mcp without the SDK on the start-up path: the route exists at once, the MCP server is built on demand.

The MCP SDK costs most of a second of CPU to import, which no answer needs. `LazyMCP` answers
/mcp from the start: the first request (or `start()`, which `qa serve` calls once its first
request is served) imports ``qa.api.mcp`` in a worker thread, builds the server and runs its
session manager for the rest of the app's life; requests that came meanwhile wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.responses import JSONResponse
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from qa.api import background
from qa.runtime import Runtime

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"


class LazyMCP:
    """The ASGI endpoint at /mcp: waits for the MCP server, started on the first request or by `start()`."""

    def __init__(self, runtime: Runtime, *, loopback: bool) -> None:
        self._runtime = runtime
        self._loopback = loopback
        # Made by run(), in the loop of the app's lifespan: none before it starts.
        self._wanted: asyncio.Event | None = None
        self._ready: asyncio.Event | None = None
        self._router: Router | None = None
        self._error = "the MCP server runs inside the app's lifespan, which has not started"

    def start(self) -> None:
        """Ask for the MCP server to be built now (from the event loop's thread)."""
        if self._wanted is not None:
            self._wanted.set()

    async def ready(self) -> bool:
        """Start the MCP server if needed, wait for it; return False when it could not be built."""
        if self._wanted is None or self._ready is None:
            return False
        self._wanted.set()
        await self._ready.wait()
        return self._router is not None

    async def run(self) -> None:
        """Build the MCP server once it is wanted and run its session manager until cancelled (the app's lifespan)."""
        self._wanted, self._ready, self._router = asyncio.Event(), asyncio.Event(), None
        await self._wanted.wait()
        try:
            module: Any = await background.import_module("qa.api.mcp")
            server = module.server(self._runtime)
            router = Router(routes=module.routes(server, loopback=self._loopback))
        except Exception as exc:  # the API keeps serving; /mcp says why it cannot
            log.exception("the MCP server could not be built; /mcp answers 503")
            self._error = f"the MCP server could not be started: {exc}"
            self._ready.set()
            return
        async with server.session_manager.run():
            self._router = router
            self._ready.set()
            log.info("MCP server ready at %s", MCP_PATH)
            await asyncio.Event().wait()  # until the lifespan cancels this task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.ready() or self._router is None:
            log.warning("/mcp refused: %s", self._error)
            await JSONResponse({"detail": self._error}, status_code=503)(scope, receive, send)
            return
        await self._router(scope, receive, send)


def router(lazy: LazyMCP) -> APIRouter:
    """Return the /mcp route, with the lifespan that runs the MCP server once it is wanted."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(lazy.run(), name="mcp-server")
        try:
            yield
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    r = APIRouter(lifespan=lifespan)
    r.routes.append(Route(MCP_PATH, endpoint=lazy))
    return r
