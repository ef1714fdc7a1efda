"""Turn validation errors and library errors into JSON responses with one-line messages."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from qa.errors import InputError, QAError

log = logging.getLogger(__name__)

OPENAI_PREFIX = "/v1"
# OpenAI's error "type" and "code" per status, so its SDKs raise the matching exception.
_OPENAI_TYPES = {401: "authentication_error", 404: "not_found_error", 503: "server_error", 500: "server_error"}
_OPENAI_CODES = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def error_content(path: str, status: int, detail: str) -> dict[str, Any]:
    """Return the JSON error body for a path: OpenAI's shape under /v1, ``{"detail": ...}`` elsewhere."""
    if path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/"):
        kind = _OPENAI_TYPES.get(status, "invalid_request_error")
        return {"error": {"message": detail, "type": kind, "param": None, "code": _OPENAI_CODES.get(status)}}
    return {"detail": detail}


def _error(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_content(request.url.path, status, detail), status_code=status, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "body"


def _describe(where: str, err: dict[str, Any]) -> str:
    kind, ctx, value = err.get("type"), err.get("ctx") or {}, err.get("input")
    if kind == "extra_forbidden":
        return f"{where}: unknown field"
    # Length limits, said the way the library says them (`question is empty`, `history has 41 turns`).
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{where} is empty"
    if kind == "string_too_long" and isinstance(value, str):
        return f"{where} is {len(value)} characters; the limit is {ctx.get('max_length')}"
    if kind == "too_long" and isinstance(value, list):
        noun = "turns" if where == "history" else "items"
        return f"{where} has {len(value)} {noun}; the limit is {ctx.get('max_length')}"
    return f"{where}: {err.get('msg', 'invalid')}"


def describe_validation_error(errors: list[Any]) -> tuple[int, str]:
    """Return the status code and a one-line message for FastAPI validation errors."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        return 400, f"request body is not valid JSON: {first.get('ctx', {}).get('error', 'decode error')}"
    if tuple(first.get("loc", ())) == ("body",):
        if first.get("type") == "missing":
            return 422, "request body is required: a JSON object with a 'question'"
        return 422, "request body must be a JSON object sent with 'Content-Type: application/json'"
    messages = []
    for err in errors[:5]:
        where = _location(tuple(err.get("loc", ())))
        messages.append(_describe(where, err))
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, "; ".join(messages) + more


def install_error_handlers(app: FastAPI) -> None:
    """Answer every validation and library error as JSON: 400/422 for the caller's mistakes, 503 otherwise."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail = describe_validation_error(list(exc.errors()))
        return _error(request, status, detail)

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> JSONResponse:
        return _error(request, 422, str(exc))

    @app.exception_handler(QAError)
    async def _unavailable(request: Request, exc: QAError) -> JSONResponse:
        log.warning("answer failed: %s", exc)
        return _error(request, 503, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(request, exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the caller's fault: logged with its stack trace, answered as JSON all the same.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal error: the server log has the details")


def install_fallback_routes(app: FastAPI, prefixes: tuple[str, ...]) -> None:
    """Answer unknown paths under our prefixes with 404 and wrong methods with 405, before a UI mounted at / sees them."""
    known: list[tuple[re.Pattern[str], set[str]]] = []

    def fallback(request: Request) -> JSONResponse:
        if not known:  # the documented routes, read once the app is complete
            for template, operations in app.openapi().get("paths", {}).items():
                known.append((compile_path(template)[0], {m.upper() for m in operations}))
        allowed = set().union(*(methods for pattern, methods in known if pattern.match(request.url.path)))
        if allowed:
            return _error(request, 405, "Method Not Allowed", {"allow": ", ".join(sorted(allowed))})
        return _error(request, 404, "Not Found")

    for prefix in prefixes:
        app.add_api_route(prefix + "/{rest:path}", fallback, methods=METHODS, include_in_schema=False)
