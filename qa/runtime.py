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
from qa.store import PassageStore, make_client, recorded_quantize
from qa.store_probe import open_commit_counter

log = logging.getLogger(__name__)


def resolve_quantize(settings: Settings, client: Any | None = None, *, fresh: bool = False) -> str:
    """Return the quantisation to embed with: the configured one; for ``auto`` the store's own, int8 for a new onnx store.

    ``fresh``: the store is about to be rebuilt, so ``auto`` chooses as for a new one.

    int8 embeds a question in about 0.7 of fp32's time at the same SQuAD recall (README "Speed and scale");
    a store built before keeps the vectors it was built with, so upgrading never refuses it.
    """
    e = settings.embed
    if e.quantize != "auto":
        return e.quantize
    recorded = None if fresh else recorded_quantize(client if client is not None else open_client(settings), settings.store.collection)
    if recorded == "none" and e.backend == "onnx":
        log.info(
            "embed.quantize auto: the store '%s' holds fp32 vectors and keeps them; `qa ingest --rebuild` re-embeds it as int8",
            settings.store.collection,
        )
    if recorded is not None:
        return recorded
    return "int8" if e.backend == "onnx" else "none"


def open_embedder(settings: Settings, client: Any | None = None, *, fresh: bool = False) -> Embedder:
    """Return the configured embedder: the ONNX export (made once, cached in the data folder) or sentence-transformers."""
    apply_offline_environment()
    e = settings.embed
    quantize = resolve_quantize(settings, client, fresh=fresh)
    if e.backend == "onnx":
        from qa.embed.onnx import OnnxEmbedder

        cache = e.cache_dir or settings.paths.data_dir / "encoders"
        return OnnxEmbedder(
            e.model_name, e.model_path, cache, quantize=quantize, threads=e.onnx_threads,
            batch_threads=e.onnx_batch_threads, spinning=e.onnx_spinning, batch_size=e.batch_size,
        )
    if quantize != "none":
        where = "embed.quantize" if e.quantize != "auto" else f"the store '{settings.store.collection}' (it holds int8 vectors)"
        raise ConfigError(f"{where}: int8 needs embed.backend: onnx (or rebuild the store with `qa ingest --rebuild`)")
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
        # ``auto`` stores the embedder's vectors: whatever quantisation it resolved to.
        quantize=settings.embed.quantize if settings.embed.quantize != "auto" else getattr(embedder, "quantize", "none"),
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
    client = client if client is not None else open_client(settings)
    embedder = embedder or open_embedder(settings, client)
    store = open_store(settings, embedder, client, create=create)
    # A store on disk here: a sqlite counter tells when it was written, so a question skips the version read otherwise.
    probe = open_commit_counter(client)
    retriever = HybridRetriever(store, embedder, settings.retrieve, probe=probe)
    answerer = answerer or make_answerer(settings.answer, api_key=settings.openai_api_key, vocabulary=retriever)
    chain = AnswerChain(retriever, answerer, settings.limits)
    log.info("ready: %d passages, answerer %s", retriever.passage_count, answerer.name)
    return Runtime(settings, embedder, store, retriever, answerer, chain)
