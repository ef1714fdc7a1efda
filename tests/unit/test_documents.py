"""The document library: add, dedupe, replace, delete, reindex and crash recovery leave the store exactly consistent."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.documents.library import DocumentLibrary, sha256_of
from qa.documents.registry import Registry
from qa.ingest.formats import parse
from qa.ingest.pipeline import embed_into
from qa.runtime import open_store
from qa.store import PassageStore, document_key
from qa.testing import HashEmbedder
from qa.types import Passage

DOC = b"# Tides\n\nThe keeper logs the tide at dawn.\n\nThe bell rings at noon.\n\n# Storms\n\nBoats stay in port during storms.\n"
DOC_V2 = b"# Tides\n\nThe keeper logs the tide at dawn.\n\nThe bell rings twice at noon.\n"


class Changes:
    """Records what the library told the retriever."""

    def __init__(self) -> None:
        self.added: list[str] = []
        self.removed: list[str] = []

    def __call__(self, added: Sequence[Passage], removed: Collection[str]) -> None:
        self.added += [p.passage_id for p in added]
        self.removed += list(removed)


@pytest.fixture
def store(settings: Settings, ephemeral_client: Any) -> PassageStore:
    return open_store(settings, HashEmbedder(), ephemeral_client, create=True)


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
def library(store: PassageStore, tmp_path: Path, changes: Changes) -> DocumentLibrary:
    return DocumentLibrary(store, HashEmbedder(), Registry(tmp_path / "reg.sqlite3"), tmp_path / "originals", on_change=changes)


def _sentence_rows(store: PassageStore) -> set[str]:
    return set(store._sents.get(include=[])["ids"]) if store._sents is not None else set()


def assert_consistent(library: DocumentLibrary) -> None:
    """The store holds exactly the committed versions: no extra passage rows, no orphan sentence rows."""
    store = library.store
    expected: set[str] = set()
    for rec in library.registry.documents():
        expected |= {p.passage_id for p in parse(rec.name, library.original(rec)).passages(sentences=False)}
    assert store.ids() == expected
    assert {r.rsplit(":", 1)[0] for r in _sentence_rows(store)} <= expected
    assert library.registry.unfinished() == []


def test_add_lists_and_stores_with_document_id(library: DocumentLibrary, changes: Changes) -> None:
    result = library.add("tides.md", DOC)
    assert result.status == "added" and result.document.passages == 3 and result.embedded == 3
    [rec] = library.registry.documents()
    assert (rec.id, rec.name, rec.type, rec.bytes, rec.sha256) == (document_key("tides.md"), "tides.md", "md", len(DOC), sha256_of(DOC))
    assert library.store.ids_of(rec.id) == library.store.ids() and len(changes.added) == 3
    assert [p.heading for p in library.store.passages_of(rec.id)] == ["Tides", "Tides", "Storms"]
    assert_consistent(library)


def test_same_file_again_adds_nothing_and_same_bytes_under_another_name_is_a_duplicate(library: DocumentLibrary) -> None:
    library.add("tides.md", DOC)
    again = library.add("tides.md", DOC)
    twin = library.add("copy-of-tides.md", DOC)
    assert (again.status, again.embedded) == ("unchanged", 0)
    assert twin.status == "duplicate" and twin.document.name == "tides.md"
    assert library.store.count() == 3 and len(library.registry.documents()) == 1


def test_same_name_new_content_replaces_and_embeds_only_what_changed(library: DocumentLibrary, changes: Changes) -> None:
    first = library.add("tides.md", DOC)
    second = library.add("tides.md", DOC_V2)
    assert second.status == "replaced" and second.embedded == 1 and second.removed == 2
    texts = {p.text for p in library.store.all_passages()}
    assert texts == {"The keeper logs the tide at dawn.", "The bell rings twice at noon."}
    assert not (library.originals / first.document.sha256).exists() if first.document.sha256 else True
    assert_consistent(library)


def test_delete_removes_every_row_and_the_original(library: DocumentLibrary, changes: Changes) -> None:
    library.add("tides.md", DOC)
    library.add("other.txt", b"Another document about gulls.\n")
    doc_id = document_key("tides.md")
    removed = library.delete(doc_id)
    assert removed == 3 and library.store.ids_of(doc_id) == set()
    assert {p.source for p in library.store.all_passages()} == {"other.txt"}
    assert [r.name for r in library.registry.documents()] == ["other.txt"]
    assert not (library.originals / sha256_of(DOC)).exists()
    assert len(changes.removed) == 3
    assert_consistent(library)
    with pytest.raises(KeyError):
        library.delete(doc_id)


def _crash_writing(library: DocumentLibrary, name: str, data: bytes, keep: int) -> None:
    """Do what add() does up to a crash after ``keep`` passages were written (sentence rows of one more, orphaned)."""
    passages = parse(name, data).passages(sentences=False)
    rec = library.registry.get(document_key(name))
    from qa.documents.registry import DocumentRecord, now

    library._keep(sha256_of(data), data)
    library.registry.begin(
        rec or DocumentRecord(document_key(name), name, "md", len(data), None, 0, None, now(), "upload"), pending=sha256_of(data)
    )
    have = library.store.ids_of(document_key(name))
    todo = [p for p in passages if p.passage_id not in have]
    embed_into(library.store, library.embedder, todo[:keep])
    # the next passage's sentence rows were written, its passage row never was
    from qa.ingest.split import with_sentences

    p = with_sentences(todo[keep])
    vecs = library.embedder.embed([p.text[s:e] for s, e in p.sentences])
    library.store._sents.upsert(ids=[f"{p.passage_id}:{k}" for k in range(len(vecs))], embeddings=vecs.tolist(), metadatas=[{"passage_id": p.passage_id, "k": k} for k in range(len(vecs))])


def test_recovery_removes_a_half_written_new_document(library: DocumentLibrary) -> None:
    library.add("other.txt", b"Another document about gulls.\n")
    _crash_writing(library, "tides.md", DOC, keep=1)
    assert library.store.count() == 2  # one half document is visible before recovery
    report = library.recover()
    assert report.documents == ["tides.md"] and report.rows_removed == 1 and report.orphan_sentences >= 1
    assert [r.name for r in library.registry.documents()] == ["other.txt"]
    assert_consistent(library)


def test_recovery_rolls_a_half_written_replacement_back_to_the_old_version(library: DocumentLibrary) -> None:
    library.add("tides.md", DOC)
    v3 = DOC + b"\nA new paragraph about lanterns.\n\nAnd one about fog.\n"
    _crash_writing(library, "tides.md", v3, keep=1)
    library.recover()
    assert library.registry.documents()[0].sha256 == sha256_of(DOC)
    assert_consistent(library)
    assert library.add("tides.md", v3).status == "replaced"  # and the upload can simply be repeated
    assert_consistent(library)


def test_reindex_embeds_everything_again_from_the_originals(library: DocumentLibrary, changes: Changes) -> None:
    library.add("tides.md", DOC)
    library.add("other.txt", b"Another document about gulls.\n")
    before = library.store.ids()
    assert library.reindex() == 4
    assert library.store.ids() == before and set(changes.removed) == before
    assert_consistent(library)


def test_folder_sync_keeps_uploads_and_removes_rows_of_unknown_documents(library: DocumentLibrary, tmp_path: Path) -> None:
    library.add("upload.txt", b"Uploaded through the chat.\n")
    # rows written before the registry existed (an older store): unknown to the registry
    legacy = parse("legacy.txt", b"Old row.\n").passages(sentences=False)
    embed_into(library.store, library.embedder, legacy)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("Folder document A.\n")
    report = library.sync_folder([folder], max_file_bytes=10_000)
    assert (report.documents, report.added, report.removed) == (1, 1, 1)
    assert {p.source for p in library.store.all_passages()} == {"upload.txt", "a.txt"}
    (folder / "a.txt").unlink()
    (folder / "b.txt").write_text("Folder document B.\n")
    library.sync_folder([folder], max_file_bytes=10_000)
    assert {p.source for p in library.store.all_passages()} == {"upload.txt", "b.txt"}
    assert_consistent(library)


def test_a_failed_first_ingest_creates_no_collections(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> None:
    store = open_store(settings, HashEmbedder(), ephemeral_client, create=True)
    library = DocumentLibrary(store, HashEmbedder(), Registry(tmp_path / "r.sqlite3"), tmp_path / "o")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "bad.txt").write_bytes(b"\x00binary")
    with pytest.raises(Exception, match="binary"):
        library.sync_folder([folder], max_file_bytes=10_000)
    assert ephemeral_client.list_collections() == []
