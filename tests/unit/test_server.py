from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.cli import build_parser
from qa.config import Settings
from qa.runtime import Runtime
from tests.fake_runtime import fake_runtime

pytest.importorskip("gradio")

import qa.server  # noqa: E402


@pytest.mark.parametrize(
    "host, loopback",
    [
        pytest.param("127.0.0.1", True, id="ipv4-loopback"),
        pytest.param("127.0.0.2", True, id="ipv4-loopback-range"),
        pytest.param("::1", True, id="ipv6-loopback"),
        pytest.param("localhost", True, id="localhost"),
        pytest.param("0.0.0.0", False, id="all-interfaces"),
        pytest.param("192.168.1.20", False, id="lan"),
        pytest.param("example.org", False, id="hostname"),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert qa.server.is_loopback(host) is loopback


@pytest.mark.parametrize(
    "argv, host, port",
    [
        pytest.param(["serve"], "127.0.0.1", 7860, id="defaults-from-settings"),
        pytest.param(["serve", "--port", "8000"], "127.0.0.1", 8000, id="port"),
        pytest.param(["serve", "--host", "0.0.0.0", "--port", "9000"], "0.0.0.0", 9000, id="explicit-host"),
    ],
)
def test_serve_binds_loopback_unless_told_and_shuts_down_gracefully(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, ephemeral_client: Any, tmp_path: Path, argv: list[str], host: str, port: int
) -> None:
    runtime = fake_runtime(settings, ephemeral_client, tmp_path / "docs")
    monkeypatch.setattr(qa.server, "build_runtime", lambda s, **kw: runtime)
    seen: dict[str, Any] = {}

    def run(server: Any) -> None:
        seen["config"] = server.config

    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", run)
    args = build_parser().parse_args(argv)
    assert args.func(settings, args) == 0
    config = seen["config"]
    assert (config.host, config.port) == (host, port)
    assert config.timeout_graceful_shutdown == settings.server.graceful_timeout_s == 2.0


def test_one_app_serves_chat_api_and_docs(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> None:
    runtime: Runtime = fake_runtime(settings, ephemeral_client, tmp_path / "docs")
    with TestClient(qa.server.create_server_app(runtime)) as client:
        assert client.get("/api/health").json()["answerer"] == "quote-fake"
        assert client.get("/docs").status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert client.get("/config").json()["components"], "the Gradio app answers at /"


def _gated_imports(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, list[str]]:
    """Hold every background import ("Gradio is still importing") until the returned gate opens; list what was asked."""
    gate, asked = threading.Event(), []
    real = qa.server.background.import_module

    async def gated(name: str) -> Any:
        asked.append(name)
        await asyncio.to_thread(gate.wait, 60)
        return await real(name)

    monkeypatch.setattr(qa.server.background, "import_module", gated)
    return gate, asked


def _wait_for(check: Any, what: str) -> None:
    for _ in range(400):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_api_answers_first_then_the_chat_and_mcp_load(
    settings: Settings, ephemeral_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.api import create_app

    monkeypatch.setattr(qa.server, "BACKGROUND_GRACE_S", 60.0)  # only the first response starts the loading here
    gate, asked = _gated_imports(monkeypatch)
    runtime: Runtime = fake_runtime(settings, ephemeral_client, tmp_path / "docs")
    app = create_app(runtime)
    qa.server._placeholder(app)
    first = qa.server.FirstResponse(app)
    qa.server._load_in_background(app, runtime, first, host="127.0.0.1", port=7860)
    try:
        with TestClient(first, base_url="http://127.0.0.1:7860") as client:
            time.sleep(0.2)
            assert asked == [], "nothing loads before the first request is answered"
            r = client.post("/api/ask", json={"question": "Who is the U.S. Secretary of State?"})
            assert r.status_code == 200 and r.json()["refused"] is False
            _wait_for(lambda: asked == ["ui.app"], "the chat's import to start after the first answer")
            waiting = client.get("/")
            assert waiting.status_code == 503 and 'http-equiv="refresh"' in waiting.text
            assert client.get("/api/health").json()["answerer"] == "quote-fake", "the API answers while the chat loads"
            gate.set()
            _wait_for(lambda: client.get("/").status_code == 200, "the chat at /")
            assert "<html" in client.get("/").text.lower()
            assert client.get("/config").json()["components"], "the Gradio app answers at /"
            _wait_for(lambda: app.state.mcp._router is not None, "the MCP server, started after the chat")
            assert asked == ["ui.app", "qa.api.mcp"]
    finally:
        gate.set()


def test_without_a_request_the_chat_loads_after_the_grace(
    settings: Settings, ephemeral_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.api import create_app

    monkeypatch.setattr(qa.server, "BACKGROUND_GRACE_S", 0.1)
    gate, asked = _gated_imports(monkeypatch)
    runtime: Runtime = fake_runtime(settings, ephemeral_client, tmp_path / "docs")
    app = create_app(runtime)
    first = qa.server.FirstResponse(app)
    qa.server._load_in_background(app, runtime, first, host="127.0.0.1", port=7860)
    try:
        with TestClient(first, base_url="http://127.0.0.1:7860"):
            _wait_for(lambda: asked == ["ui.app"], "the chat's import after the grace, with no request")
    finally:
        gate.set()
