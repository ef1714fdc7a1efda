"""Frozen value types that flow through the pipeline: documents -> passages -> hits -> answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Document:
    """A loaded file: its path relative to the corpus root and its text."""

    source: str
    text: str


@dataclass(frozen=True)
class Passage:
    """A paragraph of a document, with the character spans of its sentences."""

    passage_id: str
    source: str
    paragraph: int
    text: str
    heading: str = ""
    sentences: tuple[tuple[int, int], ...] = ()
    # The 1-based page a passage starts on, for paged formats (PDF); None elsewhere.
    page: int | None = None


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score (higher is better)."""

    passage: Passage
    score: float
    dense: float = 0.0
    keyword: float = 0.0
    sentence_sims: tuple[float, ...] = ()
    # Inverse document frequency of each question term in the corpus (shared by the hits of one query).
    term_weights: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the public JSON shape of a retrieved passage."""
        p = self.passage
        return {
            "passage_id": p.passage_id,
            "source": p.source,
            "paragraph": p.paragraph,
            "text": p.text,
            "score": round(self.score, 4),
            "page": p.page,
            "heading": p.heading,
        }


@dataclass(frozen=True)
class Citation:
    """A checkable citation: ``text[start:end] == quote``."""

    n: int
    passage_id: str
    source: str
    paragraph: int
    text: str
    quote: str
    start: int
    end: int
    support: float
    heading: str = ""
    page: int | None = None
    # The title of the cited document (qa.documents.title), where the documents are known; None elsewhere.
    title: str | None = None

    def __post_init__(self) -> None:
        if self.text[self.start : self.end] != self.quote:
            raise ValueError(f"citation [{self.n}] quote does not match text[{self.start}:{self.end}]")
        if not 0.0 <= self.support <= 1.0:
            raise ValueError(f"citation [{self.n}] support {self.support} is outside [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """Return the public JSON shape of a citation."""
        d = asdict(self)
        d["support"] = round(self.support, 4)
        return d


REFUSAL = "I could not find this in the documents."
# The most document ids one question may be restricted to.
MAX_DOCUMENT_FILTER = 256


@dataclass(frozen=True)
class Unsupported:
    """A sentence not supported by the documents: a generated one that failed verification, or the weak quote of a refusal."""

    sentence: str
    support: float
    reason: str
    cited: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the public JSON shape of a failed sentence."""
        return {"sentence": self.sentence, "support": round(self.support, 4), "reason": self.reason, "cited": list(self.cited)}


@dataclass(frozen=True)
class Answer:
    """The full response: answer text with [n] markers, citations and retrieved passages."""

    answer: str
    refused: bool
    standalone_question: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    fallback: str | None = None
    removed: tuple[Unsupported, ...] = ()
    flagged: tuple[Unsupported, ...] = ()
    # Why a refusal refused, when the answerer can say ("The documents do not mention “X”."); None otherwise.
    refusal_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the public JSON object shared by `qa ask --json` and the answer API."""
        d: dict[str, Any] = {
            "answer": self.answer,
            "refused": self.refused,
            "standalone_question": self.standalone_question,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [h.to_dict() for h in self.passages],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.fallback is not None:
            d["fallback"] = self.fallback
        # The keys appear only when a sentence failed: a generated one, or the weak quote a refusal found.
        if self.removed:
            d["removed"] = [u.to_dict() for u in self.removed]
        if self.flagged:
            d["flagged"] = [u.to_dict() for u in self.flagged]
        if self.refusal_reason is not None:
            d["refusal_reason"] = self.refusal_reason
        return d

    def with_titles(self, titles: Mapping[str, str | None]) -> Answer:
        """Return the answer with each citation naming its document's title (``titles`` by source; others unchanged)."""
        if not any(titles.get(c.source) for c in self.citations):
            return self
        return replace(self, citations=tuple(replace(c, title=titles.get(c.source) or c.title) for c in self.citations))

    def refusal_quotes(self) -> tuple[Unsupported, ...]:
        """Return the weak quotes a refusal found (its reason beside them), not the generated sentences verification removed."""
        if self.refusal_reason is None:
            return ()
        return tuple(u for u in self.removed if u.reason == self.refusal_reason)

    def removed_generated(self) -> tuple[Unsupported, ...]:
        """Return the generated sentences verification removed."""
        quotes = self.refusal_quotes()
        return tuple(u for u in self.removed if u not in quotes)
