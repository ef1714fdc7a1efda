"""MCP: the tools of ``qa.tools`` (search, ask, get_passage) for agents, over stdio (`qa mcp`) or streamable HTTP at /mcp."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings

from qa import tools
from qa.errors import QAError
from qa.runtime import Runtime

T = TypeVar("T")

MCP_PATH = "/mcp"
INSTRUCTIONS = (
    "Answers from the user's documents with checkable citations. Use `ask` for a cited answer "
    "(it says `refused: true` when the documents do not hold it), `search` for the matching passages, "
    "and `get_passage` to read the passage a citation or hit names by its passage_id."
)


async def _call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking library call in a worker thread; its user-facing errors become tool errors the model can read."""
    try:
        return await to_thread.run_sync(fn, *args)
    except QAError as exc:
        raise ToolError(str(exc)) from exc


def server(runtime: Runtime) -> MCPServer:
    """Return the MCP server with the three tools."""
    mcp: MCPServer = MCPServer("qa", instructions=INSTRUCTIONS, version="1")
    chain, retriever = runtime.chain, runtime.retriever

    def _titled(body: dict[str, Any]) -> dict[str, Any]:
        """Return the answer object with its citations naming their documents' titles, where a document service knows them."""
        service, cited = runtime.documents, body.get("citations") or []
        if service is None or not cited:
            return body
        titles = service.titles_of({c["source"] for c in cited})
        return body | {"citations": [c | {"title": titles.get(c["source"]) or c.get("title")} for c in cited]}

    # Async tools, so one call never stalls the server's event loop.
    @mcp.tool()
    async def search(query: str, top_k: int = 5) -> list[dict[str, Any]]:
        """Return the document passages that best match the query, best first: passage_id, source, paragraph, heading, text, score."""
        return await _call(tools.search, chain, query, top_k)

    @mcp.tool()
    async def ask(question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Answer from the documents: text with [n] markers, refused (refusal_reason: why), citations (passage_id, source, title, quote)."""
        return await _call(lambda: _titled(tools.ask(chain, question, history)))

    @mcp.tool()
    async def get_passage(passage_id: str) -> dict[str, Any]:
        """Return one passage by its passage_id (from a search hit or a citation): source, paragraph, heading and text."""
        return await _call(tools.get_passage, retriever, passage_id)

    return mcp


def routes(mcp: MCPServer, *, loopback: bool = True) -> list[Any]:
    """Return the streamable-HTTP route at /mcp (stateless, JSON responses); its session manager must run beside it.

    A loopback server also refuses other Host headers (DNS rebinding); the API key, when set,
    is checked by the guard like everywhere else.
    """
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=loopback,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )
    http_app = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, transport_security=security
    )
    return list(http_app.routes)


def router(mcp: MCPServer, *, loopback: bool = True) -> APIRouter:
    """Return the MCP endpoint at /mcp as a router whose lifespan runs the MCP session manager."""
    endpoint = routes(mcp, loopback=loopback)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    r = APIRouter(lifespan=lifespan)
    r.routes.extend(endpoint)
    return r
