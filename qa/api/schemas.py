"""The HTTP contract: request and response schemas shared by every resource module."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

API_PREFIX = "/api"


class Schema(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class CitedPassage(BaseModel):
    """A passage an earlier answer cited; other fields of a returned citation may be sent back and are ignored."""

    model_config = ConfigDict(extra="ignore")
    passage_id: StrictStr = Field(min_length=1, description="The `passage_id` of a citation the answer carried.")


class TurnIn(Schema):
    role: Literal["user", "assistant"] = Field(description="Who said it.")
    content: StrictStr = Field(description="What was said (an assistant turn may keep its [n] markers).")
    citations: list[CitedPassage] | None = Field(
        None,
        description="Assistant turns: the citations the answer carried, so follow-ups stay on those passages. "
        "Without them the passages are found from the answer's text.",
    )


class AskRequest(Schema):
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


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "The body is not valid JSON.",
        401: "An API key is configured and the request does not carry it.",
        413: "The body is larger than limits.max_body_bytes.",
        422: "The request is invalid (see detail).",
    }.items()
}
