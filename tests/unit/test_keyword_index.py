"""The incremental keyword index scores exactly as a full rebuild, and as bm25s did."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest

from qa.retrieve import KeywordIndex
from qa.terms import tokenize
from qa.types import Passage

WORDS = "river city bridge music paris vienna danube seine tower museum king queen war peace bank trade ship coal steam".split()
QUESTIONS = ["Which river flows through Paris?", "king and queen of the city", "steam ship trade on the danube", "museum tower music"]


def _passages(n: int, seed: int) -> list[Passage]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25))) + "."
        out.append(Passage(passage_id=f"p{seed}-{i}", source=f"doc{i % 7}.txt", paragraph=i, text=text, heading=rng.choice(["", "Rivers"])))
    return out


def _by_id(index: KeywordIndex, question: str) -> dict[str, float]:
    scores = index.scores(question)
    return {pid: float(scores[slot]) for pid, slot in index.by_id.items()}


def test_scores_match_bm25s_on_a_fresh_corpus() -> None:
    passages = _passages(60, seed=1)
    index = KeywordIndex(passages)
    reference = bm25s.BM25()
    reference.index(tokenize([p.heading + "\n" + p.text for p in passages]), show_progress=False)
    for q in QUESTIONS:
        known = [t for t in tokenize([q])[0] if t in reference.vocab_dict]
        assert np.allclose(index.scores(q), reference.get_scores(known), atol=1e-4)


@pytest.mark.parametrize(("merge_min", "recount_after"), [(100_000, 2_000), (0, 2_000), (150, 2_000), (150, 0)])
def test_adds_and_deletes_score_exactly_as_a_full_rebuild(merge_min: int, recount_after: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Recent postings kept in lists, merged into the arrays on every add, or now and then; document
    # frequencies decremented per deleted passage, or recounted from the postings.
    monkeypatch.setattr(KeywordIndex, "MERGE_MIN", merge_min)
    monkeypatch.setattr(KeywordIndex, "MERGE_SHARE", 0.0 if merge_min == 0 else 0.125)
    monkeypatch.setattr(KeywordIndex, "RECOUNT_AFTER", recount_after)
    monkeypatch.setattr(KeywordIndex, "CHUNK", 7)  # passages tokenized a few at a time
    rng = random.Random(7)
    first, later = _passages(80, seed=2), _passages(40, seed=3)
    index = KeywordIndex(first)
    live = {p.passage_id: p for p in first}
    for step in range(6):
        gone = rng.sample(sorted(live), 9)
        index.delete(gone)
        for pid in gone:
            live.pop(pid)
        batch = later[step * 6 : step * 6 + 6]
        index.add(batch)
        live.update((p.passage_id, p) for p in batch)
        rebuilt = KeywordIndex(list(live.values()))
        assert index.size == rebuilt.size == len(live)
        assert index.dead == 9 * (step + 1)
        for q in QUESTIONS:
            got, want = _by_id(index, q), _by_id(rebuilt, q)
            assert got.keys() == want.keys()
            assert max(abs(got[k] - want[k]) for k in want) < 1e-5, q
            assert dict(index.term_weights(q)) == pytest.approx(dict(rebuilt.term_weights(q)))
        assert float(index.scores(QUESTIONS[0])[~index.live_mask].max(initial=0.0)) == 0.0


def test_re_adding_a_passage_replaces_it() -> None:
    passages = _passages(10, seed=4)
    index = KeywordIndex(passages)
    changed = Passage(passage_id=passages[0].passage_id, source="doc0.txt", paragraph=0, text="seine bridge seine")
    index.add([changed])
    assert index.size == 10 and index.dead == 1
    assert index.passages[index.by_id[changed.passage_id]] == changed
    assert np.isclose(_by_id(index, "seine")[changed.passage_id], _by_id(KeywordIndex([changed, *passages[1:]]), "seine")[changed.passage_id])
