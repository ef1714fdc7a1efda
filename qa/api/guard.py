"""The door: one ASGI middleware that checks the key and bounds the body before any route reads it."""

from __future__ import annotations

import hmac

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.schemas import API_PREFIX

UPLOAD_PATHS = {API_PREFIX + "/documents"}
UPLOAD_OVERHEAD_BYTES = 64_000  # multipart boundaries and headers around the file bytes


class ApiGuard:
    """ASGI middleware for /api: check the bearer key, then bound the body, before any route reads it."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int, upload_bytes: int | None = None) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        if self.api_key is not None and not self._authorized(scope):
            detail = "missing or wrong API key: send 'Authorization: Bearer <key>'"
            await error_response(scope, send, 401, detail, {"www-authenticate": "Bearer"})
            return
        limit, limit_name = self._limit(scope)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(scope, send, 413, f"request body is larger than {limit} bytes ({limit_name})")
            return
        # Buffer the body (it is small by contract) so a chunked upload cannot exceed the limit either.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await error_response(scope, send, 413, f"request body is larger than {limit} bytes ({limit_name})")
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    # --- uploads (issue 9): document uploads may be as large as one document, not one question.
    def _limit(self, scope: Scope) -> tuple[int, str]:
        if self.upload_bytes is not None and scope.get("method") == "POST" and scope.get("path") in UPLOAD_PATHS:
            return self.upload_bytes + UPLOAD_OVERHEAD_BYTES, "limits.max_file_bytes"
        return self.max_body_bytes, "limits.max_body_bytes"

    def _authorized(self, scope: Scope) -> bool:
        assert self.api_key is not None
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.api_key)
        return False


async def error_response(scope: Scope, send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """Send a JSON error without reading the request body."""
    response = JSONResponse({"detail": detail}, status_code=status, headers=headers)

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)
