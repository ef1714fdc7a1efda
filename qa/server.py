"""One process: build the runtime once, serve the answer API under /api and the Gradio chat at /."""

from __future__ import annotations

import importlib
import ipaddress
import logging
import threading

from fastapi import FastAPI

from qa.api import create_app
from qa.config import Settings, apply_offline_environment
from qa.runtime import Runtime, build_runtime, check_answerer

log = logging.getLogger(__name__)


def create_server_app(runtime: Runtime, *, host: str = "127.0.0.1", port: int = 7860) -> FastAPI:
    """Return the API app with the chat UI mounted at /."""
    import gradio as gr

    from ui.app import build_blocks, ui_assets
    from ui.feedback import FILE_NAME, FeedbackLog

    app = create_app(runtime)
    blocks = build_blocks(runtime.chain, feedback=FeedbackLog(runtime.settings.paths.data_dir / FILE_NAME))
    return gr.mount_gradio_app(app, blocks, path="/", server_name=host, server_port=port, **ui_assets())


def is_loopback(host: str) -> bool:
    """Return True when the address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM; open connections get server.graceful_timeout_s to finish."""
    apply_offline_environment()
    import uvicorn

    host = host or settings.server.host
    port = port or settings.server.port
    # Importing Gradio takes seconds; do it while the model and store load.
    ui_import = threading.Thread(target=importlib.import_module, args=("ui.app",), name="import-ui", daemon=True)
    ui_import.start()
    runtime = build_runtime(settings)
    # A configured provider that cannot be reached stops start-up with one clear error, not a stack trace per question.
    check_answerer(runtime.answerer)
    ui_import.join()
    app = create_server_app(runtime, host=host, port=port)
    if not is_loopback(host):
        log.warning(
            "binding %s: other machines can reach this server%s",
            host,
            "" if settings.server.api_key else "; set QA_API_KEY to require a key for /api",
        )
    log.info("serving the chat at http://%s:%d/ , the API at /api and its docs at /docs", host, port)
    config = uvicorn.Config(
        app,
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
