"""Answerers: the extractive default (and the factory that picks the configured one)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from qa.answer.base import Answerer, Draft
from qa.answer.extractive import extract
from qa.config import AnswerSettings
from qa.errors import ConfigError
from qa.types import Hit


class ExtractiveAnswerer:
    """Quotes the best-supported sentences of the retrieved passages; needs no model."""

    name = "extractive"

    def __init__(self, settings: AnswerSettings) -> None:
        self.settings = settings

    def answer(self, question: str, hits: Sequence[Hit]) -> Draft:
        """Return the quoted answer, or a refusal when support is under the threshold."""
        s = self.settings
        text, citations = extract(
            question, hits, refuse_below=s.refuse_below, max_sentences=s.max_sentences, margin=s.second_sentence_margin
        )
        return Draft(text=text, citations=citations)

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Draft]:
        """Yield each quoted sentence as it is chosen, then the final Draft."""
        draft = self.answer(question, hits)
        for i, c in enumerate(draft.citations):
            yield ("" if i == 0 else " ") + f"{c.quote} [{c.n}]"
        yield draft

    def health(self) -> str | None:
        """Return None: the extractive answerer is always available."""
        return None


def make_answerer(settings: AnswerSettings, fallback: Answerer | None = None) -> Answerer:
    """Return the answerer named by ``answer.provider``."""
    if settings.provider == "extractive":
        return ExtractiveAnswerer(settings)
    raise ConfigError(f"answer.provider '{settings.provider}' is not available in this build")
