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
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.config import RetrieveSettings
from qa.embed import Embedder
from qa.errors import InputError
from qa.store import PAGE, PassageStore, document_key
from qa.terms import tokenize
from qa.types import Hit, Passage

log = logging.getLogger(__name__)


class KeywordIndex:
    """BM25 over passage texts (the Lucene variant bm25s computes), updated in place as passages come and go.

    Each passage keeps a slot; a deleted passage's slot is only marked dead, so adding or
    deleting a document costs time in its own terms, not in the corpus. Scores depend on
    the live corpus only (document count, document frequencies, mean length), so after
    any sequence of changes they equal those of an index built from scratch.

    Postings are numpy arrays grouped by term (CSR: about 8 bytes per distinct term of a
    passage); those of passages added since the last merge wait in small per-term lists
    and are merged into the arrays, dropping dead slots, once they grow past a share of them.
    """

    K1 = 1.5
    B = 0.75
    # Recent postings are merged into the arrays past this many, or this share of the merged ones.
    MERGE_MIN = 100_000
    MERGE_SHARE = 0.125
    # Deleting more passages than this recounts document frequencies from the postings instead.
    RECOUNT_AFTER = 2_000
    CHUNK = 5_000  # passages tokenized at a time

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages: list[Passage | None] = []
        self.by_id: dict[str, int] = {}
        self._vocab: dict[str, int] = {}  # term -> term id
        self._df = np.zeros(0, dtype=np.int64)  # live passages holding each term id
        # Merged postings: term t's slots and term frequencies are _slots/_tfs[_ptr[t]:_ptr[t + 1]].
        self._ptr = np.zeros(1, dtype=np.int64)
        self._slots = np.zeros(0, dtype=np.int32)
        self._tfs = np.zeros(0, dtype=np.float32)
        self._recent: dict[int, tuple[list[int], list[int]]] = {}  # term id -> slots, tfs added since the merge
        self._recent_n = 0
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # merged + recent of a queried term, joined once
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

    @property
    def postings(self) -> int:
        """Return how many (term, slot) postings the index holds, merged and recent."""
        return len(self._slots) + self._recent_n

    @staticmethod
    def _texts(passages: Iterable[Passage]) -> list[str]:
        return [p.heading + "\n" + p.text for p in passages]

    def _term_ids(self, tokens: list[list[str]]) -> np.ndarray:
        vocab = self._vocab
        # setdefault evaluates len(vocab) first: a new term gets the next id.
        return np.fromiter(
            (vocab.setdefault(t, len(vocab)) for toks in tokens for t in toks), dtype=np.int64, count=sum(map(len, tokens))
        )

    def add(self, passages: Sequence[Passage]) -> None:
        """Index passages (a passage already indexed under its id is replaced)."""
        self.delete([p.passage_id for p in passages if p.passage_id in self.by_id])
        if not passages:
            return
        first = len(self.passages)
        # Tokenized a chunk at a time: a token list of 100,000 passages holds gigabytes of small strings.
        parts = [self._postings_of(passages[i : i + self.CHUNK], first + i) for i in range(0, len(passages), self.CHUNK)]
        lengths = np.concatenate([part[0] for part in parts])
        terms, slots, tfs = (np.concatenate([part[k] for part in parts]) for k in (1, 2, 3))
        self._lengths = np.concatenate([self._lengths, lengths.astype(np.float64)])
        self._live = np.concatenate([self._live, np.ones(len(passages), dtype=bool)])
        codes = np.array([self._code_of(p.source) for p in passages], dtype=np.int32)
        self._doc = np.concatenate([self._doc, codes])
        self._doc_live.update(codes.tolist())
        self._total_length += float(lengths.sum())
        for offset, p in enumerate(passages):
            self.passages.append(p)
            self.by_id[p.passage_id] = first + offset
        if len(self._df) < len(self._vocab):
            self._df = np.concatenate([self._df, np.zeros(len(self._vocab) - len(self._df), dtype=np.int64)])
        self._df += np.bincount(terms, minlength=len(self._df))
        if self._recent_n + len(terms) > max(self.MERGE_MIN, self.MERGE_SHARE * len(self._slots)):
            self._merge(terms, slots, tfs)
            return
        for t, slot, tf in zip(terms.tolist(), slots.tolist(), tfs.tolist(), strict=True):
            recent = self._recent.setdefault(t, ([], []))
            recent[0].append(slot)
            recent[1].append(tf)
            self._arrays.pop(t, None)
        self._recent_n += len(terms)

    def _postings_of(self, passages: Sequence[Passage], first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the passages' token counts, and their (term id, slot, term frequency) postings."""
        tokens = tokenize(self._texts(passages))
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
        tids = self._term_ids(tokens)
        del tokens
        n_terms = max(len(self._vocab), 1)
        # One (slot, term) key per token; its count is the term frequency.
        token_slots = np.repeat(np.arange(first, first + len(passages), dtype=np.int64), lengths)
        keys, tfs = np.unique(token_slots * n_terms + tids, return_counts=True)
        return lengths, (keys % n_terms).astype(np.int32), (keys // n_terms).astype(np.int32), tfs.astype(np.int32)

    def _merge(self, terms: np.ndarray, slots: np.ndarray, tfs: np.ndarray) -> None:
        """Rebuild the posting arrays from the merged, recent and given postings of live slots (O(postings) numpy)."""
        old_terms = np.repeat(np.arange(len(self._ptr) - 1, dtype=np.int64), np.diff(self._ptr))
        recent_terms = np.repeat(np.fromiter(self._recent.keys(), dtype=np.int64, count=len(self._recent)),
                                 [len(v[0]) for v in self._recent.values()])
        recent_slots = [s for v in self._recent.values() for s in v[0]]
        recent_tfs = [f for v in self._recent.values() for f in v[1]]
        all_terms = np.concatenate([old_terms, recent_terms, terms])
        all_slots = np.concatenate([self._slots.astype(np.int64), np.array(recent_slots, dtype=np.int64), slots.astype(np.int64)])
        all_tfs = np.concatenate([self._tfs, np.array(recent_tfs, dtype=np.float32), tfs.astype(np.float32)])
        keep = self._live[all_slots]
        all_terms, all_slots, all_tfs = all_terms[keep], all_slots[keep], all_tfs[keep]
        order = np.lexsort((all_slots, all_terms))
        self._slots = all_slots[order].astype(np.int32)
        self._tfs = all_tfs[order]
        self._ptr = np.concatenate([[0], np.cumsum(np.bincount(all_terms, minlength=len(self._vocab)))]).astype(np.int64)
        self._recent, self._recent_n, self._arrays = {}, 0, {}

    def delete(self, passage_ids: Iterable[str]) -> None:
        """Forget passages by id (unknown ids are ignored)."""
        gone: list[Passage] = []
        for pid in passage_ids:
            slot = self.by_id.pop(pid, None)
            if slot is None:
                continue
            passage = self.passages[slot]
            self.passages[slot] = None
            self._live[slot] = False
            self._doc_live[int(self._doc[slot])] -= 1
            self._total_length -= float(self._lengths[slot])
            if passage is not None:
                gone.append(passage)
        if len(gone) > self.RECOUNT_AFTER:
            self._recount_df()
        elif gone:
            # Tokenizing the deleted texts again is cheaper than keeping every passage's terms.
            for toks in tokenize(self._texts(gone)):
                self._df[np.unique(self._term_ids([toks]))] -= 1

    def _recount_df(self) -> None:
        """Count every term's live passages from the postings (O(postings) numpy: for large deletes)."""
        terms = np.repeat(np.arange(len(self._ptr) - 1, dtype=np.int64), np.diff(self._ptr))
        df = np.bincount(terms[self._live[self._slots]], minlength=len(self._vocab)).astype(np.int64)
        for t, (slots, _) in self._recent.items():
            df[t] += int(self._live[np.array(slots, dtype=np.int64)].sum())
        self._df = df

    def _code_of(self, source: str) -> int:
        code = self._source_code.get(source)
        if code is None:
            code = self._doc_code.setdefault(document_key(source), len(self._doc_code))
            self._source_code[source] = code
        return code

    @property
    def document_count(self) -> int:
        """Return how many documents have live passages."""
        return sum(1 for n in self._doc_live.values() if n > 0)

    def document_mask(self, document_ids: Collection[str]) -> np.ndarray:
        """Return, per slot, whether its passage is live and in one of the documents; raise InputError naming an unknown id."""
        codes = [self._doc_code.get(d) for d in document_ids]
        unknown = [d for d, c in zip(document_ids, codes, strict=True) if c is None or self._doc_live[c] <= 0]
        if unknown:
            listed = ", ".join(f"'{d}'" for d in unknown[:5])
            raise InputError(f"documents: no document with id {listed} (GET /api/documents lists the ids)")
        return np.isin(self._doc, np.array(codes, dtype=np.int32)) & self._live

    def _term_arrays(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = (int(self._ptr[tid]), int(self._ptr[tid + 1])) if tid + 1 < len(self._ptr) else (0, 0)
        recent = self._recent.get(tid)
        if recent is None:
            return self._slots[lo:hi], self._tfs[lo:hi]  # views: no copy
        cached = self._arrays.get(tid)
        if cached is None:
            cached = (
                np.concatenate([self._slots[lo:hi], np.array(recent[0], dtype=np.int32)]),
                np.concatenate([self._tfs[lo:hi], np.array(recent[1], dtype=np.float32)]),
            )
            self._arrays[tid] = cached
        return cached

    def _df_of(self, term: str) -> int:
        tid = self._vocab.get(term)
        return 0 if tid is None else int(self._df[tid])

    def document_frequency(self, term: str) -> int:
        """Return how many live passages hold the (tokenized) term."""
        return self._df_of(term)

    def passages_with_all(self, terms: Collection[str]) -> int:
        """Return how many live passages hold every one of the (tokenized) terms (0 for none)."""
        common: np.ndarray | None = None
        for term in dict.fromkeys(terms):
            tid = self._vocab.get(term)
            if tid is None or self._df[tid] <= 0:
                return 0
            slots = self._term_arrays(tid)[0]
            common = slots if common is None else np.intersect1d(common, slots)
        return 0 if common is None else int(self._live[common.astype(np.int64)].sum())

    def written_together(self, first: str, second: str, *, enough: int = 50) -> bool:
        """Return True when some live passage holds the (tokenized) term ``second`` right after ``first``.

        Stop words do not separate terms, as in the tokenized question. Past ``enough`` passages holding
        both terms, the pair is taken as known without reading them: a common pair is no unknown name.
        """
        a, b = self._vocab.get(first), self._vocab.get(second)
        if a is None or b is None or self._df[a] <= 0 or self._df[b] <= 0:
            return False
        both = np.intersect1d(self._term_arrays(a)[0], self._term_arrays(b)[0])
        both = both[self._live[both.astype(np.int64)]]
        if len(both) > enough:
            return True
        for slot in both.tolist():
            passage = self.passages[slot]
            if passage is None:
                continue
            tokens = tokenize(self._texts([passage]))[0]
            if any(x == first and y == second for x, y in zip(tokens, tokens[1:], strict=False)):
                return True
        return False

    def idf(self, term: str) -> float:
        """Return the BM25 inverse document frequency of a term (highest for terms the corpus lacks)."""
        n, df = self.size, self._df_of(term)
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
            tid = self._vocab.get(term)
            if tid is None or self._df[tid] <= 0:
                continue
            slots, tf = self._term_arrays(tid)
            norm = self.K1 * (1.0 - self.B + self.B * self._lengths[slots] / avg)
            out[slots] += self.idf(term) * tf / (tf + norm)
        out[~self._live] = 0.0
        return out.astype(np.float32)


class _Rows:
    """An array that grows by appending rows, with spare capacity so appends rarely copy."""

    def __init__(self, width: int | None, capacity: int = 0, dtype: type = np.float32) -> None:
        self._data: np.ndarray = np.zeros((capacity,) if width is None else (capacity, width), dtype=dtype)
        self.n = 0

    @property
    def view(self) -> np.ndarray:
        """Return the filled rows (a view, not a copy)."""
        return self._data[: self.n]

    @property
    def dtype(self) -> np.dtype[Any]:
        """Return the element type."""
        return self._data.dtype

    def extend(self, rows: int) -> np.ndarray:
        """Add rows of zeros, growing the capacity by a quarter when full (a copy, so rarely); return a view of them."""
        need = self.n + rows
        if need > len(self._data):
            grown = np.zeros((max(need, len(self._data) * 5 // 4 + 1024), *self._data.shape[1:]), dtype=self._data.dtype)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        added = self._data[self.n : need]
        self.n = need
        return added

    def append(self, rows: np.ndarray) -> None:
        """Append rows."""
        self.extend(len(rows))[:] = rows


def _quantize(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return int8 rows and the per-row scale that restores them (a row's dot product errs by about 1e-3)."""
    scale = np.abs(rows).max(axis=1, initial=0.0) / 127.0
    scale[scale == 0] = 1.0
    return np.rint(rows / scale[:, None]).astype(np.int8), scale.astype(np.float32)


class DenseIndex:
    """Passage and sentence vectors in memory, by keyword-index slot: pool scoring needs no store round trip.

    Each slot's sentence rows are contiguous, so the best-sentence score of a candidate is
    one ``np.maximum.reduceat`` over one matrix product. A ``compact`` index (a corpus past
    ``retrieve.exact_max_sentences``, ranked by Chroma's HNSW) keeps sentence vectors as int8
    with a scale per row (a quarter of float32's memory, only ever read for a pool) and no
    passage vectors: a stored passage vector is the normalised mean of its sentence vectors
    (PassageStore.add), so its similarity is the mean of theirs over the mean's norm, and only
    that norm is kept, one float per passage.
    """

    def __init__(self, dim: int, *, compact: bool = False) -> None:
        self.dim = dim
        self.compact = compact
        self.passages = _Rows(dim)
        self.sentences = _Rows(dim, dtype=np.int8 if compact else np.float32)
        self.scales = _Rows(None)  # per sentence row, when compact
        self.mean_norm = _Rows(None)  # per slot, when compact: the norm of the mean of its sentence vectors
        self.start = np.zeros(0, dtype=np.int64)  # first sentence row of each slot
        self.count = np.zeros(0, dtype=np.int64)  # sentence rows of each slot
        self.sentence_slot = np.zeros(0, dtype=np.int32)

    @classmethod
    def from_store(
        cls, store: PassageStore, passages: Sequence[Passage | None], slots: dict[str, int], dim: int, *, compact: bool
    ) -> DenseIndex:
        """Return the vectors of the passages (in slot order), read from the store a page at a time into their final rows."""
        dense = cls(dim, compact=compact)
        # Every passage has one stored sentence row per sentence (PassageStore.add checks it).
        counts = np.array([0 if p is None else len(p.sentences) for p in passages], dtype=np.int64)
        n, total = len(passages), int(counts.sum())
        # Room for about 5 % more without a copy: the first changes after start-up stay cheap.
        dense.passages = _Rows(dim, 0 if compact else n + n // 20 + 256)
        dense.mean_norm = _Rows(None, n + n // 20 + 256 if compact else 0)
        dense.sentences = _Rows(dim, total + total // 20 + 1024, dtype=np.int8 if compact else np.float32)
        dense.scales = _Rows(None, total + total // 20 + 1024 if compact else 0)
        s_rows = dense.sentences.extend(total)
        scales = dense.scales.extend(total) if compact else None
        dense.count = counts
        dense.start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        dense.sentence_slot = np.repeat(np.arange(n, dtype=np.int32), counts)
        if not compact:
            p_rows = dense.passages.extend(n)
            offset = 0
            while True:
                ids, vectors = store.vector_page(sentences=False, offset=offset)
                at = np.array([slots.get(pid, -1) for pid in ids], dtype=np.int64)
                p_rows[at[at >= 0]] = vectors[at >= 0]
                if len(ids) < PAGE:
                    break
                offset += PAGE
        offset = 0
        while True:
            ids, vectors = store.vector_page(sentences=True, offset=offset)
            split = [sid.rpartition(":") for sid in ids]
            slot = np.array([slots.get(pid, -1) for pid, _, _ in split], dtype=np.int64)
            k = np.array([int(k) for _, _, k in split], dtype=np.int64)
            ok = (slot >= 0) & (k < counts[np.maximum(slot, 0)])  # orphans (a crash between writes) are left out
            rows = dense.start[slot[ok]] + k[ok]
            if compact and scales is not None:
                s_rows[rows], scales[rows] = _quantize(vectors[ok])
            else:
                s_rows[rows] = vectors[ok]
            if len(ids) < PAGE:
                break
            offset += PAGE
        if compact:
            norms = dense.mean_norm.extend(n)
            for first in range(0, n, PAGE):
                norms[first : first + PAGE] = dense._mean_norms(first, min(n, first + PAGE))
        return dense

    def _mean_norms(self, first: int, end: int) -> np.ndarray:
        """Return, for slots first..end-1 of a compact index, the norm of the mean of their sentence vectors."""
        counts = self.count[first:end]
        lo = int(self.start[first])
        hi = int(self.start[end - 1] + counts[-1])
        block = self.sentences.view[lo:hi].astype(np.float32) * self.scales.view[lo:hi, None]
        sums = np.zeros((end - first, self.dim), dtype=np.float32)
        has = counts > 0
        if has.any():
            sums[has] = np.add.reduceat(block, (self.start[first:end] - lo)[has], axis=0)
        return np.asarray(np.linalg.norm(sums / np.maximum(counts, 1)[:, None], axis=1), dtype=np.float32)

    def passage_sims(self, slots: np.ndarray, sims: np.ndarray, offsets: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """Return the similarity of the question to the slots' passage vectors (``sims``: their sentences', at ``offsets``)."""
        if not self.compact:
            return np.asarray(self.passages.view[slots] @ qvec, dtype=np.float32)
        counts = np.diff(offsets)
        has = counts > 0
        total = np.zeros(len(slots), dtype=np.float32)
        if has.any():
            total[has] = np.add.reduceat(sims, offsets[:-1][has])
        norm = self.mean_norm.view[slots]
        out = np.zeros(len(slots), dtype=np.float32)
        ok = has & (norm > 0)
        out[ok] = total[ok] / counts[ok] / norm[ok]
        return out

    @property
    def exact(self) -> bool:
        """Return True when the sentence vectors are float32 (exact rankings possible)."""
        return not self.compact

    @property
    def nbytes(self) -> int:
        """Return the bytes the vectors take, capacity included."""
        return sum(int(r._data.nbytes) for r in (self.passages, self.sentences, self.scales, self.mean_norm))

    def slot_sentence_sims(self, slots: np.ndarray, qvec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the similarity of the question to every sentence of the slots, slot after slot, and each slot's offset in it."""
        counts = self.count[slots]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # Row numbers of every sentence of every slot, without a Python loop.
        rows = np.repeat(self.start[slots] - offsets[:-1], counts) + np.arange(int(offsets[-1]))
        return self.sentence_sims(rows, qvec), offsets

    def sentence_sims(self, rows: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """Return the similarity of the question to the given sentence rows."""
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        block = self.sentences.view[rows]
        if not self.compact:
            return block @ qvec
        return (block.astype(np.float32) @ qvec) * self.scales.view[rows]

    def add(self, passage_vectors: np.ndarray, sentence_vectors: Sequence[np.ndarray]) -> None:
        """Append the vectors of new slots, in slot order."""
        first = len(self.count)
        if not self.compact:
            self.passages.append(passage_vectors)
        counts = np.array([len(m) for m in sentence_vectors], dtype=np.int64)
        starts = self.sentences.n + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        stacked = [m for m in sentence_vectors if len(m)]
        rows = np.concatenate(stacked) if stacked else np.zeros((0, self.dim), dtype=np.float32)
        if self.compact:
            quantized, scale = _quantize(rows)
            self.sentences.append(quantized)
            self.scales.append(scale)
        else:
            self.sentences.append(rows)
        self.start = np.concatenate([self.start, starts])
        self.count = np.concatenate([self.count, counts])
        self.sentence_slot = np.concatenate(
            [self.sentence_slot, np.repeat(np.arange(first, first + len(counts), dtype=np.int32), counts)]
        )
        if self.compact and len(counts):
            self.mean_norm.append(self._mean_norms(first, first + len(counts)))


@dataclass(frozen=True)
class _Pool:
    slots: np.ndarray
    dense: np.ndarray
    sentence: np.ndarray
    keyword: np.ndarray
    sentence_sims: np.ndarray  # every sentence of the pooled slots, slot after slot
    sentence_start: np.ndarray  # offset of each pooled slot's sentences in sentence_sims


def _place(p: Passage) -> tuple[int, int]:
    """Return where a passage lies in its document: page, then paragraph."""
    return (p.page or 0, p.paragraph)


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

    def __init__(self, keyword: KeywordIndex, dense: DenseIndex, version: str) -> None:
        self.keyword = keyword
        self.dense = dense
        self.version = version  # the store's corpus version this index reflects


class HybridRetriever:
    """Dense + keyword retrieval over a PassageStore, fused over a shared candidate pool.

    The corpus (passages, BM25 postings, passage and sentence vectors) is held in memory
    and changed incrementally by ``apply_change``; a full rebuild runs in a background
    thread while the previous index keeps answering. Below ``retrieve.exact_max_sentences``
    the dense rankings are exact matrix products in memory; above it they come from
    Chroma's HNSW indexes (two queries), and sentence vectors are held as int8. Either way
    a `qa ingest` by another process is noticed at the next question: by the store's corpus
    version, read per question, or with a probe only when the probe says the store was written.
    """

    def __init__(
        self, store: PassageStore, embedder: Embedder, settings: RetrieveSettings, *, probe: Callable[[], Hashable] | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        # A cheap signal that moves with every write to the store (qa.store_probe.CommitCounter); None: read the version each time.
        self.probe = probe
        # (probe value, index, its version) when a version read last found the index in step with the store.
        self._in_step: tuple[Hashable, CorpusIndex, str] | None = None
        self._lock = threading.Lock()  # guards the index while it changes in place (milliseconds per document)
        self._refreshing: threading.Thread | None = None
        # Changes that arrive during a rebuild, each with the corpus version it left the store at.
        self._pending: list[tuple[list[Passage], list[str], str | None]] | None = None
        self._mismatch_since: float | None = None
        self._index = self._build()

    def _build(self) -> CorpusIndex:
        started = time.perf_counter()
        version = self.store.version()  # read first: a write during the build leaves the index behind, never ahead
        passages = self.store.all_passages()
        keyword = KeywordIndex(passages)
        del passages  # the keyword index holds them, by slot
        compact = sum(len(p.sentences) for p in keyword.passages if p is not None) > self.settings.exact_max_sentences
        dense = DenseIndex.from_store(self.store, keyword.passages, keyword.by_id, self.embedder.dim, compact=compact)
        log.info(
            "corpus index built over %d passages (%d sentence rows%s, %.0f MB of vectors) in %.1f s",
            keyword.size, dense.sentences.n, ", int8" if compact else "", dense.nbytes / 1e6, time.perf_counter() - started,
        )
        return CorpusIndex(keyword, dense, version)

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
            for added, removed, version in self._pending or []:
                self._apply(index, added, removed)
                index.version = version or index.version
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
        # The store's version after this process's own write: the index reflects it once the change is in. Had
        # another process written since, the version is not ours, and that write is caught by the next check.
        version = self.store.version()
        ours = version if version == self.store.last_written_version else None
        with self._lock:
            self._apply(self._index, added, removed, vectors, sentences)
            if ours is not None:
                self._index.version = ours
            if self._pending is not None:
                self._pending.append((added, removed, ours))
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

    @property
    def document_count(self) -> int:
        """Return how many documents the index holds."""
        return self._index.keyword.document_count

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Return how many passages hold each (tokenized) term."""
        with self._lock:
            kw = self._index.keyword
            return {t: kw.document_frequency(t) for t in terms}

    def written_together(self, first: str, second: str) -> bool:
        """Return True when some passage holds the (tokenized) term ``second`` right after ``first``."""
        with self._lock:
            return self._index.keyword.written_together(first, second)

    def get(self, passage_id: str) -> Passage | None:
        """Return an indexed passage by id."""
        kw = self._index.keyword
        i = kw.by_id.get(passage_id)
        return None if i is None else kw.passages[i]

    def following(self, passage_id: str) -> Passage | None:
        """Return the passage that comes next in the same document (the next paragraph), None at its end or when unknown."""
        here = self.get(passage_id)
        if here is None:
            return None
        later = [p for p in self._in_order(document_key(here.source)) if _place(p) > _place(here)]
        return later[0] if later else None

    def opening(self, document: str | None = None) -> Passage | None:
        """Return the first passage of a document (by id; None: of the only document there is), None when unknown."""
        if document is None:
            with self._lock:
                kw = self._index.keyword
                live = np.flatnonzero(kw.live_mask)
                first = kw.passages[int(live[0])] if len(live) and kw.document_count == 1 else None
            if first is None:
                return None
            document = document_key(first.source)
        ordered = self._in_order(document)
        return ordered[0] if ordered else None

    def _in_order(self, document: str) -> list[Passage]:
        """Return the indexed passages of a document (by id) in reading order ([] for an unknown one)."""
        with self._lock:
            kw = self._index.keyword
            try:
                slots = np.flatnonzero(kw.document_mask([document]))
            except InputError:
                return []
            found = [kw.passages[int(s)] for s in slots]
        return sorted((p for p in found if p is not None), key=_place)

    def hits_for(self, passages: Sequence[Passage], question: str, qvec: np.ndarray) -> list[Hit]:
        """Return the given indexed passages as hits for the question (similarities and keyword score), in the order given."""
        with self._lock:
            index = self._index
            kw = index.keyword
            slots = np.array([kw.by_id[p.passage_id] for p in passages if p.passage_id in kw.by_id], dtype=np.int64)
            if not len(slots):
                return []
            sims, offsets = index.dense.slot_sentence_sims(slots, qvec)
            dense = index.dense.passage_sims(slots, sims, offsets, qvec)
            keyword = kw.scores(question)[slots]
            weights = kw.term_weights(question)
        out = []
        for j, slot in enumerate(slots):
            passage = kw.passages[int(slot)]
            if passage is not None:
                sentence = tuple(float(x) for x in sims[offsets[j] : offsets[j + 1]])
                out.append(
                    Hit(passage, score=0.0, dense=float(dense[j]), keyword=float(keyword[j]), sentence_sims=sentence, term_weights=weights)
                )
        return out

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
        s_sims, offsets = dense.slot_sentence_sims(slots, qvec)
        p_sims = dense.passage_sims(slots, s_sims, offsets, qvec)
        return slots[_top(p_sims, c)], np.repeat(slots, dense.count[slots])[_top(s_sims, c)]

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
        sims, offsets = dense.slot_sentence_sims(slots, qvec)
        best = np.zeros(len(slots), dtype=np.float32)
        has = counts > 0
        if has.any():
            best[has] = np.maximum.reduceat(sims, offsets[:-1][has])
        return _Pool(
            slots=slots,
            dense=dense.passage_sims(slots, sims, offsets, qvec),
            sentence=best,
            keyword=kw_all[slots].astype(np.float32),
            sentence_sims=sims.astype(np.float32),
            sentence_start=offsets,
        )

    def check_store(self) -> None:
        """Notice a change of the store by any process; when another process changed it, rebuild in the background.

        With a probe, the corpus version (one store read) is read only when the probe moved since the
        index was last found in step: no write since then, no change to notice.
        """
        index = self._index
        mark = self.probe() if self.probe is not None else None
        step = self._in_step
        if mark is not None and step is not None and step[0] == mark and step[1] is index and step[2] == index.version:
            return
        # The probe is read before the version: a write between the two moves it, and the next question reads again.
        version = self.store.version()
        if version == index.version:
            self._mismatch_since = None
            self._in_step = None if mark is None else (mark, index, version)
            return
        self._in_step = None
        if index.keyword.size == 0 and self._pending is None:
            self.refresh()  # nothing to answer from meanwhile
            return
        now = time.monotonic()
        # This process's own write (PassageStore.add/delete) reaches the index by apply_change a moment later:
        # only a version that stays behind for a while needs a rebuild. Another process's version needs one now.
        if version == self.store.last_written_version:
            self._mismatch_since = self._mismatch_since or now
            if now - self._mismatch_since < self.settings.stale_after_s:
                return
        self._mismatch_since = None
        if self._refreshing is None or not self._refreshing.is_alive():
            log.info("another process changed the store (corpus version %s); rebuilding the index in the background", version[:8])
        self.refresh_in_background()

    def retrieve(
        self, question: str, top_k: int | None = None, qvec: np.ndarray | None = None, *, documents: Collection[str] | None = None
    ) -> list[Hit]:
        """Return the top-k passages for the question, best first (only from ``documents``, by id, when given)."""
        k = top_k or self.settings.top_k
        # Notices a `qa ingest` run by another process (microseconds with a probe, one store read without).
        self.check_store()
        index = self._index
        if index.keyword.size == 0:
            if documents:
                index.keyword.document_mask(documents)  # raises: no document is known yet
            return []
        if qvec is None:
            qvec = self.embed_query(question)
        c = self.settings.candidates
        exact = index.dense.exact and index.dense.sentences.n <= self.settings.exact_max_sentences
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
