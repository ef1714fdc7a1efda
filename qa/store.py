"""The passage store: a Chroma collection (embedded by default, a Chroma server when configured)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from qa.config import StoreSettings
from qa.errors import StoreError
from qa.types import Passage

log = logging.getLogger(__name__)

_GET_PAGE = 5000


def make_client(settings: StoreSettings, data_dir: str) -> Any:
    """Return a Chroma client for the configured mode, with telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.mode == "server":
        try:
            return chromadb.HttpClient(host=settings.host, port=settings.port, settings=chroma_settings)
        except Exception as exc:  # chromadb raises bare Exceptions for connection failures
            raise StoreError(
                f"cannot reach the Chroma server at {settings.host}:{settings.port} ({exc}); "
                "start it with `chroma run --path DIR --host HOST --port PORT` or set store.mode: embedded"
            ) from None
    return chromadb.PersistentClient(path=data_dir, settings=chroma_settings)


def _to_metadata(p: Passage) -> dict[str, Any]:
    return {
        "source": p.source,
        "paragraph": p.paragraph,
        "heading": p.heading,
        "sentences": json.dumps(p.sentences),
    }


def _to_passage(pid: str, text: str, meta: dict[str, Any]) -> Passage:
    return Passage(
        passage_id=pid,
        source=str(meta["source"]),
        paragraph=int(meta["paragraph"]),
        text=text,
        heading=str(meta.get("heading", "")),
        sentences=tuple((int(s), int(e)) for s, e in json.loads(str(meta.get("sentences", "[]")))),
    )


def _names(client: Any) -> set[str]:
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def sentence_collection_name(name: str) -> str:
    """Return the name of the sentence collection that belongs to a passage collection."""
    return f"{name}-sentences"


