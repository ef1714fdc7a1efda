"""The web chat in a real browser: Debian's chromium driven by Playwright against `qa serve`."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.test_unknown_names_live import AS_FILES as UNKNOWN_NAME_DOCS
from tests.integration.test_unknown_names_live import OUTSIDE as UNKNOWN_NAME_QUESTION
from tests.live_server import BROWSER_TIMEOUT_MS, LiveServer, ask_in_chat, live_server, screenshot
from ui.app import EXAMPLES

HOSTILE = {
    "hostile.md": (
        "The Zorblax widget manual asks readers to type <script>window.qaPwned = true</script> into the console, "
        'and shows <img src="x" onerror="window.qaPwned = true"> as an example of markup.\n'
    )
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("browser"), extra_docs=HOSTILE | UNKNOWN_NAME_DOCS) as s:
        yield s


# Runs before the chat test below, which stops the module's server at its end.
def test_api_docs_render_offline(server: LiveServer, page: Any) -> None:
    outside: list[str] = []
    errors: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith((server.url + "/", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Swagger UI renders the OpenAPI 3.1 schema: operations and, once opened, the request body.
    page.goto(f"{server.url}/docs")
    ask = page.locator('.swagger-ui .opblock-post:has(.opblock-summary-path[data-path="/api/ask"])')
    ask.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert page.locator(".swagger-ui .opblock-summary-path").count() >= 4
    ask.locator(".opblock-summary").click()
    body = ask.locator(".opblock-section-request-body")
    body.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert "Who is Antony Blinken?" in body.inner_text(), "the AskRequest example is rendered"
    screenshot(page, "docs")

    page.goto(f"{server.url}/redoc")
    page.get_by_text("Answer a question as Server-Sent Events").first.wait_for(timeout=BROWSER_TIMEOUT_MS)

    assert errors == [], errors
    assert outside == [], "the docs load nothing from outside the server"


def test_ask_click_citation_follow_up_refusal_and_markup(server: LiveServer, page: Any) -> None:
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server.url, "data:", "blob:")) else None)
    page.goto(server.url)

    # An empty chat offers example questions about the seed article.
    page.get_by_text(EXAMPLES[0]).first.wait_for(timeout=BROWSER_TIMEOUT_MS)

    question = "What did Wang Yi tell Blinken?"
    expected = httpx.post(f"{server.url}/api/ask", json={"question": question}, timeout=30).json()
    citation = expected["citations"][0]
    assert citation["quote"] != citation["text"], "the seed passage holds more than the quoted sentence"

    answer = ask_in_chat(page, question, 0)
    assert answer.locator(".qa-searched").inner_text() == f"searched for: {expected['standalone_question']}"
    answer.locator(".qa-answer .qa-cite").first.click()
    card = page.locator("#qa-sources .qa-card.qa-active")
    card.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert card.locator("mark.qa-quote").inner_text() == citation["quote"]
    assert card.locator(".qa-passage").inner_text() == citation["text"]
    assert citation["source"] in card.inner_text() and f"¶ {citation['paragraph']}" in card.inner_text()
    # The served chat has the document service: the card names the document's title, as the API's citation does.
    assert citation["title"] and card.locator(".qa-doc-title").inner_text() == citation["title"]
    screenshot(page, "chat")

    # A follow-up is rewritten with the history, and the rewrite is shown.
    ask_in_chat(page, "Who is the Chinese Foreign Ministry spokesman?", 1)
    follow_up = ask_in_chat(page, "What did he say on Thursday?", 2)
    assert "Zhao Lijian" in follow_up.locator(".qa-searched").inner_text()

    # Clicking a marker of an older answer shows that answer's sources again.
    answer.locator(".qa-answer .qa-cite").first.click()
    assert page.locator("#qa-sources .qa-card.qa-active mark.qa-quote").inner_text() == citation["quote"]

    # Document markup is shown as text and runs nothing.
    markup = ask_in_chat(page, "What does the Zorblax widget manual ask readers to type?", 3)
    assert "<script>window.qaPwned = true</script>" in markup.inner_text()
    assert page.evaluate("window.qaPwned") is None
    assert page.locator("#qa-chat img[src='x'], #qa-sources img[src='x']").count() == 0

    # A refusal says so and offers the closest passages, not sources.
    refusal = ask_in_chat(page, "What is the boiling point of mercury?", 4)
    assert "I could not find this in the documents." in refusal.locator(".qa-answer").inner_text()
    assert refusal.locator(".qa-closest").is_visible() and refusal.locator(".qa-sources").count() == 0
    refusal.locator(".qa-open").first.click()
    assert page.locator("#qa-sources .qa-card.qa-active").is_visible()
    assert page.locator("#qa-sources .qa-card.qa-active mark").count() == 0

    # A refusal of a question naming what no document writes says why, and marks its closest sentence as no answer.
    expected = httpx.post(f"{server.url}/api/ask", json={"question": UNKNOWN_NAME_QUESTION}, timeout=30).json()
    assert expected["refused"] and expected["refusal_reason"]
    unknown = ask_in_chat(page, UNKNOWN_NAME_QUESTION, 5)
    assert unknown.locator(".qa-refusal-reason").inner_text() == expected["refusal_reason"]
    closest = unknown.locator(".qa-refusal-closest")
    assert "not an answer" in closest.inner_text().lower() and expected["removed"][0]["sentence"] in closest.inner_text()
    assert "generated sentence" not in unknown.inner_text()
    reason = page.locator("#qa-sources .qa-panel-reason")
    reason.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert reason.inner_text() == expected["refusal_reason"], "the sources panel says why beside the closest passages"

    screenshot(page, "chat-conversation")
    assert outside == [], "the page loads nothing from outside the server"

    # SIGTERM with the page still connected: the server stops instead of waiting on the browser.
    code = server.stop(timeout_s=15.0)
    assert code in (0, -signal.SIGTERM)

