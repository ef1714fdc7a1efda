"""Through the real chain and store: a question about a document that is not there is refused, naming what is unknown."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from qa.answer.providers import ExtractiveAnswerer
from qa.runtime import Runtime, build_runtime
from qa.types import REFUSAL, Document
from tests.live_server import LiveServer, live_server

CANAL = Document(
    source="canal",
    text=(
        "# The Caledonian Canal\n\n"
        "The Caledonian Canal links Inverness on the east coast of Scotland with Corpach near Fort William on the west coast. "
        "Thomas Telford designed it, and the canal opened in 1822 after nineteen years of work. Only a third of its length "
        "was dug by hand: the rest runs through Loch Ness, Loch Oich and Loch Lochy."
    ),
)
LIGHTHOUSE = Document(
    source="lighthouse",
    text=(
        "# The Bell Rock Lighthouse\n\n"
        "Robert Stevenson built the Bell Rock Lighthouse off the coast of Angus between 1807 and 1810. It is the oldest "
        "surviving sea-washed lighthouse in the world. The light was first shown on 1 February 1811, and its keepers "
        "lived in the tower until the light was automated in 1988."
    ),
)
# About neither document: every word of its name is in the store, never together.
OUTSIDE = "Who designed Fort Stevenson?"
INSIDE = "Who designed the Caledonian Canal?"
REASON = "The documents do not mention “Fort Stevenson”."
# The two documents as files for `qa ingest` (beside the seeds a live server always holds).
AS_FILES = {f"{d.source}.md": d.text for d in (CANAL, LIGHTHOUSE)}


@pytest.fixture(scope="module")
def two_documents(runtime_over: Callable[[str, list[Document]], Runtime]) -> Runtime:
    return runtime_over("unknown-names", [CANAL, LIGHTHOUSE])


def test_a_question_about_a_document_not_in_the_store_is_refused_naming_the_unknown_name(two_documents: Runtime) -> None:
    answer = two_documents.chain.ask(OUTSIDE)
    assert answer.refused and answer.answer == REFUSAL and answer.citations == ()
    (removed,) = answer.removed
    assert removed.reason == answer.refusal_reason == REASON
    body = answer.to_dict()
    assert body["refusal_reason"] == body["removed"][0]["reason"] == REASON, "the API shows why, beside the standard refusal"


def test_without_the_corpus_the_same_question_gets_a_wrong_answer(two_documents: Runtime) -> None:
    # Shows the refusal above is this rule's: the support of the best sentence alone would have answered.
    chain = build_runtime(two_documents.settings, embedder=two_documents.embedder, answerer=ExtractiveAnswerer(two_documents.settings.answer)).chain
    answer = chain.ask(OUTSIDE)
    assert not answer.refused and "Telford" in answer.answer


def test_a_question_about_an_indexed_document_is_answered(two_documents: Runtime) -> None:
    answer = two_documents.chain.ask(INSIDE)
    assert not answer.refused and "Thomas Telford" in answer.answer and answer.citations[0].source == "canal"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("unknown-names-http"), extra_docs=AS_FILES) as s:
        yield s


def test_over_http_every_answer_api_says_why_it_refused(server: LiveServer) -> None:
    body = httpx.post(f"{server.url}/api/ask", json={"question": OUTSIDE}, timeout=60).json()
    assert body["refused"] is True and body["answer"] == REFUSAL and body["refusal_reason"] == REASON
    assert [u["reason"] for u in body["removed"]] == [REASON], "removed keeps the reason, as before the dedicated field"

    with httpx.stream("POST", f"{server.url}/api/ask/stream", json={"question": OUTSIDE}, timeout=60) as r:
        events = [json.loads(line[len("data: ") :]) for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1]["refusal_reason"] == REASON, "the final SSE event carries the reason"

    chat = {"model": "qa", "messages": [{"role": "user", "content": OUTSIDE}]}
    reply = httpx.post(f"{server.url}/v1/chat/completions", json=chat, timeout=60).json()["choices"][0]["message"]
    assert reply["content"] == REFUSAL and reply["context"]["refusal_reason"] == REASON

    answered = httpx.post(f"{server.url}/api/ask", json={"question": INSIDE}, timeout=60).json()
    assert not answered["refused"] and "refusal_reason" not in answered
