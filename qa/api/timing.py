"""The `Server-Timing` header: how long the server took from a request's arrival in the app to its response's start."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"server-timing"


class ServerTiming:
    """ASGI middleware adding ``Server-Timing: app;dur=<ms>`` to every HTTP response (browsers show it; benches read it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                message["headers"] = [*message.get("headers", ()), (HEADER, f"app;dur={ms:.2f}".encode())]
            await send(message)

        await self.app(scope, receive, timed)


def server_ms(header: str | None) -> float | None:
    """Return the ``app`` duration (ms) of a Server-Timing header value, or None when it has none."""
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        if name == "app":
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "dur":
                    return float(value)
    return None
