"""The Documents panel in a real browser (Debian chromium, Playwright) against `qa serve`: upload a PDF, ask, cite its page, delete."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.documents_maker import make_pdf
from tests.integration.test_documents_live import qa, start_server
from tests.live_server import ROOT, LiveServer

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
TIMEOUT_MS = 120_000
QUESTION = "What must every rowing boat in Port Quillan carry after dark?"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed (make chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("browser-docs")
    data = tmp / "data"
    assert qa(["ingest", "-q", str(ROOT / "seeds")], tmp, data).returncode == 0
    s = start_server(tmp, data)
    try:
        yield s
    finally:
        s.stop()


def _ask(page: Any, question: str, turn: int) -> Any:
    page.locator("#qa-input textarea").fill(question)
    page.keyboard.press("Enter")
    done = page.locator("#qa-chat .qa-msg:not(.qa-pending)")
    done.nth(turn).wait_for(timeout=TIMEOUT_MS)
    return done.nth(turn)


def test_upload_a_pdf_ask_cite_its_page_delete_and_be_refused(server: LiveServer, tmp_path: Path) -> None:
    pdf = tmp_path / "harbour.pdf"
    pdf.write_bytes(make_pdf([
        [("Harbour Rules", ["Gulls are fed only on Sundays, and only by the harbour master. " * 10])],
        [("Night Rules", ["After dark every rowing boat in Port Quillan must carry a lit brass lantern, the harbour master decreed in 1902."])],
    ]))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(server.url)
        page.locator("#qa-docs-drop").wait_for(timeout=TIMEOUT_MS)
        page.locator("#qa-docs-drop input[type=file]").set_input_files(str(pdf))

        # Progress while it is read and embedded, then the finished job and the list with its passage count.
        page.locator("#qa-docs-status .qa-job").first.wait_for(timeout=TIMEOUT_MS)
        page.locator("#qa-docs-status .qa-job[data-state=done]").wait_for(timeout=TIMEOUT_MS)
        assert "harbour.pdf: added" in page.locator("#qa-docs-status").inner_text()
        row = page.locator("#qa-docs-list tr.qa-doc", has_text="harbour.pdf")
        row.wait_for(timeout=TIMEOUT_MS)
        assert row.locator(".qa-doc-passages").inner_text() == "2"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "documents-uploaded.png"), full_page=True)

        # The next question is answered from it, and its citation shows the page and section.
        answer = _ask(page, QUESTION, 0)
        assert "brass lantern" in answer.inner_text()
        answer.locator(".qa-answer .qa-cite").first.click()
        card = page.locator("#qa-sources .qa-card.qa-active")
        card.wait_for(timeout=TIMEOUT_MS)
        assert "harbour.pdf" in card.inner_text() and card.locator(".qa-page").inner_text() == "p. 2"
        assert card.locator(".qa-heading").inner_text() == "Night Rules"
        page.screenshot(path=str(ARTIFACTS / "documents-cited.png"), full_page=True)

        # Search in it alone: a question the seed article answers no longer reaches the article.
        page.locator("#qa-docs-search input").click()
        page.get_by_role("option", name="harbour.pdf").click()
        page.keyboard.press("Escape")
        only = _ask(page, "Who is the U.S. Secretary of State?", 1)
        assert "Blinken" not in only.inner_text()

        # Delete it (the browser asks first; the selector lets go of it, so every document is searched), and the same question is refused.
        page.locator("#qa-docs-choice input").click()
        page.get_by_role("option", name="harbour.pdf").click()
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#qa-docs-delete").click()
        page.locator("#qa-docs-status .qa-deleted").wait_for(timeout=TIMEOUT_MS)
        assert page.locator("#qa-docs-list tr.qa-doc", has_text="harbour.pdf").count() == 0
        refused = _ask(page, QUESTION, 2)
        assert "I could not find this in the documents." in refused.inner_text()
        page.screenshot(path=str(ARTIFACTS / "documents-deleted.png"), full_page=True)
        browser.close()
