"""The HTTP layer: one module per resource, each only translating HTTP to one library call.

`schemas` holds the contract, `guard` the key and body limits, `errors` the JSON error mapping,
`docs` the offline /docs and /redoc, `streams` the answering threads and SSE, `titles` the titles
citations name, `timing` the Server-Timing header, `background` imports off the event loop; the resources are
`ask`, `passages`, `health`, `documents` (under /api), `openai` (/v1) and `mcp` (/mcp, built on demand by
`mcp_mount`).
`create_app` below is where they are put together.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Security
from fastapi.security import HTTPBearer

from qa.api import ask, documents, health, mcp_mount, openai, passages
from qa.api.docs import offline_app
from qa.api.errors import OPENAI_PREFIX, describe_validation_error, install_error_handlers, install_fallback_routes
from qa.api.guard import ApiGuard
from qa.api.mcp_mount import LazyMCP
from qa.api.schemas import API_PREFIX, ERRORS
from qa.api.streams import answer_limiter
from qa.api.timing import ServerTiming
from qa.api.titles import titler
from qa.runtime import Runtime

__all__ = ["API_PREFIX", "create_app", "describe_validation_error"]


def create_app(runtime: Runtime, *, loopback: bool = True) -> FastAPI:
    """Return the FastAPI app serving the answer API under /api, OpenAI's under /v1 (docs at /docs and /redoc)."""
    settings = runtime.settings
    app = offline_app()
    # The key is enforced by ApiGuard (before the body is read); this only documents it in /docs.
    security = [Security(HTTPBearer(auto_error=False))] if settings.server.api_key else []
    api = APIRouter(prefix=API_PREFIX, dependencies=security, responses=ERRORS)
    answering = answer_limiter()  # shared by every route that answers
    titled = titler(runtime)  # citations name their documents' titles
    api.include_router(ask.router(runtime.chain, answering, titled))
    api.include_router(passages.router(runtime.retriever))
    api.include_router(health.router(runtime))
    api.include_router(documents.router(runtime))
    app.include_router(api)
    v1 = openai.router(runtime.chain, answering, titled)
    app.include_router(v1, prefix=OPENAI_PREFIX, dependencies=security, responses=ERRORS, tags=["OpenAI"])
    # The MCP SDK takes most of a second to import: /mcp builds its server on the first request (or when qa serve says).
    app.state.mcp = LazyMCP(runtime, loopback=loopback)
    app.include_router(mcp_mount.router(app.state.mcp))
    # Last: wrong methods and unknown paths under our prefixes are 405/404 here, not the UI's 404 at /.
    install_fallback_routes(app, (API_PREFIX, OPENAI_PREFIX))
    install_error_handlers(app)
    app.add_middleware(
        ApiGuard,
        api_key=settings.server.api_key,
        max_body_bytes=settings.limits.max_body_bytes,
        max_upload_bytes=settings.limits.max_file_bytes,
    )
    app.add_middleware(ServerTiming)  # outermost: the time of everything the app does for a request
    return app
