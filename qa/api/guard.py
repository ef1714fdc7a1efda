"""The door: one ASGI middleware in front of every route: the key, then the body size, before any route reads a byte.

With ``server.api_key`` set, every path needs the key: the answer API, the OpenAI-compatible
API, MCP, the OpenAPI docs, the chat page and Gradio's own API and uploads. A caller proves it
with ``Authorization: Bearer <key>``; a browser with the session cookie the login page sets
(an HMAC of the key, so the cookie is not the key). Only health (and the login page itself)
answers without it. Bodies are bounded on every path, uploads by ``limits.max_file_bytes``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.errors import error_content

OPEN_PATHS = frozenset({"/api/health"})
LOGIN_PATH = "/login"
SESSION_COOKIE = "qa_session"
# Routes that take files: their bodies may be as large as one document (limits.max_file_bytes).
UPLOAD_PREFIXES = ("/api/documents", "/gradio_api/upload")
# Machine clients get a 401; a browser asking for a page is sent to the login page instead.
_API_PREFIXES = ("/api", "/v1", "/mcp", "/gradio_api", "/openapi.json")
KEY_HINT = "missing or wrong API key: send 'Authorization: Bearer <key>'"


def session_token(api_key: str) -> str:
    """Return the web session cookie value for a key: an HMAC of it, never the key itself."""
    return hmac.new(api_key.encode("utf-8"), b"qa web session v1", hashlib.sha256).hexdigest()


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


class ApiGuard:
    """ASGI middleware for every path: check the key (or session cookie), then bound the body."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        max_body_bytes: int,
        max_upload_bytes: int | None = None,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.api_key = api_key.encode("utf-8") if api_key else None
        self.session = session_token(api_key).encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        upload = max_upload_bytes if max_upload_bytes is not None else max_body_bytes
        limits = {prefix: upload for prefix in UPLOAD_PREFIXES}
        limits.update(body_limits or {})
        # Longest prefix first, so a narrower route's limit wins.
        self.body_limits = sorted(limits.items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> tuple[int, str]:
        """Return the body limit of a path and the setting that sets it."""
        for prefix, limit in self.body_limits:
            if _under(path, prefix):
                return limit, "limits.max_file_bytes"
        return self.max_body_bytes, "limits.max_body_bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self.api_key is not None and path not in OPEN_PATHS and path != LOGIN_PATH and not self.authorized(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "missing or wrong API key"})
                return
            await self._refuse(scope, send, path)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(path)
        too_big = f"request body is larger than {limit} bytes ({setting})"
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(scope, send, 413, too_big)
            return
        # Buffer the body (bounded) so a chunked upload cannot exceed the limit either.
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
                await error_response(scope, send, 413, too_big)
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

    def authorized(self, scope: Scope) -> bool:
        """Return True when the request carries the key as a bearer token or the login session cookie."""
        assert self.api_key is not None and self.session is not None
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.api_key):
                    return True
            elif name == b"cookie":
                cookie = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE, "")
                if hmac.compare_digest(cookie.encode("latin-1", "replace"), self.session):
                    return True
        return False

    async def _refuse(self, scope: Scope, send: Send, path: str) -> None:
        headers = dict(scope.get("headers") or [])
        wants_page = scope.get("method") in ("GET", "HEAD") and b"text/html" in headers.get(b"accept", b"")
        if wants_page and not any(_under(path, p) for p in _API_PREFIXES):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
            await _send(scope, send, RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303))
            return
        await error_response(scope, send, 401, KEY_HINT, {"www-authenticate": "Bearer"})


async def _send(scope: Scope, send: Send, response: Response) -> None:
    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


async def error_response(scope: Scope, send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """Send a JSON error (in the shape the path's clients expect) without reading the request body."""
    await _send(scope, send, JSONResponse(error_content(scope.get("path", ""), status, detail), status_code=status, headers=headers))
