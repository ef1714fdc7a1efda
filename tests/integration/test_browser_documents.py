"""The Documents panel in a real browser (Debian chromium, Playwright) against `qa serve`.

Upload a PDF, see it listed by its title, ask, cite its page, search in it alone, reload and
reopen the conversation with its "Search in" choice, delete it, and reopen once more.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.documents_maker import make_pdf
from tests.live_server import (
    BROWSER_TIMEOUT_MS,
    LiveServer,
    add_document,
    ask_in_chat,
    chat_answers,
    choose,
    close_dropdown,
    live_server,
    screenshot,
    search_in,
)

QUESTION = "What must every rowing boat in Port Quillan carry after dark?"
TITLE = "Harbour Rules"  # the heading the PDF opens with


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("browser-docs")) as s:
        yield s


def _options(page: Any, selector: str) -> list[str]:
    """Return the labels a dropdown offers (opening and closing it)."""
    page.locator(f"{selector} input").click()
    options = page.locator(selector).get_by_role("option")
    options.first.wait_for(timeout=BROWSER_TIMEOUT_MS)
    labels = [t.removeprefix("✓").strip() for t in options.all_inner_texts()]
    close_dropdown(page, selector)
    return labels


def test_upload_a_pdf_ask_cite_its_page_delete_and_be_refused(server: LiveServer, page: Any, tmp_path: Path) -> None:
    pdf = tmp_path / "harbour.pdf"
    pdf.write_bytes(make_pdf([
        [(TITLE, ["Gulls are fed only on Sundays, and only by the harbour master. " * 10])],
        [("Night Rules", ["After dark every rowing boat in Port Quillan must carry a lit brass lantern, the harbour master decreed in 1902."])],
    ]))
    (seed,) = httpx.get(f"{server.url}/api/documents", timeout=30).json()
    page.goto(server.url)
    page.locator("#qa-docs-drop").wait_for(timeout=BROWSER_TIMEOUT_MS)

    # The seed article has no heading: it is listed by its opening words, its stored file name beside them.
    seed_row = page.locator("#qa-docs-list tr.qa-doc", has_text=seed["name"])
    seed_title = seed_row.locator(".qa-doc-title").inner_text()
    assert seed_title == "China wants the United States to yield to Russia’s demands for a…"
    assert seed_row.locator(".qa-doc-file").inner_text() == seed["name"]

    page.locator("#qa-docs-drop input[type=file]").set_input_files(str(pdf))

    # Progress while it is read and embedded, then the finished job and the list with its title and passage count.
    page.locator("#qa-docs-status .qa-job").first.wait_for(timeout=BROWSER_TIMEOUT_MS)
    page.locator("#qa-docs-status .qa-job[data-state=done]").wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert f"harbour.pdf: added as “{TITLE}”" in page.locator("#qa-docs-status").inner_text()
    row = page.locator("#qa-docs-list tr.qa-doc", has_text="harbour.pdf")
    row.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert row.locator(".qa-doc-title").inner_text() == TITLE and row.locator(".qa-doc-file").inner_text() == "harbour.pdf"
    assert row.locator(".qa-doc-passages").inner_text() == "2"
    assert _options(page, "#qa-docs-search") == _options(page, "#qa-docs-choice") == sorted([TITLE, seed_title], key=str.casefold)
    screenshot(page, "documents-uploaded")

    # The next question is answered from it, and its citation shows the page and section.
    answer = ask_in_chat(page, QUESTION, 0)
    assert "brass lantern" in answer.inner_text()
    assert answer.locator(".qa-scope").count() == 0, "a question about every document names none"
    answer.locator(".qa-answer .qa-cite").first.click()
    card = page.locator("#qa-sources .qa-card.qa-active")
    card.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert "harbour.pdf" in card.inner_text() and card.locator(".qa-page").inner_text() == "p. 2"
    assert card.locator(".qa-heading").inner_text() == "Night Rules"
    screenshot(page, "documents-cited")

    # Search in it alone (chosen by its title): a question the seed article answers no longer reaches the
    # article, and the answer says what it searched in.
    choose(page, "#qa-docs-search", TITLE)
    only = ask_in_chat(page, "Who is the U.S. Secretary of State?", 1)
    assert "Blinken" not in only.inner_text()
    assert only.locator(".qa-scope").inner_text() == f"searched in: {TITLE}"

    # A reload lists the document uploaded after the server started; the reopened conversation
    # searches in it again, and shows its last answer's sources.
    page.reload()
    page.locator("#qa-input textarea").wait_for(timeout=BROWSER_TIMEOUT_MS)
    page.locator("#qa-docs-list tr.qa-doc", has_text="harbour.pdf").wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert TITLE in _options(page, "#qa-docs-search") and TITLE in _options(page, "#qa-docs-choice")
    assert search_in(page) == []
    page.locator("#qa-history").get_by_text(QUESTION[:40]).first.click()
    chat_answers(page).nth(1).wait_for(timeout=BROWSER_TIMEOUT_MS)
    page.locator("#qa-docs-search .token", has_text=TITLE).wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert search_in(page) == [TITLE]
    page.locator("#qa-sources .qa-panel-title", has_text="Who is the U.S. Secretary of State?").wait_for(timeout=BROWSER_TIMEOUT_MS)
    screenshot(page, "documents-reopened")

    # Delete it (the browser asks first, naming it; the selector lets go of it, and says that every document is searched).
    choose(page, "#qa-docs-choice", TITLE)
    asked: list[str] = []

    def confirm(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    page.locator("#qa-docs-delete").click()
    page.locator("#qa-docs-status .qa-deleted").wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert asked == [f"Delete “{TITLE}” and every passage of it?"]
    assert page.locator("#qa-docs-status").inner_text() == (
        f"Deleted “{TITLE}”: 2 passages removed. It is no longer in “Search in”, which now searches every document."
    )
    assert page.locator("#qa-docs-list tr.qa-doc", has_text="harbour.pdf").count() == 0
    page.locator("#qa-docs-search .token").first.wait_for(state="detached", timeout=BROWSER_TIMEOUT_MS)

    # Reopened again, the conversation says its document was deleted since, and searches every document.
    page.get_by_role("button", name="New chat").click()
    chat_answers(page).first.wait_for(state="detached", timeout=BROWSER_TIMEOUT_MS)
    page.locator("#qa-history").get_by_text(QUESTION[:40]).first.click()
    note = page.locator("#qa-scope-note .qa-scope-note")
    note.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert f"“{TITLE}”" in note.inner_text() and "every document" in note.inner_text()
    assert search_in(page) == []
    screenshot(page, "documents-deleted-since")
    refused = ask_in_chat(page, QUESTION, 2)
    assert "I could not find this in the documents." in refused.inner_text()
    assert refused.locator(".qa-scope").count() == 0
    screenshot(page, "documents-deleted")


def test_documents_sharing_a_title_are_told_apart_and_each_searched_alone(server: LiveServer, page: Any) -> None:
    # One added through the API after the server started: the page lists it as it loads; the other
    # while the page is open: the page lists it a few seconds later, in the selectors too.
    bells = add_document(server, "a-notice.md", "# Parish notice\n\nThe bell ringers of Saint Olave practise on Wednesday evenings.\n")
    roof: dict[str, Any] = {}
    try:
        page.goto(server.url)
        page.locator("#qa-docs-list tr.qa-doc", has_text="a-notice.md").wait_for(timeout=BROWSER_TIMEOUT_MS)
        assert "Parish notice" in _options(page, "#qa-docs-search")
        roof = add_document(server, "b-notice.md", "# Parish notice\n\nThe vestry roof of Saint Olave was mended with Welsh slate in March.\n")
        page.locator("#qa-docs-list tr.qa-doc", has_text="b-notice.md").wait_for(timeout=BROWSER_TIMEOUT_MS)
        offered = _options(page, "#qa-docs-search")
        assert "Parish notice (a-notice.md)" in offered and "Parish notice (b-notice.md)" in offered
        assert "Parish notice" not in offered
        row = page.locator("#qa-docs-list tr.qa-doc", has_text="b-notice.md")
        assert row.locator(".qa-doc-title").inner_text() == "Parish notice" and row.locator(".qa-doc-file").inner_text() == "b-notice.md"

        choose(page, "#qa-docs-search", "Parish notice (b-notice.md)")
        roof_answer = ask_in_chat(page, "What was the vestry roof mended with?", 0)
        assert "Welsh slate" in roof_answer.inner_text() and "b-notice.md" in roof_answer.locator(".qa-sources").inner_text()
        assert roof_answer.locator(".qa-scope").inner_text() == "searched in: Parish notice (b-notice.md)"
        bells_answer = ask_in_chat(page, "When do the bell ringers of Saint Olave practise?", 1)
        assert "Wednesday" not in bells_answer.inner_text(), "only the chosen one of the two is searched"
        assert "a-notice.md" not in bells_answer.inner_text()
        screenshot(page, "documents-shared-title")
    finally:
        for doc in (bells, roof):
            if doc:
                httpx.delete(f"{server.url}/api/documents/{doc['id']}", timeout=60)
