"""The composition root: build the real embedder, store, retriever and chain in one place."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from qa.answer.base import Answerer
from qa.answer.chain import AnswerChain
from qa.answer.providers import make_answerer
from qa.config import Settings, apply_offline_environment
from qa.embed import Embedder
from qa.errors import ConfigError, ProviderError
from qa.retrieve import HybridRetriever
from qa.store import PassageStore, make_client
from qa.store_probe import open_commit_counter

log = logging.getLogger(__name__)


def open_embedder(settings: Settings) -> Embedder:
    """Return the configured embedder: the ONNX export (made once, cached in the data folder) or sentence-transformers."""
    apply_offline_environment()
    e = settings.embed
    if e.backend == "onnx":
        from qa.embed.onnx import OnnxEmbedder

        cache = e.cache_dir or settings.paths.data_dir / "encoders"
        return OnnxEmbedder(
            e.model_name, e.model_path, cache, quantize=e.quantize, threads=e.onnx_threads,
            batch_threads=e.onnx_batch_threads, spinning=e.onnx_spinning, batch_size=e.batch_size,
        )
    if e.quantize != "none":
        raise ConfigError("embed.quantize: int8 needs embed.backend: onnx")
    from qa.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(e.model_name, e.model_path, e.torch_threads, e.batch_size)


def open_client(settings: Settings) -> Any:
    """Return the Chroma client for the configured store mode."""
    apply_offline_environment()
    return make_client(settings.store, str(settings.paths.data_dir))


def open_store(settings: Settings, embedder: Embedder, client: Any | None = None, *, create: bool = False) -> PassageStore:
    """Return the passage store, refusing one built with another model."""
    return PassageStore(
        client if client is not None else open_client(settings),
        settings.store.collection,
        embedder.name,
        embedder.dim,
        create=create,
        mode=settings.store.mode,
        backend=settings.embed.backend,
        quantize=settings.embed.quantize,
    )


def check_answerer(answerer: Answerer) -> None:
    """Raise ProviderError with the answerer's own message when its provider cannot be used (for start-up)."""
    problem = answerer.health()
    if problem:
        raise ProviderError(problem)


@dataclass
class Runtime:
    """Everything a shell (CLI, API, UI) needs, built once."""

    settings: Settings
    embedder: Embedder
    store: PassageStore
    retriever: HybridRetriever
    answerer: Answerer
    chain: AnswerChain
    # The one writer (qa.documents.service.DocumentService) while serving; None in `qa ask` and tests without it.
    documents: Any = None


def build_runtime(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    client: Any | None = None,
    answerer: Answerer | None = None,
    create: bool = False,
) -> Runtime:
    """Return a ready runtime over an existing store (or, with ``create``, one that documents will be added to)."""
    embedder = embedder or open_embedder(settings)
    client = client if client is not None else open_client(settings)
    store = open_store(settings, embedder, client, create=create)
    # A store on disk here: a sqlite counter tells when it was written, so a question skips the version read otherwise.
    probe = open_commit_counter(client)
    retriever = HybridRetriever(store, embedder, settings.retrieve, probe=probe)
    answerer = answerer or make_answerer(settings.answer, api_key=settings.openai_api_key, vocabulary=retriever)
    chain = AnswerChain(retriever, answerer, settings.limits)
    log.info("ready: %d passages, answerer %s", retriever.passage_count, answerer.name)
    return Runtime(settings, embedder, store, retriever, answerer, chain)
