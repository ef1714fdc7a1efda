"""Every change to the corpus, made in an order that a crash at any point leaves recoverable.

Adding a version: keep the original, mark the document pending, embed and store the new
passages, commit the version in the registry, delete the passages the new version no
longer has, clear the mark. Deleting: mark, delete the rows (sentences first), forget.
On start, ``recover`` finishes or undoes whatever a killed process left marked, so the
store holds exactly the committed versions: no orphan rows, no half document in answers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.documents.registry import DocumentRecord, Registry, now
from qa.embed import Embedder
from qa.errors import InputError
from qa.ingest.formats import Parsed, parse
from qa.ingest.load import load_files
from qa.ingest.pipeline import IngestReport, embed_batches
from qa.store import PassageStore, document_key
from qa.types import Passage

log = logging.getLogger(__name__)

OnChange = Callable[[Sequence[Passage], Collection[str]], None]
Progress = Callable[[int, int], None]

# Passages embedded before they are written together (bounded memory for huge documents).
FLUSH_PASSAGES = 2000


@dataclass(frozen=True)
class AddResult:
    """What adding one file did."""

    document: DocumentRecord
    status: str  # added | replaced | unchanged | duplicate
    embedded: int = 0
    removed: int = 0


@dataclass
class RecoveryReport:
    """What recovery after a crash repaired."""

    documents: list[str] = field(default_factory=list)
    rows_removed: int = 0
    orphan_sentences: int = 0


def sha256_of(data: bytes) -> str:
    """Return the hex SHA-256 of the bytes."""
    return hashlib.sha256(data).hexdigest()


class DocumentLibrary:
    """Adds, replaces, deletes and re-embeds documents in the store, keeping originals and the registry in step."""

    def __init__(
        self,
        store: PassageStore,
        embedder: Embedder,
        registry: Registry,
        originals: Path,
        *,
        on_change: OnChange | None = None,
        batch_passages: int = 64,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.registry = registry
        self.originals = originals
        self.on_change: OnChange = on_change or (lambda added, removed: None)
        self.batch_passages = batch_passages
        originals.mkdir(parents=True, exist_ok=True)

    # originals

    def _original(self, sha: str) -> Path:
        return self.originals / sha

    def _keep(self, sha: str, data: bytes) -> None:
        path = self._original(sha)
        if path.exists():
            return
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _forget_original(self, sha: str | None) -> None:
        if sha and not self.registry.referenced(sha):
            self._original(sha).unlink(missing_ok=True)

    def original(self, rec: DocumentRecord) -> bytes:
        """Return the kept bytes of a document's committed version."""
        if not rec.sha256:
            raise InputError(f"{rec.name}: has no committed version")
        try:
            return self._original(rec.sha256).read_bytes()
        except OSError as exc:
            raise InputError(f"{rec.name}: its kept original is missing from {self.originals} ({exc.strerror})") from None

    # changes

    def _store_passages(self, passages: Sequence[Passage], progress: Progress | None) -> None:
        """Embed and store passages, a few thousand at a time, telling on_change after each write."""
        done = 0
        for i in range(0, len(passages), FLUSH_PASSAGES):
            ready: list[Passage] = []
            matrices: list[np.ndarray] = []
            for batch, mats in embed_batches(self.embedder, passages[i : i + FLUSH_PASSAGES], self.batch_passages):
                ready.extend(batch)
                matrices.extend(mats)
                done += len(batch)
                if progress is not None:
                    progress(done, len(passages))
            # One write per chunk: a document appears in answers whole (or in few large steps), never batch by batch.
            self.store.add(ready, matrices)
            self.on_change(ready, ())

    def _delete_rows(self, ids: Iterable[str]) -> int:
        id_list = list(ids)
        if id_list:
            self.store.delete(id_list)
            self.on_change((), set(id_list))
        return len(id_list)

    def add(
        self, name: str, data: bytes, *, origin: str = "upload", parsed: Parsed | None = None, progress: Progress | None = None
    ) -> AddResult:
        """Add a file, or replace the document of the same name; the same bytes again change nothing."""
        sha = sha256_of(data)
        doc_id = document_key(name)
        existing = self.registry.get(doc_id)
        if existing is not None and existing.sha256 == sha and existing.pending is None:
            if len(self.store.ids_of(doc_id)) == existing.passages:  # and the store still holds all of it
                return AddResult(existing, "unchanged")
        if origin == "upload":
            twin = self.registry.with_sha(sha)
            if twin is not None and twin.id != doc_id:  # the same bytes under another name: nothing new
                return AddResult(twin, "duplicate")
        parsed = parsed or parse(name, data)
        passages = parsed.passages(sentences=False)
        if not passages:
            raise InputError(f"{name}: no paragraphs of text to add")
        rec = DocumentRecord(
            id=doc_id, name=name, type=parsed.kind, bytes=len(data), pages=parsed.pages,
            passages=len(passages), sha256=sha, added=now(), origin=origin,
        )
        self._keep(sha, data)
        self.registry.begin(rec, pending=sha)
        have = self.store.ids_of(doc_id)
        wanted = {p.passage_id for p in passages}
        todo = [p for p in passages if p.passage_id not in have]
        if progress is not None:
            progress(0, len(todo))
        self._store_passages(todo, progress)
        previous = existing.sha256 if existing is not None else None
        self.registry.commit(rec)
        removed = self._delete_rows(have - wanted)
        self.registry.settle(doc_id)
        if previous != sha:
            self._forget_original(previous)
        status = "replaced" if existing is not None and existing.sha256 else "added"
        log.info("%s %s: %d passages (%d embedded, %d removed)", status, name, len(passages), len(todo), removed)
        return AddResult(rec, status, len(todo), removed)

    def delete(self, doc_id: str) -> int:
        """Remove a document and every row of it; return how many passages went."""
        rec = self.registry.get(doc_id)
        if rec is None:
            raise KeyError(doc_id)
        self.registry.mark_deleting(doc_id)
        removed = self._delete_rows(self.store.ids_of(doc_id))
        self.registry.remove(doc_id)
        self._forget_original(rec.sha256)
        self._forget_original(rec.pending)
        log.info("deleted %s: %d passages", rec.name, removed)
        return removed

    def reindex(self, progress: Progress | None = None) -> int:
        """Drop the collections and embed every document again from its kept original; return the passage count."""
        docs = self.registry.documents()
        parsed = [(rec, parse(rec.name, self.original(rec))) for rec in docs]
        old = self.store.ids()
        self.store.reset()
        self.on_change((), old)
        passages = [p for _, doc in parsed for p in doc.passages(sentences=False)]
        self._store_passages(passages, progress)
        log.info("reindexed %d documents, %d passages", len(docs), len(passages))
        return len(passages)

    def recover(self) -> RecoveryReport:
        """Finish or undo the changes a killed process left half done; then drop orphan sentence rows."""
        report = RecoveryReport()
        for rec in self.registry.unfinished():
            report.documents.append(rec.name)
            if rec.pending == "" or rec.sha256 is None:
                report.rows_removed += self._delete_rows(self.store.ids_of(rec.id))
                self.registry.remove(rec.id)
                self._forget_original(rec.pending)
                self._forget_original(rec.sha256)
                continue
            keep = {p.passage_id for p in parse(rec.name, self.original(rec)).passages(sentences=False)}
            report.rows_removed += self._delete_rows(self.store.ids_of(rec.id) - keep)
            missing = keep - self.store.ids_of(rec.id)
            if missing:  # the committed version lost rows (it cannot, by the write order; be safe)
                self.add(rec.name, self.original(rec), origin=rec.origin)
            self.registry.settle(rec.id)
            if rec.pending != rec.sha256:
                self._forget_original(rec.pending)
        report.orphan_sentences = self.store.clean_orphans()
        if report.documents or report.rows_removed or report.orphan_sentences:
            log.warning(
                "recovered from an interrupted change: %s; %d passage rows and %d orphan sentence rows removed",
                ", ".join(report.documents) or "no document", report.rows_removed, report.orphan_sentences,
            )
        return report

    def sync_folder(self, paths: list[Path], *, max_file_bytes: int, progress: Progress | None = None) -> IngestReport:
        """Make the folder documents exactly those under ``paths`` (uploaded documents stay); return what changed."""
        started = time.perf_counter()
        loaded = load_files(paths, max_file_bytes)
        # Every file is read before anything is written: one bad file stops the ingest with the store untouched.
        parsed = [(name, data, parse(name, data)) for name, data in loaded.files]
        report = IngestReport(documents=len(parsed), skipped=loaded.skipped)
        names = set()
        for name, data, doc in parsed:
            names.add(name)
            result = self.add(name, data, origin="folder", parsed=doc, progress=progress)
            report.passages += result.document.passages
            report.added += result.embedded
            report.unchanged += result.document.passages - result.embedded
            report.removed += result.removed
        for rec in self.registry.documents():
            if rec.origin == "folder" and rec.name not in names:
                report.removed += self.delete(rec.id)
        report.removed += self._delete_rows(self._unregistered_rows())
        self.store.clean_orphans()
        report.seconds = time.perf_counter() - started
        return report

    def _unregistered_rows(self) -> set[str]:
        """Return passage ids of documents the registry does not know (rows written before it existed)."""
        known = {rec.id for rec in self.registry.documents()}
        return {p.passage_id for p in self.store.all_passages() if document_key(p.source) not in known}

