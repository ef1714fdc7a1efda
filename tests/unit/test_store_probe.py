"""The store probe: a sqlite file's commit counter moves with every commit (read from its headers, no lock), and the
retriever reads the corpus version only when it moved."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.ingest.pipeline import ingest
from qa.ingest.split import split_document, with_sentences
from qa.retrieve import HybridRetriever
from qa.runtime import open_store
from qa.store_probe import CommitCounter, open_commit_counter
from qa.testing import HashEmbedder
from qa.types import Document

pytestmark = pytest.mark.unit


def test_the_counter_moves_on_every_commit_only(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    writer = sqlite3.connect(path)
    writer.execute("CREATE TABLE t (x)")
    writer.commit()
    probe = CommitCounter(path)
    before = probe()
    assert probe() == before, "nothing committed: no move"
    writer.execute("INSERT INTO t VALUES (1)")
    assert probe() == before, "not committed yet"
    writer.commit()
    moved = probe()
    assert moved != before
    writer.execute("PRAGMA journal_mode=wal")
    writer.execute("INSERT INTO t VALUES (2)")
    writer.commit()
    assert probe() != moved, "WAL commits move it too"


@pytest.fixture
def persistent_client(tmp_path: Path) -> Iterator[Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    yield client


def test_no_probe_for_a_store_in_memory(ephemeral_client: Any) -> None:
    assert open_commit_counter(ephemeral_client) is None


def test_the_corpus_version_is_read_only_after_a_write(
    settings: Settings, persistent_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rivers.txt").write_text("The Danube flows through Vienna and Budapest.\n")
    emb = HashEmbedder()
    store = open_store(settings, emb, persistent_client, create=True)
    ingest([docs], store, emb, max_file_bytes=10_000, progress=False)
    probe = open_commit_counter(persistent_client)
    assert probe is not None
    retriever = HybridRetriever(store, emb, settings.retrieve, probe=probe)
    reads: list[int] = []
    real = store.version
    monkeypatch.setattr(store, "version", lambda: (reads.append(1), real())[1])
    for _ in range(5):
        assert retriever.retrieve("Which river flows through Vienna?", top_k=1)[0].passage.source == "rivers.txt"
    assert len(reads) == 1, "one read finds the index in step; no write since: no more reads"
    # Another writer (its own store object, as `qa ingest` in another process would be).
    other = open_store(settings, emb, persistent_client)
    new = [with_sentences(p) for p in split_document(Document("stars.txt", "Sirius is the brightest star in the night sky."), sentences=False)]
    other.add(new, [emb.embed([p.text[s:e] for s, e in p.sentences]) for p in new])
    retriever.retrieve("anything")
    assert len(reads) >= 2, "the write moved the probe: the version is read (and again by the rebuild it starts)"
    retriever.wait_for_refresh(timeout=30)
    hits = retriever.retrieve("Which is the brightest star in the night sky?", top_k=1)
    assert hits[0].passage.source == "stars.txt"
    reads.clear()
    retriever.retrieve("Which is the brightest star?")
    retriever.retrieve("Which is the brightest star?")
    assert len(reads) <= 1, "in step again: at most the read that finds it so"


def test_a_replaced_file_is_watched_anew_and_reported_as_a_move(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    probe = CommitCounter(path)
    before = probe()
    path.unlink()
    writer = sqlite3.connect(path)
    writer.execute("CREATE TABLE u (y)")
    writer.commit()
    after = probe()
    assert after != before, "a new file is a change"
    assert probe() == after
    writer.execute("INSERT INTO u VALUES (1)")
    writer.commit()
    assert probe() != after, "and the new file's commits are seen"


def test_a_missing_file_never_reads_as_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    probe = CommitCounter(path)
    path.unlink()
    assert probe() != probe(), "the caller must read the store itself (and meet its error)"


def test_reading_takes_no_lock_a_writer_would_wait_for(tmp_path: Path) -> None:
    import time

    path = tmp_path / "x.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    probe = CommitCounter(path)
    before = probe()
    writer.execute("BEGIN EXCLUSIVE")  # a commit under way: sqlite readers would wait for it
    writer.execute("INSERT INTO t VALUES (1)")
    started = time.perf_counter()
    probe()
    assert time.perf_counter() - started < 0.5, "the probe does not wait for the writer"
    writer.execute("COMMIT")
    assert probe() != before
