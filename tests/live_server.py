"""Run a real `qa serve` subprocess on a free loopback port, over a freshly ingested store.

The server runs with a sitecustomize that refuses and records every connection (and name
lookup) to anything but loopback, so tests can prove the server makes no outbound call.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from qa.config import offline_environment

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 180.0
ARTIFACTS = ROOT / "tests" / "artifacts"
# How long a browser test waits for the page; generous, since the machine running the tests may be loaded.
BROWSER_TIMEOUT_MS = 120_000

_GUARD = '''
import os, socket
_LOG = os.environ["QA_TEST_OUTBOUND_LOG"]
_LOCAL = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::", "", None}
def _record(what):
    with open(_LOG, "a", encoding="utf-8") as f:
        f.write(f"{what}\\n")
    raise OSError(f"outbound connection blocked in tests: {what}")
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo
def connect(self, address):
    if isinstance(address, tuple) and address and address[0] not in _LOCAL:
        _record(f"connect {address!r}")
    return _connect(self, address)
def connect_ex(self, address):
    if isinstance(address, tuple) and address and address[0] not in _LOCAL:
        _record(f"connect {address!r}")
    return _connect_ex(self, address)
def getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name not in _LOCAL:
        _record(f"getaddrinfo {name!r}")
    return _getaddrinfo(host, *args, **kwargs)
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
with open(os.environ["QA_TEST_GUARD_ARMED"], "a", encoding="utf-8") as f:
    f.write(f"{os.getpid()}\\n")
'''


@dataclass
class LiveServer:
    """A running server and where its evidence lies."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    outbound: Path
    armed: Path

    def log_tail(self, chars: int = 4000) -> str:
        """Return the end of the server log."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:] if self.log.exists() else ""

    def outbound_attempts(self) -> list[str]:
        """Return the blocked outbound connections the server tried."""
        return self.outbound.read_text(encoding="utf-8").splitlines() if self.outbound.exists() else []

    def stop(self, timeout_s: float = 20.0) -> int:
        """Send SIGTERM and return the exit code (kill, and fail, when it does not exit in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server did not exit {timeout_s:.0f} s after SIGTERM") from None
        return int(self.proc.returncode)


def free_port() -> int:
    """Return a loopback port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(tmp: Path, data_dir: Path) -> dict[str, str]:
    """Return the environment of a test server: offline, its own store, outbound guard armed."""
    guard = tmp / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(_GUARD, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(offline_environment())
    env.update(
        {
            "QA_PATHS__DATA_DIR": str(data_dir),
            # The guard first; then this checkout, so the server runs the code under test whatever the venv points at.
            "PYTHONPATH": os.pathsep.join([str(guard), str(ROOT)]),
            "QA_TEST_OUTBOUND_LOG": str(tmp / "outbound.log"),
            "QA_TEST_GUARD_ARMED": str(tmp / "guard-armed.log"),
            # One ONNX export per checkout (as the real_embedder fixture uses), not one per test server.
            "QA_EMBED__CACHE_DIR": str(ROOT / ".qa-data" / "encoders"),
        }
    )
    return env


@contextmanager
def live_server(tmp: Path, extra_docs: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """Ingest seeds/ (plus extra documents) with `qa ingest`, then run `qa serve` (with extra environment) until the block ends."""
    docs = tmp / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    for name, text in (extra_docs or {}).items():
        (docs / name).write_text(text, encoding="utf-8")
    env = {**server_env(tmp, tmp / "data"), **(env or {})}
    subprocess.run([str(BIN / "qa"), "ingest", "-q", str(docs)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    port = free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(BIN / "qa"), "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", proc, log, tmp / "outbound.log", tmp / "guard-armed.log")
    try:
        key = env.get("QA_API_KEY")
        _wait_ready(server, {"Authorization": f"Bearer {key}"} if key else {})
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_ready(server: LiveServer, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"qa serve exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            # The API answers first; the chat is mounted at / a moment later.
            health = httpx.get(f"{server.url}/api/health", timeout=2.0)
            if health.status_code == 200 and httpx.get(server.url, headers=headers or {}, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"qa serve did not become ready in {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


def chat_answers(page: Any) -> Any:
    """Return the locator of the chat's finished answer messages (not the one streaming in)."""
    return page.locator("#qa-chat .qa-msg:not(.qa-pending)")


def ask_in_chat(page: Any, question: str, turn: int) -> Any:
    """Type a question into the chat, send it, and return the finished answer message of that turn."""
    page.locator("#qa-input textarea").fill(question)
    page.keyboard.press("Enter")
    chat_answers(page).nth(turn).wait_for(timeout=BROWSER_TIMEOUT_MS)
    return chat_answers(page).nth(turn)


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot of the page as tests/artifacts/NAME.png, for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def add_document(server: LiveServer, name: str, text: str, timeout_s: float = 300.0) -> dict[str, Any]:
    """Add a text document through the API, wait for its job, and return the document as GET /api/documents lists it."""
    job = httpx.post(f"{server.url}/api/documents", json={"name": name, "text": text}, timeout=30).json()
    deadline = time.monotonic() + timeout_s
    while job["state"] not in ("done", "failed"):
        if time.monotonic() > deadline:
            raise AssertionError(f"the upload of {name} did not finish in {timeout_s:.0f} s: {job}")
        time.sleep(0.2)
        job = httpx.get(f"{server.url}/api/jobs/{job['id']}", timeout=30).json()
    assert job["state"] == "done", job
    listed = httpx.get(f"{server.url}/api/documents", timeout=30).json()
    return next(d for d in listed if d["name"] == name)


def choose(page: Any, selector: str, option: str) -> None:
    """Pick an option of a dropdown (by its exact label) and close the dropdown."""
    page.locator(f"{selector} input").click()
    page.locator(selector).get_by_role("option", name=option, exact=True).click()
    close_dropdown(page, selector)


def close_dropdown(page: Any, selector: str) -> None:
    """Close a dropdown and leave it, so that the next click on it opens it again."""
    page.keyboard.press("Escape")
    page.locator(f"{selector} input").blur()


def search_in(page: Any) -> list[str]:
    """Return the labels chosen in the chat's "Search in" selector."""
    return [t.strip() for t in page.locator("#qa-docs-search .token > span").all_inner_texts()]
