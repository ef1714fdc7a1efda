"""Integration fixtures: a real persistent Chroma store of the seed article, embedded with the real model; a real browser."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings, load_settings
from qa.ingest.pipeline import ingest, ingest_documents
from qa.runtime import Runtime, build_runtime, open_client, open_store
from qa.types import Document

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Return default settings with a session-wide persistent store folder."""
    data = tmp_path_factory.mktemp("seed-store")
    return load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(data)})


@pytest.fixture(scope="session")
def seed_runtime(seed_settings: Settings, real_embedder: Any) -> Runtime:
    """Return a runtime over the seed article in a real persistent Chroma store."""
    client = open_client(seed_settings)
    store = open_store(seed_settings, real_embedder, client, create=True)
    ingest([seed_settings.paths.seeds], store, real_embedder, max_file_bytes=seed_settings.limits.max_file_bytes, progress=False)
    return build_runtime(seed_settings, embedder=real_embedder, client=client)


CHROMIUM = "/usr/bin/chromium"
# Offline and quiet: no update checks, sync or first-run pages that would reach outside the test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def runtime_over(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Callable[[str, list[Document]], Runtime]:
    """Return a maker of runtimes over given documents, each in its own real persistent store (named for its folder)."""

    def make(name: str, documents: list[Document]) -> Runtime:
        settings = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(tmp_path_factory.mktemp(name))})
        client = open_client(settings)
        store = open_store(settings, real_embedder, client, create=True)
        ingest_documents(documents, store, real_embedder, progress=False)
        return build_runtime(settings, embedder=real_embedder, client=client)

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Return Debian's chromium driven by Playwright for one test module; skip where either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian chromium is not installed (make chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """Return a page of its own browser context (empty local storage), closed after the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    yield context.new_page()
    context.close()
