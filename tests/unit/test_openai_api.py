"""The OpenAI-compatible routes and the request hardening, on the fake runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.api.openai import ChatMessage, remainder, to_question
from qa.errors import InputError
from qa.runtime import Runtime
from qa.types import REFUSAL

QUESTION = "Who is the U.S. Secretary of State?"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), base_url="http://127.0.0.1:7860") as c:
        yield c


def _user(text: Any) -> dict[str, Any]:
    return {"model": "qa", "messages": [{"role": "user", "content": text}]}


def _chunks(body: str) -> list[Any]:
    lines = [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_models_lists_one_model(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["qa"]


def test_completion_content_is_the_cited_answer_and_context_the_citations(client: TestClient, runtime: Runtime) -> None:
    body = client.post("/v1/chat/completions", json=_user(QUESTION)).json()
    assert body["object"] == "chat.completion" and body["model"] == "qa" and body["id"].startswith("chatcmpl-")
    message = body["choices"][0]["message"]
    expected = runtime.chain.ask(QUESTION)
    assert message["role"] == "assistant" and message["content"] == expected.answer
    assert message["context"]["refused"] is False
    assert message["context"]["citations"] == [c.to_dict() for c in expected.citations]
    assert body["choices"][0]["finish_reason"] == "stop"


def test_stream_sends_text_then_context_once_in_the_last_chunk(client: TestClient) -> None:
    with client.stream("POST", "/v1/chat/completions", json={**_user(QUESTION), "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        chunks = _chunks(r.read().decode())
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert [i for i, d in enumerate(deltas) if "context" in d] == [len(deltas) - 1]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    whole = client.post("/v1/chat/completions", json=_user(QUESTION)).json()["choices"][0]["message"]
    assert "".join(d.get("content", "") for d in deltas) == whole["content"]
    assert deltas[-1]["context"] == whole["context"]


def test_refusal_streams_the_refusal_sentence(client: TestClient) -> None:
    with client.stream("POST", "/v1/chat/completions", json={**_user("An unanswerable question about Blinken"), "stream": True}) as r:
        deltas = [c["choices"][0]["delta"] for c in _chunks(r.read().decode())]
    assert "".join(d.get("content", "") for d in deltas) == REFUSAL
    assert deltas[-1]["context"]["refused"] is True and deltas[-1]["context"]["citations"] == []


def test_messages_become_question_and_history() -> None:
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="Who is Wang Yi?"),
        ChatMessage(role="assistant", content="The Chinese Foreign Minister. [1]"),
        ChatMessage(role="user", content=[{"type": "text", "text": "Whom did he call?"}]),  # type: ignore[list-item]
    ]
    question, history = to_question(messages, max_turns=40)
    assert question == "Whom did he call?"
    assert history == [{"role": "user", "content": "Who is Wang Yi?"}, {"role": "assistant", "content": "The Chinese Foreign Minister. [1]"}]
    assert to_question(messages, max_turns=1)[1] == history[-1:], "the latest turns are kept"


@pytest.mark.parametrize(
    "messages, says",
    [
        pytest.param([ChatMessage(role="assistant", content="hi")], "last message must be the user's question", id="last-not-user"),
        pytest.param(
            [ChatMessage(role="user", content=[{"type": "image_url", "image_url": {"url": "x"}}])],  # type: ignore[list-item]
            "only 'text'",
            id="image-part",
        ),
    ],
)
def test_messages_that_hold_no_question_are_refused(messages: list[ChatMessage], says: str) -> None:
    with pytest.raises(InputError, match=says):
        to_question(messages, max_turns=40)


@pytest.mark.parametrize("sent, final, tail", [("", "abc", "abc"), ("ab", "abc", "c"), ("abc", "abc", ""), ("x", "abc", "")])
def test_remainder(sent: str, final: str, tail: str) -> None:
    assert remainder(sent, final) == tail


BAD_TEXT = ["\ud800 Blinken", ".", "???!!!", "🙂🙂🙂", "  \u200b "]


@pytest.mark.parametrize("text", BAD_TEXT, ids=["lone-surrogate", "dot", "punctuation", "emoji", "zero-width-space"])
@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream", "/v1/chat/completions"])
def test_unencodable_and_content_free_questions_are_422_json(client: TestClient, path: str, text: str) -> None:
    body = _user(text) if path.startswith("/v1") else {"question": text}
    # json.dumps writes a lone surrogate as the escape "\ud800", exactly as a hostile client would send it.
    r = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/json"
    detail = r.json()["error"]["message"] if path.startswith("/v1") else r.json()["detail"]
    assert any(says in detail for says in ("not valid Unicode", "unicode string", "no letters or digits")), detail


def test_a_lone_surrogate_in_history_is_422(client: TestClient) -> None:
    body = {"question": "Who is Blinken?", "history": [{"role": "user", "content": "\udc00"}]}
    r = client.post("/api/ask", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == 422 and "history.0.content" in r.json()["detail"]


@pytest.mark.parametrize(
    "body, says",
    [
        pytest.param({"model": "qa", "messages": []}, "messages: List should have at least 1 item", id="no-messages"),
        pytest.param({"model": "qa"}, "messages: Field required", id="missing-messages"),
        pytest.param({**_user(QUESTION), "n": 2}, "n: Input should be less than or equal to 1", id="n-2"),
        pytest.param({**_user(QUESTION), "stream": "yes"}, "stream: Input should be a valid boolean", id="stream-not-bool"),
        pytest.param({"messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role", id="bad-role"),
    ],
)
def test_invalid_completion_requests_are_openai_errors(client: TestClient, body: dict[str, Any], says: str) -> None:
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 422
    error = r.json()["error"]
    assert says in error["message"] and error["type"] == "invalid_request_error"


def test_sampling_options_are_accepted_and_ignored(client: TestClient) -> None:
    body = {**_user(QUESTION), "temperature": 0.7, "max_tokens": 5, "top_p": 0.9, "user": "u1", "stream_options": {"include_usage": True}}
    assert client.post("/v1/chat/completions", json=body).status_code == 200


def test_schema_states_the_limits(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    question = schemas["AskRequest"]["properties"]["question"]
    assert question["minLength"] == 1 and question["maxLength"] == 2000
    assert schemas["AskRequest"]["properties"]["history"]["maxItems"] == 40
    assert schemas["ChatCompletionRequest"]["properties"]["messages"]["minItems"] == 1


def test_wrong_methods_and_unknown_paths_under_v1(client: TestClient) -> None:
    r = client.get("/v1/chat/completions")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json()["error"]["code"] == "method_not_allowed"
    r = client.delete("/api/passages/x")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    assert client.get("/v1/nothing").json()["error"]["type"] == "not_found_error"


def test_documents_extension_restricts_what_is_searched(client: TestClient) -> None:
    from qa.store import document_key

    body = {**_user(QUESTION), "documents": [document_key("markup.md")]}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    cited = r.json()["choices"][0]["message"]["context"]["citations"]
    assert cited and {c["source"] for c in cited} == {"markup.md"}
    unknown = client.post("/v1/chat/completions", json={**_user(QUESTION), "documents": ["nope"]})
    assert unknown.status_code == 422 and "'nope'" in unknown.json()["error"]["message"]
