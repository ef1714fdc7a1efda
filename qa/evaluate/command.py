"""`qa eval`: wire datasets, the chain, the baseline and the report together."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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
    out_of_document: bool = False


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
    from qa.evaluate.conversation import is_dialog_file
    from qa.ingest.pipeline import ingest_documents
    from qa.runtime import build_runtime, open_client, open_embedder, open_store

    if opts.out_of_document:
        return _guarded(evaluate_out_of_document(settings, opts), opts)
    if is_dialog_file(opts.questions):
        return _guarded(evaluate_conversations(settings, opts), opts)
    corpus_path = opts.corpus or default_corpus(opts.questions)
    client = open_client(settings)
    embedder = open_embedder(settings, client)
    corpus: Corpus | None = None
    documents: list[Document]
    if corpus_path is not None:
        corpus = load_corpus(corpus_path)
        # Its own collection, named by content hash: never mixed into the user's, never embedded twice.
        collection = eval_collection(corpus.digest, embedder)
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
    return _guarded(result, opts)


def _guarded(result: dict[str, Any], opts: EvalOptions) -> dict[str, Any]:
    overall = result["overall"]
    result["below_floor"] = {k: overall.get(k) for k, v in (opts.floors or {}).items() if overall.get(k) is None or overall[k] < v}
    result["above_ceiling"] = {k: overall.get(k) for k, v in (opts.ceilings or {}).items() if overall.get(k) is None or overall[k] > v}
    return result


def eval_collection(digest: str, embedder: Any) -> str:
    """Return the name of an eval corpus's own collection: by content hash, and by quantisation (fp32 keeps the plain name)."""
    return quantized_collection(f"eval-{digest}", embedder)


def quantized_collection(name: str, embedder: Any) -> str:
    """Return the collection ``name`` for the embedder's vectors: ``name`` for fp32, ``name-<quantisation>`` otherwise."""
    quantize = getattr(embedder, "quantize", "none")
    return name if quantize == "none" else f"{name}-{quantize}"


def _eval_store(settings: Settings, documents: list[Document], digest: str, embedder: Any, client: Any, progress: bool) -> Settings:
    """Ingest documents into their own collection named by content hash; return the settings that open it."""
    from qa.ingest.pipeline import ingest_documents
    from qa.runtime import open_store

    collection = eval_collection(digest, embedder)
    settings = settings.model_copy(update={"store": settings.store.model_copy(update={"collection": collection})})
    store = open_store(settings, embedder, client, create=True)
    report = ingest_documents(documents, store, embedder, progress=progress)
    log.info("eval collection %s: %s", collection, report.summary())
    return settings


def evaluate_conversations(settings: Settings, opts: EvalOptions) -> dict[str, Any]:
    """Ask every dialog turn with and without its history (or score rewrites, for a file without documents)."""
    from qa.answer.condense import rewrite_turn
    from qa.evaluate.conversation import load_turns, run_dialogs, run_rewrites, titled_documents
    from qa.evaluate.datasets import _read_jsonl
    from qa.runtime import build_runtime, open_client, open_embedder

    turns = load_turns(opts.questions)
    if opts.limit is not None:
        keep = {t.dialog for t in turns[: opts.limit]}
        turns = [t for t in turns if t.dialog in keep]
    corpus_path = opts.corpus or default_corpus(opts.questions)
    if corpus_path is None:
        rewrites = run_rewrites(lambda t: rewrite_turn(t.question, t.history, topic=t.topic.split(":")[0]), turns)
        return {"kind": "rewrites", "questions_file": str(opts.questions), "overall": rewrites}
    rows = _read_jsonl(corpus_path)
    documents = titled_documents(rows)
    digest = hashlib.sha256(corpus_path.read_bytes() + b"titled").hexdigest()[:12]
    client = open_client(settings)
    embedder = open_embedder(settings, client)
    settings = _eval_store(settings, documents, digest, embedder, client, opts.progress)
    runtime = build_runtime(settings, embedder=embedder, client=client)
    report = run_dialogs(runtime.chain.ask, turns, progress=opts.progress)
    results = report.pop("results")
    overall = dict(report["with_history"])
    overall.update({f"no_history_{k}": v for k, v in report["without_history"].items() if k not in ("turns", "answerable", "unanswerable")})
    overall.update({f"switch_{k}": v for k, v in report["topic_switch"].items()})
    if opts.failures is not None:
        opts.failures.parent.mkdir(parents=True, exist_ok=True)
        with opts.failures.open("w", encoding="utf-8") as fh:
            for r in results:
                if not r.right:
                    fh.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    return {"kind": "conversation", "questions_file": str(opts.questions), "corpus": str(corpus_path), **report, "overall": overall}


