"""The LangChain chain: validate -> condense follow-up -> retrieve -> answer -> cite, as LCEL Runnables."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from qa.answer.base import Answerer, Condenser, Draft
from qa.answer.condense import Turn, condense
from qa.config import LimitsSettings
from qa.errors import InputError
from qa.retrieve import HybridRetriever
from qa.types import REFUSAL, Answer, Citation, Hit

ROLES = ("user", "assistant")


def _is_unicode(text: str) -> bool:
    """Return False for text that cannot be encoded (JSON's "\\ud800" decodes to a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_question(question: Any, limits: LimitsSettings) -> str:
    """Return the stripped question or raise InputError saying what is wrong."""
    if not isinstance(question, str):
        raise InputError("question must be a string")
    stripped = question.strip()
    if not stripped:
        raise InputError("question is empty")
    if len(question) > limits.max_question_chars:
        raise InputError(
            f"question is {len(question)} characters; the limit is {limits.max_question_chars} (limits.max_question_chars)"
        )
    if not _is_unicode(question):
        raise InputError("question holds a character that is not valid Unicode (a lone surrogate)")
    # Nothing to search for ("?", "...", "🙂🙂"): an error the asker can fix, rather than a guess quoted from the documents.
    if not any(ch.isalnum() for ch in stripped):
        raise InputError("question has no letters or digits: ask it in words")
    return stripped


def validate_history(history: Sequence[Any], limits: LimitsSettings) -> list[Turn]:
    """Return history as turns or raise InputError naming the bad turn."""
    if len(history) > limits.max_history_turns:
        raise InputError(f"history has {len(history)} turns; the limit is {limits.max_history_turns}")
    turns = []
    for i, t in enumerate(history):
        role = t.role if isinstance(t, Turn) else (t.get("role") if isinstance(t, dict) else None)
        content = t.content if isinstance(t, Turn) else (t.get("content") if isinstance(t, dict) else None)
        if role not in ROLES:
            raise InputError(f"history[{i}].role must be 'user' or 'assistant'")
        if not isinstance(content, str):
            raise InputError(f"history[{i}].content must be a string")
        if not _is_unicode(content):
            raise InputError(f"history[{i}].content holds a character that is not valid Unicode (a lone surrogate)")
        if len(content) > limits.max_question_chars * 10:
            raise InputError(f"history[{i}].content is too long")
        turns.append(Turn(role, content))
    return turns


def located(citations: Sequence[Citation], hits: Sequence[Hit]) -> tuple[Citation, ...]:
    """Return the citations with the heading and page of the passage each one quotes."""
    by_id = {h.passage.passage_id: h.passage for h in hits}
    out = []
    for c in citations:
        p = by_id.get(c.passage_id)
        out.append(replace(c, heading=p.heading, page=p.page) if p is not None else c)
    return tuple(out)


def _timed(state: dict[str, Any], name: str, started: float) -> None:
    state["timings_ms"][name] = (time.perf_counter() - started) * 1000.0


class AnswerChain:
    """Answers questions over a retriever with an answerer; the same object serves CLI, API and UI."""

    def __init__(self, retriever: HybridRetriever, answerer: Answerer, limits: LimitsSettings) -> None:
        self.retriever = retriever
        self.answerer = answerer
        self.limits = limits
        self.prepare: Runnable[dict[str, Any], dict[str, Any]] = (
            RunnableLambda(self._validate, name="validate")
            | RunnableLambda(self._condense, name="condense")
            | RunnableLambda(self._retrieve, name="retrieve")
        )
        self.chain: Runnable[dict[str, Any], Answer] = self.prepare | RunnableLambda(self._answer, name="answer")

    def _validate(self, inputs: dict[str, Any]) -> dict[str, Any]:
        top_k = inputs.get("top_k")
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 50):
            raise InputError("top_k must be an integer from 1 to 50")
        return {
            "question": validate_question(inputs.get("question"), self.limits),
            "history": validate_history(inputs.get("history") or [], self.limits),
            "top_k": top_k,
            "timings_ms": {},
            "started": time.perf_counter(),
        }

    def _condense(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        # An answerer with a language model may rewrite follow-ups itself; the rule-based one is the default.
        rewrite = self.answerer.condense if isinstance(self.answerer, Condenser) else condense
        state["standalone"] = rewrite(state["question"], state["history"])
        _timed(state, "condense", t)
        return state

    def _retrieve(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        qvec = self.retriever.embed_query(state["standalone"])
        _timed(state, "embed", t)
        t = time.perf_counter()
        state["hits"] = self.retriever.retrieve(state["standalone"], state["top_k"], qvec=qvec)
        _timed(state, "retrieve", t)
        return state

    def _finish(self, state: dict[str, Any], draft: Draft) -> Answer:
        state["timings_ms"].update(draft.timings_ms)
        state["timings_ms"]["total"] = (time.perf_counter() - state["started"]) * 1000.0
        return Answer(
            answer=REFUSAL if draft.refused else draft.text,
            refused=draft.refused,
            standalone_question=state["standalone"],
            citations=located(draft.citations, state["hits"]),
            passages=tuple(state["hits"]),
            timings_ms=state["timings_ms"],
            fallback=draft.fallback,
            removed=draft.removed,
            flagged=draft.flagged,
        )

    def _answer(self, state: dict[str, Any]) -> Answer:
        t = time.perf_counter()
        draft = self.answerer.answer(state["standalone"], state["hits"])
        _timed(state, "answer", t)
        return self._finish(state, draft)

    def ask(self, question: str, history: Sequence[Any] = (), top_k: int | None = None) -> Answer:
        """Return the cited answer to a question (with earlier turns as context)."""
        return self.chain.invoke({"question": question, "history": list(history), "top_k": top_k})

    def stream(self, question: str, history: Sequence[Any] = (), top_k: int | None = None) -> Iterator[str | Answer]:
        """Yield answer text as it is produced, then the final Answer."""
        state = self.prepare.invoke({"question": question, "history": list(history), "top_k": top_k})
        t = time.perf_counter()
        for item in self.answerer.stream(state["standalone"], state["hits"]):
            if isinstance(item, Draft):
                _timed(state, "answer", t)
                yield self._finish(state, item)
            else:
                yield item
