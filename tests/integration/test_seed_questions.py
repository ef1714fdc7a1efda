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


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q["kind"] != "unanswerable"], ids=lambda q: f"{q['qid']}-{q['kind']}")
def test_answerable_questions_are_answered_with_a_supporting_citation(seed_runtime: Runtime, q: dict[str, Any]) -> None:
    answer = _ask_with_history(seed_runtime, q)
    assert not answer.refused, answer.standalone_question
    assert any(a.lower() in answer.answer.lower() for a in q["answers_any"]), answer.answer
    assert any(any(g in c.text for g in q["gold_passage_contains_any"]) for c in answer.citations)
    for c in answer.citations:
        assert c.text[c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.answer


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q["kind"] == "unanswerable"], ids=lambda q: q["qid"])
def test_unanswerable_questions_are_refused(seed_runtime: Runtime, q: dict[str, Any]) -> None:
    answer = seed_runtime.chain.ask(q["question"])
    assert answer.refused and answer.answer == REFUSAL
    assert answer.citations == ()
    assert answer.passages, "the nearest passages are still reported"


def test_follow_up_is_rewritten_to_a_standalone_question(seed_runtime: Runtime) -> None:
    first = seed_runtime.chain.ask("Who did Wang Yi talk to?")
    history = [{"role": "user", "content": "Who did Wang Yi talk to?"}, {"role": "assistant", "content": first.answer}]
    follow = seed_runtime.chain.ask("What is his job title?", history)
    assert "Blinken" in follow.standalone_question
    assert "his" not in follow.standalone_question.split()
