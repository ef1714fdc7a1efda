"""POST /api/ask and /api/ask/stream: a question and its history in, the cited answer out."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from functools import partial
from typing import Any

from anyio import CapacityLimiter
from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from qa.answer.chain import AnswerChain
from qa.api.schemas import AskRequest, AskResponse, ask_request
from qa.api.streams import answer_limiter, in_thread, run_limited
from qa.api.titles import Titler, unchanged
from qa.errors import QAError
from qa.types import Answer


def sse(event: str, data: Any) -> str:
    """Return one Server-Sent Event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _events(first: str | Answer, rest: Iterator[str | Answer], titled: Titler = unchanged) -> Generator[str, None, None]:
    item: str | Answer | None = first
    try:
        while item is not None:
            if isinstance(item, Answer):
                yield sse("answer", titled(item).to_dict())
            else:
                yield sse("delta", {"text": item})
            item = next(rest, None)
    except QAError as exc:
        yield sse("error", {"detail": str(exc)})
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()  # a client that went away frees its generation


def router(chain: AnswerChain, limiter: CapacityLimiter | None = None, titled: Titler = unchanged) -> APIRouter:
    """Return the routes that answer questions (at most ``limiter.total`` answering at once; citations titled by ``titled``)."""
    r = APIRouter()
    slots = limiter or answer_limiter()
    # The schema states the configured limits (question length, history turns).
    body_type = ask_request(chain.limits)

    async def ask(body: AskRequest) -> JSONResponse:
        """Return the cited answer: the same object `qa ask --json` prints."""
        history = [t.model_dump() for t in body.history]
        asked = partial(chain.ask, documents=body.documents)
        answer = await run_limited(slots, lambda: titled(asked(body.question, history, body.top_k)))
        return JSONResponse(answer.to_dict())

    async def ask_stream(body: AskRequest) -> StreamingResponse:
        """Stream `event: delta` ({"text"}) as the answer is produced, then `event: answer` with the full object."""
        events = chain.stream(body.question, [t.model_dump() for t in body.history], body.top_k, documents=body.documents)
        first = await run_limited(slots, next, events)  # validation happens here, so a bad request still gets a 4xx status
        return StreamingResponse(
            in_thread(_events(first, events, titled), slots),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    ask.__annotations__["body"] = ask_stream.__annotations__["body"] = body_type
    r.post("/ask", response_model=None, responses={200: {"model": AskResponse}}, summary="Answer a question")(ask)
    r.post(
        "/ask/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "`delta` events with answer text, then one `answer` event."}},
        summary="Answer a question as Server-Sent Events",
    )(ask_stream)
    return r