class PassageStore:
    """Passages and their sentences, embedded, in two cosine-space Chroma collections that record their model.

    The passage collection holds one row per paragraph (its vector is the normalised
    mean of its sentence vectors); the sentence collection holds one row per sentence.
    A passage row is written after its sentence rows, so a passage that is present
    is complete: an ingest killed half way is finished by the next one.
    """

    def __init__(
        self, client: Any, name: str, model_name: str, dim: int, *, create: bool, backend: str = "torch", quantize: str = "none"
    ) -> None:
        self._client = client
        self.name = name
        self.model_name = model_name
        self.dim = dim
        self.backend = backend
        self.quantize = quantize
        if name not in _names(client):
            if not create:
                raise StoreError(f"no passage store '{name}' yet: run `qa ingest` first")
            log.info("creating collection %s (cosine, %s, dim %d)", name, model_name, dim)
        # embedding_function=None: Chroma must never fall back to its default (downloading) model.
        metadata = {
            "hnsw:space": "cosine",
            "embedding_model": model_name,
            "embedding_dim": dim,
            "embedding_backend": backend,
            "embedding_quantize": quantize,
        }
        self._col = client.get_or_create_collection(name=name, embedding_function=None, metadata=metadata)
        self._check_model(self._col)
        self._sents = client.get_or_create_collection(
            name=sentence_collection_name(name), embedding_function=None, metadata=metadata
        )
        self._check_model(self._sents)

    def _check_model(self, col: Any) -> None:
        meta = col.metadata or {}
        stored_model, stored_dim = meta.get("embedding_model"), meta.get("embedding_dim")
        if stored_model != self.model_name or stored_dim != self.dim:
            raise StoreError(
                f"the store '{self.name}' was built with model {stored_model!r} (dim {stored_dim}), "
                f"but this configuration uses {self.model_name!r} (dim {self.dim}); "
                "rebuild it with `qa ingest --rebuild`"
            )
        # torch and fp32 ONNX give the same vectors (cosine >= 0.9999, tests/integration/test_onnx_embed.py);
        # int8 weights do not: a store holds the vectors of one quantisation. Older stores recorded none: fp32.
        stored_quantize = meta.get("embedding_quantize", "none")
        if stored_quantize != self.quantize:
            raise StoreError(
                f"the store '{self.name}' holds vectors quantised as {stored_quantize!r} "
                f"(backend {meta.get('embedding_backend', 'torch')!r}), but this configuration uses embed.quantize {self.quantize!r}; "
                "set embed.quantize back or rebuild it with `qa ingest --rebuild`"
            )
        if meta.get("hnsw:space", "cosine") != "cosine":
            raise StoreError(f"the store '{self.name}' does not use cosine distance; rebuild it with `qa ingest --rebuild`")

    @staticmethod
    def drop(client: Any, name: str) -> None:
        """Delete a passage collection and its sentence collection if they exist."""
        existing = _names(client)
        for n in (name, sentence_collection_name(name)):
            if n in existing:
                client.delete_collection(n)
                log.info("deleted collection %s", n)

    def count(self) -> int:
        """Return the number of stored passages."""
        return int(self._col.count())

    def ids(self) -> set[str]:
        """Return every stored passage id."""
        out: set[str] = set()
        offset = 0
        while True:
            page = self._col.get(include=[], limit=_GET_PAGE, offset=offset)
            out.update(page["ids"])
            if len(page["ids"]) < _GET_PAGE:
                return out
            offset += _GET_PAGE

    def add(self, passages: Sequence[Passage], sentence_embeddings: Sequence[np.ndarray]) -> None:
        """Store passages with one embedding row per sentence (idempotent by id)."""
        if not passages:
            return
        if len(sentence_embeddings) != len(passages):
            raise ValueError("need one sentence-embedding matrix per passage")
        ids, vecs, metas = [], [], []
        means = []
        for p, mat in zip(passages, sentence_embeddings, strict=False):
            if mat.shape != (len(p.sentences), self.dim):
                raise ValueError(f"passage {p.passage_id}: expected ({len(p.sentences)}, {self.dim}) embeddings, got {mat.shape}")
            for k, row in enumerate(mat):
                ids.append(f"{p.passage_id}:{k}")
                vecs.append(row.tolist())
                metas.append({"passage_id": p.passage_id, "k": k})
            mean = mat.mean(axis=0)
            means.append((mean / (np.linalg.norm(mean) or 1.0)).tolist())
        for i in range(0, len(ids), _GET_PAGE):
            self._sents.upsert(ids=ids[i : i + _GET_PAGE], embeddings=vecs[i : i + _GET_PAGE], metadatas=metas[i : i + _GET_PAGE])
        self._col.upsert(
            ids=[p.passage_id for p in passages],
            embeddings=means,
            documents=[p.text for p in passages],
            metadatas=[_to_metadata(p) for p in passages],
        )

    def delete(self, ids: Iterable[str]) -> None:
        """Remove passages by id."""
        id_list = list(ids)
        for i in range(0, len(id_list), _GET_PAGE):
            chunk = id_list[i : i + _GET_PAGE]
            self._col.delete(ids=chunk)
            self._sents.delete(where={"passage_id": {"$in": chunk}})

    def all_passages(self) -> list[Passage]:
        """Return every stored passage, ordered by source and paragraph."""
        out: list[Passage] = []
        offset = 0
        while True:
            page = self._col.get(include=["documents", "metadatas"], limit=_GET_PAGE, offset=offset)
            out.extend(_to_passage(i, d, m) for i, d, m in zip(page["ids"], page["documents"], page["metadatas"], strict=False))
            if len(page["ids"]) < _GET_PAGE:
                break
            offset += _GET_PAGE
        return sorted(out, key=lambda p: (p.source, p.paragraph))

    def get(self, passage_id: str) -> Passage | None:
        """Return one passage by id, or None."""
        page = self._col.get(ids=[passage_id], include=["documents", "metadatas"])
        if not page["ids"]:
            return None
        return _to_passage(page["ids"][0], page["documents"][0], page["metadatas"][0])

    def query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Return up to n (passage_id, cosine similarity) pairs, nearest first."""
        # Chroma returns fewer rows when it holds fewer (none when empty): no count() round trip per query.
        res = self._col.query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"])
        return [(pid, 1.0 - float(d)) for pid, d in zip(res["ids"][0], res["distances"][0], strict=False)]

    def query_sentences(self, vector: np.ndarray, n: int) -> list[str]:
        """Return the passage ids of the n sentences nearest to the vector, nearest first, without repeats."""
        res = self._sents.query(query_embeddings=[vector.tolist()], n_results=n, include=["metadatas"])
        return list(dict.fromkeys(str(m["passage_id"]) for m in res["metadatas"][0]))

    def passage_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the stored passage vectors by id."""
        if not ids:
            return {}
        page = self._col.get(ids=list(ids), include=["embeddings"])
        return {pid: np.asarray(e, dtype=np.float32) for pid, e in zip(page["ids"], page["embeddings"], strict=False)}

    def corpus_vectors(self) -> tuple[list[str], np.ndarray, list[str], np.ndarray, np.ndarray]:
        """Return every passage id and vector, and every sentence row's passage id, position and vector (paged reads)."""
        ids: list[str] = []
        blocks: list[np.ndarray] = []
        offset = 0
        while True:
            page = self._col.get(include=["embeddings"], limit=_GET_PAGE, offset=offset)
            ids.extend(page["ids"])
            blocks.append(np.asarray(page["embeddings"], dtype=np.float32).reshape(-1, self.dim))
            if len(page["ids"]) < _GET_PAGE:
                break
            offset += _GET_PAGE
        s_ids: list[str] = []
        s_k: list[int] = []
        s_blocks: list[np.ndarray] = []
        offset = 0
        while True:
            page = self._sents.get(include=["embeddings", "metadatas"], limit=_GET_PAGE, offset=offset)
            s_ids.extend(str(m["passage_id"]) for m in page["metadatas"])
            s_k.extend(int(m["k"]) for m in page["metadatas"])
            s_blocks.append(np.asarray(page["embeddings"], dtype=np.float32).reshape(-1, self.dim))
            if len(page["ids"]) < _GET_PAGE:
                break
            offset += _GET_PAGE
        return ids, np.concatenate(blocks), s_ids, np.asarray(s_k, dtype=np.int64), np.concatenate(s_blocks)

    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Return, per passage id, its sentence vectors in sentence order."""
        if not ids:
            return {}
        page = self._sents.get(where={"passage_id": {"$in": list(ids)}}, include=["embeddings", "metadatas"])
        rows: dict[str, list[tuple[int, np.ndarray]]] = {}
        for meta, emb in zip(page["metadatas"], page["embeddings"], strict=False):
            rows.setdefault(str(meta["passage_id"]), []).append((int(meta["k"]), np.asarray(emb, dtype=np.float32)))
        return {pid: np.stack([v for _, v in sorted(r, key=lambda t: t[0])]) for pid, r in rows.items()}
