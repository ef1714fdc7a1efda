"""The HTTP contract: request and response schemas shared by every resource module."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, create_model

from qa.config import LimitsSettings
from qa.types import MAX_DOCUMENT_FILTER

API_PREFIX = "/api"
DEFAULT_LIMITS = LimitsSettings()


def encodable(text: str) -> str:
    """Return the text, or raise ValueError when it cannot be written as UTF-8 (a lone surrogate from JSON's \\ud800)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"holds a character that is not valid Unicode (a lone surrogate at position {exc.start})") from None
    return text


# Every string a client sends: JSON may carry lone surrogates, which Python decodes but nothing downstream can encode.
Text = Annotated[StrictStr, AfterValidator(encodable)]


# Document ids (as GET /api/documents lists them) a question is restricted to.
DocumentIds = Annotated[list[Annotated[StrictStr, Field(min_length=1)]], Field(min_length=1, max_length=MAX_DOCUMENT_FILTER)]


class Schema(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class CitedPassage(BaseModel):
    """A passage an earlier answer cited; other fields of a returned citation may be sent back and are ignored."""

    model_config = ConfigDict(extra="ignore")
    passage_id: StrictStr = Field(min_length=1, description="The `passage_id` of a citation the answer carried.")


class TurnIn(Schema):
    role: Literal["user", "assistant"] = Field(description="Who said it.")
    content: Text = Field(
        max_length=DEFAULT_LIMITS.max_question_chars * 10, description="What was said (an assistant turn may keep its [n] markers)."
    )
    citations: list[CitedPassage] | None = Field(
        None,
        description="Assistant turns: the citations the answer carried, so follow-ups stay on those passages. "
        "Without them the passages are found from the answer's text.",
    )


class AskRequest(Schema):
    question: Text = Field(
        min_length=1,
        max_length=DEFAULT_LIMITS.max_question_chars,
        description="The question; a follow-up may refer to earlier turns. It must hold a letter or a digit.",
        examples=["Who is Antony Blinken?"],
    )
    history: list[TurnIn] = Field(
        default_factory=list, max_length=DEFAULT_LIMITS.max_history_turns, description="Earlier turns of the conversation, oldest first."
    )
    top_k: StrictInt | None = Field(None, ge=1, le=50, description="Passages to retrieve (default: retrieve.top_k).")
    documents: DocumentIds | None = Field(
        None,
        description="Search only these documents (ids as `GET /api/documents` lists them); leave it out to search all. "
        "An unknown id is a 422 naming it.",
    )


def ask_request(limits: LimitsSettings) -> type[AskRequest]:
    """Return AskRequest with the configured question length and history limits stated in its schema."""
    if limits.max_question_chars == DEFAULT_LIMITS.max_question_chars and limits.max_history_turns == DEFAULT_LIMITS.max_history_turns:
        return AskRequest
    fields = AskRequest.model_fields
    question = fields["question"]
    return create_model(
        "AskRequest",
        __base__=AskRequest,
        question=(
            Text,
            Field(min_length=1, max_length=limits.max_question_chars, description=question.description, examples=question.examples),
        ),
        history=(
            list[TurnIn],
            Field(default_factory=list, max_length=limits.max_history_turns, description=fields["history"].description),
        ),
    )


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
    heading: str = Field("", description="The heading of the section the passage is in (empty when none).")
    page: int | None = Field(None, description="1-based page the passage starts on (paged formats such as PDF).")
    title: str | None = Field(
        None, description="The cited document's title, as `GET /api/documents` lists it (null where the server keeps no document list)."
    )


class HitOut(BaseModel):
    passage_id: str
    source: str
    paragraph: int
    text: str
    score: float = Field(description="Fused retrieval score (higher is better).")
    page: int | None = None
    heading: str = ""


class UnsupportedOut(BaseModel):
    sentence: str = Field(description="The generated sentence, or the closest quote a refusal found (not an answer).")
    support: float = Field(description="How well the documents support it, 0 to 1.")
    reason: str = Field(description="Why it was not kept.")
    cited: list[int] = Field(description="The `[n]` markers the generated sentence carried (empty for a refusal's quote).")


class AskResponse(BaseModel):
    answer: str = Field(description="Answer text with inline `[n]` markers, or the refusal sentence.")
    refused: bool = Field(description="True when the documents do not hold the answer.")
    standalone_question: str = Field(description="The question rewritten without the history: what was searched for.")
    citations: list[CitationOut]
    passages: list[HitOut] = Field(description="The retrieved passages, best first (closest passages on a refusal).")
    timings_ms: dict[str, float]
    fallback: str | None = Field(None, description="Present only when a configured generator failed and a fallback answered.")
    removed: list[UnsupportedOut] | None = Field(
        None,
        description="Only when a sentence was not supported by the documents: the generated sentences verification removed, "
        "and, on an extractive refusal that gives a `refusal_reason`, the closest (too weak) quote found, whose `reason` is that "
        "reason. Read `refusal_reason` for why an answer was refused.",
    )
    flagged: list[UnsupportedOut] | None = Field(None, description="Only when generated sentences failed verification: kept, flagged.")
    refusal_reason: str | None = Field(
        None,
        description="Only on a refusal whose cause can be named, in words for a user: "
        "e.g. “The documents do not mention “Fort Stevenson”.” (the question names something no document writes).",
    )


class PassageOut(BaseModel):
    passage_id: str
    source: str
    paragraph: int
    text: str
    heading: str = ""
    page: int | None = None


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
