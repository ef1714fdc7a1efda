from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.runtime import Runtime
from qa.store import document_key
from qa.types import REFUSAL
from tests.fake_runtime import QuoteAnswerer, fake_runtime

QUESTION = "Who is the U.S. Secretary of State?"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def _without_timings(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "timings_ms"}


def test_ask_returns_exactly_the_cli_object(client: TestClient, runtime: Runtime) -> None:
    r = client.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"answer", "refused", "standalone_question", "citations", "passages", "timings_ms"}
    assert _without_timings(body) == _without_timings(runtime.chain.ask(QUESTION).to_dict())
    assert body["refused"] is False and "[1]" in body["answer"]
    c = body["citations"][0]
    assert set(c) == {"n", "passage_id", "source", "paragraph", "text", "quote", "start", "end", "support", "heading", "page", "title"}
    assert c["text"][c["start"] : c["end"]] == c["quote"] == "Antony Blinken is the U.S. Secretary of State."
    assert c["source"] == "blinken.txt" and c["paragraph"] == 1
    assert c["title"] is None, "without a document service no title is known (the CLI's object too)"


def test_ask_uses_history_and_top_k(client: TestClient) -> None:
    history = [
        {"role": "user", "content": "Who is Wang Yi?"},
        {"role": "assistant", "content": "Wang Yi is the Chinese Foreign Minister. [1]"},
    ]
    r = client.post("/api/ask", json={"question": "Whom did he call?", "history": history, "top_k": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["standalone_question"] != "Whom did he call?", "the follow-up was rewritten with the history"
    assert len(body["passages"]) == 1


def test_history_may_carry_the_citations_an_answer_had(client: TestClient) -> None:
    first = client.post("/api/ask", json={"question": "Who is Wang Yi?"}).json()
    assert first["citations"]
    history = [
        {"role": "user", "content": "Who is Wang Yi?"},
        # A client may send back the citation objects it got; only passage_id is read.
        {"role": "assistant", "content": first["answer"], "citations": first["citations"]},
    ]
    r = client.post("/api/ask", json={"question": "Whom did he call?", "history": history})
    assert r.status_code == 200
    assert "he" not in r.json()["standalone_question"].lower().split()


def test_small_talk_gets_a_polite_reply_without_search_or_refusal(client: TestClient) -> None:
    history = [{"role": "user", "content": "Who is Wang Yi?"}, {"role": "assistant", "content": "The Chinese Foreign Minister. [1]"}]
    body = client.post("/api/ask", json={"question": "Thanks!", "history": history}).json()
    assert body["refused"] is False and body["answer"] != REFUSAL and "welcome" in body["answer"].lower()
    assert body["citations"] == [] and body["passages"] == []


def test_refusal_is_an_answer_with_closest_passages(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "An unanswerable question about Blinken"}).json()
    assert body["refused"] is True and body["answer"] == REFUSAL
    assert body["citations"] == [] and body["passages"]


BLINKEN, MARKUP = document_key("blinken.txt"), document_key("markup.md")


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_documents_restrict_what_a_question_searches(client: TestClient, path: str) -> None:
    everywhere = client.post("/api/ask", json={"question": QUESTION}).json()
    assert {p["source"] for p in everywhere["passages"]} == {"blinken.txt", "markup.md"}
    r = client.post(path, json={"question": QUESTION, "documents": [MARKUP]})
    assert r.status_code == 200, r.text
    body = r.json() if path == "/api/ask" else _events(r.text)[-1][1]
    assert body["passages"] and {p["source"] for p in body["passages"]} == {"markup.md"}
    assert {c["source"] for c in body["citations"]} <= {"markup.md"}


def test_a_follow_up_keeps_to_the_chosen_documents(client: TestClient) -> None:
    history = [
        {"role": "user", "content": "Who is Wang Yi?"},
        {"role": "assistant", "content": "Wang Yi is the Chinese Foreign Minister. [1]"},
    ]
    body = client.post("/api/ask", json={"question": "Whom did he call?", "history": history, "documents": [MARKUP]}).json()
    assert body["passages"] and {p["source"] for p in body["passages"]} == {"markup.md"}


@pytest.mark.parametrize(
    "documents, says",
    [
        pytest.param([BLINKEN, "no-such-doc"], "no document with id 'no-such-doc'", id="unknown-id"),
        pytest.param([], "documents: List should have at least 1 item", id="empty"),
        pytest.param([BLINKEN] * 257, "documents has 257 items; the limit is 256", id="too-many"),
        pytest.param(BLINKEN, "documents: Input should be a valid list", id="not-a-list"),
        pytest.param([3], "documents.0: Input should be a valid string", id="not-strings"),
    ],
)
@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_a_bad_document_filter_is_422_naming_what_is_wrong(client: TestClient, path: str, documents: Any, says: str) -> None:
    r = client.post(path, json={"question": QUESTION, "documents": documents})
    assert r.status_code == 422, r.text
    assert says in r.json()["detail"]


def _events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_stream_sends_deltas_then_the_full_answer(client: TestClient) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": QUESTION}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.read().decode())
    kinds = [k for k, _ in events]
    assert kinds == ["delta", "delta", "answer"]
    final = events[-1][1]
    assert "".join(d["text"] for k, d in events if k == "delta") == final["answer"]
    assert final["citations"][0]["quote"] == "Antony Blinken is the U.S. Secretary of State."


def test_stream_of_a_refusal_is_one_answer_event(client: TestClient) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": "unanswerable"}) as r:
        events = _events(r.read().decode())
    assert [k for k, _ in events] == ["answer"] and events[0][1]["refused"] is True


def test_passage_by_id_and_unknown_id(client: TestClient) -> None:
    cited = client.post("/api/ask", json={"question": QUESTION}).json()["citations"][0]
    r = client.get(f"/api/passages/{cited['passage_id']}")
    assert r.status_code == 200
    assert r.json() == {k: cited[k] for k in ("passage_id", "source", "paragraph", "text", "heading", "page")}
    r = client.get("/api/passages/does-not-exist")
    assert r.status_code == 404 and "does-not-exist" in r.json()["detail"]


def test_health_reports_store_model_and_answerer(client: TestClient, runtime: Runtime) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "passages": runtime.retriever.passage_count,
        "embedding_model": "hash-embedder",
        "answerer": "quote-fake",
        "problems": [],
    }


