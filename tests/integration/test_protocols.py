"""The ecosystem's own clients against a real `qa serve` that requires a key: OpenAI SDK, LangChain, MCP, Gradio, a browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from tests.live_server import BROWSER_TIMEOUT_MS, LiveServer, ask_in_chat, live_server

KEY = "test-key-7f3a"
AUTH = {"authorization": f"Bearer {KEY}"}
SEED = "000_ff359896b2990186.txt"
QUESTION = "What did Wang Yi tell Blinken?"
UNANSWERABLE = "What is the boiling point of mercury?"
REFUSAL = "I could not find this in the documents."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("keyed"), env={"QA_API_KEY": KEY}) as s:
        yield s


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60.0) as c:
        yield c


def assert_cited(content: str, context: dict[str, Any]) -> None:
    assert context["refused"] is False and context["citations"], context
    for c in context["citations"]:
        assert f"[{c['n']}]" in content
        assert c["text"][c["start"] : c["end"]] == c["quote"]
        assert c["source"] == SEED


# --- one key for every door -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, kwargs",
    [
        pytest.param("POST", "/api/ask", {"json": {"question": QUESTION}}, id="api-ask"),
        pytest.param("POST", "/v1/chat/completions", {"json": {"model": "qa", "messages": [{"role": "user", "content": QUESTION}]}}, id="v1"),
        pytest.param("GET", "/v1/models", {}, id="v1-models"),
        pytest.param("POST", "/mcp", {"json": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}}, id="mcp"),
        pytest.param("GET", "/docs", {}, id="docs"),
        pytest.param("GET", "/redoc", {}, id="redoc"),
        pytest.param("GET", "/openapi.json", {}, id="openapi"),
        pytest.param("GET", "/config", {}, id="gradio-config"),
        pytest.param("GET", "/gradio_api/info", {}, id="gradio-api-info"),
        pytest.param("POST", "/gradio_api/upload", {"files": {"files": ("big.txt", b"x" * 20_000_000)}}, id="gradio-upload-20MB"),
        pytest.param("GET", "/", {"headers": {"accept": "application/json"}}, id="chat-page-for-a-machine"),
    ],
)
def test_every_door_without_the_key_is_401(http: httpx.Client, method: str, path: str, kwargs: dict[str, Any]) -> None:
    r = http.request(method, path, **kwargs)
    assert r.status_code == 401, r.text[:300]
    assert r.headers["content-type"] == "application/json"


def test_health_is_the_only_open_door(http: httpx.Client) -> None:
    assert http.get("/api/health").json()["status"] == "ok"


def test_a_browser_without_the_key_is_sent_to_the_login_page(http: httpx.Client) -> None:
    r = http.get("/", headers={"accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    page = http.get(r.headers["location"])
    assert page.status_code == 200 and 'type="password"' in page.text


def test_gradio_client_needs_the_key(server: LiveServer, http: httpx.Client) -> None:
    from gradio_client import Client

    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises whatever its config fetch hits; the 401 is the point
        Client(server.url, verbose=False)
    message, panel = Client(server.url, verbose=False, headers=AUTH).predict(QUESTION, api_name="/chat")
    assert "qa-cite" in message and SEED in panel


def test_uploads_with_the_key_are_bounded(http: httpx.Client) -> None:
    ok = http.post("/gradio_api/upload", files={"files": ("small.txt", b"hello")}, headers=AUTH)
    assert ok.status_code == 200, ok.text
    big = http.post("/gradio_api/upload", files={"files": ("big.bin", b"x" * 20_000_001)}, headers=AUTH)
    assert big.status_code == 413 and "limits.max_file_bytes" in big.json()["detail"]
    api = http.post("/api/ask", content=b"{" + b" " * 300_000 + b"}", headers={**AUTH, "content-type": "application/json"})
    assert api.status_code == 413 and "limits.max_body_bytes" in api.json()["detail"]


def test_with_the_key_every_door_opens(http: httpx.Client) -> None:
    assert http.post("/api/ask", json={"question": QUESTION}, headers=AUTH).status_code == 200
    assert http.get("/v1/models", headers=AUTH).json()["data"][0]["id"] == "qa"
    assert http.get("/docs", headers=AUTH).status_code == 200
    assert "/v1/chat/completions" in http.get("/openapi.json", headers=AUTH).json()["paths"]
    assert http.get("/config", headers=AUTH).status_code == 200


def test_wrong_methods_are_405_and_unknown_paths_404_beside_the_chat(http: httpx.Client) -> None:
    r = http.get("/api/ask", headers=AUTH)
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json() == {"detail": "Method Not Allowed"}
    r = http.get("/v1/chat/completions", headers=AUTH)
    assert r.status_code == 405 and r.json()["error"]["message"] == "Method Not Allowed"
    assert http.get("/api/nothing", headers=AUTH).status_code == 404


# --- OpenAI-compatible ------------------------------------------------------------------------------------


def _openai(server: LiveServer, key: str = KEY) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=60.0)


def test_openai_sdk_gets_a_cited_answer(server: LiveServer, http: httpx.Client) -> None:
    reply = _openai(server).chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "stop" and message.role == "assistant"
    context = message.model_extra["context"]
    assert_cited(message.content, context)
    api = http.post("/api/ask", json={"question": QUESTION}, headers=AUTH).json()
    assert message.content == api["answer"], "the same answer as /api/ask"


def test_openai_sdk_stream_carries_citations_once_at_the_end(server: LiveServer) -> None:
    client = _openai(server)
    whole = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}]).choices[0].message
    chunks = list(client.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}], stream=True))
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    contexts = [i for i, c in enumerate(chunks) if (c.choices[0].delta.model_extra or {}).get("context")]
    assert contexts == [len(chunks) - 1], "citations only in the final chunk"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert content == whole.content
    assert_cited(content, chunks[-1].choices[0].delta.model_extra["context"])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_openai_sdk_gets_a_refusal_as_a_normal_reply(server: LiveServer, stream: bool) -> None:
    client = _openai(server)
    messages = [{"role": "user", "content": UNANSWERABLE}]
    if stream:
        chunks = list(client.chat.completions.create(model="qa", messages=messages, stream=True))
        content = "".join(c.choices[0].delta.content or "" for c in chunks)
        context = chunks[-1].choices[0].delta.model_extra["context"]
    else:
        message = client.chat.completions.create(model="qa", messages=messages).choices[0].message
        content, context = message.content, message.model_extra["context"]
    assert content == REFUSAL
    assert context["refused"] is True and context["citations"] == []


def test_openai_sdk_follow_up_uses_the_conversation(server: LiveServer) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Who is the Chinese Foreign Ministry spokesman?"},
        {"role": "assistant", "content": "Chinese Foreign Ministry spokesman Zhao Lijian said Thursday. [1]"},
        {"role": "user", "content": "What did he say on Thursday?"},
    ]
    message = _openai(server).chat.completions.create(model="qa", messages=messages).choices[0].message
    assert "Zhao Lijian" in message.model_extra["context"]["standalone_question"]


def test_openai_sdk_errors_are_openai_errors(server: LiveServer) -> None:
    import openai

    with pytest.raises(openai.AuthenticationError):
        _openai(server, key="wrong").chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.UnprocessableEntityError, match="last message must be the user's question"):
        _openai(server).chat.completions.create(model="qa", messages=[{"role": "assistant", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError, match="no letters or digits"):
        _openai(server).chat.completions.create(model="qa", messages=[{"role": "user", "content": "???!!!"}])


def test_langchain_chat_openai_gets_cited_answers_and_refusals(server: LiveServer) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{server.url}/v1", api_key=KEY, model="qa", max_retries=0, timeout=60)  # type: ignore[arg-type]
    answer = llm.invoke(QUESTION)
    assert "Wang Yi" in answer.content and "[1]" in answer.content
    streamed = "".join(str(chunk.content) for chunk in llm.stream(QUESTION))
    assert streamed == answer.content
    assert llm.invoke(UNANSWERABLE).content == REFUSAL


# --- MCP over streamable HTTP ---------------------------------------------------------------------------


async def _mcp_session(url: str, headers: dict[str, str]) -> tuple[list[str], dict[str, Any], dict[str, Any], dict[str, Any]]:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    transport = streamable_http_client(f"{url}/mcp", http_client=create_mcp_http_client(headers=headers))
    async with Client(transport) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        hits = await client.call_tool("search", {"query": "Wang Yi Blinken call", "top_k": 3})
        answer = await client.call_tool("ask", {"question": QUESTION})
        pid = hits.structured_content["result"][0]["passage_id"]
        passage = await client.call_tool("get_passage", {"passage_id": pid})
        return tools, hits.structured_content, answer.structured_content, passage.structured_content


def test_mcp_client_lists_and_calls_the_tools_over_http(server: LiveServer) -> None:
    tools, hits, answer, passage = anyio.run(_mcp_session, server.url, AUTH)
    assert tools == ["ask", "get_passage", "search"]
    first = hits["result"][0]
    assert len(hits["result"]) == 3 and {"passage_id", "source", "paragraph", "heading", "text", "score"} <= set(first)
    assert first["source"] == SEED
    assert answer["refused"] is False and answer["citations"] and "[1]" in answer["answer"]
    assert passage["passage_id"] == first["passage_id"] and passage["text"] == first["text"]


def test_mcp_over_http_needs_the_key(server: LiveServer) -> None:
    from mcp.shared.exceptions import MCPError

    # The SDK reports the 401 as an MCPError inside its task groups; the raw 401 is checked with the other doors.
    with pytest.raises(ExceptionGroup) as caught:
        anyio.run(_mcp_session, server.url, {})
    assert caught.group_contains(MCPError)


# --- the web chat's login, in a real browser ---------------------------------------------------------------


def test_browser_logs_in_once_and_chats(server: LiveServer, page: Any) -> None:
    page.goto(server.url + "/")
    assert "/login" in page.url
    page.fill("#qa-key", "not-the-key")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "That is not the key. Try again."
    page.fill("#qa-key", KEY)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    assert "Wang Yi" in ask_in_chat(page, QUESTION, 0).inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "qa_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and KEY not in cookie["value"]
    page.reload()  # the session is kept: no second login
    page.locator("#qa-input textarea").wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert "/login" not in page.url
