from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.config import Settings
from qa.errors import InputError, StoreError
from qa.ingest.pipeline import ingest
from qa.runtime import build_runtime, open_store
from qa.store import PassageStore
from qa.testing import HashEmbedder

DOC = "Alpha paragraph about treaties. It was signed.\nBeta paragraph about bananas.\nGamma paragraph about rivers and lakes.\n"


class CountingEmbedder(HashEmbedder):
    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__()
        self.texts = 0
        self.calls = 0
        self.fail_after = fail_after

    def embed(self, texts: Any) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("killed half way")
        self.texts += len(texts)
        return super().embed(texts)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text(DOC)
    (d / "b.md").write_text("# Title\n\nDelta paragraph\nwrapped here.\n\nEpsilon paragraph.\n")
    return d


def _ingest(store: PassageStore, emb: HashEmbedder, corpus: Path, batch: int = 64) -> Any:
    return ingest([corpus], store, emb, max_file_bytes=10_000, batch_passages=batch, progress=False)


def test_first_ingest_stores_every_passage(settings: Settings, ephemeral_client: Any, corpus: Path) -> None:
    emb = CountingEmbedder()
    store = open_store(settings, emb, ephemeral_client, create=True)
    report = _ingest(store, emb, corpus)
    assert (report.documents, report.passages, report.added) == (2, 5, 5)
    assert store.count() == 5
    p = {x.text: x for x in store.all_passages()}["Delta paragraph\nwrapped here."]
    assert (p.source, p.paragraph, p.heading) == ("b.md", 1, "Title")


def test_unchanged_reingest_embeds_nothing_and_duplicates_nothing(settings: Settings, ephemeral_client: Any, corpus: Path) -> None:
    emb = CountingEmbedder()
    store = open_store(settings, emb, ephemeral_client, create=True)
    _ingest(store, emb, corpus)
    before = emb.texts
    report = _ingest(store, emb, corpus)
    assert emb.texts == before
    assert (report.added, report.unchanged, report.removed) == (0, 5, 0)
    assert store.count() == 5


def test_changed_and_deleted_files_lose_their_stale_passages(settings: Settings, ephemeral_client: Any, corpus: Path) -> None:
    emb = CountingEmbedder()
    store = open_store(settings, emb, ephemeral_client, create=True)
    _ingest(store, emb, corpus)
    (corpus / "a.txt").write_text(DOC.replace("bananas", "apples"))
    (corpus / "b.md").unlink()
    report = _ingest(store, emb, corpus)
    texts = {p.text for p in store.all_passages()}
    assert "Beta paragraph about apples." in texts and "Beta paragraph about bananas." not in texts
    assert not any("Delta" in t for t in texts)
    assert report.added == 1 and store.count() == 3


def test_ingest_killed_half_way_is_completed_by_the_next_run(settings: Settings, ephemeral_client: Any, corpus: Path) -> None:
    store = open_store(settings, HashEmbedder(), ephemeral_client, create=True)
    with pytest.raises(KeyboardInterrupt):
        _ingest(store, CountingEmbedder(fail_after=1), corpus, batch=2)
    assert 0 < store.count() < 5
    report = _ingest(store, CountingEmbedder(), corpus, batch=2)
    assert store.count() == 5 and report.added == 5 - report.unchanged
    passages = store.all_passages()
    vectors = store.sentence_vectors([p.passage_id for p in passages])
    assert all(len(vectors[p.passage_id]) == len(p.sentences) for p in passages), "every passage has all its sentence rows"


def test_store_refuses_another_model(settings: Settings, ephemeral_client: Any, corpus: Path) -> None:
    emb = HashEmbedder()
    _ingest(open_store(settings, emb, ephemeral_client, create=True), emb, corpus)
    with pytest.raises(StoreError, match="--rebuild"):
        open_store(settings, HashEmbedder(dim=32, name="other-model"), ephemeral_client)


def test_missing_store_says_to_ingest(settings: Settings, ephemeral_client: Any) -> None:
    with pytest.raises(StoreError, match="qa ingest"):
        open_store(settings, HashEmbedder(), ephemeral_client)


@pytest.mark.parametrize(
    "name, content, needle",
    [
        pytest.param("bin.txt", b"abc\x00def", "binary", id="binary"),
        pytest.param("latin.txt", "caf\xe9".encode("latin-1"), "UTF-8", id="not-utf8"),
    ],
)
def test_bad_files_fail_clearly_and_keep_the_store(
    settings: Settings, ephemeral_client: Any, corpus: Path, name: str, content: bytes, needle: str
) -> None:
    emb = HashEmbedder()
    store = open_store(settings, emb, ephemeral_client, create=True)
    _ingest(store, emb, corpus)
    (corpus / name).write_bytes(content)
    with pytest.raises(InputError, match=needle):
        _ingest(store, emb, corpus)
    assert store.count() == 5


def test_unsupported_files_are_skipped_with_their_name(settings: Settings, ephemeral_client: Any, corpus: Path) -> None:
    (corpus / "image.png").write_bytes(b"\x89PNG")
    emb = HashEmbedder()
    report = _ingest(open_store(settings, emb, ephemeral_client, create=True), emb, corpus)
    assert report.skipped == [("image.png", "unsupported file type")]


def test_empty_folder_is_an_error(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    emb = HashEmbedder()
    with pytest.raises(InputError, match="no documents"):
        _ingest(open_store(settings, emb, ephemeral_client, create=True), emb, tmp_path / "empty")


def test_chain_answers_with_citations_on_fakes(settings: Settings, ephemeral_client: Any, corpus: Path) -> None:
    emb = HashEmbedder()
    _ingest(open_store(settings, emb, ephemeral_client, create=True), emb, corpus)
    rt = build_runtime(settings, embedder=emb, client=ephemeral_client)
    answer = rt.chain.ask("Which paragraph is about rivers and lakes?")
    assert not answer.refused
    assert answer.citations[0].quote == "Gamma paragraph about rivers and lakes."
    assert answer.to_dict()["passages"][0]["text"] == "Gamma paragraph about rivers and lakes."
    for key in ("condense", "embed", "retrieve", "answer", "total"):
        assert key in answer.timings_ms


@pytest.mark.parametrize(
    "question, needle",
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   \n", "empty", id="whitespace"),
        pytest.param("x" * 2001, "2001 characters", id="too-long"),
    ],
)
def test_bad_questions_are_rejected(settings: Settings, ephemeral_client: Any, corpus: Path, question: str, needle: str) -> None:
    emb = HashEmbedder()
    _ingest(open_store(settings, emb, ephemeral_client, create=True), emb, corpus)
    rt = build_runtime(settings, embedder=emb, client=ephemeral_client)
    with pytest.raises(InputError, match=needle):
        rt.chain.ask(question)
