"""Ingest: make the store hold exactly the passages of the given documents, embedding only what is new."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.embed import Embedder
from qa.errors import InputError
from qa.ingest.formats import parse
from qa.ingest.load import load_files
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


def _batches(items: Sequence[Passage], size: int) -> Iterator[list[Passage]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def embed_batches(
    embedder: Embedder, passages: Sequence[Passage], batch_passages: int = 64
) -> Iterator[tuple[list[Passage], list[np.ndarray]]]:
    """Yield batches of passages with sentence spans filled in, and one sentence-vector matrix per passage."""
    # Sequential on purpose: splitting sentences in a worker thread while torch encodes was
    # measured 25-40 % slower on 2 cores (the tokenizer and pysbd contend for the GIL).
    for batch in _batches(passages, batch_passages):
        batch = [p if p.sentences else with_sentences(p) for p in batch]
        vectors = embedder.embed([p.text[s:e] for p in batch for s, e in p.sentences])
        per_passage, offset = [], 0
        for p in batch:
            per_passage.append(vectors[offset : offset + len(p.sentences)])
            offset += len(p.sentences)
        yield batch, per_passage


def embed_into(
    store: PassageStore,
    embedder: Embedder,
    passages: Sequence[Passage],
    *,
    batch_passages: int = 64,
    on_batch: Callable[[list[Passage]], None] | None = None,
) -> None:
    """Embed and store the passages batch by batch (on_batch sees each stored batch)."""
    for batch, matrices in embed_batches(embedder, passages, batch_passages):
        store.add(batch, matrices)
        if on_batch is not None:
            on_batch(batch)


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
    loaded = load_files(paths, max_file_bytes)
    passages = [p for name, data in loaded.files for p in parse(name, data).passages(sentences=False)]
    report = ingest_passages(passages, store, embedder, batch_passages=batch_passages, progress=progress)
    report.documents = len(loaded.files)
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
    """Make the store hold exactly the passages of text ``documents``; return what changed."""
    passages = [p for doc in documents for p in split_document(doc, sentences=False)]
    report = ingest_passages(passages, store, embedder, batch_passages=batch_passages, progress=progress)
    report.documents = len(documents)
    return report


def ingest_passages(
    passages: list[Passage],
    store: PassageStore,
    embedder: Embedder,
    *,
    batch_passages: int = 64,
    progress: bool = True,
) -> IngestReport:
    """Make the store hold exactly these passages (sentence spans may be empty); return what changed."""
    started = time.perf_counter()
    report = IngestReport()
    if not passages:
        raise InputError("the documents hold no paragraphs of text to ingest")
    report.passages = len(passages)
    wanted = {p.passage_id for p in passages}
    existing = store.ids()
    todo = [p for p in passages if p.passage_id not in existing]
    report.unchanged = len(passages) - len(todo)
    log.info("%d passages: %d new, %d already stored", len(passages), len(todo), report.unchanged)
    with tqdm(total=len(todo), unit="passage", desc="ingest", disable=not progress or not todo) as bar:

        def done(batch: list[Passage]) -> None:
            report.added += len(batch)
            bar.update(len(batch))

        embed_into(store, embedder, todo, batch_passages=batch_passages, on_batch=done)

    # Stale passages go last: a crash before this point leaves extra rows that the next run removes.
    stale = existing - wanted
    if stale:
        store.delete(stale)
        report.removed = len(stale)
    store.clean_orphans()
    report.seconds = time.perf_counter() - started
    log.info("ingest done: %s", report.summary())
    return report
