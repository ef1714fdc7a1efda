"""The canonical LangChain quickstart, run on the same corpus and model for comparison.

RecursiveCharacterTextSplitter(1000, 200) over whole documents, a Chroma vector store,
dense top-k, and the answer is the top chunk. It never refuses.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings
from tqdm import tqdm

from qa.embed import Embedder
from qa.evaluate.datasets import Question
from qa.evaluate.run import RANK_DEPTH, contains_any, percentile
from qa.types import Document


class LangChainEmbeddings(Embeddings):
    """Our embedder as a LangChain Embeddings object."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return one vector per text."""
        return [list(map(float, v)) for v in self.embedder.embed(texts)]

    def embed_query(self, text: str) -> list[float]:
        """Return the query vector."""
        return list(map(float, self.embedder.embed([text])[0]))


def run_baseline(
    documents: Sequence[Document], embedder: Embedder, questions: Sequence[Question], *, progress: bool = True
) -> dict[str, Any]:
    """Index the documents the quickstart way, ask every question, return its metrics."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.create_documents([d.text for d in documents], metadatas=[{"source": d.source} for d in documents])
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    name = f"baseline-{time.time_ns()}"
    store = Chroma(
        collection_name=name,
        embedding_function=LangChainEmbeddings(embedder),
        client=client,
        collection_metadata={"hnsw:space": "cosine"},
    )
    started = time.perf_counter()
    store.add_documents(chunks)
    index_s = time.perf_counter() - started
    ranks: list[int | None] = []
    correct: list[bool] = []
    latencies: list[float] = []
    try:
        for q in tqdm(questions, desc="baseline", unit="q", disable=not progress):
            if q.kind == "unanswerable":
                continue
            t = time.perf_counter()
            found = store.similarity_search(q.question, k=RANK_DEPTH)
            latencies.append((time.perf_counter() - t) * 1000.0)
            rank = next((i for i, d in enumerate(found, 1) if contains_any(d.page_content, q.answers)), None)
            ranks.append(rank)
            correct.append(bool(found) and contains_any(found[0].page_content, q.answers))
    finally:
        client.delete_collection(name)
    n = len(ranks) or 1
    return {
        "chunks": len(chunks),
        "index_seconds": round(index_s, 1),
        "answer_recall@k": {k: round(sum(1 for r in ranks if r is not None and r <= k) / n, 4) for k in range(1, RANK_DEPTH + 1)},
        "answer_accuracy": round(sum(correct) / n, 4),
        "answer_chars_mean": round(statistics.fmean(len(c.page_content) for c in chunks), 1) if chunks else 0.0,
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)} if latencies else {},
    }
