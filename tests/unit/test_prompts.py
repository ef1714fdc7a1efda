from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.answer.condense import Turn
from qa.answer.prompts import (
    CHARS_PER_TOKEN,
    CONDENSE_TURN_CHARS,
    CONDENSE_TURNS,
    MIN_CLIPPED_CHARS,
    TEMPLATE_TOKENS,
    answer_messages,
    condense_messages,
    format_history,
    render,
)
from qa.types import REFUSAL, Hit, Passage

GOLDEN = Path(__file__).parent / "golden"
HITS = [
    Hit(Passage("p1", "seed.txt", 1, "Secretary of State Antony Blinken\nspoke on Wednesday.", sentences=((0, 54),)), 1.0),
    Hit(Passage("p2", "seed.txt", 4, "Blinken told reporters there are positive things.", heading="US RESPONSE"), 0.5),
]
HISTORY = [
    Turn("user", "Who is the U.S. Secretary of State in the article?"),
    Turn("assistant", "Secretary of State Antony Blinken spoke on Wednesday. [1]"),
]


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; rerun with UPDATE_GOLDEN=1 if that was meant"


@pytest.mark.parametrize(
    "name, messages",
    [
        pytest.param("answer_prompt.txt", answer_messages("  Who spoke on Wednesday? ", HITS), id="answer"),
        pytest.param("condense_prompt.txt", condense_messages("What is his job title?", HISTORY), id="condense"),
    ],
)
def test_prompt_matches_golden_file(name: str, messages: list[tuple[str, str]]) -> None:
    _check_golden(name, render(messages))


def test_answer_prompt_numbers_passages_in_hit_order_and_states_the_rules() -> None:
    messages = answer_messages("Who spoke?", HITS)
    assert [role for role, _ in messages] == ["system", "human", "ai", "human"]
    system, human = messages[0][1], messages[-1][1]
    assert REFUSAL in system and "only the passages" in system and "[1]" in system
    assert human.index("[1] Secretary of State") < human.index("[2] (US RESPONSE) Blinken told")
    assert human.endswith("Question: Who spoke?")


def test_history_is_bounded_and_drops_citation_markers() -> None:
    long_history = [Turn("user" if i % 2 == 0 else "assistant", f"turn {i} [3] " + "x" * 2000) for i in range(20)]
    lines = format_history(long_history).splitlines()
    assert len(lines) == CONDENSE_TURNS
    assert lines[0].startswith("User: turn 14 x")
    assert all(len(line) <= CONDENSE_TURN_CHARS + len("Assistant: ") for line in lines)
    assert "[3]" not in format_history(long_history)


def _long_hits(n: int, sentences: int = 40) -> list[Hit]:
    text = " ".join(f"Sentence {i} of this passage says something about the harbour." for i in range(sentences))
    return [Hit(Passage(f"p{k}", "long.txt", k, text), 1.0 - k / 10) for k in range(1, n + 1)]


def test_a_small_context_keeps_the_best_passages_and_cuts_the_next_at_a_sentence_end() -> None:
    hits = _long_hits(5)  # about 2,600 characters each, 13,000 in all
    context, reply = 2048, 160
    messages = answer_messages("Who runs the harbour?", hits, context_tokens=context, reply_tokens=reply)
    prompt = "".join(text for _, text in messages)
    assert len(prompt) <= (context - reply - TEMPLATE_TOKENS) * CHARS_PER_TOKEN
    human = messages[-1][1]
    assert human.endswith("Question: Who runs the harbour?")
    assert "[1] Sentence 0" in human and human.count("Sentence 39 of this passage") == 1  # the best one whole
    assert "[2] Sentence 0" in human and "[3]" not in human  # the next one cut, the rest left out
    cut = human.split("[2] ", 1)[1].split("\n\nQuestion:")[0]
    assert cut.endswith("harbour.") and len(cut) >= MIN_CLIPPED_CHARS


def test_the_best_passage_is_never_left_out_however_small_the_context() -> None:
    human = answer_messages("Who?", _long_hits(2), context_tokens=300, reply_tokens=160)[-1][1]
    assert "[1] Sentence 0" in human and "[2]" not in human


def test_without_a_context_length_every_passage_goes_in_whole() -> None:
    hits = _long_hits(5)
    human = answer_messages("Who?", hits, reply_tokens=160)[-1][1]
    assert all(f"[{n}] {h.passage.text}" in human for n, h in enumerate(hits, start=1))
