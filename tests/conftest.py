"""Shared fixtures: network blocked in unit tests; fakes and real components built in one place."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings, apply_offline_environment, load_settings

apply_offline_environment()

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEEDS = ROOT / "seeds"


def _is_local(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        return str(address[0]) in {"127.0.0.1", "::1", "localhost"}
    return isinstance(address, (str, bytes))  # AF_UNIX sockets


@pytest.fixture(autouse=True)
def _block_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests may not open connections at all; other tests only to loopback."""
    real_connect = socket.socket.connect
    unit = request.node.get_closest_marker("unit") is not None

    def guarded(self: socket.socket, address: Any) -> Any:
        if unit or not _is_local(address):
            raise RuntimeError(f"network access blocked in tests: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Return default settings with the store in a temporary folder."""
    return load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(tmp_path / "data")})


@pytest.fixture
def ephemeral_client() -> Iterator[Any]:
    """Return an in-memory Chroma client, emptied after the test."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
    yield client
    client.reset()


@pytest.fixture(scope="session")
def real_embedder() -> Any:
    """Return the real bundled all-MiniLM-L6-v2 embedder (loaded once per session)."""
    from qa.runtime import open_embedder

    return open_embedder(load_settings(ROOT / "config.yaml", environ={}))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by folder: tests/unit -> unit, tests/integration -> integration."""
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}unit{os.sep}" in path:
            item.add_marker(pytest.mark.unit)
        elif f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)
