"""The MCP tools in process (the SDK's own client on the server object), over the fake runtime."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from qa.api.mcp import server
from qa.runtime import Runtime


async def _calls(runtime: Runtime, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    from mcp import Client

    async with Client(server(runtime)) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        return names, [await client.call_tool(name, args) for name, args in calls]


def test_tools_search_ask_and_get_passage(runtime: Runtime) -> None:
    names, (hits, answer) = anyio.run(
        _calls, runtime, [("search", {"query": "Secretary of State", "top_k": 2}), ("ask", {"question": "Who is the U.S. Secretary of State?"})]
    )
    assert names == ["ask", "get_passage", "search"]
    found = hits.structured_content["result"]
    assert len(found) == 2 and found[0]["source"] == "blinken.txt"
    body = answer.structured_content
    assert body["refused"] is False and body["citations"][0]["quote"] == "Antony Blinken is the U.S. Secretary of State."
    assert "timings_ms" not in body
    _, (passage,) = anyio.run(_calls, runtime, [("get_passage", {"passage_id": found[0]["passage_id"]})])
    assert passage.structured_content["text"] == found[0]["text"]


@pytest.mark.parametrize(
    "name, args, says",
    [
        pytest.param("get_passage", {"passage_id": "nope"}, "no passage with id 'nope'", id="unknown-passage"),
        pytest.param("search", {"query": "???"}, "no letters or digits", id="content-free-query"),
        pytest.param("search", {"query": "Blinken", "top_k": 99}, "top_k must be from 1 to 50", id="top-k-too-big"),
        pytest.param("ask", {"question": ""}, "question is empty", id="empty-question"),
    ],
)
def test_bad_tool_input_is_a_tool_error_with_the_message(runtime: Runtime, name: str, args: dict[str, Any], says: str) -> None:
    _, (result,) = anyio.run(_calls, runtime, [(name, args)])
    assert result.is_error and says in result.content[0].text


def test_ask_names_the_cited_documents_title_where_a_document_service_knows_it(runtime: Runtime) -> None:
    class Titles:
        def titles_of(self, names: set[str]) -> dict[str, str | None]:
            return {n: f"Title of {n}" for n in names if n == "blinken.txt"}

    question = [("ask", {"question": "Who is the U.S. Secretary of State?"})]
    _, (plain,) = anyio.run(_calls, runtime, question)
    assert plain.structured_content["citations"][0]["title"] is None
    runtime.documents = Titles()
    try:
        _, (titled,) = anyio.run(_calls, runtime, question)
    finally:
        runtime.documents = None
    (cited,) = {c["source"]: c["title"] for c in titled.structured_content["citations"]}.items()
    assert cited == ("blinken.txt", "Title of blinken.txt")


MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def test_app_builds_the_mcp_server_on_the_first_request_to_mcp(runtime: Runtime) -> None:
    from fastapi.testclient import TestClient

    from qa.api import create_app

    app = create_app(runtime)
    with TestClient(app, base_url="http://127.0.0.1:7860") as c:
        assert app.state.mcp._router is None, "nothing asked for MCP yet: its SDK is not loaded"
        assert c.post("/api/ask", json={"question": "Who is the U.S. Secretary of State?"}).status_code == 200
        assert app.state.mcp._router is None, "an answer does not need the MCP server"
        r = c.post("/mcp", json=TOOLS_LIST, headers=MCP_HEADERS)
        assert r.status_code == 200, r.text
        assert sorted(t["name"] for t in r.json()["result"]["tools"]) == ["ask", "get_passage", "search"]
    # A second lifespan of the same app builds a fresh server (a session manager runs once).
    with TestClient(app, base_url="http://127.0.0.1:7860") as c:
        r = c.post("/mcp", json=TOOLS_LIST, headers=MCP_HEADERS)
        assert r.status_code == 200, r.text


def test_mcp_without_the_apps_lifespan_is_503_saying_why(runtime: Runtime) -> None:
    from fastapi.testclient import TestClient

    from qa.api import create_app

    c = TestClient(create_app(runtime), base_url="http://127.0.0.1:7860")  # not entered: no lifespan
    r = c.post("/mcp", json=TOOLS_LIST, headers=MCP_HEADERS)
    assert r.status_code == 503
    assert "lifespan" in r.json()["detail"]
