from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa.config import load_settings
from qa.errors import InputError
from qa.evaluate.command import EvalOptions, evaluate, parse_floors
from qa.evaluate.datasets import load_corpus, load_questions
from qa.evaluate.report import format_table, plot_recall
from qa.evaluate.run import Outcome, summarize
from qa.testing import HashEmbedder

ROOT = Path(__file__).resolve().parents[2]


def outcome(kind: str, **kw: Any) -> Outcome:
    base: dict[str, Any] = dict(qid="q", kind=kind, question="?", standalone_question="?", answer="a", refused=False,
                                gold_rank=None, answer_rank=None, answer_correct=None, citations=0, citations_ok=0,
                                timings_ms={"total": 10.0})
    base.update(kw)
    return Outcome(**base)


def test_summary_metrics() -> None:
    outs = [
        outcome("answerable", gold_rank=1, answer_rank=1, answer_correct=True, citations=1, citations_ok=1),
        outcome("answerable", gold_rank=3, answer_rank=2, answer_correct=False, citations=2, citations_ok=1),
        outcome("answerable", refused=True, answer_correct=False),
        outcome("unanswerable", refused=True),
        outcome("unanswerable", refused=False),
    ]
    m = summarize(outs)
    assert (m["recall@1"], m["recall@5"]) == (pytest.approx(1 / 3, abs=1e-4), pytest.approx(2 / 3, abs=1e-4))
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-4)
    assert m["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["citation_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert (m["refusal_rate"], m["false_refusal_rate"]) == (0.5, pytest.approx(1 / 3, abs=1e-4))
    assert m["latency_ms"]["total"] == {"p50": 10.0, "p95": 10.0}


@pytest.mark.parametrize("items, ok", [(["recall@1=0.8"], True), (["recall@1"], False), (["recall@1=high"], False)])
def test_parse_floors(items: list[str], ok: bool) -> None:
    if ok:
        assert parse_floors(items) == {"recall@1": 0.8}
    else:
        with pytest.raises(InputError, match="METRIC=NUMBER"):
            parse_floors(items)


@pytest.fixture
def squad_like(tmp_path: Path) -> Path:
    corpus = [
        {"doc_id": "Rivers", "title": "Rivers", "paragraph_id": "Rivers#0", "text": "The Danube flows through Vienna. It is long."},
        {"doc_id": "Rivers", "title": "Rivers", "paragraph_id": "Rivers#1", "text": "The Seine flows through Paris."},
        {"doc_id": "Fruit", "title": "Fruit", "paragraph_id": "Fruit#0", "text": "Bananas are yellow and grow in warm places."},
    ]
    questions = [
        {"qid": "1", "question": "Which river flows through Vienna?", "answers": ["Danube"], "gold_paragraph_ids": ["Rivers#0"], "doc_id": "Rivers"},
        {"qid": "2", "question": "What colour are bananas?", "answers": ["yellow"], "gold_paragraph_ids": ["Fruit#0"], "doc_id": "Fruit"},
        {"qid": "3", "question": "Who wrote Hamlet?", "answers": [], "gold_paragraph_ids": [], "doc_id": "Fruit"},
    ]
    split = [{"doc_id": "Rivers", "split": "dev"}, {"doc_id": "Fruit", "split": "dev"}]
    for name, rows in (("toy.corpus.jsonl", corpus), ("toy.questions.jsonl", questions), ("toy.split.jsonl", split)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "toy.questions.jsonl"


def test_corpus_maps_passages_back_to_paragraph_ids(squad_like: Path) -> None:
    corpus = load_corpus(squad_like.with_name("toy.corpus.jsonl"))
    assert corpus.paragraph_ids[("Rivers", "The Seine flows through Paris.")] == "Rivers#1"
    assert corpus.splits == {"Rivers": "dev", "Fruit": "dev"}
    assert len(load_questions(squad_like, split="holdout", limit=None, splits=corpus.splits)) == 0
    assert [q.kind for q in load_questions(squad_like, split="dev", limit=None, splits=corpus.splits)] == [
        "answerable", "answerable", "unanswerable"]


def test_evaluate_end_to_end_on_fakes(squad_like: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qa.runtime.open_embedder", lambda settings, client=None: HashEmbedder())
    settings = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(tmp_path / "data")})
    opts = EvalOptions(questions=squad_like, failures=tmp_path / "f.jsonl", plot=tmp_path / "p.png",
                       floors={"recall@1": 0.5, "refusal_rate": 1.1}, ceilings={"false_refusal_rate": 2.0, "recall@1": 0.5},
                       progress=False)
    result = evaluate(settings, opts)
    assert result["overall"]["recall@1"] == 1.0
    assert result["overall"]["answerable"] == 2
    assert result["below_floor"] == {"refusal_rate": result["overall"]["refusal_rate"]}
    assert result["above_ceiling"] == {"recall@1": 1.0}
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert "gold-passage recall@1" in format_table(result)
    again = evaluate(settings, opts)
    assert again["overall"] == {**result["overall"], "latency_ms": again["overall"]["latency_ms"]}


def test_plot_includes_baseline(tmp_path: Path) -> None:
    curve = {k: k / 10 for k in range(1, 11)}
    result = {"questions_file": "x.jsonl", "recall@k": curve, "answer_recall@k": curve, "baseline": {"answer_recall@k": curve}}
    plot_recall(result, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
