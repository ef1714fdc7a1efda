"""Turn validation errors and library errors into JSON responses with one-line messages."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from qa.errors import InputError, QAError

log = logging.getLogger(__name__)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "body"


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
        msg = "unknown field" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid")
        messages.append(f"{where}: {msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, "; ".join(messages) + more


def install_error_handlers(app: FastAPI) -> None:
    """Answer every validation and library error as JSON: 400/422 for the caller's mistakes, 503 otherwise."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail = describe_validation_error(list(exc.errors()))
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(QAError)
    async def _unavailable(request: Request, exc: QAError) -> JSONResponse:
        log.warning("answer failed: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503)
