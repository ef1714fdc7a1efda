"""The Documents panel's pure parts: labels by title, the listing, the note of a reopened conversation, the title cache."""

from __future__ import annotations

import pytest

from qa.documents.registry import DocumentRecord
from qa.documents.title import TitleCache
from qa.errors import InputError
from ui.documents import DocumentCatalog, Listing, document_labels, documents_html, job_html, restored_scope, scope_note_html


def _doc(i: str, name: str, sha: str = "00", pending: str | None = None) -> DocumentRecord:
    return DocumentRecord(i, name, "md", 10, None, 1, sha, "2026-01-01T00:00:00Z", "upload", pending)


@pytest.mark.parametrize(
    "docs, titles, expected",
    [
        pytest.param([_doc("a", "a.md")], {"a": "Tides"}, {"a": "Tides"}, id="the-title"),
        pytest.param([_doc("a", "000_ff.txt")], {"a": None}, {"a": "000_ff.txt"}, id="no-title-the-file-name"),
        pytest.param(
            [_doc("a", "a.md"), _doc("b", "b.md"), _doc("c", "c.md")],
            {"a": "Notice", "b": "Notice", "c": "Other"},
            {"a": "Notice (a.md)", "b": "Notice (b.md)", "c": "Other"},
            id="a-shared-title-gets-the-file-names",
        ),
        pytest.param(
            [_doc("a", "a.md"), _doc("b", "b.md")], {"a": "b.md", "b": None}, {"a": "b.md (a.md)", "b": "b.md (b.md)"}, id="a-title-like-another-file-name"
        ),
        pytest.param(
            [_doc("a", "a.md"), _doc("b", "b.md"), _doc("c", "c.md")],
            {"a": "X (b.md)", "b": "X", "c": "X"},
            {"a": "X (b.md) [a]", "b": "X (b.md) [b]", "c": "X (c.md)"},
            id="still-shared-the-id-tells",
        ),
    ],
)
def test_document_labels(docs: list[DocumentRecord], titles: dict[str, str | None], expected: dict[str, str]) -> None:
    labels = document_labels(docs, titles)
    assert labels == expected
    assert len(set(labels.values())) == len(docs), "every label names one document"


def test_the_listing_is_ordered_by_label_and_keeps_only_listed_ids() -> None:
    listing = Listing.of([_doc("a", "a.md"), _doc("b", "b.md"), _doc("c", "c.md")], {"a": "zebra", "b": "Apple", "c": None})
    assert listing.choices() == [("Apple", "b"), ("c.md", "c"), ("zebra", "a")], "by label, case aside"
    assert listing.kept(["b", "gone", "a"]) == ["b", "a"]
    assert listing.kept(None) == []
    changed = Listing.of([_doc("a", "a.md", sha="01"), _doc("b", "b.md"), _doc("c", "c.md")], {"a": "zebra", "b": "Apple", "c": None})
    assert listing.signature() != changed.signature(), "a new version of a document changes the list"


def test_the_table_shows_titles_over_file_names_escaped() -> None:
    listing = Listing.of([_doc("a", "a<b>.md"), _doc("b", "000_ff.txt")], {"a": "<script>x</script>", "b": None})
    html = documents_html(listing)
    assert '<span class="qa-doc-title">&lt;script&gt;x&lt;/script&gt;</span><span class="qa-doc-file">a&lt;b&gt;.md</span>' in html
    assert '<span class="qa-doc-title">000_ff.txt</span></td>' in html, "no title: the file name, once"
    assert "<script>" not in html
    assert "No documents yet" in documents_html(Listing.of([], {}))


@pytest.mark.parametrize(
    "scope, expected_ids, note",
    [
        pytest.param([("a", "Tides"), ("b", "Storms")], ["a", "b"], "", id="all-still-there"),
        pytest.param([], [], "", id="every-document"),
        pytest.param([("a", "Tides"), ("gone", "Old <notes>")], ["a"], "“Old &lt;notes&gt;”, which was deleted since: the conversation searches the rest", id="one-deleted"),
        pytest.param([("x", "One"), ("y", "Two")], [], "“One”, “Two”, which were deleted since: questions now search <b>every document</b>", id="all-deleted-searches-everything"),
    ],
)
def test_restored_scope(scope: list[tuple[str, str]], expected_ids: list[str], note: str) -> None:
    listing = Listing.of([_doc("a", "a.md"), _doc("b", "b.md")], {"a": "Tides", "b": "Storms"})
    kept, html = restored_scope(scope, listing)
    assert kept == expected_ids
    assert (note in html) if note else html == ""


