from __future__ import annotations

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


def test_the_api_answers_before_the_chat_is_mounted_then_the_chat_appears(
    settings: Settings, ephemeral_client: Any, tmp_path: Path
) -> None:
    import threading

    from qa.api import create_app

    runtime: Runtime = fake_runtime(settings, ephemeral_client, tmp_path / "docs")
    app = create_app(runtime)
    qa.server._placeholder(app)
    gate = threading.Event()
    ui_import = threading.Thread(target=gate.wait)  # "Gradio is still importing" until the gate opens
    ui_import.start()
    qa.server._mount_ui_at_startup(app, runtime, ui_import, host="127.0.0.1", port=7860)
    with TestClient(app) as client:
        waiting = client.get("/")
        assert waiting.status_code == 503 and 'http-equiv="refresh"' in waiting.text
        assert client.get("/api/health").json()["answerer"] == "quote-fake"
        gate.set()
        ui_import.join()
        for _ in range(200):
            page = client.get("/")
            if page.status_code == 200:
                break
            import time

            time.sleep(0.05)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert client.get("/config").json()["components"], "the Gradio app answers at /"
