"""Saved conversations and thumbs up/down in a real browser: reload, reopen, rate, read the server's JSONL line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import BROWSER_TIMEOUT_MS, LiveServer, ask_in_chat, chat_answers, live_server
from ui.app import EXAMPLES

FIRST = "Who is the Chinese Foreign Ministry spokesman?"
SECOND = "What did he say on Thursday?"
THIRD = "What did Wang Yi tell Blinken?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    tmp = tmp_path_factory.mktemp("history")
    with live_server(tmp) as s:
        yield s, tmp / "data" / "feedback.jsonl"


def _wait_lines(path: Path, n: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            if len(lines) >= n:
                return lines
        time.sleep(0.2)
    raise AssertionError(f"the server wrote no feedback line {n} to {path} in {timeout_s:.0f} s")


def test_reload_reopen_continue_and_rate(served: tuple[LiveServer, Path], page: Any) -> None:
    server, feedback = served
    first = httpx.post(f"{server.url}/api/ask", json={"question": FIRST}, timeout=30).json()
    page.goto(server.url)
    ask_in_chat(page, FIRST, 0)
    follow_up = ask_in_chat(page, SECOND, 1)
    searched = follow_up.locator(".qa-searched").inner_text()
    assert "Zhao Lijian" in searched

    # A reload right after the answer starts an empty chat; the conversation is listed once, by its
    # first question, and reopens whole.
    page.reload()
    page.locator("#qa-input textarea").wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert chat_answers(page).count() == 0
    listed = page.get_by_text(FIRST[:40])
    listed.first.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert listed.count() == 1
    listed.first.click()
    chat_answers(page).nth(1).wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert chat_answers(page).count() == 2
    assert chat_answers(page).nth(1).locator(".qa-searched").inner_text() == searched
    # The sources panel shows its last answer's sources, not the hint of an empty chat.
    page.locator("#qa-sources .qa-panel-title", has_text=searched.removeprefix("searched for: ")).wait_for(timeout=BROWSER_TIMEOUT_MS)

    # Its citations still open in the sources panel.
    chat_answers(page).nth(1).locator(".qa-answer .qa-cite").first.click()
    page.locator("#qa-sources .qa-card.qa-active mark.qa-quote").wait_for(timeout=BROWSER_TIMEOUT_MS)

    # Thumbs up on the follow-up: the server logs it with its question, history and citations.
    page.locator("#qa-chat button[aria-label='Like']").nth(1).click()
    line = _wait_lines(feedback, 1)[-1]
    assert line["rating"] == "up" and line["question"] == SECOND and line["turn"] == 2
    assert line["standalone_question"] == searched.removeprefix("searched for: ")
    assert [t["role"] for t in line["history"]] == ["user", "assistant"]
    assert line["history"][0]["content"] == FIRST
    assert line["history"][1]["citations"] == [{"passage_id": c["passage_id"]} for c in first["citations"]]
    assert line["citations"] and all(c["quote"] and c["quote"] in line["answer"] for c in line["citations"])
    assert line["answers"] == list(dict.fromkeys(c["quote"] for c in line["citations"]))
    assert line["doc_id"] == line["citations"][0]["source"]

    # The reopened conversation goes on, with the earlier turns as its history.
    third = ask_in_chat(page, THIRD, 2)
    assert third.locator(".qa-cite").count() >= 1

    # A new chat starts with the hint, not the sources of the conversation left.
    page.get_by_role("button", name="New chat").click()
    chat_answers(page).first.wait_for(state="detached", timeout=BROWSER_TIMEOUT_MS)
    page.locator("#qa-sources .qa-panel-hint").wait_for(timeout=BROWSER_TIMEOUT_MS)


def test_a_conversation_begun_from_an_example_is_kept(served: tuple[LiveServer, Path], page: Any) -> None:
    # Gradio's example click runs the chat without its own save step: the answer itself carries the saving.
    server, _ = served
    page.goto(server.url)
    page.get_by_text(EXAMPLES[1]).first.click()
    chat_answers(page).first.wait_for(timeout=BROWSER_TIMEOUT_MS)
    page.reload()
    page.locator("#qa-input textarea").wait_for(timeout=BROWSER_TIMEOUT_MS)
    page.locator("#qa-history").get_by_text(EXAMPLES[1]).click()
    chat_answers(page).first.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert chat_answers(page).count() == 1
    assert chat_answers(page).first.locator(".qa-cite").count() >= 1
