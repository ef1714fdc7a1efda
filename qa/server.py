"""One process: build the runtime once, serve the answer API under /api and the Gradio chat at /."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from qa.api import background, create_app
from qa.config import Settings, apply_offline_environment
from qa.runtime import Runtime, build_runtime, check_answerer

log = logging.getLogger(__name__)


def create_server_app(runtime: Runtime, *, host: str = "127.0.0.1", port: int = 7860) -> FastAPI:
    """Return the API app with the chat UI mounted at /."""
    import gradio as gr

    app = _api_app(runtime, host)
    return gr.mount_gradio_app(app, _chat_blocks(runtime), path="/", server_name=host, server_port=port, **_chat_options(runtime))


def _api_app(runtime: Runtime, host: str) -> FastAPI:
    """Return the API app, with the login page when a key is configured."""
    from ui import login

    app = create_app(runtime, loopback=is_loopback(host))
    if runtime.settings.server.api_key:
        app.include_router(login.router(runtime.settings.server.api_key))
    return app


def _chat_blocks(runtime: Runtime) -> Any:
    """Return the chat's Gradio Blocks over this runtime."""
    from ui.app import build_blocks
    from ui.feedback import FILE_NAME, FeedbackLog

    feedback = FeedbackLog(runtime.settings.paths.data_dir / FILE_NAME)
    return build_blocks(runtime.chain, documents=runtime.documents, feedback=feedback)


def _chat_options(runtime: Runtime) -> dict[str, Any]:
    """Return the keyword arguments that mount the chat: its assets and the upload limit."""
    from ui.app import ui_assets

    return {"max_file_size": runtime.settings.limits.max_file_bytes, **ui_assets()}


def is_loopback(host: str) -> bool:
    """Return True when the address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# How long start-up waits for a first request before loading the chat and MCP anyway.
BACKGROUND_GRACE_S = 1.0


class FirstResponse:
    """ASGI wrapper that notes when the server has sent its first complete HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.sent.is_set() or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def noting(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.sent.set()

        await self.app(scope, receive, noting)


def _load_in_background(app: FastAPI, runtime: Runtime, first: FirstResponse, *, host: str, port: int) -> None:
    """Once the server runs and has answered its first request (or after a grace), mount the chat, then start MCP.

    Both are seconds of GIL-bound imports: begun beside the first request, they would delay
    its answer; done in a worker thread after it, they delay nothing already served.
    """
    previous = app.router.lifespan_context

    async def load() -> None:
        try:
            await asyncio.wait_for(first.sent.wait(), BACKGROUND_GRACE_S)
        except TimeoutError:
            pass
        try:
            await _mount(app, runtime, host=host, port=port)
        except Exception:
            log.exception("the chat could not be mounted at /; the API keeps serving")
        app.state.mcp.start()  # a request to /mcp before this has started it already

    @asynccontextmanager
    async def lifespan(a: Any) -> Any:
        async with previous(a) as state:
            task = asyncio.create_task(load())
            try:
                yield state
            finally:
                task.cancel()

    app.router.lifespan_context = lifespan


async def _mount(app: FastAPI, runtime: Runtime, *, host: str, port: int) -> None:
    """Import Gradio in a worker thread, build the chat and mount it at / in the running app."""
    await background.import_module("ui.app")
    import gradio as gr

    blocks = await asyncio.to_thread(_chat_blocks, runtime)
    # The placeholder goes first, so / reaches the chat from the next request on.
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "name", "") != "chat-loading"]
    gr.mount_gradio_app(app, blocks, path="/", server_name=host, server_port=port, **_chat_options(runtime))
    # The server is already running, so the lifespan hook mount_gradio_app installs will not run: start the queue here.
    blocks.run_startup_events()
    await blocks.run_extra_startup_events()
    log.info("chat mounted at /")


def _placeholder(app: FastAPI) -> None:
    """Answer / with a page that reloads itself until the chat is mounted (a second or two after start)."""
    from fastapi.responses import HTMLResponse

    page = '<html><head><meta http-equiv="refresh" content="1"></head><body>The chat is starting…</body></html>'

    @app.get("/", include_in_schema=False, name="chat-loading")
    def chat_loading() -> HTMLResponse:
        return HTMLResponse(page, status_code=503, headers={"Retry-After": "1"})


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM; open connections get server.graceful_timeout_s to finish.

    The answer API is served as soon as the runtime is built; the chat (Gradio, seconds to
    import) and the MCP server are loaded in a thread once the server has answered its first
    request (or after BACKGROUND_GRACE_S), so the first answer waits for neither.
    """
    apply_offline_environment()
    import uvicorn

    host = host or settings.server.host
    port = port or settings.server.port
    runtime = build_runtime(settings, create=True)
    # The one writer: uploads, deletes and reindexes go through this process (embedded mode: it holds the data folder's lock).
    from qa.documents.service import open_service

    runtime.documents = open_service(runtime, url=f"http://{host}:{port}")
    # A configured provider that cannot be reached stops start-up with one clear error, not a stack trace per question.
    check_answerer(runtime.answerer)
    app = _api_app(runtime, host)
    _placeholder(app)
    # Gradio and the MCP SDK take seconds of CPU to import, holding the GIL: a thread importing them beside
    # start-up or beside the first request delays its answer, so they load after it (the app's lifespan).
    first = FirstResponse(app)
    _load_in_background(app, runtime, first, host=host, port=port)
    if not is_loopback(host):
        log.warning(
            "binding %s: other machines can reach this server%s",
            host,
            "" if settings.server.api_key else "; set QA_API_KEY to require a key on every route",
        )
    log.info("serving the API at http://%s:%d/api (OpenAI's at /v1, MCP at /mcp, docs at /docs); the chat at / in a moment", host, port)
    config = uvicorn.Config(
        first,
        host=host,
        port=port,
        # Annotated int, but it only reaches asyncio.wait_for(timeout=...), which takes float seconds.
        timeout_graceful_shutdown=settings.server.graceful_timeout_s,  # type: ignore[arg-type]
        log_config=None,  # keep the CLI's logging setup
        access_log=False,
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        # uvicorn re-raises the signal it caught once shut down; Ctrl-C is a normal way to stop.
        log.info("stopped")
    finally:
        runtime.documents.close()
