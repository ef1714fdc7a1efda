"""A runtime over real Chroma with fakes where the model would be: for API and UI unit tests."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.base import Draft
from qa.config import RetrieveSettings, Settings
from qa.ingest.pipeline import ingest
from qa.runtime import Runtime, build_runtime, open_store
from qa.testing import HashEmbedder
from qa.types import Citation, Hit

DOCS = {
    "blinken.txt": (
        "Antony Blinken is the U.S. Secretary of State. He spoke to reporters on Wednesday.\n"
        "Wang Yi is the Chinese Foreign Minister. He called Blinken late on Wednesday.\n"
    ),
    "markup.md": "The page shows <script>alert('x')</script> and <b>bold</b> markup & more. Nothing here runs.\n",
}


_WORD = re.compile(r"\w+")


class FixedRetriever:
    """A retriever stand-in that returns fixed hits (the first top_k when given), recording what was searched for."""

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = list(hits)
        self.queries: list[str] = []
        self.settings = RetrieveSettings()

    def embed_query(self, question: str) -> np.ndarray:
        return np.zeros(4, dtype=np.float32)

    def retrieve(self, question: str, top_k: int | None = None, qvec: Any = None, *, documents: Any = None) -> list[Hit]:
        self.queries.append(question)
        return self.hits[:top_k] if top_k else self.hits


class QuoteAnswerer:
    """Quotes the sentence sharing most words with the question; refuses when the question says 'unanswerable'."""

    name = "quote-fake"

    def __init__(self, problem: str | None = None) -> None:
        self.problem = problem

    def answer(self, question: str, hits: Sequence[Hit]) -> Draft:
        """Return a one-sentence cited answer (the sentence sharing most words with the question), or a refusal."""
        if "unanswerable" in question.lower() or not hits:
            return Draft(text="", citations=())
        words = set(_WORD.findall(question.lower()))
        shared, hit, (start, end) = max(
            ((len(words & set(_WORD.findall(h.passage.text[s:e].lower()))), h, (s, e)) for h in hits for s, e in h.passage.sentences),
            key=lambda t: t[0],
        )
        p = hit.passage
        support = min(1.0, shared / max(1, len(words)))
        c = Citation(1, p.passage_id, p.source, p.paragraph, p.text, p.text[start:end], start, end, support)
        return Draft(text=f"{c.quote} [1]", citations=(c,))

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Draft]:
        """Yield the answer in two pieces, then the Draft."""
        draft = self.answer(question, hits)
        if draft.citations:
            half = len(draft.text) // 2
            yield draft.text[:half]
            yield draft.text[half:]
        yield draft

    def health(self) -> str | None:
        """Return the configured problem, if any."""
        return self.problem


def fake_runtime(settings: Settings, client: Any, docs_dir: Path, answerer: Any | None = None) -> Runtime:
    """Return a runtime over DOCS ingested into the given Chroma client with the hash embedder."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (docs_dir / name).write_text(text, encoding="utf-8")
    embedder = HashEmbedder()
    store = open_store(settings, embedder, client, create=True)
    ingest([docs_dir], store, embedder, max_file_bytes=settings.limits.max_file_bytes, progress=False)
    return build_runtime(settings, embedder=embedder, client=client, answerer=answerer or QuoteAnswerer())
