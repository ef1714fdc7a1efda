"""A document's title for people: its `# ` title, the heading it opens under, or its opening words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.documents.library import DocumentLibrary
from qa.documents.registry import Registry
from qa.documents.service import DocumentService
from qa.documents.title import TITLE_CHARS, document_title, markdown_title, opening_words
from qa.runtime import open_store
from qa.store import document_key
from qa.testing import HashEmbedder
from qa.types import Passage


def _p(paragraph: int, text: str, heading: str = "") -> Passage:
    return Passage(f"p{paragraph}", "doc.md", paragraph, text, heading)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("# Tides\n\nThe keeper logs the tide.", "Tides", id="first-line"),
        pytest.param("Intro text.\n\n## Part\n\n#  The  Real   Title  #\n", "The Real Title", id="first-level-1-anywhere-spaces-squeezed"),
        pytest.param("## Only a section\n\nText.", None, id="a-section-heading-is-no-title"),
        pytest.param("#hashtag without a space\n", None, id="not-a-heading"),
        pytest.param("#   \n", None, id="empty-heading"),
    ],
)
def test_markdown_title(text: str, expected: str | None) -> None:
    assert markdown_title(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("Short  text\nhere.", "Short text here.", id="whole-when-short-whitespace-squeezed"),
        pytest.param("word " * 30, ("word " * 13).strip() + "…", id="cut-at-a-word-boundary"),
        pytest.param("x" * 100, "x" * TITLE_CHARS + "…", id="one-long-word-cut"),
        pytest.param("alpha beta, " * 10, "alpha beta, alpha beta, alpha beta, alpha beta, alpha beta…", id="no-trailing-comma"),
    ],
)
def test_opening_words(text: str, expected: str) -> None:
    assert opening_words(text) == expected
    assert len(opening_words(text)) <= TITLE_CHARS + 1


@pytest.mark.parametrize(
    "passages, text, expected",
    [
        pytest.param([_p(2, "Later.", "Storms"), _p(1, "The keeper logs the tide.", "Tides")], None, "Tides", id="heading-of-the-first-paragraph"),
        pytest.param([_p(1, "China wants the United States to yield, a diplomat said.")], None, "China wants the United States to yield, a diplomat said.", id="opening-words"),
        pytest.param([_p(1, "Text.", "Intro")], "# Handbook\n\n## Intro\n\nText.", "Handbook", id="markdown-title-over-section"),
        pytest.param([_p(1, "Text.", "Intro")], "No title here.\n\n## Intro\n\nText.", "Intro", id="no-markdown-title-falls-back"),
        pytest.param([], None, None, id="no-passages"),
    ],
)
def test_document_title(passages: list[Passage], text: str | None, expected: str | None) -> None:
    assert document_title(passages, text) == expected


def test_the_service_reads_titles_from_the_stored_passages_and_kept_originals(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> None:
    store = open_store(settings, HashEmbedder(), ephemeral_client, create=True)
    library = DocumentLibrary(store, HashEmbedder(), Registry(tmp_path / "reg.sqlite3"), tmp_path / "originals")
    service = DocumentService(library, max_file_bytes=10_000, apply_change=lambda added, removed: None, check_store=lambda: None)
    try:
        library.add("guide.md", b"Welcome, reader.\n\n# Port Guide\n\nBoats stay in port during storms.\n")
        library.add("notes.txt", b"The keeper logs the tide at dawn every day of the year, rain or shine, since 1902.\n")
        assert service.title(document_key("guide.md")) == "Port Guide"
        assert service.title(document_key("notes.txt")) == "The keeper logs the tide at dawn every day of the year, rain or…"
        assert service.title("no-such-document") is None
    finally:
        service.close()
