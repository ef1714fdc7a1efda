"""Hybrid retrieval: question -> hits, best first.

Three rankings are fused over one candidate pool:
- dense passage similarity (Chroma, passage collection),
- dense best-sentence similarity (Chroma, sentence collection),
- BM25 keyword score (an in-memory index, updated incrementally as passages come and go).

Each ranking contributes its top candidates to the pool; every pooled passage is
then scored by all three, each score is z-normalised over the pool, and the
weighted sum orders the hits. On SQuAD v1.1 dev this beat reciprocal-rank fusion
by about 5 points of recall@1 (see README, "Retrieval").
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.config import RetrieveSettings
from qa.embed import Embedder
from qa.errors import InputError
from qa.store import PassageStore, document_key
from qa.terms import tokenize
from qa.types import Hit, Passage

log = logging.getLogger(__name__)


class KeywordIndex:
    """BM25 over passage texts (the Lucene variant bm25s computes), updated in place as passages come and go.

    Each passage keeps a slot; a deleted passage's slot is only marked dead, so adding or
    deleting a document costs time in its own terms, not in the corpus. Scores depend on
    the live corpus only (document count, document frequencies, mean length), so after
    any sequence of changes they equal those of an index built from scratch.
    """

    K1 = 1.5
    B = 0.75

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages: list[Passage | None] = []
        self.by_id: dict[str, int] = {}
        self._counts: list[Counter[str] | None] = []
        self._postings: dict[str, tuple[list[int], list[int]]] = {}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._df: Counter[str] = Counter()
        self._lengths = np.zeros(0, dtype=np.float64)
        self._live = np.zeros(0, dtype=bool)
        self._total_length = 0.0
        # Per slot, a small code of its document (ids as GET /api/documents lists them), so a filter is one mask.
        self._doc = np.zeros(0, dtype=np.int32)
        self._doc_code: dict[str, int] = {}  # document id -> code
        self._source_code: dict[str, int] = {}  # source name -> code (one hash per document, not per passage)
        self._doc_live: Counter[int] = Counter()  # live passages per code
        self.add(passages)

    @property
    def size(self) -> int:
        """Return how many live passages the index holds."""
        return len(self.by_id)

    @property
    def dead(self) -> int:
        """Return how many deleted passages still hold a slot."""
        return len(self.passages) - len(self.by_id)

    @property
    def live_mask(self) -> np.ndarray:
        """Return, per slot, whether its passage is live."""
        return self._live

    def add(self, passages: Sequence[Passage]) -> None:
        """Index passages (a passage already indexed under its id is replaced)."""
        self.delete([p.passage_id for p in passages if p.passage_id in self.by_id])
        if not passages:
            return
        tokens = tokenize([p.heading + "\n" + p.text for p in passages])
        first = len(self.passages)
        self._lengths = np.concatenate([self._lengths, np.array([len(t) for t in tokens], dtype=np.float64)])
        self._live = np.concatenate([self._live, np.ones(len(passages), dtype=bool)])
        codes = np.array([self._code_of(p.source) for p in passages], dtype=np.int32)
        self._doc = np.concatenate([self._doc, codes])
        self._doc_live.update(codes.tolist())
        for offset, (p, toks) in enumerate(zip(passages, tokens, strict=True)):
            slot = first + offset
            counts = Counter(toks)
            self.passages.append(p)
            self._counts.append(counts)
            self.by_id[p.passage_id] = slot
            self._total_length += len(toks)
            for term, tf in counts.items():
                slots, tfs = self._postings.setdefault(term, ([], []))
                slots.append(slot)
                tfs.append(tf)
                self._arrays.pop(term, None)
            self._df.update(counts.keys())

    def delete(self, passage_ids: Iterable[str]) -> None:
        """Forget passages by id (unknown ids are ignored)."""
        for pid in passage_ids:
            slot = self.by_id.pop(pid, None)
            if slot is None:
                continue
            counts = self._counts[slot]
            self.passages[slot] = None
            self._counts[slot] = None
            self._live[slot] = False
            self._doc_live[int(self._doc[slot])] -= 1
            self._total_length -= float(self._lengths[slot])
            if counts:
                self._df.subtract(counts.keys())
                for term in counts:
                    if self._df[term] <= 0:
                        del self._df[term]

    def _code_of(self, source: str) -> int:
        code = self._source_code.get(source)
        if code is None:
            code = self._doc_code.setdefault(document_key(source), len(self._doc_code))
            self._source_code[source] = code
        return code

    def document_mask(self, document_ids: Collection[str]) -> np.ndarray:
        """Return, per slot, whether its passage is live and in one of the documents; raise InputError naming an unknown id."""
        codes = [self._doc_code.get(d) for d in document_ids]
        unknown = [d for d, c in zip(document_ids, codes, strict=True) if c is None or self._doc_live[c] <= 0]
        if unknown:
            listed = ", ".join(f"'{d}'" for d in unknown[:5])
            raise InputError(f"documents: no document with id {listed} (GET /api/documents lists the ids)")
        return np.isin(self._doc, np.array(codes, dtype=np.int32)) & self._live

    def _term_arrays(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        cached = self._arrays.get(term)
        if cached is None:
            posting = self._postings.get(term)
            if posting is None:
                return None
            cached = (np.asarray(posting[0], dtype=np.int64), np.asarray(posting[1], dtype=np.float64))
            self._arrays[term] = cached
        return cached

    def idf(self, term: str) -> float:
        """Return the BM25 inverse document frequency of a term (highest for terms the corpus lacks)."""
        n, df = self.size, self._df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def term_weights(self, question: str) -> tuple[tuple[str, float], ...]:
        """Return each distinct question term with its idf."""
        return tuple((t, self.idf(t)) for t in dict.fromkeys(tokenize([question])[0]))

    def scores(self, question: str) -> np.ndarray:
        """Return the BM25 score of every slot for the question (0 for deleted slots)."""
        out = np.zeros(len(self.passages), dtype=np.float64)
        if not self.by_id:
            return out.astype(np.float32)
        avg = self._total_length / self.size or 1.0
        for term in tokenize([question])[0]:  # a repeated question term counts again, as in bm25s
            if term not in self._df:
                continue
            arrays = self._term_arrays(term)
            if arrays is None:
                continue
            slots, tf = arrays
            norm = self.K1 * (1.0 - self.B + self.B * self._lengths[slots] / avg)
            out[slots] += self.idf(term) * tf / (tf + norm)
        out[~self._live] = 0.0
        return out.astype(np.float32)


class _Rows:
    """A float32 matrix that grows by appending rows, with spare capacity so appends rarely copy."""

    def __init__(self, dim: int, capacity: int = 0) -> None:
        self._data = np.zeros((capacity, dim), dtype=np.float32)
        self.n = 0

    @property
    def view(self) -> np.ndarray:
        """Return the filled rows (a view, not a copy)."""
        return self._data[: self.n]

    def append(self, rows: np.ndarray) -> None:
        """Append rows, growing the capacity by a quarter when full (a copy, so rarely)."""
        need = self.n + len(rows)
        if need > len(self._data):
            grown = np.zeros((max(need, len(self._data) * 5 // 4 + 1024), self._data.shape[1]), dtype=np.float32)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : need] = rows
        self.n = need


class DenseIndex:
    """Passage and sentence vectors in memory, by keyword-index slot: pool scoring needs no store round trip.

    Each slot's sentence rows are contiguous, so the best-sentence score of a candidate is
    one ``np.maximum.reduceat`` over one matrix product.
    """

    def __init__(self, dim: int) -> None:
        self.passages = _Rows(dim)
        self.sentences = _Rows(dim)
        self.start = np.zeros(0, dtype=np.int64)  # first sentence row of each slot
        self.count = np.zeros(0, dtype=np.int64)  # sentence rows of each slot
        self.sentence_slot = np.zeros(0, dtype=np.int64)

    @classmethod
    def from_store(cls, store: PassageStore, slots: dict[str, int], dim: int) -> DenseIndex:
        """Return the vectors of every stored passage, in the given slots (one sort, no per-passage arrays)."""
        ids, vectors, s_ids, s_k, s_vectors = store.corpus_vectors()
        n = len(slots)
        dense = cls(dim)
        # Room for about 5 % more without a copy: the first changes after start-up stay cheap.
        dense.passages = _Rows(dim, n + n // 20 + 256)
        dense.sentences = _Rows(dim, len(s_ids) + len(s_ids) // 20 + 1024)
        p_matrix = np.zeros((n, dim), dtype=np.float32)
        found = [(slots[pid], i) for i, pid in enumerate(ids) if pid in slots]
        if found:
            at, rows = np.array(found, dtype=np.int64).T
            p_matrix[at] = vectors[rows]
        s_slot = np.array([slots.get(pid, -1) for pid in s_ids], dtype=np.int64)
        keep = s_slot >= 0
        order = np.lexsort((s_k[keep], s_slot[keep]))
        sentence_slot = s_slot[keep][order]
        dense.passages.append(p_matrix)
        dense.sentences.append(s_vectors[keep][order] if len(order) else np.zeros((0, dim), dtype=np.float32))
        dense.count = np.bincount(sentence_slot, minlength=n).astype(np.int64)
        dense.start = np.concatenate([[0], np.cumsum(dense.count)[:-1]]).astype(np.int64)
        dense.sentence_slot = sentence_slot
        return dense

    def add(self, passage_vectors: np.ndarray, sentence_vectors: Sequence[np.ndarray]) -> None:
        """Append the vectors of new slots, in slot order."""
        first = self.passages.n
        self.passages.append(passage_vectors)
        counts = np.array([len(m) for m in sentence_vectors], dtype=np.int64)
        starts = self.sentences.n + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        dim = passage_vectors.shape[1]
        stacked = [m for m in sentence_vectors if len(m)]
        self.sentences.append(np.concatenate(stacked) if stacked else np.zeros((0, dim), dtype=np.float32))
        self.start = np.concatenate([self.start, starts])
        self.count = np.concatenate([self.count, counts])
        self.sentence_slot = np.concatenate([self.sentence_slot, np.repeat(np.arange(first, first + len(counts)), counts)])


@dataclass(frozen=True)
class _Pool:
    slots: np.ndarray
    dense: np.ndarray
    sentence: np.ndarray
    keyword: np.ndarray
    sentence_sims: np.ndarray  # every sentence of the pooled slots, slot after slot
    sentence_start: np.ndarray  # offset of each pooled slot's sentences in sentence_sims


def _zscore(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - float(x.mean())) / std if std > 1e-9 else np.zeros_like(x)


def _rrf(x: np.ndarray, k: int) -> np.ndarray:
    ranks = np.argsort(np.argsort(-x))
    return 1.0 / (k + ranks + 1.0)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Return the indexes of the n highest scores, best first, in O(len) plus O(n log n)."""
    if len(scores) > n:
        part = np.argpartition(-scores, n - 1)[:n]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")