def test_health_is_503_when_the_answerer_is_unusable(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> None:
    rt = fake_runtime(settings, ephemeral_client, tmp_path / "docs", answerer=QuoteAnswerer(problem="endpoint unreachable"))
    with TestClient(create_app(rt)) as c:
        r = c.get("/api/health")
    assert r.status_code == 503
    assert r.json()["status"] == "degraded" and r.json()["problems"] == ["endpoint unreachable"]


LONG = "x" * 2001


@pytest.mark.parametrize(
    "body, status, says",
    [
        pytest.param({}, 422, "question: Field required", id="missing-question"),
        pytest.param({"question": ""}, 422, "question is empty", id="empty-question"),
        pytest.param({"question": "   \n\t"}, 422, "question is empty", id="whitespace-question"),
        pytest.param({"question": LONG}, 422, "the limit is 2000", id="over-long-question"),
        pytest.param({"question": 42}, 422, "question: Input should be a valid string", id="question-not-a-string"),
        pytest.param({"question": ["a"]}, 422, "question: Input should be a valid string", id="question-a-list"),
        pytest.param({"question": "q?", "top_k": 0}, 422, "top_k: Input should be greater than or equal to 1", id="top-k-zero"),
        pytest.param({"question": "q?", "top_k": 51}, 422, "top_k: Input should be less than or equal to 50", id="top-k-too-big"),
        pytest.param({"question": "q?", "top_k": "5"}, 422, "top_k: Input should be a valid integer", id="top-k-a-string"),
        pytest.param({"question": "q?", "top_k": True}, 422, "top_k: Input should be a valid integer", id="top-k-a-bool"),
        pytest.param({"question": "q?", "history": "earlier"}, 422, "history: Input should be a valid list", id="history-not-a-list"),
        pytest.param({"question": "q?", "history": [{"role": "system", "content": "x"}]}, 422, "history.0.role", id="history-bad-role"),
        pytest.param({"question": "q?", "history": [{"role": "user"}]}, 422, "history.0.content: Field required", id="history-no-content"),
        pytest.param({"question": "q?", "history": ["hi"]}, 422, "history.0", id="history-turn-not-object"),
        pytest.param(
            {"question": "q?", "history": [{"role": "user", "content": "x"}] * 41}, 422, "history has 41 turns", id="history-too-long"
        ),
        pytest.param(
            {"question": "q?", "history": [{"role": "assistant", "content": "x", "citations": [{"n": 1}]}]}, 422,
            "history.0.citations.0.passage_id", id="history-citation-without-passage-id",
        ),
        pytest.param({"question": "q?", "topk": 3}, 422, "topk: unknown field", id="misspelt-field"),
        pytest.param([], 422, "JSON object", id="body-a-list"),
        pytest.param("just text", 422, "JSON object", id="body-a-string"),
    ],
)
@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_invalid_requests_say_what_is_wrong(client: TestClient, path: str, body: Any, status: int, says: str) -> None:
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert says in r.json()["detail"]


@pytest.mark.parametrize(
    "content, headers, status, says",
    [
        pytest.param(b'{"question": "q?"', {"content-type": "application/json"}, 400, "not valid JSON", id="truncated-json"),
        pytest.param(b"question=hi", {"content-type": "application/x-www-form-urlencoded"}, 422, "application/json", id="form"),
        pytest.param(b'{"question": "q?"}', {}, 422, "Content-Type: application/json", id="no-content-type"),
        pytest.param(b"", {"content-type": "application/json"}, 422, "request body is required", id="empty-body"),
        pytest.param(b"\xff\xfe", {"content-type": "application/json"}, 400, "not valid JSON", id="not-utf8"),
    ],
)
def test_malformed_bodies_are_4xx(client: TestClient, content: bytes, headers: dict[str, str], status: int, says: str) -> None:
    r = client.post("/api/ask", content=content, headers=headers)
    assert r.status_code == status, r.text
    assert says in r.json()["detail"]


def test_oversized_body_is_413_whether_declared_or_chunked(client: TestClient, settings: Settings) -> None:
    big = json.dumps({"question": "q" * (settings.limits.max_body_bytes + 10)}).encode()
    r = client.post("/api/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limits.max_body_bytes" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    r = client.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_wrong_method_and_unknown_route_are_json_4xx(client: TestClient) -> None:
    assert client.get("/api/ask").status_code == 405
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


@pytest.fixture
def keyed_client(runtime: Runtime) -> Iterator[TestClient]:
    server = runtime.settings.server.model_copy(update={"api_key": "s3cret-key"})
    keyed = Runtime(**{**runtime.__dict__, "settings": runtime.settings.model_copy(update={"server": server})})
    with TestClient(create_app(keyed)) as c:
        yield c


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"authorization": "Bearer wrong"}, id="wrong-key"),
        pytest.param({"authorization": "Bearer s3cret-ke"}, id="key-prefix"),
        pytest.param({"authorization": "Basic s3cret-key"}, id="wrong-scheme"),
        pytest.param({"authorization": "s3cret-key"}, id="no-scheme"),
    ],
)
@pytest.mark.parametrize(
    "method, path, body",
    [
        pytest.param("POST", "/api/ask", {"question": QUESTION}, id="ask"),
        pytest.param("POST", "/api/ask/stream", {"question": QUESTION}, id="stream"),
        pytest.param("POST", "/api/ask", "not json", id="ask-bad-body"),
        pytest.param("GET", "/api/passages/x", None, id="passage"),
        pytest.param("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": QUESTION}]}, id="openai"),
        pytest.param("GET", "/v1/models", None, id="openai-models"),
        pytest.param("GET", "/openapi.json", None, id="schema"),
        pytest.param("GET", "/docs", None, id="docs"),
        pytest.param("GET", "/redoc", None, id="redoc"),
        pytest.param("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, id="mcp"),
    ],
)
def test_api_key_is_required_when_configured(
    keyed_client: TestClient, headers: dict[str, str], method: str, path: str, body: Any
) -> None:
    r = keyed_client.request(method, path, json=body, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    error = r.json()
    # OpenAI's SDKs read {"error": {...}}; everything else gets {"detail": ...}.
    detail = error["error"]["message"] if path.startswith("/v1") else error["detail"]
    assert "Authorization: Bearer" in detail


def test_right_api_key_is_accepted_and_only_health_is_open(keyed_client: TestClient) -> None:
    ok = {"authorization": "Bearer s3cret-key"}
    assert keyed_client.post("/api/ask", json={"question": QUESTION}, headers=ok).status_code == 200
    assert keyed_client.get("/api/health").status_code == 200, "health answers without the key"
    assert keyed_client.get("/api/health", headers={"authorization": "Bearer wrong"}).status_code == 200
    assert keyed_client.get("/v1/models", headers={"authorization": "bearer s3cret-key"}).status_code == 200
    schema = keyed_client.get("/openapi.json", headers=ok).json()
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert keyed_client.get("/docs", headers=ok).status_code == 200


def test_openapi_documents_the_contract(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/ask/stream", "/api/passages/{passage_id}", "/api/health"} <= set(schema["paths"])
    ask = schema["components"]["schemas"]["AskRequest"]
    assert ask["required"] == ["question"]
    schemas = schema["components"]["schemas"]
    answer = schemas["AskResponse"]["properties"]
    assert "refusal_reason" in answer and "not supported" not in answer["refusal_reason"]["description"]
    assert "refusal" in answer["removed"]["description"], "removed is described as holding a refusal's quote too"
    assert "title" in schemas["CitationOut"]["properties"] and "title" in schemas["DocumentOut"]["properties"]
    assert "refusal_reason" in schemas["AnswerContext"]["properties"], "the OpenAI-compatible context documents it"
    assert client.get("/docs").status_code == 200


def test_every_response_says_how_long_the_server_took(client: TestClient) -> None:
    from qa.api.timing import server_ms

    r = client.post("/api/ask", json={"question": QUESTION})
    took = server_ms(r.headers.get("server-timing"))
    assert took is not None and took >= r.json()["timings_ms"]["total"], "the app's time holds the answer's own"
    missing = client.get("/api/nope")
    assert missing.status_code == 404 and server_ms(missing.headers.get("server-timing")) is not None
    assert server_ms("cache;dur=1.5, app;dur=2.25") == 2.25
    assert server_ms("cache;dur=1.5") is None and server_ms(None) is None