def test_scope_note_is_empty_when_nothing_was_deleted() -> None:
    assert scope_note_html([], 0) == ""


class _Service:
    def __init__(self, docs: list[DocumentRecord], titles: dict[str, str | None]) -> None:
        self.docs, self.titles, self.calls = docs, titles, 0
        self.title_of = TitleCache(self.title)  # as DocumentService caches them

    def documents(self) -> list[DocumentRecord]:
        return self.docs

    def title(self, doc_id: str) -> str | None:
        self.calls += 1
        if self.titles[doc_id] == "broken":
            raise InputError("a.md: its kept original is missing")
        return self.titles[doc_id]


def test_the_catalog_reads_each_version_title_once(caplog: pytest.LogCaptureFixture) -> None:
    service = _Service([_doc("a", "a.md")], {"a": "Tides"})
    catalog = DocumentCatalog(service)
    assert catalog.listing().labels == {"a": "Tides"} and catalog.listing().labels == {"a": "Tides"}
    assert service.calls == 1
    service.docs, service.titles = [_doc("a", "a.md", sha="01")], {"a": "Tides, revised"}
    assert catalog.scope(["a"]) == [("a", "Tides, revised")]
    assert service.calls == 2, "a new version is read again"
    service.docs = [_doc("a", "a.md", sha="01", pending="02")]
    catalog.listing(), catalog.listing()
    assert service.calls == 2, "the committed version's title stays cached while a new one is written"
    service.docs, service.titles = [_doc("b", "b.md", pending="03")], {"b": "Half"}
    catalog.listing(), catalog.listing()
    assert service.calls == 4, "a version being written is not cached"
    service.docs, service.titles = [_doc("c", "c.md")], {"c": "broken"}
    assert catalog.listing().labels == {"c": "c.md"}
    assert "no title for c.md" in caplog.text


def test_a_finished_upload_names_the_document_each_file_became() -> None:
    from qa.documents.registry import FileProgress, Job

    files = [
        FileProgress("harbour.pdf", "added", document_id="h"),
        FileProgress("copy.md", "duplicate", document_id="b"),
        FileProgress("empty.txt", "failed", error="empty.txt: the file is empty"),
        FileProgress("later.md", "replaced", document_id="unlisted"),
    ]
    html = job_html(Job("j", "upload", state="done", files=files), {"h": "Harbour <Rules>", "b": "Notice (b.md)"})
    assert "harbour.pdf: added as “Harbour &lt;Rules&gt;”" in html
    assert "copy.md: duplicate: the same file is already here as “Notice (b.md)”" in html
    assert 'empty.txt: failed <span class="qa-job-error">empty.txt: the file is empty</span>' in html
    assert "later.md: replaced</li>" in html, "a document not listed (yet) is named by its state alone"
    assert "harbour.pdf: added</li>" in job_html(Job("j", "upload", state="done", files=files[:1])), "no labels: the state alone"


def test_a_choice_deleted_elsewhere_is_named_when_asked_with() -> None:
    service = _Service([_doc("a", "a.md"), _doc("b", "b.md")], {"a": "Tides", "b": "Storms"})
    catalog = DocumentCatalog(service)
    assert catalog.scope(["b", "a"]) == [("b", "Storms"), ("a", "Tides")]
    service.docs = [_doc("a", "a.md")]  # another tab deleted "Storms"
    with pytest.raises(InputError, match="^“Storms” was deleted after being chosen in “Search in”: check the choice"):
        catalog.scope(["a", "b"])
    with pytest.raises(InputError, match="^“never-listed”, “b2” were deleted"):
        catalog.scope(["never-listed", "b2"])