@dataclass(frozen=True)
class OutOfDocument:
    """The out-of-document set: the indexed half's articles, its documents and the mixed questions."""

    indexed: frozenset[str]
    documents: list[Document]
    questions: list[Question]
    digest: str  # names the eval collection of the indexed half


def out_of_document_set(opts: EvalOptions) -> OutOfDocument:
    """Return every other article of the split as indexed, and questions of both halves mixed (seed 0)."""
    import random

    corpus_path = opts.corpus or default_corpus(opts.questions)
    if corpus_path is None:
        raise InputError("--out-of-document needs a SQuAD-style corpus beside the questions (or --corpus)")
    corpus = load_corpus(corpus_path)
    questions = load_questions(opts.questions, split=opts.split, limit=None, splits=corpus.splits)
    articles = sorted({q.doc_id for q in questions})
    indexed = set(articles[::2])
    documents = [d for d in corpus.documents if d.source in indexed]
    n = (opts.limit or 600) // 2
    inside = [q for q in questions if q.doc_id in indexed]
    outside = [q for q in questions if q.doc_id not in indexed]
    rng = random.Random(0)
    inside, outside = rng.sample(inside, min(n, len(inside))), rng.sample(outside, min(n, len(outside)))
    mixed = inside + outside
    rng.shuffle(mixed)
    digest = hashlib.sha256(("\n".join(sorted(indexed)) + corpus.digest).encode()).hexdigest()[:12]
    return OutOfDocument(frozenset(indexed), documents, mixed, digest)


def evaluate_out_of_document(settings: Settings, opts: EvalOptions) -> dict[str, Any]:
    """Index half the articles of the split; ask questions of the other half (refuse) mixed with the indexed half's."""
    from qa.runtime import build_runtime, open_client, open_embedder

    ood = out_of_document_set(opts)
    indexed, mixed = ood.indexed, ood.questions
    client = open_client(settings)
    embedder = open_embedder(settings, client)
    settings = _eval_store(settings, ood.documents, ood.digest, embedder, client, opts.progress)
    runtime = build_runtime(settings, embedder=embedder, client=client)
    from tqdm import tqdm

    refused_out, refused_in, right_in = [], [], []
    named_out, named_in = [], []  # refusals that name what the documents do not mention
    for q in tqdm(mixed, desc="out-of-document", unit="q", disable=not opts.progress):
        a = runtime.chain.ask(q.question)
        named = a.refused and a.refusal_reason is not None
        if q.doc_id in indexed:
            refused_in.append(a.refused)
            named_in.append(named)
            right_in.append(not a.refused and contains_any(a.answer, q.answers))
        else:
            refused_out.append(a.refused)
            named_out.append(named)
    overall = {
        "indexed_articles": len(indexed),
        "outside_questions": len(refused_out),
        "inside_questions": len(refused_in),
        "out_of_document_refused": round(sum(refused_out) / max(1, len(refused_out)), 4),
        "false_refusals": round(sum(refused_in) / max(1, len(refused_in)), 4),
        "inside_answer_accuracy": round(sum(right_in) / max(1, len(right_in)), 4),
        "out_of_document_refused_naming": round(sum(named_out) / max(1, len(named_out)), 4),
        "false_refusals_naming": round(sum(named_in) / max(1, len(named_in)), 4),
    }
    return {"kind": "out_of_document", "questions_file": str(opts.questions), "split": opts.split, "overall": overall}


def _documents_from_store(passages: Sequence[Passage]) -> list[Document]:
    by_source: dict[str, list[str]] = {}
    for p in passages:
        by_source.setdefault(p.source, []).append(p.text)
    return [Document(s, "\n\n".join(texts)) for s, texts in by_source.items()]
