"""The seed question set, asked through the real chain: behaviour, not timings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa.runtime import Runtime
from qa.types import REFUSAL

SEED_DEV = Path(__file__).resolve().parents[3] / "shared" / "eval" / "seed_dev.jsonl"
QUESTIONS = [json.loads(line) for line in SEED_DEV.read_text().splitlines() if line.strip()]


def _ask_with_history(rt: Runtime, q: dict[str, Any]) -> Any:
    history: list[dict[str, str]] = []
    for turn in q.get("history", []):
        prior = rt.chain.ask(turn["question"], history)
        assert turn["answer_contains"].lower() in prior.answer.lower(), f"history turn not answered: {prior.answer}"
        history += [{"role": "user", "content": turn["question"]}, {"role": "assistant", "content": prior.answer}]
    return rt.chain.ask(q["question"], history)


# Known limits of the extractive answerer, measured and reported in the README, as strict
# expected failures (so that a fix is noticed): none today.
KNOWN_LIMITS: dict[str, str] = {}


def _cases(kind_filter: Any) -> list[Any]:
    return [
        pytest.param(q, id=f"{q['qid']}-{q['kind']}", marks=[pytest.mark.xfail(reason=KNOWN_LIMITS[q["qid"]], strict=True)])
        if q["qid"] in KNOWN_LIMITS
        else pytest.param(q, id=f"{q['qid']}-{q['kind']}")
        for q in QUESTIONS
        if kind_filter(q["kind"])
    ]


@pytest.mark.parametrize("q", _cases(lambda kind: kind != "unanswerable"))
def test_answerable_questions_are_answered_with_a_supporting_citation(seed_runtime: Runtime, q: dict[str, Any]) -> None:
    answer = _ask_with_history(seed_runtime, q)
    assert not answer.refused, answer.standalone_question
    assert any(a.lower() in answer.answer.lower() for a in q["answers_any"]), answer.answer
    assert any(any(g in c.text for g in q["gold_passage_contains_any"]) for c in answer.citations)
    for c in answer.citations:
        assert c.text[c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.answer


@pytest.mark.parametrize("q", _cases(lambda kind: kind == "unanswerable"))
def test_unanswerable_questions_are_refused(seed_runtime: Runtime, q: dict[str, Any]) -> None:
    answer = seed_runtime.chain.ask(q["question"])
    assert answer.refused and answer.answer == REFUSAL
    assert answer.citations == ()
    assert answer.passages, "the nearest passages are still reported"


@pytest.mark.parametrize(
    "first, follow_up, referent",
    [
        pytest.param("Who is the Chinese ambassador to the UN?", "What does he want parties to do in Ukraine?", "Zhang Jun", id="d12-who"),
        pytest.param("Who is the U.S. Secretary of State in the article?", "What did he tell reporters?", "Blinken", id="who-secretary"),
        pytest.param("What did Zhao Lijian say about forbidden zones?", "How does he describe China-Russia trust?", "Zhao Lijian", id="what-entity"),
    ],
)
def test_follow_ups_are_rewritten_with_the_answered_entity(seed_runtime: Runtime, first: str, follow_up: str, referent: str) -> None:
    answer = seed_runtime.chain.ask(first)
    assert not answer.refused
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": answer.answer}]
    follow = seed_runtime.chain.ask(follow_up, history)
    assert referent in follow.standalone_question
    assert not {"he", "his"} & set(follow.standalone_question.lower().split())
