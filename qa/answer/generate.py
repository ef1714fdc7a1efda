"""Generative answers: a LangChain chat model writes, verification decides what the user sees.

The model gets the numbered passages (``qa.answer.prompts``) and must cite ``[n]`` per
sentence; ``qa.answer.verify`` keeps only the sentences their cited passages support.
When nothing survives, or the provider fails, the extractive answer is given instead and
the response says so (``fallback: "extractive"``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel

from qa.answer.base import Answerer, Draft
from qa.answer.condense import Turn, faithful
from qa.answer.condense import condense as rule_condense
from qa.answer.prompts import Message, answer_messages, condense_messages
from qa.answer.verify import Verified, is_refusal, split_claims, verify
from qa.config import AnswerSettings
from qa.errors import ProviderError
from qa.types import Hit

log = logging.getLogger(__name__)

FALLBACK = "extractive"
_DONE = object()
_CONDENSE_PREFIX = re.compile(r"^\s*(((rewritten|standalone|last)\s+)?question|user)\s*:\s*", re.IGNORECASE)


def _text_of(content: Any) -> str:
    """Return the text of a message's content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content if isinstance(b, str | dict))
    return ""


class GenerativeAnswerer:
    """Answers with a chat model; every sentence is verified against the passage it cites."""

    def __init__(
        self,
        model: BaseChatModel,
        settings: AnswerSettings,
        fallback: Answerer,
        *,
        name: str = "generative",
        probe: Callable[[], str | None] | None = None,
        serialize: bool = False,
        context_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.context_tokens = context_tokens  # the model's context length, when it is small enough to budget
        self.settings = settings
        self.fallback = fallback
        self.name = name
        self._probe = probe
        # An in-process llama.cpp model is not thread-safe: one generation at a time.
        self._lock: threading.Lock | None = threading.Lock() if serialize else None

    def _guard(self) -> contextlib.AbstractContextManager[Any]:
        return self._lock if self._lock is not None else contextlib.nullcontext()

    def _generate(self, messages: list[Message], out: queue.SimpleQueue[object], stop: threading.Event) -> None:
        """Run one generation (under the model lock, if any), putting text pieces on ``out``; stop early when asked."""
        try:
            with self._guard():
                if stop.is_set():
                    return
                stream = self.model.stream(messages)
                try:
                    for chunk in stream:
                        if stop.is_set():
                            log.info("the reader went away: generation stopped")
                            return
                        text = _text_of(chunk.content)
                        if text:
                            out.put(text)
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
        except Exception as exc:  # any failure of the external model is a provider problem
            out.put(ProviderError(f"the {self.name} provider failed: {exc.__class__.__name__}: {exc}"))
        finally:
            out.put(_DONE)

    def _tokens(self, messages: list[Message]) -> Iterator[str]:
        """Yield the model's reply piece by piece; raise ProviderError when the provider fails.

        The model runs in its own thread and holds the lock only while it generates, never while
        a reader is slow to take the next piece; closing this generator (a reader that went away)
        stops the generation at its next token.
        """
        out: queue.SimpleQueue[object] = queue.SimpleQueue()
        stop = threading.Event()
        worker = threading.Thread(target=self._generate, args=(messages, out, stop), name=f"{self.name}-generate", daemon=True)
        worker.start()
        try:
            while (item := out.get()) is not _DONE:
                if isinstance(item, ProviderError):
                    raise item
                yield str(item)
        finally:
            stop.set()

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """Return the follow-up rewritten by the model; the rule-based rewrite when that fails."""
        if not history:
            return question.strip()
        try:
            reply = "".join(self._tokens(condense_messages(question, history)))
        except ProviderError as exc:
            log.warning("condense with the model failed, using the rule-based rewrite: %s", exc)
            return rule_condense(question, history)
        lines = [line for line in reply.strip().splitlines() if line.strip()]
        rewritten = _CONDENSE_PREFIX.sub("", lines[0]).strip().strip("\"'“”") if lines else ""
        # A rewrite that is empty, rambles, drops the question's words or brings words of its own is worse than the rules.
        if not rewritten or len(rewritten) > 3 * len(question) + 200 or not faithful(question, rewritten, history):
            log.info("the model's rewrite %r of %r is not faithful to the conversation; using the rule-based rewrite", rewritten, question)
            return rule_condense(question, history)
        return rewritten

    def _fallback(self, question: str, hits: Sequence[Hit], verified: Verified | None, timings: dict[str, float]) -> Draft:
        draft = self.fallback.answer(question, hits)
        removed = (verified.removed + verified.flagged) if verified else ()
        # The fallback's refusal reason is kept; its weak quote is not (``removed`` holds the generated sentences here).
        return Draft(
            draft.text, draft.citations, fallback=FALLBACK, timings_ms=timings, removed=removed, refusal_reason=draft.refusal_reason
        )

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Draft]:
        """Yield each generated sentence once verification has passed it, then the verified Draft.

        A sentence is checked when the next one begins (so it is complete); a sentence that
        fails is never yielded, so no reader sees, even for a moment, what verification removes.
        """
        timings: dict[str, float] = {}
        if not hits:
            yield Draft("", (), timings_ms=timings)
            return
        started = time.perf_counter()
        s = self.settings
        parts: list[str] = []
        shown = ""
        done = 0
        try:
            messages = answer_messages(question, hits, context_tokens=self.context_tokens, reply_tokens=s.max_tokens)
            if self.context_tokens is not None and f"[{len(hits)}] " not in messages[-1][1]:
                log.info("the prompt leaves out passages to fit %d tokens of context", self.context_tokens)
            for piece in self._tokens(messages):
                if not parts:
                    timings["first_token"] = (time.perf_counter() - started) * 1000.0
                parts.append(piece)
                claims = split_claims("".join(parts))
                if len(claims) - 1 > done:  # the last claim may still be growing
                    done = len(claims) - 1
                    passed = verify(" ".join(c.raw for c in claims[:done]), hits, threshold=s.verify_below, mode=s.verify).text
                    if passed.startswith(shown) and len(passed) > len(shown):
                        yield passed[len(shown) :]
                        shown = passed
        except ProviderError as exc:
            timings["generate"] = (time.perf_counter() - started) * 1000.0
            log.warning("%s; answering extractively", exc)
            yield self._fallback(question, hits, None, timings)
            return
        timings["generate"] = (time.perf_counter() - started) * 1000.0
        reply = "".join(parts)

        started = time.perf_counter()
        if is_refusal(reply):
            timings["verify"] = (time.perf_counter() - started) * 1000.0
            yield Draft("", (), timings_ms=timings)
            return
        verified = verify(reply, hits, threshold=s.verify_below, mode=s.verify, align=s.verify_align)
        timings["verify"] = (time.perf_counter() - started) * 1000.0
        if not verified.kept_any:
            yield self._fallback(question, hits, verified, timings)
            return
        if not verified.text.startswith(shown):
            log.warning("the verified answer does not continue the sentences already streamed; the final answer replaces them")
        elif len(verified.text) > len(shown):
            yield verified.text[len(shown) :]
        yield Draft(verified.text, verified.citations, timings_ms=timings, removed=verified.removed, flagged=verified.flagged)

    def answer(self, question: str, hits: Sequence[Hit]) -> Draft:
        """Return the verified answer (or the extractive fallback) for the question."""
        final: Draft | None = None
        for item in self.stream(question, hits):
            if isinstance(item, Draft):
                final = item
        assert final is not None, "stream always ends with a Draft"
        return final

    def health(self) -> str | None:
        """Return None when the provider answers, else a message saying what is wrong."""
        return self._probe() if self._probe is not None else None
