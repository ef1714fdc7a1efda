"""The one writer of a serving process: changes run one at a time on a single thread, reads go straight through."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.documents.library import DocumentLibrary
from qa.documents.lock import WriterLock
from qa.documents.registry import DocumentRecord, Job, Registry
from qa.documents.title import TitleCache, document_title
from qa.embed import Embedder
from qa.errors import InputError, QAError, TooLarge
from qa.ingest.formats import decode_text, kind_of
from qa.store import PassageStore
from qa.types import Answer, Passage

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 255
WRITER_NICE = 10
# Server mode: how often a serving process reads the store's corpus version to notice another process's writes.
POLL_S = 1.0
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")
INTERRUPTED = "interrupted: the server stopped before this job finished; nothing of it is in the store, upload the file again"


def _yield_to_questions() -> None:
    """Lower the writer thread's CPU priority: on a busy machine, questions asked during an upload go first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICE)  # Linux: a thread is a schedulable task
    except (AttributeError, OSError) as exc:
        log.info("cannot lower the writer thread's priority (%s); uploads compete with questions for the CPU", exc)


def check_name(name: str) -> str:
    """Return the document name, or raise InputError saying what is wrong with it."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("a document needs a file name")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"{name[:40]}…: the file name is {len(name)} characters; the limit is {MAX_NAME_CHARS}")
    if "\x00" in name:
        raise InputError(f"{name!r}: the file name contains a NUL character")
    if _BAD_NAME.search(name) or name in (".", "..") or name.startswith("."):
        raise InputError(f"{name!r}: the file name may not contain '/', '\\\\', control characters or start with '.'")
    kind_of(name)  # UnsupportedType for anything we cannot read
    return name


def registry_path(settings: Settings) -> Path:
    """Return where the document registry lives."""
    return settings.paths.data_dir / "documents.sqlite3"


def originals_path(settings: Settings) -> Path:
    """Return the folder that keeps every document's original bytes."""
    return settings.paths.data_dir / "originals"


def open_library(settings: Settings, store: PassageStore, embedder: Embedder) -> DocumentLibrary:
    """Return the document library over the store, its registry and kept originals in the data folder."""
    return DocumentLibrary(store, embedder, Registry(registry_path(settings)), originals_path(settings))


