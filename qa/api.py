"""The answer API: FastAPI routes that translate HTTP to one library call each.

Schemas live here and only describe the contract; the chain decides everything else
(empty or over-long questions, history limits) and says what is wrong in an InputError.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.errors import InputError, QAError
from qa.runtime import Runtime
from qa.types import Answer

log = logging.getLogger(__name__)

API_PREFIX = "/api"
DOCS_ASSETS = "/static-offline-docs"


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnIn(_Schema):
    role: Literal["user", "assistant"] = Field(description="Who said it.")
    content: StrictStr = Field(description="What was said (an assistant turn may keep its [n] markers).")


class AskRequest(_Schema):
    question: StrictStr = Field(description="The question; a follow-up may refer to earlier turns.", examples=["Who is Antony Blinken?"])
    history: list[TurnIn] = Field(default_factory=list, description="Earlier turns of the conversation, oldest first.")
    top_k: StrictInt | None = Field(None, ge=1, le=50, description="Passages to retrieve (default: retrieve.top_k).")


class CitationOut(BaseModel):
    n: int = Field(description="The marker number: `[n]` in the answer.")
    passage_id: str
    source: str = Field(description="Document path relative to the corpus root.")
    paragraph: int = Field(description="1-based paragraph number in the document.")
    text: str = Field(description="The whole passage.")
    quote: str = Field(description="The supporting sentence; `text[start:end] == quote`.")
    start: int
    end: int
    support: float = Field(description="How well the quote supports the answer, 0 to 1.")


class HitOut(BaseModel):
    passage_id: str
    source: str
    paragraph: int
    text: str
    score: float = Field(description="Fused retrieval score (higher is better).")


class UnsupportedOut(BaseModel):
    sentence: str
    support: float
    reason: str
    cited: list[int]


class AskResponse(BaseModel):
    answer: str = Field(description="Answer text with inline `[n]` markers, or the refusal sentence.")
    refused: bool = Field(description="True when the documents do not hold the answer.")
    standalone_question: str = Field(description="The question rewritten without the history: what was searched for.")
    citations: list[CitationOut]
    passages: list[HitOut] = Field(description="The retrieved passages, best first (closest passages on a refusal).")
    timings_ms: dict[str, float]
    fallback: str | None = Field(None, description="Present only when a configured generator failed and a fallback answered.")
    removed: list[UnsupportedOut] | None = Field(None, description="Only when generated sentences failed verification: removed.")
    flagged: list[UnsupportedOut] | None = Field(None, description="Only when generated sentences failed verification: kept, flagged.")


class PassageOut(BaseModel):
    passage_id: str
    source: str
    paragraph: int
    text: str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    passages: int = Field(description="Passages in the index.")
    embedding_model: str
    answerer: str
    problems: list[str] = Field(description="What is wrong when the status is degraded.")


class ErrorOut(BaseModel):
    detail: str = Field(description="What is wrong, written for the caller.")


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "The body is not valid JSON.",
        401: "An API key is configured and the request does not carry it.",
        413: "The body is larger than limits.max_body_bytes.",
        422: "The request is invalid (see detail).",
    }.items()
}


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


class ApiGuard:
    """ASGI middleware for /api: check the bearer key, then bound the body, before any route reads it."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        if self.api_key is not None and not self._authorized(scope):
            await _error(scope, send, 401, "missing or wrong API key: send 'Authorization: Bearer <key>'", {"www-authenticate": "Bearer"})
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _error(scope, send, 413, f"request body is larger than {self.max_body_bytes} bytes (limits.max_body_bytes)")
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
            if size > self.max_body_bytes:
                await _error(scope, send, 413, f"request body is larger than {self.max_body_bytes} bytes (limits.max_body_bytes)")
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

    def _authorized(self, scope: Scope) -> bool:
        assert self.api_key is not None
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.api_key)
        return False


async def _error(scope: Scope, send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    response = JSONResponse({"detail": detail}, status_code=status, headers=headers)

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _events(first: str | Answer, rest: Iterator[str | Answer]) -> Iterator[str]:
    item: str | Answer | None = first
    try:
        while item is not None:
            if isinstance(item, Answer):
                yield _sse("answer", item.to_dict())
            else:
                yield _sse("delta", {"text": item})
            item = next(rest, None)
    except QAError as exc:
        yield _sse("error", {"detail": str(exc)})


def create_app(runtime: Runtime) -> FastAPI:
    """Return the FastAPI app serving the answer API under /api (docs at /docs and /redoc)."""
    settings = runtime.settings
    chain = runtime.chain
    # /docs and /redoc load Swagger UI and ReDoc from the installed fastapi-offline package
    # (mounted at DOCS_ASSETS), not from a CDN, so they work on an air-gapped machine.
    app = FastAPIOffline(
        title="qa answer API",
        version="1",
        summary="Answers from your documents; every answer carries checkable citations.",
        static_url=DOCS_ASSETS,
        redoc_url=None,
    )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        # ReDoc's menu always shows a logo from cdn.redoc.ly: keep the browser from asking for it.
        page.headers["Content-Security-Policy"] = "img-src 'self' data:"
        return page

    # The key is enforced by ApiGuard (before the body is read); this only documents it in /docs.
    security = [Security(HTTPBearer(auto_error=False))] if settings.server.api_key else []
    router = APIRouter(prefix=API_PREFIX, dependencies=security, responses=_ERRORS)

    @router.post("/ask", response_model=None, responses={200: {"model": AskResponse}}, summary="Answer a question")
    def ask(body: AskRequest) -> JSONResponse:
        """Return the cited answer: the same object `qa ask --json` prints."""
        answer = chain.ask(body.question, [t.model_dump() for t in body.history], body.top_k)
        return JSONResponse(answer.to_dict())

    @router.post(
        "/ask/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "`delta` events with answer text, then one `answer` event."}},
        summary="Answer a question as Server-Sent Events",
    )
    def ask_stream(body: AskRequest) -> StreamingResponse:
        """Stream `event: delta` ({"text"}) as the answer is produced, then `event: answer` with the full object."""
        events = chain.stream(body.question, [t.model_dump() for t in body.history], body.top_k)
        first = next(events)  # validation happens here, so a bad request still gets a 4xx status
        return StreamingResponse(
            _events(first, events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.get("/passages/{passage_id}", response_model=PassageOut, responses={404: {"model": ErrorOut}}, summary="Get a passage")
    def passage(passage_id: str) -> PassageOut:
        """Return one indexed passage by id (the `passage_id` of a citation)."""
        found = runtime.retriever.get(passage_id)
        if found is None:
            raise HTTPException(404, f"no passage with id '{passage_id}'")
        return PassageOut(passage_id=found.passage_id, source=found.source, paragraph=found.paragraph, text=found.text)

    @router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}}, summary="Report readiness")
    def health() -> JSONResponse:
        """Return status, passage count, embedding model and answerer (503 when degraded)."""
        count = runtime.retriever.passage_count
        problems = [p for p in (runtime.answerer.health(),) if p]
        if count == 0:
            problems.append("the store holds no passages: run `qa ingest`")
        out = HealthOut(
            status="degraded" if problems else "ok",
            passages=count,
            embedding_model=runtime.embedder.name,
            answerer=runtime.answerer.name,
            problems=problems,
        )
        return JSONResponse(out.model_dump(), status_code=503 if problems else 200)

    app.include_router(router)

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

    app.add_middleware(ApiGuard, api_key=settings.server.api_key, max_body_bytes=settings.limits.max_body_bytes)
    return app
