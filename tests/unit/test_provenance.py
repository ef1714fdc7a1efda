"""A store records how its vectors were made; one built with other vectors is refused."""

from __future__ import annotations

from typing import Any

import pytest

from qa.config import Settings
from qa.errors import ConfigError, StoreError
from qa.ingest.split import split_document
from qa.runtime import open_embedder, open_store, resolve_quantize
from qa.store import PassageStore
from qa.testing import HashEmbedder
from qa.types import Document


def _with(settings: Settings, **embed: Any) -> Settings:
    return settings.model_copy(update={"embed": settings.embed.model_copy(update=embed)})


def _stored(settings: Settings, client: Any) -> PassageStore:
    """Open the store and write one passage: collections are created by the first write."""
    emb = HashEmbedder()
    store = open_store(settings, emb, client, create=True)
    passages = split_document(Document("a.txt", "One sentence here."))
    store.add(passages, [emb.embed([p.text[a:b] for a, b in p.sentences]) for p in passages])
    return store


def test_provenance_is_recorded(settings: Settings, ephemeral_client: Any) -> None:
    _stored(_with(settings, backend="onnx", quantize="int8"), ephemeral_client)
    meta = ephemeral_client.get_collection(settings.store.collection).metadata
    assert (meta["embedding_backend"], meta["embedding_quantize"]) == ("onnx", "int8")


def test_other_quantisation_is_refused(settings: Settings, ephemeral_client: Any) -> None:
    _stored(_with(settings, backend="onnx", quantize="none"), ephemeral_client)
    with pytest.raises(StoreError, match="quantised as 'none'.*embed.quantize 'int8'.*--rebuild"):
        open_store(_with(settings, backend="onnx", quantize="int8"), HashEmbedder(), ephemeral_client)


def test_fp32_torch_and_onnx_share_a_store(settings: Settings, ephemeral_client: Any) -> None:
    _stored(_with(settings, backend="torch", quantize="none"), ephemeral_client)
    assert open_store(_with(settings, backend="onnx", quantize="none"), HashEmbedder(), ephemeral_client).count() == 1


def test_a_store_from_before_provenance_counts_as_fp32(settings: Settings, ephemeral_client: Any) -> None:
    emb = HashEmbedder()
    old = {"hnsw:space": "cosine", "embedding_model": emb.name, "embedding_dim": emb.dim}
    for name in (settings.store.collection, f"{settings.store.collection}-sentences"):
        ephemeral_client.create_collection(name=name, embedding_function=None, metadata=old)
    assert open_store(_with(settings, quantize="none"), emb, ephemeral_client).count() == 0
    with pytest.raises(StoreError, match="quantised"):
        open_store(_with(settings, quantize="int8"), emb, ephemeral_client)


@pytest.mark.parametrize("stored", ["none", "int8"])
def test_auto_keeps_the_stores_quantisation(settings: Settings, ephemeral_client: Any, stored: str) -> None:
    _stored(_with(settings, backend="onnx", quantize=stored), ephemeral_client)
    auto = _with(settings, backend="onnx", quantize="auto")
    assert resolve_quantize(auto, ephemeral_client) == stored
    # A rebuild re-embeds everything: it chooses as for a new store.
    assert resolve_quantize(auto, ephemeral_client, fresh=True) == "int8"


def test_auto_on_a_new_store_is_int8_on_onnx_and_fp32_on_torch(settings: Settings, ephemeral_client: Any) -> None:
    assert resolve_quantize(_with(settings, backend="onnx", quantize="auto"), ephemeral_client) == "int8"
    assert resolve_quantize(_with(settings, backend="torch", quantize="auto"), ephemeral_client) == "none"
    assert resolve_quantize(_with(settings, backend="onnx", quantize="none"), ephemeral_client) == "none"


def test_auto_records_the_embedders_quantisation(settings: Settings, ephemeral_client: Any) -> None:
    class Int8(HashEmbedder):
        quantize = "int8"

    emb = Int8()
    store = open_store(_with(settings, quantize="auto"), emb, ephemeral_client, create=True)
    passages = split_document(Document("a.txt", "One sentence here."))
    store.add(passages, [emb.embed([p.text[a:b] for a, b in p.sentences]) for p in passages])
    assert ephemeral_client.get_collection(settings.store.collection).metadata["embedding_quantize"] == "int8"


def test_torch_over_an_int8_store_names_the_store(settings: Settings, ephemeral_client: Any) -> None:
    _stored(_with(settings, backend="onnx", quantize="int8"), ephemeral_client)
    with pytest.raises(ConfigError, match=f"store '{settings.store.collection}'.*int8.*embed.backend: onnx"):
        open_embedder(_with(settings, backend="torch", quantize="auto"), ephemeral_client)


def test_an_fp32_store_opens_unchanged_under_auto(settings: Settings, ephemeral_client: Any) -> None:
    """Upgrading to the auto default never refuses a store built before: it is read with the vectors it holds."""
    _stored(_with(settings, backend="onnx", quantize="none"), ephemeral_client)
    auto = _with(settings, backend="onnx", quantize="auto")

    class Fp32(HashEmbedder):
        quantize = resolve_quantize(auto, ephemeral_client)

    assert open_store(auto, Fp32(), ephemeral_client).count() == 1
