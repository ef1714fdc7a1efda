"""POST /v1/chat/completions and GET /v1/models: the answer chain behind OpenAI's chat API.

The messages become the question (the last user message) and its history (earlier user and
assistant turns; system prompts are ignored: the documents decide the answer). The reply's
``content`` is the cited answer with its ``[n]`` markers; its citations ride along in an extra
``context`` field of the message (Azure OpenAI's name for it), sent once, in the final chunk of
a stream. A refusal is a normal reply whose ``context.refused`` is true (``context.refusal_reason``
says why, when it can). Sampling options
(``temperature``, ``max_tokens`` …) are accepted and ignored: answers are quoted, not sampled.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator, Iterator
from functools import partial
from typing import Annotated, Any, Literal

from anyio import CapacityLimiter
from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from qa.answer.chain import AnswerChain
from qa.api.schemas import DEFAULT_LIMITS, CitationOut, DocumentIds, Text
from qa.api.streams import answer_limiter, in_thread, run_limited
from qa.api.titles import Titler, unchanged
from qa.errors import InputError, QAError
from qa.types import Answer

MODEL_ID = "qa"
OWNER = "qa"
MAX_MESSAGES = 1000


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Text = Field(max_length=50, description="Only 'text' parts are read.")
    text: Text | None = Field(None, max_length=DEFAULT_LIMITS.max_question_chars * 10)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Annotated[Text, Field(max_length=DEFAULT_LIMITS.max_question_chars * 10)] | Annotated[
        list[ContentPart], Field(max_length=100)
    ] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool | None = None


class ChatCompletionRequest(BaseModel):
    """OpenAI's request body; options this server does not use are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: Text = Field(MODEL_ID, min_length=1, max_length=200, description=f"Any name; `{MODEL_ID}` is the one GET /v1/models lists.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES, description="The conversation; the last is the question.")
    stream: StrictBool = Field(False, description="Send Server-Sent Events `chat.completion.chunk`s, then `data: [DONE]`.")
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(None, ge=1, le=1, description="Only one choice is produced.")
    documents: DocumentIds | None = Field(
        None, description="An extension: search only these document ids (as `GET /api/documents` lists them); all by default."
    )


class AnswerContext(BaseModel):
    refused: bool = Field(description="True when the documents do not hold the answer (the content is the refusal sentence).")
    citations: list[CitationOut] = Field(description="What each `[n]` in the content quotes.")
    standalone_question: str = Field(description="The question rewritten without the history: what was searched for.")
    refusal_reason: str | None = Field(
        None, description="Only on a refusal whose cause can be named: why, in words for a user (as in `/api/ask`)."
    )


class ReplyMessage(BaseModel):
    role: Literal["assistant"]
    content: str
    refusal: None = None
    context: AnswerContext


class Choice(BaseModel):
    index: int
    message: ReplyMessage
    finish_reason: Literal["stop"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]


class ModelOut(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelOut]


def _text(content: str | list[ContentPart] | None, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if part.type != "text":
            raise InputError(f"{where}: content parts of type '{part.type}' are not supported, only 'text'")
        parts.append(part.text or "")
    return "\n".join(parts)


def to_question(messages: list[ChatMessage], max_turns: int) -> tuple[str, list[dict[str, str]]]:
    """Return the question (the last message, which must be the user's) and the earlier turns as history."""
    last = messages[-1]
    if last.role != "user":
        raise InputError(f"the last message must be the user's question, not a '{last.role}' message")
    question = _text(last.content, f"messages[{len(messages) - 1}]")
    history = [
        {"role": m.role, "content": _text(m.content, f"messages[{i}]")}
        for i, m in enumerate(messages[:-1])
        if m.role in ("user", "assistant") and m.content
    ]
    # Chat front ends send the whole conversation: the latest turns are the ones a follow-up refers to.
    return question, history[-max_turns:] if max_turns else []


def context_of(answer: Answer) -> dict[str, Any]:
    """Return the extra ``context`` field: refusal flag (and reason, when there is one), citations and the searched-for question."""
    return {
        "refused": answer.refused,
        "citations": [c.to_dict() for c in answer.citations],
        "standalone_question": answer.standalone_question,
    } | ({"refusal_reason": answer.refusal_reason} if answer.refusal_reason is not None else {})


def remainder(sent: str, final: str) -> str:
    """Return what of the final answer text a stream has not sent yet."""
    return final[len(sent) :] if final.startswith(sent) else ""


class _Reply:
    """The fixed parts of one completion: id, creation time, model name."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def completion(self, answer: Answer) -> dict[str, Any]:
        message = {"role": "assistant", "content": answer.answer, "refusal": None, "context": context_of(answer)}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model, "choices": [choice]}

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model, "choices": [choice]}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _chunks(reply: _Reply, first: str | Answer, rest: Iterator[str | Answer], titled: Titler = unchanged) -> Generator[str, None, None]:
    sent = ""
    item: str | Answer | None = first
    try:
        yield reply.chunk({"role": "assistant", "content": ""})
        while item is not None:
            if isinstance(item, Answer):
                tail = remainder(sent, item.answer)
                if tail:
                    yield reply.chunk({"content": tail})
                yield reply.chunk({"context": context_of(titled(item))}, finish="stop")
            else:
                sent += item
                yield reply.chunk({"content": item})
            item = next(rest, None)
    except QAError as exc:
        error = {"message": str(exc), "type": "server_error", "param": None, "code": None}
        yield f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n"
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()  # a client that went away frees its generation
    yield "data: [DONE]\n\n"


def router(chain: AnswerChain, limiter: CapacityLimiter | None = None, titled: Titler = unchanged) -> APIRouter:
    """Return the OpenAI-compatible routes (at most ``limiter.total`` answering at once; citations titled by ``titled``)."""
    r = APIRouter()
    slots = limiter or answer_limiter()

    @r.get("/models", response_model=ModelList, summary="List the model (OpenAI-compatible)")
    def models() -> dict[str, Any]:
        """Return the one model this server answers as."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": OWNER}]}

    @r.post(
        "/chat/completions",
        response_model=None,
        responses={200: {"model": ChatCompletion, "content": {"text/event-stream": {}}}},
        summary="Answer the last user message (OpenAI-compatible)",
    )
    async def chat_completions(body: ChatCompletionRequest) -> JSONResponse | StreamingResponse:
        """Return a chat.completion whose content is the cited answer (or, with `stream`, its chunks)."""
        question, history = to_question(body.messages, chain.limits.max_history_turns)
        reply = _Reply(body.model)
        if not body.stream:
            asked = partial(chain.ask, documents=body.documents)
            return JSONResponse(reply.completion(await run_limited(slots, lambda: titled(asked(question, history)))))
        events = chain.stream(question, history, documents=body.documents)
        first = await run_limited(slots, next, events)  # validation and retrieval happen here, so a bad request still gets a 4xx status
        return StreamingResponse(
            in_thread(_chunks(reply, first, events, titled), slots),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return r
