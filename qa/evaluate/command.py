"""`qa eval`: wire datasets, the chain, the baseline and the report together."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import InputError
from qa.evaluate.datasets import Corpus, Question, default_corpus, load_corpus, load_questions
from qa.evaluate.run import RANK_DEPTH, Outcome, by_kind, contains_any, failures, run_questions, summarize
from qa.types import Document, Passage

log = logging.getLogger(__name__)


@dataclass
class EvalOptions:
    """What `qa eval` was asked to do."""

    questions: Path
    corpus: Path | None = None
    split: str = "dev"
    limit: int | None = None
    baseline: bool = False
    plot: Path | None = None
    failures: Path | None = None
    floors: dict[str, float] | None = None
    ceilings: dict[str, float] | None = None
    progress: bool = True


def parse_floors(items: Sequence[str]) -> dict[str, float]:
    """Return {metric: minimum} from KEY=VALUE strings."""
    floors = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            floors[key] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(f"--min takes METRIC=NUMBER, got {item!r}")
    return floors


def _curve(outcomes: Sequence[Outcome], attr: str) -> dict[int, float]:
    answerable = [o for o in outcomes if o.kind != "unanswerable"]
    n = len(answerable) or 1
    return {
        k: round(sum(1 for o in answerable if (r := getattr(o, attr)) is not None and r <= k) / n, 4)
        for k in range(1, RANK_DEPTH + 1)
    }


def evaluate(settings: Settings, opts: EvalOptions) -> dict[str, Any]:
    """Run the evaluation and return the full report."""
    from qa.ingest.pipeline import ingest_documents
    from qa.runtime import build_runtime, open_client, open_embedder, open_store

    corpus_path = opts.corpus or default_corpus(opts.questions)
    embedder = open_embedder(settings)
    client = open_client(settings)
    corpus: Corpus | None = None
    documents: list[Document]
    if corpus_path is not None:
        corpus = load_corpus(corpus_path)
        # Its own collection, named by content hash: never mixed into the user's, never embedded twice.
        collection = f"eval-{corpus.digest}"
        settings = settings.model_copy(update={"store": settings.store.model_copy(update={"collection": collection})})
        store = open_store(settings, embedder, client, create=True)
        report = ingest_documents(corpus.documents, store, embedder, progress=opts.progress)
        log.info("eval corpus %s: %s", corpus_path.name, report.summary())
        documents = corpus.documents
    else:
        documents = []
    questions = load_questions(opts.questions, split=opts.split, limit=opts.limit, splits=corpus.splits if corpus else {})
    if not questions:
        raise InputError(f"no questions in {opts.questions} for split '{opts.split}'")
    runtime = build_runtime(settings, embedder=embedder, client=client)
    if corpus is None:
        documents = _documents_from_store(runtime.store.all_passages())

    def is_gold(q: Question, p: Passage) -> bool:
        if q.gold_paragraph_ids and corpus is not None:
            return corpus.paragraph_ids.get((p.source, p.text)) in q.gold_paragraph_ids
        return contains_any(p.text, q.gold_passage_contains)

    outcomes = run_questions(runtime.chain, questions, is_gold, top_k=settings.retrieve.top_k, progress=opts.progress)
    result: dict[str, Any] = {
        "questions_file": str(opts.questions),
        "corpus": str(corpus_path) if corpus_path else "store:" + settings.store.collection,
        "split": opts.split,
        "overall": summarize(outcomes),
        "by_kind": by_kind(outcomes),
        "recall@k": _curve(outcomes, "gold_rank"),
        "answer_recall@k": _curve(outcomes, "answer_rank"),
    }
    if opts.baseline:
        from qa.evaluate.baseline import run_baseline

        result["baseline"] = run_baseline(documents, embedder, questions, progress=opts.progress)
    if opts.failures is not None:
        opts.failures.parent.mkdir(parents=True, exist_ok=True)
        with opts.failures.open("w", encoding="utf-8") as fh:
            for row in failures(outcomes):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        result["failures_file"] = str(opts.failures)
    if opts.plot is not None:
        from qa.evaluate.report import plot_recall

        plot_recall(result, opts.plot)
        result["plot"] = str(opts.plot)
    overall = result["overall"]
    result["below_floor"] = {k: overall.get(k) for k, v in (opts.floors or {}).items() if overall.get(k) is None or overall[k] < v}
    result["above_ceiling"] = {k: overall.get(k) for k, v in (opts.ceilings or {}).items() if overall.get(k) is None or overall[k] > v}
    return result


def _documents_from_store(passages: Sequence[Passage]) -> list[Document]:
    by_source: dict[str, list[str]] = {}
    for p in passages:
        by_source.setdefault(p.source, []).append(p.text)
    return [Document(s, "\n\n".join(texts)) for s, texts in by_source.items()]
