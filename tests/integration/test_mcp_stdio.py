"""`qa mcp` over stdio, driven by the MCP SDK's own client, over a freshly ingested store."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.live_server import BIN, ROOT, server_env

SEED = "000_ff359896b2990186.txt"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("mcp-stdio")
    docs = tmp / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    env = server_env(tmp, tmp / "data")
    subprocess.run([str(BIN / "qa"), "ingest", "-q", str(docs)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    return env


async def _session(env: dict[str, str], log: Path) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=str(BIN / "qa"), args=["mcp"], env=env, cwd=str(ROOT))
    with log.open("w") as errlog:  # the server's log (stdout carries the protocol)
        async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=120) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            hits = await client.call_tool("search", {"query": "Who is the U.S. Secretary of State?", "top_k": 2})
            answer = await client.call_tool("ask", {"question": "Who is the U.S. Secretary of State in the article?"})
            missing = await client.call_tool("get_passage", {"passage_id": "no-such-id"})
            refused = await client.call_tool("ask", {"question": "What is the boiling point of mercury?"})
            empty = await client.call_tool("search", {"query": "???"})
    return {"tools": tools, "hits": hits, "answer": answer, "missing": missing, "refused": refused, "empty": empty}


def test_mcp_client_lists_and_calls_the_tools_over_stdio(env: dict[str, str], tmp_path: Path) -> None:
    got = anyio.run(_session, env, tmp_path / "stderr.log")
    assert sorted(got["tools"]) == ["ask", "get_passage", "search"]
    assert "query" in got["tools"]["search"].input_schema["properties"]
    hits = got["hits"].structured_content["result"]
    assert len(hits) == 2 and hits[0]["source"] == SEED and hits[0]["paragraph"] >= 1
    answer = got["answer"].structured_content
    assert answer["refused"] is False and "Blinken" in answer["answer"]
    assert all(c["text"][c["start"] : c["end"]] == c["quote"] for c in answer["citations"])
    refused = got["refused"].structured_content
    assert refused["refused"] is True and refused["citations"] == []
    # Bad input comes back as a tool error with the library's message, not a crash of the server.
    assert got["missing"].is_error and "no passage with id 'no-such-id'" in got["missing"].content[0].text
    assert got["empty"].is_error and "no letters or digits" in got["empty"].content[0].text
