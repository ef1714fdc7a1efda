"""Run a question set through the answer chain and measure it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm import tqdm

from qa.answer.chain import AnswerChain
from qa.evaluate.datasets import Question
from qa.types import Hit, Passage

RANK_DEPTH = 10


@dataclass
class Outcome:
    """What happened to one question."""

    qid: str
    kind: str
    question: str
    standalone_question: str
    answer: str
    refused: bool
    gold_rank: int | None  # 1-based rank of the first gold passage in the top RANK_DEPTH, None if absent
    answer_rank: int | None  # 1-based rank of the first passage containing a gold answer string
    answer_correct: bool | None  # None for unanswerable questions
    citations: int
    citations_ok: int
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Return True when the question was answered wrongly, refused wrongly, or cited wrongly."""
        if self.kind == "unanswerable":
            return not self.refused
        return not self.answer_correct or self.citations_ok < self.citations


def contains_any(text: str, needles: Sequence[str]) -> bool:
    """Return True when the text contains one of the strings, case-insensitively."""
    low = text.lower()
    return any(n.lower() in low for n in needles)


def _first_rank(hits: Sequence[Hit], test: Callable[[Passage], bool]) -> int | None:
    for i, h in enumerate(hits[:RANK_DEPTH], 1):
        if test(h.passage):
            return i
    return None


def run_questions(
    chain: AnswerChain,
    questions: Sequence[Question],
    is_gold: Callable[[Question, Passage], bool],
    *,
    top_k: int,
    progress: bool = True,
) -> list[Outcome]:
    """Ask every question (follow-ups after their history) and return the outcomes."""
    outcomes = []
    for q in tqdm(questions, desc="eval", unit="q", disable=not progress):
        history: list[dict[str, str]] = []
        for earlier in q.history:
            prior = chain.ask(earlier, history)
            history += [{"role": "user", "content": earlier}, {"role": "assistant", "content": prior.answer}]
        # Retrieve deeper than top_k to measure rank, but answer from top_k exactly as the chain does.
        step = chain.prepare.invoke({"question": q.question, "history": history, "top_k": max(top_k, RANK_DEPTH)})
        hits: list[Hit] = list(step.hits)
        started = time.perf_counter()
        draft = chain.answer_hits(step, hits[:top_k])
        timings = dict(step.timings_ms)
        timings["answer"] = (time.perf_counter() - started) * 1000.0
        timings["total"] = sum(v for k, v in timings.items() if k != "total")
        answerable = q.kind != "unanswerable"
        ok = sum(1 for c in draft.citations if c.text[c.start : c.end] == c.quote and _cited_gold(q, c.passage_id, hits, is_gold))
        outcomes.append(
            Outcome(
                qid=q.qid,
                kind=q.kind,
                question=q.question,
                standalone_question=step.standalone,
                answer=draft.text,
                refused=draft.refused,
                gold_rank=_first_rank(hits, lambda p, q=q: is_gold(q, p)) if answerable else None,  # type: ignore[misc]
                answer_rank=_first_rank(hits, lambda p, q=q: contains_any(p.text, q.answers)) if answerable else None,  # type: ignore[misc]
                answer_correct=(not draft.refused and contains_any(draft.text, q.answers)) if answerable else None,
                citations=len(draft.citations),
                citations_ok=ok if answerable else 0,
                timings_ms=timings,
            )
        )
    return outcomes


def _cited_gold(q: Question, passage_id: str, hits: Sequence[Hit], is_gold: Callable[[Question, Passage], bool]) -> bool:
    return any(h.passage.passage_id == passage_id and is_gold(q, h.passage) for h in hits)


def _rate(values: Sequence[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def percentile(values: list[float], pct: float) -> float:
    """Return the nearest-rank percentile of the values."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(pct / 100.0 * (len(ordered) - 1))))], 2)


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Return the metrics of a set of outcomes."""
    answerable = [o for o in outcomes if o.kind != "unanswerable"]
    unanswerable = [o for o in outcomes if o.kind == "unanswerable"]
    followups = [o for o in outcomes if o.kind == "followup"]
    cited = [o for o in answerable if not o.refused]
    metrics: dict[str, Any] = {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": _rate([o.gold_rank == 1 for o in answerable]),
        "recall@5": _rate([o.gold_rank is not None and o.gold_rank <= 5 for o in answerable]),
        "mrr@10": round(statistics.fmean(1.0 / o.gold_rank if o.gold_rank else 0.0 for o in answerable), 4) if answerable else None,
        "answer_recall@1": _rate([o.answer_rank == 1 for o in answerable]),
        "answer_recall@5": _rate([o.answer_rank is not None and o.answer_rank <= 5 for o in answerable]),
        "answer_accuracy": _rate([bool(o.answer_correct) for o in answerable]),
        "citation_precision": round(sum(o.citations_ok for o in cited) / n, 4) if (n := sum(o.citations for o in cited)) else None,
        "refusal_rate": _rate([o.refused for o in unanswerable]),
        "false_refusal_rate": _rate([o.refused for o in answerable]),
        "followup_accuracy": _rate([bool(o.answer_correct) for o in followups]),
    }
    stages = sorted({k for o in outcomes for k in o.timings_ms})
    metrics["latency_ms"] = {
        s: {"p50": percentile(v, 50), "p95": percentile(v, 95)}
        for s in stages
        if (v := [o.timings_ms[s] for o in outcomes if s in o.timings_ms])
    }
    return metrics


def by_kind(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Return the metrics per question kind."""
    kinds = sorted({o.kind for o in outcomes})
    return {k: summarize([o for o in outcomes if o.kind == k]) for k in kinds}


def failures(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Return the failed outcomes as JSON-ready rows."""
    return [asdict(o) for o in outcomes if o.failed]
