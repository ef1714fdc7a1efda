"""Server mode: the same ingest and answers against a real `chroma run` server started here."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.config import Settings, load_settings
from qa.errors import StoreError
from qa.ingest.pipeline import ingest
from qa.runtime import build_runtime, open_client, open_store

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert exe, "the chromadb package installs the `chroma` command"
    port = free_port()
    proc = subprocess.Popen(
        [exe, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma server did not start within 60 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _server_settings(port: int, tmp_path: Path) -> Settings:
    return load_settings(
        ROOT / "config.yaml",
        environ={"QA_STORE__MODE": "server", "QA_STORE__PORT": str(port), "QA_PATHS__DATA_DIR": str(tmp_path / "unused")},
    )


def test_server_mode_ingests_once_and_answers(chroma_server: int, tmp_path: Path, real_embedder: Any) -> None:
    settings = _server_settings(chroma_server, tmp_path)
    client = open_client(settings)
    store = open_store(settings, real_embedder, client, create=True)
    first = ingest([settings.paths.seeds], store, real_embedder, max_file_bytes=10**7, progress=False)
    again = ingest([settings.paths.seeds], store, real_embedder, max_file_bytes=10**7, progress=False)
    assert first.added == first.passages > 0
    assert (again.added, again.unchanged) == (0, first.passages)
    answer = build_runtime(settings, embedder=real_embedder, client=client).chain.ask(
        "What resolution did Zhang Jun wish all countries would abide by?"
    )
    assert "Olympic truce" in answer.answer
    assert not (tmp_path / "unused").exists(), "server mode writes nothing locally"


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    settings = _server_settings(free_port(), tmp_path)
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        open_client(settings)