class CorpusIndex:
    """The keyword index and the dense vectors of one corpus, slot-aligned, changed together under one lock."""

    def __init__(self, keyword: KeywordIndex, dense: DenseIndex) -> None:
        self.keyword = keyword
        self.dense = dense


class HybridRetriever:
    """Dense + keyword retrieval over a PassageStore, fused over a shared candidate pool.

    The corpus (passages, BM25 postings, passage and sentence vectors) is held in memory
    and changed incrementally by ``apply_change``; a full rebuild runs in a background
    thread while the previous index keeps answering. Below ``retrieve.exact_max_sentences``
    the dense rankings are exact matrix products in memory; above it they come from
    Chroma's HNSW indexes (two queries). Either way the store gets one cheap ``count()``
    per question, so a `qa ingest` by another process is noticed.
    """

    def __init__(self, store: PassageStore, embedder: Embedder, settings: RetrieveSettings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._lock = threading.Lock()  # guards the index while it changes in place (milliseconds per document)
        self._refreshing: threading.Thread | None = None
        self._pending: list[tuple[list[Passage], list[str]]] | None = None  # changes that arrive during a rebuild
        self._mismatch_since: float | None = None
        self._index = self._build()

    def _build(self) -> CorpusIndex:
        started = time.perf_counter()
        passages = self.store.all_passages()
        keyword = KeywordIndex(passages)
        dense = DenseIndex.from_store(self.store, keyword.by_id, self.embedder.dim)
        log.info("corpus index built over %d passages in %.1f s", keyword.size, time.perf_counter() - started)
        return CorpusIndex(keyword, dense)

    def _add_vectors(
        self, dense: DenseIndex, passages: Sequence[Passage], vectors: dict[str, np.ndarray], sentences: dict[str, np.ndarray]
    ) -> None:
        dim = self.embedder.dim
        empty = np.zeros((0, dim), dtype=np.float32)
        pv = np.stack([vectors.get(p.passage_id, np.zeros(dim, dtype=np.float32)) for p in passages]) if passages else empty
        dense.add(pv, [sentences.get(p.passage_id, empty) for p in passages])

    def refresh(self) -> None:
        """Rebuild the whole index from the store now (the previous one serves until the new one is ready)."""
        with self._lock:
            self._pending = []
        try:
            index = self._build()
        except BaseException:
            with self._lock:
                self._pending = None
            raise
        with self._lock:
            for added, removed in self._pending or []:
                self._apply(index, added, removed)
            self._pending = None
            self._index = index

    def refresh_in_background(self) -> None:
        """Start a rebuild in a thread unless one is running; questions keep using the current index."""
        with self._lock:
            if self._refreshing is not None and self._refreshing.is_alive():
                return
            self._refreshing = threading.Thread(target=self._refresh_logged, name="rebuild-index", daemon=True)
            self._refreshing.start()

    def _refresh_logged(self) -> None:
        try:
            self.refresh()
        except Exception:
            log.exception("rebuilding the corpus index failed; the previous index keeps serving")

    def wait_for_refresh(self, timeout: float | None = None) -> None:
        """Wait for a background rebuild to finish (for tests and benchmarks)."""
        thread = self._refreshing
        if thread is not None:
            thread.join(timeout)

    def apply_change(self, added: Sequence[Passage], removed_ids: Collection[str]) -> None:
        """Make the index reflect passages just written to (``added``) and deleted from (``removed_ids``) the store."""
        started = time.perf_counter()
        added = list(added)
        ids = [p.passage_id for p in added]
        vectors = self.store.passage_vectors(ids)
        sentences = self.store.sentence_vectors(ids)
        missing = [pid for pid in ids if pid not in vectors]
        if missing:
            raise ValueError(f"{len(missing)} added passages are not in the store (first: {missing[0]}); write them before apply_change")
        removed = list(removed_ids)
        with self._lock:
            self._apply(self._index, added, removed, vectors, sentences)
            if self._pending is not None:
                self._pending.append((added, removed))
        ms = (time.perf_counter() - started) * 1000
        log.info("index updated in %.1f ms: %d passages added, %d removed", ms, len(added), len(removed))

    def _apply(
        self,
        index: CorpusIndex,
        added: list[Passage],
        removed: list[str],
        vectors: dict[str, np.ndarray] | None = None,
        sentences: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Apply one change in place (caller holds the lock)."""
        if vectors is None or sentences is None:
            ids = [p.passage_id for p in added]
            vectors, sentences = self.store.passage_vectors(ids), self.store.sentence_vectors(ids)
        index.keyword.delete(removed + [p.passage_id for p in added])
        index.keyword.add(added)
        self._add_vectors(index.dense, added, vectors, sentences)

    @property
    def passage_count(self) -> int:
        """Return how many passages the index holds."""
        return self._index.keyword.size

    def get(self, passage_id: str) -> Passage | None:
        """Return an indexed passage by id."""
        kw = self._index.keyword
        i = kw.by_id.get(passage_id)
        return None if i is None else kw.passages[i]

    def embed_query(self, question: str) -> np.ndarray:
        """Return the query vector."""
        return self.embedder.embed([question])[0]

    def _exact_candidates(self, index: CorpusIndex, qvec: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the slots of the c nearest live passages and of the passages of the c nearest live sentences."""
        live, dense = index.keyword.live_mask, index.dense
        p_sims = dense.passages.view @ qvec
        p_sims[~live] = -np.inf
        s_sims = dense.sentences.view @ qvec
        s_sims[~live[dense.sentence_slot]] = -np.inf
        p_top, s_top = _top(p_sims, c), _top(s_sims, c)
        return p_top[np.isfinite(p_sims[p_top])], dense.sentence_slot[s_top[np.isfinite(s_sims[s_top])]]

    @staticmethod
    def _within_candidates(index: CorpusIndex, qvec: np.ndarray, c: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the exact dense candidates among the allowed slots only: the cost is that of the chosen documents."""
        dense = index.dense
        slots = np.flatnonzero(allowed)
        counts = dense.count[slots]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        rows = np.repeat(dense.start[slots] - offsets[:-1], counts) + np.arange(int(offsets[-1]))
        p_sims = dense.passages.view[slots] @ qvec
        s_sims = dense.sentences.view[rows] @ qvec if len(rows) else np.zeros(0, dtype=np.float32)
        return slots[_top(p_sims, c)], np.repeat(slots, counts)[_top(s_sims, c)]

    def _pool(
        self,
        index: CorpusIndex,
        question: str,
        qvec: np.ndarray,
        p_slots: np.ndarray,
        s_slots: np.ndarray,
        allowed: np.ndarray | None = None,
    ) -> _Pool:
        """Score the candidates of all three rankings by all three (the caller holds the lock)."""
        c = self.settings.candidates
        kw_all = index.keyword.scores(question)
        if allowed is not None:
            kw_all[~allowed] = 0.0
        k_top = _top(kw_all, c)
        k_slots = k_top[kw_all[k_top] > 0]
        merged = np.concatenate([p_slots, s_slots, k_slots]).astype(np.int64)
        _, first = np.unique(merged, return_index=True)
        slots = merged[np.sort(first)]  # first-seen order, as the rankings listed them
        dense = index.dense
        counts = dense.count[slots]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # Row numbers of every sentence of every pooled slot, without a Python loop.
        rows = np.repeat(dense.start[slots] - offsets[:-1], counts) + np.arange(int(offsets[-1]))
        sims = dense.sentences.view[rows] @ qvec if len(rows) else np.zeros(0, dtype=np.float32)
        best = np.zeros(len(slots), dtype=np.float32)
        has = counts > 0
        if has.any():
            best[has] = np.maximum.reduceat(sims, offsets[:-1][has])
        return _Pool(
            slots=slots,
            dense=(dense.passages.view[slots] @ qvec).astype(np.float32),
            sentence=best,
            keyword=kw_all[slots].astype(np.float32),
            sentence_sims=sims.astype(np.float32),
            sentence_start=offsets,
        )

    def _notice_store_changes(self, stored: int) -> None:
        """Rebuild in the background when the store has held another number of passages for a while."""
        size = self._index.keyword.size
        if stored == size:
            self._mismatch_since = None
            return
        now = time.monotonic()
        if size == 0:
            self.refresh()
            return
        # A writer in this process updates the store first and the index a moment later: only a lasting
        # difference means another process (`qa ingest`) changed the store.
        if self._mismatch_since is None:
            self._mismatch_since = now
        if now - self._mismatch_since >= self.settings.stale_after_s:
            log.info("the store holds %d passages, the index %d: rebuilding it in the background", stored, size)
            self._mismatch_since = None
            self.refresh_in_background()

    def retrieve(
        self, question: str, top_k: int | None = None, qvec: np.ndarray | None = None, *, documents: Collection[str] | None = None
    ) -> list[Hit]:
        """Return the top-k passages for the question, best first (only from ``documents``, by id, when given)."""
        k = top_k or self.settings.top_k
        # One cheap round trip notices a `qa ingest` run by another process.
        self._notice_store_changes(self.store.count())
        index = self._index
        if index.keyword.size == 0:
            if documents:
                index.keyword.document_mask(documents)  # raises: no document is known yet
            return []
        if qvec is None:
            qvec = self.embed_query(question)
        c = self.settings.candidates
        exact = index.dense.sentences.n <= self.settings.exact_max_sentences
        if not exact and documents is None:  # Chroma's HNSW indexes, queried outside the lock
            p_ids = [pid for pid, _ in self.store.query(qvec, c)]
            s_ids = self.store.query_sentences(qvec, c)
        with self._lock:
            allowed = None if documents is None else index.keyword.document_mask(documents)
            if allowed is not None:
                # Chosen documents are scored exactly in memory: an approximate index's top c might hold none of them.
                p_slots, s_slots = self._within_candidates(index, qvec, c, allowed)
            elif exact:
                p_slots, s_slots = self._exact_candidates(index, qvec, c)
            else:
                by_id = index.keyword.by_id
                unknown = [pid for pid in (*p_ids, *s_ids) if pid not in by_id]
                if unknown:
                    self._mismatch_since = self._mismatch_since or time.monotonic()
                p_slots = np.array([by_id[p] for p in p_ids if p in by_id], dtype=np.int64)
                s_slots = np.array([by_id[p] for p in s_ids if p in by_id], dtype=np.int64)
            pool = self._pool(index, question, qvec, p_slots, s_slots, allowed)
            weights = index.keyword.term_weights(question)
        if not len(pool.slots):
            return []
        s = self.settings
        columns = ((pool.dense, s.dense_weight), (pool.sentence, s.sentence_weight), (pool.keyword, s.keyword_weight))
        if s.fusion == "rrf":
            fused = sum(w * _rrf(x, s.rrf_k) for x, w in columns)
        else:
            fused = sum(w * _zscore(x) for x, w in columns)
        fused = np.asarray(fused, dtype=np.float64)
        order = np.argsort(-fused, kind="stable")[:k]
        passages = index.keyword.passages
        hits = []
        for i in order:
            passage = passages[int(pool.slots[i])]
            if passage is None:
                continue
            sims = pool.sentence_sims[pool.sentence_start[i] : pool.sentence_start[i + 1]]
            hits.append(
                Hit(
                    passage=passage,
                    score=float(fused[i]),
                    dense=float(pool.dense[i]),
                    keyword=float(pool.keyword[i]),
                    sentence_sims=tuple(float(x) for x in sims),
                    term_weights=weights,
                )
            )
        return hits
