"""The passage store: a Chroma collection (embedded by default, a Chroma server when configured).

Every Chroma failure (a server that is down, a collection dropped by another process) leaves
this module as a StoreError with a message for the user; the API answers it with a JSON 503.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

import numpy as np

from qa.config import StoreSettings
from qa.errors import StoreError
from qa.types import Passage

log = logging.getLogger(__name__)

_GET_PAGE = 5000
PAGE = _GET_PAGE  # rows per paged read (readers page with it too)
# Collection metadata key whose value changes on every write: other processes compare it to notice changes.
VERSION_KEY = "corpus_version"

F = TypeVar("F", bound=Callable[..., Any])


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


def document_key(source: str) -> str:
    """Return the document id of a source name: the same name is the same document."""
    import hashlib

    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _to_metadata(p: Passage) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": p.source,
        "doc_id": document_key(p.source),
        "paragraph": p.paragraph,
        "heading": p.heading,
        "sentences": json.dumps(p.sentences),
    }
    if p.page is not None:
        meta["page"] = p.page
    return meta


def _to_passage(pid: str, text: str, meta: dict[str, Any]) -> Passage:
    page = meta.get("page")
    return Passage(
        passage_id=pid,
        source=str(meta["source"]),
        paragraph=int(meta["paragraph"]),
        text=text,
        heading=str(meta.get("heading", "")),
        sentences=tuple((int(s), int(e)) for s, e in json.loads(str(meta.get("sentences", "[]")))),
        page=int(page) if page is not None else None,
    )


def _names(client: Any) -> set[str]:
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def recorded_quantize(client: Any, name: str) -> str | None:
    """Return the quantisation the store ``name`` records ("none" for stores from before the record); None if there is no such store."""
    if name not in _names(client):
        return None
    meta = client.get_collection(name=name, embedding_function=None).metadata or {}
    return str(meta.get("embedding_quantize", "none"))


def sentence_collection_name(name: str) -> str:
    """Return the name of the sentence collection that belongs to a passage collection."""
    return f"{name}-sentences"


def _is_gone(exc: Exception) -> bool:
    """Return True when Chroma says a collection no longer exists (dropped by another process)."""
    text = str(exc).lower()
    return type(exc).__name__ in {"NotFoundError", "InvalidCollectionException"} or ("collection" in text and "does not exist" in text)


def _chroma(fn: F) -> F:
    """Wrap a store method: reopen collections dropped elsewhere once, and turn Chroma failures into StoreError."""

    @functools.wraps(fn)
    def wrapper(self: PassageStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except StoreError:
            raise
        except (ValueError, TypeError, KeyError, AssertionError):
            raise  # our own bugs and bad arguments surface as they are
        except Exception as exc:
            if _is_gone(exc):
                log.warning("collection '%s' is gone (%s); reopening it", self.name, exc)
                try:
                    self._open(create=False)
                    return fn(self, *args, **kwargs)
                except StoreError:
                    raise
                except Exception as again:
                    exc = again
            log.error("store operation %s failed: %r", fn.__name__, exc)
            raise StoreError(f"the passage store is unavailable ({type(exc).__name__}: {exc}); {self._hint()}") from exc

    return cast(F, wrapper)


class PassageStore:
    """Passages and their sentences, embedded, in two cosine-space Chroma collections that record their model.

    The passage collection holds one row per paragraph (its vector is the normalised
    mean of its sentence vectors); the sentence collection holds one row per sentence.
    A passage row is written after its sentence rows and deleted after them, so a passage
    that is present is complete, and sentence rows without a passage are orphans that
    ``clean_orphans`` removes. Collections are created by the first
    write, so an ingest that fails before storing anything leaves no empty collection behind.
    """

    def __init__(
        self,
        client: Any,
        name: str,
        model_name: str,
        dim: int,
        *,
        create: bool,
        mode: str = "embedded",
        backend: str = "torch",
        quantize: str = "none",
    ) -> None:
        self._client = client
        self.name = name
        self.model_name = model_name
        self.dim = dim
        self.mode = mode
        self.backend = backend
        self.quantize = quantize
        self._col: Any = None
        self._sents: Any = None
        self.last_written_version = ""  # the corpus version of this object's latest write
        try:
            self._open(create=create)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"the passage store is unavailable ({type(exc).__name__}: {exc}); {self._hint()}") from exc

    def _hint(self) -> str:
        if self.mode == "server":
            return "is the Chroma server running (`chroma run`)?"
        return "restart the server; if it persists, rebuild the store with `qa ingest --rebuild`"

    def _metadata(self) -> dict[str, Any]:
        return {
            "hnsw:space": "cosine",
            "embedding_model": self.model_name,
            "embedding_dim": self.dim,
            "embedding_backend": self.backend,
            "embedding_quantize": self.quantize,
        }

    def _open(self, *, create: bool) -> None:
        """(Re)acquire the collection handles; without ``create`` a missing store is an error, with it creation waits for a write."""
        existing = _names(self._client)
        if self.name not in existing:
            if not create:
                self._col = self._sents = None
                raise StoreError(f"no passage store '{self.name}' yet: run `qa ingest` first")
            self._col = self._sents = None
            return
        self._col = self._client.get_collection(name=self.name, embedding_function=None)
        self._check_model(self._col)
        # embedding_function=None: Chroma must never fall back to its default (downloading) model.
        self._sents = self._client.get_or_create_collection(
            name=sentence_collection_name(self.name), embedding_function=None, metadata=self._metadata()
        )
        self._check_model(self._sents)

    def _create(self) -> None:
        log.info("creating collection %s (cosine, %s, dim %d)", self.name, self.model_name, self.dim)
        meta = self._metadata()
        self._col = self._client.get_or_create_collection(name=self.name, embedding_function=None, metadata=meta)
        self._check_model(self._col)
        self._sents = self._client.get_or_create_collection(
            name=sentence_collection_name(self.name), embedding_function=None, metadata=meta
        )
        self._check_model(self._sents)

    def _check_model(self, col: Any) -> None:
        meta = col.metadata or {}
        stored_model, stored_dim = meta.get("embedding_model"), meta.get("embedding_dim")
        if stored_model != self.model_name or stored_dim != self.dim:
            raise StoreError(
                f"the store '{self.name}' was built with model {stored_model!r} (dim {stored_dim}), "
                f"but this configuration uses {self.model_name!r} (dim {self.dim}); "
                "rebuild it with `qa ingest --rebuild` (or POST /api/reindex on a running server)"
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

    @property
    def exists(self) -> bool:
        """Return True once the collections have been created."""
        return self._col is not None

    @staticmethod
    def drop(client: Any, name: str) -> None:
        """Delete a passage collection and its sentence collection if they exist."""
        existing = _names(client)
        for n in (sentence_collection_name(name), name):
            if n in existing:
                client.delete_collection(n)
                log.info("deleted collection %s", n)

    @_chroma
    def reset(self) -> None:
        """Drop both collections; the next write creates them again for this store's model."""
        PassageStore.drop(self._client, self.name)
        self._col = self._sents = None

    @_chroma
    def check(self) -> int:
        """Return the passage count read from Chroma itself (raises StoreError when the store cannot answer)."""
        if self._col is None:
            self._open(create=True)
        if self._col is None:
            return 0
        if self.name not in _names(self._client):
            raise StoreError(f"the passage store '{self.name}' is gone: run `qa ingest` (or POST /api/reindex)")
        return int(self._col.count())

    @_chroma
    def count(self) -> int:
        """Return the number of stored passages."""
        return 0 if self._col is None else int(self._col.count())

    @_chroma
    def version(self) -> str:
        """Return the corpus version ("" before the first write): it changes with every write by any process (one read)."""
        if self._col is None:
            if self.name not in _names(self._client):
                return ""
            self._open(create=True)  # another process created the store since this one opened it
        # A fresh handle: the metadata of the one we hold is what Chroma returned when it was opened.
        col = self._client.get_collection(name=self.name, embedding_function=None)
        return str((col.metadata or {}).get(VERSION_KEY, ""))

    def _bump(self) -> None:
        # Chroma keeps the distance in the collection's configuration; the metadata only mirrors it.
        meta = {k: v for k, v in (self._col.metadata or {}).items() if not k.startswith("hnsw:")}
        meta[VERSION_KEY] = uuid.uuid4().hex
        self._col.modify(metadata=meta)
        # A reader in this process tells its own writes (applied in place a moment later) from another process's.
        self.last_written_version = meta[VERSION_KEY]

    @_chroma
    def ids(self) -> set[str]:
        """Return every stored passage id."""
        return self._page_ids(self._col)

    @staticmethod
    def _page_ids(col: Any, where: dict[str, Any] | None = None) -> set[str]:
        out: set[str] = set()
        if col is None:
            return out
        offset = 0
        while True:
            page = col.get(include=[], limit=_GET_PAGE, offset=offset, where=where)
            out.update(page["ids"])
            if len(page["ids"]) < _GET_PAGE:
                return out
            offset += _GET_PAGE

    @_chroma
    def ids_of(self, doc_id: str) -> set[str]:
        """Return the passage ids stored for one document."""
        return self._page_ids(self._col, {"doc_id": doc_id})

    @_chroma
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
        if self._col is None:
            self._create()
        for i in range(0, len(ids), _GET_PAGE):
            self._sents.upsert(ids=ids[i : i + _GET_PAGE], embeddings=vecs[i : i + _GET_PAGE], metadatas=metas[i : i + _GET_PAGE])
        self._col.upsert(
            ids=[p.passage_id for p in passages],
            embeddings=means,
            documents=[p.text for p in passages],
            metadatas=[_to_metadata(p) for p in passages],
        )
        self._bump()

    @_chroma
    def delete(self, ids: Iterable[str]) -> None:
        """Remove passages by id: their sentence rows first, so no sentence ever points at a missing passage."""
        id_list = list(ids)
        if self._col is None or not id_list:
            return
        for i in range(0, len(id_list), _GET_PAGE):
            chunk = id_list[i : i + _GET_PAGE]
            self._sents.delete(where={"passage_id": {"$in": chunk}})
            self._col.delete(ids=chunk)
        self._bump()

    @_chroma
    def clean_orphans(self) -> int:
        """Delete sentence rows whose passage row is missing (left by a crash); return how many."""
        if self._col is None:
            return 0
        passages = self._page_ids(self._col)
        orphans: list[str] = []
        offset = 0
        while True:
            page = self._sents.get(include=["metadatas"], limit=_GET_PAGE, offset=offset)
            for sid, meta in zip(page["ids"], page["metadatas"], strict=False):
                if not meta or str(meta.get("passage_id")) not in passages:
                    orphans.append(sid)
            if len(page["ids"]) < _GET_PAGE:
                break
            offset += _GET_PAGE
        for i in range(0, len(orphans), _GET_PAGE):
            self._sents.delete(ids=orphans[i : i + _GET_PAGE])
        if orphans:
            log.warning("removed %d orphan sentence rows (left by an interrupted write)", len(orphans))
            self._bump()
        return len(orphans)

    @_chroma
    def all_passages(self) -> list[Passage]:
        """Return every stored passage, ordered by source and paragraph."""
        return self._passages(None)

    @_chroma
    def passages_of(self, doc_id: str) -> list[Passage]:
        """Return the stored passages of one document, in paragraph order."""
        return self._passages({"doc_id": doc_id})

    def _passages(self, where: dict[str, Any] | None) -> list[Passage]:
        out: list[Passage] = []
        if self._col is None:
            return out
        offset = 0
        while True:
            page = self._col.get(include=["documents", "metadatas"], limit=_GET_PAGE, offset=offset, where=where)
            out.extend(_to_passage(i, d, m) for i, d, m in zip(page["ids"], page["documents"], page["metadatas"], strict=False))
            if len(page["ids"]) < _GET_PAGE:
                break
            offset += _GET_PAGE
        return sorted(out, key=lambda p: (p.source, p.paragraph))

    @_chroma
    def get(self, passage_id: str) -> Passage | None:
        """Return one passage by id, or None."""
        if self._col is None:
            return None
        page = self._col.get(ids=[passage_id], include=["documents", "metadatas"])
        if not page["ids"]:
            return None
        return _to_passage(page["ids"][0], page["documents"][0], page["metadatas"][0])

    @_chroma
    def query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Return up to n (passage_id, cosine similarity) pairs, nearest first."""
        if self._col is None:
            return []
        # Chroma returns fewer rows when it holds fewer (none when empty): no count() round trip per query.
        res = self._col.query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"])
        return [(pid, 1.0 - float(d)) for pid, d in zip(res["ids"][0], res["distances"][0], strict=False)]

    @_chroma
    def query_sentences(self, vector: np.ndarray, n: int) -> list[str]:
        """Return the passage ids of the n sentences nearest to the vector, nearest first, without repeats."""
        if self._sents is None:
            return []
        res = self._sents.query(query_embeddings=[vector.tolist()], n_results=n, include=["metadatas"])
        # A row deleted by another process can still come back from a stale vector index, without metadata.
        return list(dict.fromkeys(str(m["passage_id"]) for m in res["metadatas"][0] if m))

    @_chroma
    def passage_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the stored passage vectors by id."""
        if not ids or self._col is None:
            return {}
        page = self._col.get(ids=list(ids), include=["embeddings"])
        return {pid: np.asarray(e, dtype=np.float32) for pid, e in zip(page["ids"], page["embeddings"], strict=False)}

    @_chroma
    def vector_page(self, *, sentences: bool, offset: int, limit: int = _GET_PAGE) -> tuple[list[str], np.ndarray]:
        """Return one page of stored ids and vectors (passage rows, or sentence rows whose ids are ``<passage id>:<k>``)."""
        col = self._sents if sentences else self._col
        if col is None:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        page = col.get(include=["embeddings"], limit=limit, offset=offset)
        return list(page["ids"]), np.asarray(page["embeddings"], dtype=np.float32).reshape(-1, self.dim)

    @_chroma
    def sentence_count(self) -> int:
        """Return the number of stored sentence rows."""
        return 0 if self._sents is None else int(self._sents.count())

    @_chroma
    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Return, per passage id, its sentence vectors in sentence order."""
        if not ids or self._sents is None:
            return {}
        page = self._sents.get(where={"passage_id": {"$in": list(ids)}}, include=["embeddings", "metadatas"])
        rows: dict[str, list[tuple[int, np.ndarray]]] = {}
        for meta, emb in zip(page["metadatas"], page["embeddings"], strict=False):
            if meta:
                rows.setdefault(str(meta["passage_id"]), []).append((int(meta["k"]), np.asarray(emb, dtype=np.float32)))
        return {pid: np.stack([v for _, v in sorted(r, key=lambda t: t[0])]) for pid, r in rows.items()}
