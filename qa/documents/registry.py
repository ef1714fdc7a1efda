"""The document registry and job records: one SQLite file in the data folder, safe across threads and processes."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    pages INTEGER,
    passages INTEGER NOT NULL,
    sha256 TEXT,          -- the committed version (NULL while a first version is being written)
    pending TEXT,         -- NULL, the sha256 being written, or '' while the document is being deleted
    added TEXT NOT NULL,
    origin TEXT NOT NULL  -- upload | folder
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    body TEXT NOT NULL
);
"""

JOB_STATES = ("queued", "running", "done", "failed")


def now() -> str:
    """Return the current UTC time as ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class DocumentRecord:
    """One document as listed by the API."""

    id: str
    name: str
    type: str
    bytes: int
    pages: int | None
    passages: int
    sha256: str | None
    added: str
    origin: str
    pending: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the public JSON shape (without the internal pending marker)."""
        d = asdict(self)
        d.pop("pending")
        return d


@dataclass
class FileProgress:
    """One file of a job: its state, and its error or resulting document."""

    name: str
    state: str = "queued"  # queued | running | added | replaced | unchanged | failed
    error: str | None = None
    document_id: str | None = None
    passages: int = 0


@dataclass
class Job:
    """A queued change and how far it got; persisted so a restart can report it."""

    id: str
    kind: str  # upload | reindex
    state: str = "queued"
    created: str = field(default_factory=now)
    updated: str = field(default_factory=now)
    files: list[FileProgress] = field(default_factory=list)
    passages_total: int = 0
    passages_embedded: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the public JSON shape."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "created": self.created,
            "updated": self.updated,
            "progress": {
                "files_total": len(self.files),
                "files_done": sum(f.state not in ("queued", "running") for f in self.files),
                "passages_total": self.passages_total,
                "passages_embedded": self.passages_embedded,
            },
            "files": [asdict(f) for f in self.files],
            "error": self.error,
        }


def _job_from_row(row: sqlite3.Row) -> Job:
    body = json.loads(row["body"])
    return Job(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        created=row["created"],
        updated=row["updated"],
        files=[FileProgress(**f) for f in body.get("files", [])],
        passages_total=int(body.get("passages_total", 0)),
        passages_embedded=int(body.get("passages_embedded", 0)),
        error=body.get("error"),
    )


def _doc_from_row(row: sqlite3.Row) -> DocumentRecord:
    return DocumentRecord(**{k: row[k] for k in row.keys()})


class Registry:
    """Documents and jobs in `<data_dir>/documents.sqlite3`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        with conn:  # one transaction per block, committed on success
            yield conn

    # documents

    def documents(self) -> list[DocumentRecord]:
        """Return the committed documents, by name."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM documents WHERE sha256 IS NOT NULL ORDER BY name").fetchall()
        return [_doc_from_row(r) for r in rows]

    def named(self, names: Collection[str]) -> list[DocumentRecord]:
        """Return the committed documents with these names (unknown names are left out)."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return []
        with self._db() as db:
            marks = ",".join("?" * len(wanted))
            rows = db.execute(f"SELECT * FROM documents WHERE sha256 IS NOT NULL AND name IN ({marks})", wanted).fetchall()
        return [_doc_from_row(r) for r in rows]

    def get(self, doc_id: str) -> DocumentRecord | None:
        """Return one document record (committed or not), or None."""
        with self._db() as db:
            row = db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return _doc_from_row(row) if row else None

    def with_sha(self, sha256: str) -> DocumentRecord | None:
        """Return a committed document with exactly these bytes, or None."""
        with self._db() as db:
            row = db.execute("SELECT * FROM documents WHERE sha256 = ? AND pending IS NULL ORDER BY name LIMIT 1", (sha256,)).fetchone()
        return _doc_from_row(row) if row else None

    def unfinished(self) -> list[DocumentRecord]:
        """Return the documents whose last change did not finish."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM documents WHERE pending IS NOT NULL").fetchall()
        return [_doc_from_row(r) for r in rows]

    def begin(self, rec: DocumentRecord, pending: str) -> None:
        """Record that a new version (sha256 ``pending``) of a document is being written."""
        with self._db() as db:
            db.execute(
                "INSERT INTO documents (id, name, type, bytes, pages, passages, sha256, pending, added, origin) "
                "VALUES (?, ?, ?, ?, ?, 0, NULL, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET pending = excluded.pending",
                (rec.id, rec.name, rec.type, rec.bytes, rec.pages, pending, rec.added, rec.origin),
            )

    def commit(self, rec: DocumentRecord) -> None:
        """Make ``rec`` the committed version; its pending marker stays until ``settle``."""
        with self._db() as db:
            db.execute(
                "UPDATE documents SET type = ?, bytes = ?, pages = ?, passages = ?, sha256 = ?, added = ?, origin = ? WHERE id = ?",
                (rec.type, rec.bytes, rec.pages, rec.passages, rec.sha256, rec.added, rec.origin, rec.id),
            )

    def settle(self, doc_id: str) -> None:
        """Clear the pending marker: the store holds exactly the committed version."""
        with self._db() as db:
            db.execute("UPDATE documents SET pending = NULL WHERE id = ?", (doc_id,))

    def mark_deleting(self, doc_id: str) -> None:
        """Record that a document is being deleted."""
        with self._db() as db:
            db.execute("UPDATE documents SET pending = '' WHERE id = ?", (doc_id,))

    def remove(self, doc_id: str) -> None:
        """Forget a document."""
        with self._db() as db:
            db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    def referenced(self, sha256: str) -> bool:
        """Return True when any document (committed or pending) uses these bytes."""
        with self._db() as db:
            row = db.execute("SELECT 1 FROM documents WHERE sha256 = ? OR pending = ? LIMIT 1", (sha256, sha256)).fetchone()
        return row is not None

    # jobs

    def new_job(self, kind: str, names: list[str]) -> Job:
        """Create and persist a queued job."""
        job = Job(id=uuid.uuid4().hex[:16], kind=kind, files=[FileProgress(n) for n in names])
        self.save_job(job)
        return job

    def save_job(self, job: Job) -> None:
        """Persist a job's current state."""
        job.updated = now()
        body = json.dumps({
            "files": [asdict(f) for f in job.files],
            "passages_total": job.passages_total,
            "passages_embedded": job.passages_embedded,
            "error": job.error,
        })
        with self._db() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, state, created, updated, body) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated = excluded.updated, body = excluded.body",
                (job.id, job.kind, job.state, job.created, job.updated, body),
            )

    def job(self, job_id: str) -> Job | None:
        """Return a job, or None."""
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job_from_row(row) if row else None

    def fail_unfinished_jobs(self, reason: str) -> int:
        """Mark queued and running jobs (of a process that died) failed; return how many."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM jobs WHERE state IN ('queued', 'running')").fetchall()
        jobs = [_job_from_row(r) for r in rows]
        for job in jobs:
            job.state = "failed"
            job.error = reason
            for f in job.files:
                if f.state in ("queued", "running"):
                    f.state, f.error = "failed", reason
            self.save_job(job)
        return len(jobs)
