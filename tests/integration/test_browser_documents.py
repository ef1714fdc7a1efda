"""The Documents panel in a real browser (Debian chromium, Playwright) against `qa serve`: upload a PDF, ask, cite its page, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.documents_maker import make_pdf
from tests.live_server import BROWSER_TIMEOUT_MS, LiveServer, ask_in_chat, live_server, screenshot

QUESTION = "What must every rowing boat in Port Quillan carry after dark?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("browser-docs")) as s:
        yield s


def test_upload_a_pdf_ask_cite_its_page_delete_and_be_refused(server: LiveServer, page: Any, tmp_path: Path) -> None:
    pdf = tmp_path / "harbour.pdf"
    pdf.write_bytes(make_pdf([
        [("Harbour Rules", ["Gulls are fed only on Sundays, and only by the harbour master. " * 10])],
        [("Night Rules", ["After dark every rowing boat in Port Quillan must carry a lit brass lantern, the harbour master decreed in 1902."])],
    ]))
    page.goto(server.url)
    page.locator("#qa-docs-drop").wait_for(timeout=BROWSER_TIMEOUT_MS)
    page.locator("#qa-docs-drop input[type=file]").set_input_files(str(pdf))

    # Progress while it is read and embedded, then the finished job and the list with its passage count.
    page.locator("#qa-docs-status .qa-job").first.wait_for(timeout=BROWSER_TIMEOUT_MS)
    page.locator("#qa-docs-status .qa-job[data-state=done]").wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert "harbour.pdf: added" in page.locator("#qa-docs-status").inner_text()
    row = page.locator("#qa-docs-list tr.qa-doc", has_text="harbour.pdf")
    row.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert row.locator(".qa-doc-passages").inner_text() == "2"
    screenshot(page, "documents-uploaded")

    # The next question is answered from it, and its citation shows the page and section.
    answer = ask_in_chat(page, QUESTION, 0)
    assert "brass lantern" in answer.inner_text()
    answer.locator(".qa-answer .qa-cite").first.click()
    card = page.locator("#qa-sources .qa-card.qa-active")
    card.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert "harbour.pdf" in card.inner_text() and card.locator(".qa-page").inner_text() == "p. 2"
    assert card.locator(".qa-heading").inner_text() == "Night Rules"
    screenshot(page, "documents-cited")

    # Search in it alone: a question the seed article answers no longer reaches the article.
    page.locator("#qa-docs-search input").click()
    page.get_by_role("option", name="harbour.pdf").click()
    page.keyboard.press("Escape")
    only = ask_in_chat(page, "Who is the U.S. Secretary of State?", 1)
    assert "Blinken" not in only.inner_text()

    # Delete it (the browser asks first; the selector lets go of it, so every document is searched), and the same question is refused.
    page.locator("#qa-docs-choice input").click()
    page.get_by_role("option", name="harbour.pdf").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#qa-docs-delete").click()
    page.locator("#qa-docs-status .qa-deleted").wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert page.locator("#qa-docs-list tr.qa-doc", has_text="harbour.pdf").count() == 0
    refused = ask_in_chat(page, QUESTION, 2)
    assert "I could not find this in the documents." in refused.inner_text()
    screenshot(page, "documents-deleted")
