"""Ingest: make the store hold exactly the passages of the given documents, embedding only what is new."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from qa.embed import Embedder
from qa.errors import InputError
from qa.ingest.load import load_documents
from qa.ingest.split import split_document, with_sentences
from qa.store import PassageStore
from qa.types import Document, Passage

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest did."""

    documents: int = 0
    passages: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """Return a one-line human summary."""
        return (
            f"{self.documents} documents, {self.passages} passages: {self.added} embedded, "
            f"{self.unchanged} unchanged, {self.removed} removed, {len(self.skipped)} files skipped "
            f"({self.seconds:.1f} s)"
        )


def _batches(items: list[Passage], size: int) -> Iterator[list[Passage]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def ingest(
    paths: list[Path],
    store: PassageStore,
    embedder: Embedder,
    *,
    max_file_bytes: int,
    batch_passages: int = 64,
    progress: bool = True,
) -> IngestReport:
    """Make the store mirror the documents under ``paths``; return what changed."""
    started = time.perf_counter()
    loaded = load_documents(paths, max_file_bytes)
    report = ingest_documents(loaded.documents, store, embedder, batch_passages=batch_passages, progress=progress)
    report.skipped = loaded.skipped
    report.seconds = time.perf_counter() - started
    return report


def ingest_documents(
    documents: list[Document],
    store: PassageStore,
    embedder: Embedder,
    *,
    batch_passages: int = 64,
    progress: bool = True,
) -> IngestReport:
    """Make the store hold exactly the passages of ``documents``; return what changed."""
    started = time.perf_counter()
    report = IngestReport(documents=len(documents))
    passages: list[Passage] = []
    for doc in documents:
        passages.extend(split_document(doc, sentences=False))
    if not passages:
        raise InputError("the documents hold no paragraphs of text to ingest")
    report.passages = len(passages)
    wanted = {p.passage_id for p in passages}
    existing = store.ids()
    todo = [p for p in passages if p.passage_id not in existing]
    report.unchanged = len(passages) - len(todo)
    log.info("%d passages: %d new, %d already stored", len(passages), len(todo), report.unchanged)

    # Sequential on purpose: splitting sentences in a worker thread while torch encodes was
    # measured 25-40 % slower on 2 cores (the tokenizer and pysbd contend for the GIL).
    with tqdm(total=len(todo), unit="passage", desc="ingest", disable=not progress or not todo) as bar:
        for batch in _batches(todo, batch_passages):
            batch = [with_sentences(p) for p in batch]
            vectors = embedder.embed([p.text[s:e] for p in batch for s, e in p.sentences])
            per_passage, offset = [], 0
            for p in batch:
                per_passage.append(vectors[offset : offset + len(p.sentences)])
                offset += len(p.sentences)
            store.add(batch, per_passage)
            report.added += len(batch)
            bar.update(len(batch))

    # Stale passages go last: a crash before this point leaves extra rows that the next run removes.
    stale = existing - wanted
    if stale:
        store.delete(stale)
        report.removed = len(stale)
    report.seconds = time.perf_counter() - started
    log.info("ingest done: %s", report.summary())
    return report

