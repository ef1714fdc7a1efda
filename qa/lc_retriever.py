"""Our hybrid retrieval as a LangChain retriever, for use inside other people's chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from qa.retrieve import HybridRetriever
from qa.types import Hit


def to_document(hit: Hit) -> Document:
    """Return a retrieved passage as a LangChain Document; its metadata says where the text is."""
    p = hit.passage
    metadata = {
        "passage_id": p.passage_id,
        "source": p.source,
        "paragraph": p.paragraph,
        "heading": p.heading,
        "score": round(hit.score, 4),
    }
    return Document(page_content=p.text, metadata=metadata, id=p.passage_id)


class PassageRetriever(BaseRetriever):
    """Dense + keyword retrieval over the qa store: a query in, the top passages out as Documents, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: HybridRetriever
    top_k: int | None = Field(None, ge=1, le=50, description="Passages per query (default: retrieve.top_k).")

    @classmethod
    def from_settings(cls, settings: Any | None = None, **kwargs: Any) -> PassageRetriever:
        """Return a retriever over the configured store (default: ./config.yaml and QA_* overrides)."""
        from qa.config import load_settings
        from qa.retrieve import HybridRetriever
        from qa.runtime import open_embedder, open_store

        settings = settings or load_settings()
        embedder = open_embedder(settings)
        return cls(retriever=HybridRetriever(open_store(settings, embedder), embedder, settings.retrieve), **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(h) for h in self.retriever.retrieve(query, self.top_k)]
