from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa import retrieve
from qa.config import Settings
from qa.ingest.pipeline import ingest
from qa.retrieve import HybridRetriever, _rrf, _zscore
from qa.runtime import open_store
from qa.testing import HashEmbedder

DOCS = {
    "rivers.txt": "The Danube flows through Vienna and Budapest.\nThe Seine flows through Paris.\n",
    "fruit.txt": "Bananas are yellow and grow in warm places.\nApples grow in orchards in cool climates.\n",
}


@pytest.fixture
def retriever(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> HybridRetriever:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    emb = HashEmbedder()
    store = open_store(settings, emb, ephemeral_client, create=True)
    ingest([docs], store, emb, max_file_bytes=10_000, progress=False)
    return HybridRetriever(store, emb, settings.retrieve)


def test_zscore_and_rrf() -> None:
    assert np.allclose(_zscore(np.array([1.0, 2.0, 3.0])), [-1.2247, 0.0, 1.2247], atol=1e-4)
    assert np.allclose(_zscore(np.array([2.0, 2.0])), [0.0, 0.0])
    assert _rrf(np.array([0.1, 0.9]), 60).tolist() == [1 / 62, 1 / 61]


@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
def test_best_passage_first_and_scores_descend(retriever: HybridRetriever, fusion: str) -> None:
    retriever.settings = retriever.settings.model_copy(update={"fusion": fusion})
    hits = retriever.retrieve("Which river flows through Paris?", top_k=3)
    assert hits[0].passage.text == "The Seine flows through Paris."
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(hits[0].sentence_sims) == len(hits[0].passage.sentences)
    assert dict(hits[0].term_weights).keys() == {"river", "flows", "throug", "paris"}


def test_terms_the_corpus_lacks_weigh_most(retriever: HybridRetriever) -> None:
    weights = dict(retriever.retrieve("paris weather", top_k=1)[0].term_weights)
    assert weights["weathe"] > weights["paris"]


def test_keyword_index_is_built_once_not_per_query(retriever: HybridRetriever, monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    real = retrieve.KeywordIndex.__init__

    def counting(self: Any, passages: Any) -> None:
        built.append(len(passages))
        real(self, passages)

    monkeypatch.setattr(retrieve.KeywordIndex, "__init__", counting)
    for q in ("bananas", "apples", "Vienna"):
        retriever.retrieve(q)
    assert built == []
    retriever.refresh()
    assert built == [4]


def test_get_and_count(retriever: HybridRetriever) -> None:
    assert retriever.passage_count == 4
    some = retriever.retrieve("bananas", top_k=1)[0].passage
    assert retriever.get(some.passage_id) == some
    assert retriever.get("nope") is None


def test_following_is_the_next_paragraph_of_the_same_document(retriever: HybridRetriever) -> None:
    danube = retriever.retrieve("Danube Vienna", top_k=1)[0].passage
    seine = retriever.following(danube.passage_id)
    assert seine is not None and seine.text == "The Seine flows through Paris." and seine.source == danube.source
    assert retriever.following(seine.passage_id) is None  # the document's last paragraph
    assert retriever.following("nope") is None


def test_opening_is_a_documents_first_paragraph_or_none_when_several_could_be_meant(retriever: HybridRetriever) -> None:
    from qa.store import document_key

    assert retriever.opening(document_key("fruit.txt")).text == "Bananas are yellow and grow in warm places."  # type: ignore[union-attr]
    assert retriever.opening(document_key("gone.txt")) is None
    assert retriever.opening() is None  # two documents: which one?
    fruit = [h.passage.passage_id for h in retriever.retrieve("bananas apples", top_k=4) if h.passage.source == "fruit.txt"]
    retriever.apply_change([], fruit)
    assert retriever.opening().source == "rivers.txt"  # type: ignore[union-attr]


def test_hits_for_scores_given_passages_as_retrieval_would(retriever: HybridRetriever) -> None:
    question = "Which river flows through Paris?"
    qvec = retriever.embed_query(question)
    retrieved = {h.passage.passage_id: h for h in retriever.retrieve(question, top_k=4, qvec=qvec)}
    apples = next(h.passage for h in retrieved.values() if h.passage.text.startswith("Apples"))
    seine = next(h.passage for h in retrieved.values() if h.passage.text.startswith("The Seine"))
    given = retriever.hits_for([apples, seine], question, qvec)
    assert [h.passage for h in given] == [apples, seine]  # in the order given
    for h in given:
        same = retrieved[h.passage.passage_id]
        assert h.sentence_sims == pytest.approx(same.sentence_sims)
        assert (h.dense, h.keyword, h.term_weights) == (pytest.approx(same.dense), pytest.approx(same.keyword), same.term_weights)


def test_an_ingest_after_start_is_picked_up_without_a_restart(
    retriever: HybridRetriever, settings: Settings, ephemeral_client: Any, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    (docs / "fruit.txt").unlink()
    (docs / "stars.txt").write_text("Sirius is the brightest star in the night sky.\n")
    emb = HashEmbedder()
    ingest([docs], open_store(settings, emb, ephemeral_client), emb, max_file_bytes=10_000, progress=False)
    retriever.settings = retriever.settings.model_copy(update={"stale_after_s": 0.0})
    retriever.retrieve("anything")  # notices the change and rebuilds off the request path
    retriever.wait_for_refresh(timeout=30)
    hits = retriever.retrieve("Which is the brightest star in the night sky?", top_k=5)
    assert hits[0].passage.text == "Sirius is the brightest star in the night sky."
    assert not any("Bananas" in h.passage.text for h in retriever.retrieve("Which fruit is yellow?", top_k=5))
    assert retriever.passage_count == 3


def _same_hits(a: list[Any], b: list[Any]) -> None:
    assert [h.passage.passage_id for h in a] == [h.passage.passage_id for h in b]
    assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-5)
    assert [np.round(h.sentence_sims, 5).tolist() for h in a] == [np.round(h.sentence_sims, 5).tolist() for h in b]


def test_apply_change_updates_the_index_in_place_as_a_full_rebuild_would(
    retriever: HybridRetriever, settings: Settings
) -> None:
    from qa.ingest.split import split_document, with_sentences
    from qa.types import Document

    store, emb = retriever.store, retriever.embedder
    new = [with_sentences(p) for p in split_document(Document("stars.txt", "Sirius is the brightest star in the night sky.\nVega is bright too."), sentences=False)]
    store.add(new, [emb.embed([p.text[s:e] for s, e in p.sentences]) for p in new])
    gone = [h.passage.passage_id for h in retriever.retrieve("bananas yellow", top_k=1)]
    store.delete(gone)
    retriever.apply_change(new, gone)
    assert retriever.passage_count == 5
    assert retriever.retrieve("Which is the brightest star?", top_k=1)[0].passage.text.startswith("Sirius")
    assert retriever.get(gone[0]) is None
    fresh = HybridRetriever(store, emb, settings.retrieve)
    for q in ("brightest star", "Which river flows through Paris?", "bananas", "apples in orchards"):
        _same_hits(retriever.retrieve(q, top_k=5), fresh.retrieve(q, top_k=5))


def test_exact_and_store_ranked_candidates_agree(retriever: HybridRetriever) -> None:
    exact = [retriever.retrieve(q, top_k=4) for q in ("river Paris", "yellow fruit", "Budapest")]
    retriever.settings = retriever.settings.model_copy(update={"exact_max_sentences": 0})
    via_store = [retriever.retrieve(q, top_k=4) for q in ("river Paris", "yellow fruit", "Budapest")]
    for a, b in zip(exact, via_store, strict=True):
        _same_hits(a, b)


def test_apply_change_refuses_passages_the_store_lacks(retriever: HybridRetriever) -> None:
    from qa.types import Passage

    with pytest.raises(ValueError, match="not in the store"):
        retriever.apply_change([Passage("nope", "x.txt", 1, "text", sentences=((0, 4),))], [])


def test_a_change_applied_during_a_rebuild_is_kept(retriever: HybridRetriever, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.ingest.split import split_document, with_sentences
    from qa.types import Document

    store, emb = retriever.store, retriever.embedder
    new = [with_sentences(p) for p in split_document(Document("stars.txt", "Sirius is the brightest star in the night sky."), sentences=False)]
    real_build = retriever._build

    def build_then_change_lands() -> Any:
        index = real_build()  # the snapshot is taken before the change reaches the store
        store.add(new, [emb.embed([p.text[s:e] for s, e in p.sentences]) for p in new])
        retriever.apply_change(new, [])
        return index

    monkeypatch.setattr(retriever, "_build", build_then_change_lands)
    retriever.refresh()
    assert retriever.passage_count == 5
    assert retriever.retrieve("brightest star", top_k=1)[0].passage.text.startswith("Sirius")


def test_a_document_filter_restricts_hits_to_those_documents(retriever: HybridRetriever) -> None:
    from qa.store import document_key

    question = "Which river flows through Paris?"
    assert retriever.retrieve(question, top_k=1)[0].passage.source == "rivers.txt"
    fruit = document_key("fruit.txt")
    for exact_max in (retriever.settings.exact_max_sentences, 0):  # in-memory ranking and Chroma's HNSW alike
        retriever.settings = retriever.settings.model_copy(update={"exact_max_sentences": exact_max})
        hits = retriever.retrieve(question, top_k=4, documents=[fruit])
        assert hits and {h.passage.source for h in hits} == {"fruit.txt"}
        both = retriever.retrieve(question, top_k=4, documents=[fruit, document_key("rivers.txt")])
        assert both[0].passage.text == "The Seine flows through Paris."


def test_a_filter_naming_every_document_ranks_as_no_filter(retriever: HybridRetriever) -> None:
    from qa.store import document_key

    every = [document_key(name) for name in DOCS]
    for q in ("river Paris", "yellow fruit", "Budapest", "orchards"):
        _same_hits(retriever.retrieve(q, top_k=4), retriever.retrieve(q, top_k=4, documents=every))


def test_an_unknown_or_deleted_document_id_is_an_error_naming_it(retriever: HybridRetriever) -> None:
    from qa.errors import InputError
    from qa.store import document_key

    with pytest.raises(InputError, match="'nope'"):
        retriever.retrieve("bananas", documents=[document_key("fruit.txt"), "nope"])
    fruit = [h.passage.passage_id for h in retriever.retrieve("bananas apples", top_k=4) if h.passage.source == "fruit.txt"]
    assert len(fruit) == 2
    retriever.store.delete(fruit)
    retriever.apply_change([], fruit)
    with pytest.raises(InputError, match=document_key("fruit.txt")):
        retriever.retrieve("bananas", documents=[document_key("fruit.txt")])


def test_a_compact_index_past_the_exact_limit_ranks_as_the_exact_one(retriever: HybridRetriever, settings: Settings) -> None:
    compact = HybridRetriever(retriever.store, retriever.embedder, settings.retrieve.model_copy(update={"exact_max_sentences": 0}))
    assert compact._index.dense.compact and compact._index.dense.sentences.dtype == np.int8
    assert compact._index.dense.passages.n == 0  # no passage vectors held
    assert not retriever._index.dense.compact
    for q in ("Which river flows through Paris?", "yellow fruit", "Budapest", "orchards"):
        a, b = retriever.retrieve(q, top_k=4), compact.retrieve(q, top_k=4)
        assert [h.passage.passage_id for h in a] == [h.passage.passage_id for h in b]
        # int8 with a scale per row, and passage similarity from the sentences': each within about 1e-2 of float32's.
        assert np.allclose([h.dense for h in a], [h.dense for h in b], atol=1e-2)
        for x, y in zip(a, b, strict=True):
            assert np.allclose(x.sentence_sims, y.sentence_sims, atol=1e-2)


def test_apply_change_on_a_compact_index_matches_a_compact_rebuild(retriever: HybridRetriever, settings: Settings) -> None:
    from qa.ingest.split import split_document, with_sentences
    from qa.types import Document

    compact_settings = settings.retrieve.model_copy(update={"exact_max_sentences": 0})
    compact = HybridRetriever(retriever.store, retriever.embedder, compact_settings)
    store, emb = retriever.store, retriever.embedder
    new = [with_sentences(p) for p in split_document(Document("stars.txt", "Sirius is the brightest star. Vega is bright too."), sentences=False)]
    store.add(new, [emb.embed([p.text[s:e] for s, e in p.sentences]) for p in new])
    compact.apply_change(new, [])
    fresh = HybridRetriever(store, emb, compact_settings)
    for q in ("brightest star", "Which river flows through Paris?", "bananas"):
        _same_hits(compact.retrieve(q, top_k=5), fresh.retrieve(q, top_k=5))


def test_another_processs_write_is_rebuilt_at_once_and_our_own_waits_for_apply_change(
    retriever: HybridRetriever, settings: Settings, ephemeral_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.ingest.split import split_document, with_sentences
    from qa.types import Document

    retriever.settings = retriever.settings.model_copy(update={"stale_after_s": 60.0})
    rebuilds: list[int] = []
    real = retriever.refresh_in_background
    monkeypatch.setattr(retriever, "refresh_in_background", lambda: (rebuilds.append(1), real())[1])
    emb = retriever.embedder
    ours = [with_sentences(p) for p in split_document(Document("ours.txt", "Quokkas live on Rottnest Island."), sentences=False)]
    retriever.store.add(ours, [emb.embed([p.text[s:e] for s, e in p.sentences]) for p in ours])
    retriever.retrieve("quokkas")  # our own write: apply_change is on its way, the index waits for it
    assert rebuilds == []
    retriever.apply_change(ours, [])
    assert retriever._index.version == retriever.store.version()
    other = open_store(settings, emb, ephemeral_client)  # another writer: its version is not this store's own
    theirs = [with_sentences(p) for p in split_document(Document("theirs.txt", "Wombats dig long burrows."), sentences=False)]
    other.add(theirs, [emb.embed([p.text[s:e] for s, e in p.sentences]) for p in theirs])
    retriever.retrieve("wombats")
    assert rebuilds == [1]
    retriever.wait_for_refresh(timeout=30)
    assert retriever.retrieve("Which animal digs burrows?", top_k=1)[0].passage.source == "theirs.txt"
    assert retriever._index.version == other.version()