class DocumentService:
    """Owns every change to the store while serving: uploads, deletes and reindexes are jobs on one writer thread."""

    def __init__(
        self,
        library: DocumentLibrary,
        *,
        max_file_bytes: int,
        apply_change: Callable[[Sequence[Passage], Collection[str]], None],
        check_store: Callable[[], None],
        lock: WriterLock | None = None,
        poll: bool = False,
    ) -> None:
        self.library = library
        self.registry = library.registry
        self.store = library.store
        self.max_file_bytes = max_file_bytes
        self._apply_change = apply_change
        self._check_store = check_store
        self._lock = lock
        library.on_change = self._changed
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-writer", initializer=_yield_to_questions)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="qa-corpus-version", daemon=True) if poll else None
        # Titles by (document id, content hash): a version's title never changes, so each is read once.
        self._title_of = TitleCache(self.title)

    def start(self) -> DocumentService:
        """Repair what a killed process left, before serving; then start watching for other writers (server mode)."""
        failed = self.registry.fail_unfinished_jobs(INTERRUPTED)
        if failed:
            log.warning("%d jobs were interrupted by a restart and are reported failed", failed)
        self._pool.submit(self.library.recover).result()
        if self._poller is not None:
            self._poller.start()
        return self

    def close(self) -> None:
        """Finish the running change, stop, and release the writer lock."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._lock is not None:
            self._lock.release()

    # the writer thread

    def _changed(self, added: Sequence[Passage], removed: Collection[str]) -> None:
        self._apply_change(added, removed)

    def _poll(self) -> None:
        """Have the index check the store's corpus version every POLL_S, questions or not (server mode).

        The check is the one each question makes: a version another process wrote starts a rebuild
        in the background while the current index answers; changes made here meanwhile are replayed onto it.
        """
        while not self._stop.wait(POLL_S):
            try:
                self._check_store()
            except QAError as exc:
                log.warning("cannot read the corpus version: %s", exc)

    def _run_upload(self, job: Job, files: list[tuple[str, bytes]]) -> None:
        job.state = "running"
        self.registry.save_job(job)
        for entry, (name, data) in zip(job.files, files, strict=True):
            entry.state = "running"
            self.registry.save_job(job)

            def progress(done: int, total: int, base_total: int = job.passages_total, base_done: int = job.passages_embedded) -> None:
                job.passages_total = base_total + total
                job.passages_embedded = base_done + done
                self.registry.save_job(job)

            try:
                result = self.library.add(name, data, origin="upload", progress=progress)
            except QAError as exc:
                entry.state, entry.error = "failed", str(exc)
                log.warning("upload of %s failed: %s", name, exc)
            except Exception as exc:  # a bug: report it on the job and in the log, keep serving
                log.exception("upload of %s failed unexpectedly", name)
                entry.state, entry.error = "failed", f"internal error ({type(exc).__name__}: {exc})"
            else:
                entry.state, entry.document_id, entry.passages = result.status, result.document.id, result.document.passages
            self.registry.save_job(job)
        job.state = "failed" if all(f.state == "failed" for f in job.files) else "done"
        self.registry.save_job(job)

    def _run_reindex(self, job: Job) -> None:
        job.state = "running"
        self.registry.save_job(job)

        def progress(done: int, total: int) -> None:
            job.passages_total, job.passages_embedded = total, done
            self.registry.save_job(job)

        try:
            self.library.reindex(progress)
            job.state = "done"
        except QAError as exc:
            job.state, job.error = "failed", str(exc)
        except Exception as exc:
            log.exception("reindex failed unexpectedly")
            job.state, job.error = "failed", f"internal error ({type(exc).__name__}: {exc})"
        self.registry.save_job(job)

    # what the API calls

    def upload(self, files: list[tuple[str, bytes]]) -> Job:
        """Check every file's name, size and type, then queue them as one job; return it at once."""
        if not files:
            raise InputError("no files in the request: send one or more as multipart 'files'")
        for name, data in files:
            check_name(name)
            if len(data) > self.max_file_bytes:
                raise TooLarge(f"{name}: {len(data)} bytes is over the limit of {self.max_file_bytes} (limits.max_file_bytes)")
            if not data.strip():
                raise InputError(f"{name}: the file is empty")
        job = self.registry.new_job("upload", [name for name, _ in files])
        self._pool.submit(self._run_upload, job, files)
        return job

    def reindex(self) -> Job:
        """Queue a re-embedding of every document from its kept original; return the job."""
        job = self.registry.new_job("reindex", [])
        self._pool.submit(self._run_reindex, job)
        return job

    def delete(self, doc_id: str, timeout_s: float = 600.0) -> int:
        """Delete a document on the writer thread and wait for it; return how many passages went (KeyError if unknown)."""
        future: Future[int] = self._pool.submit(self.library.delete, doc_id)
        return future.result(timeout=timeout_s)

    def documents(self) -> list[DocumentRecord]:
        """Return the documents."""
        return self.registry.documents()

    def document(self, doc_id: str) -> tuple[DocumentRecord, list[Passage]] | None:
        """Return a document and its passages, or None."""
        rec = self.registry.get(doc_id)
        if rec is None or rec.sha256 is None:
            return None
        return rec, self.store.passages_of(doc_id)

    def job(self, job_id: str) -> Job | None:
        """Return a job, or None."""
        return self.registry.job(job_id)

    def title(self, doc_id: str) -> str | None:
        """Return a document's title (qa.documents.title), or None for an unknown or unfinished document."""
        found = self.document(doc_id)
        if found is None:
            return None
        rec, passages = found
        text = None
        if rec.type in ("md", "txt"):  # its `# ` title is in the kept original; other types' headings are in the passages
            text = decode_text(rec.name, self.library.original(rec))
        return document_title(passages, text)

    def title_of(self, rec: DocumentRecord) -> str | None:
        """Return the title of a listed document, read once per version; None when it has none or it cannot be read (logged)."""
        return self._title_of(rec)

    def titles_of(self, names: Collection[str]) -> dict[str, str | None]:
        """Return the title of each named document (one registry read; each version's title read once), by name."""
        return {rec.name: self.title_of(rec) for rec in self.registry.named(names)}

    def titled(self, answer: Answer) -> Answer:
        """Return the answer with each citation naming its document's title (one registry read, for the cited names only)."""
        if not answer.citations:
            return answer
        return answer.with_titles(self.titles_of({c.source for c in answer.citations}))


def open_service(runtime: Any, *, url: str | None = None) -> DocumentService:
    """Return the started document service of a serving runtime (takes the writer lock in embedded mode)."""
    settings: Settings = runtime.settings
    embedded = settings.store.mode == "embedded"
    lock = WriterLock(settings.paths.data_dir, "serve", url).acquire() if embedded else None
    try:
        library = open_library(settings, runtime.store, runtime.embedder)
        service = DocumentService(
            library,
            max_file_bytes=settings.limits.max_file_bytes,
            apply_change=runtime.retriever.apply_change,
            check_store=runtime.retriever.check_store,
            lock=lock,
            poll=not embedded,
        )
        return service.start()
    except BaseException:
        if lock is not None:
            lock.release()
        raise
