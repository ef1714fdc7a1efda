"""Thumbs up/down: the logged line is a conversation question `qa eval` can read back, appended whole."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qa.types import REFUSAL, Answer, Citation
from ui.feedback import FeedbackError, FeedbackLog, feedback_record, make_rate, rating_of
from ui.format import error_html, message_html

SHARED_CONV = Path(__file__).resolve().parents[3] / "shared" / "eval" / "conv_dev.questions.jsonl"
# The fields of a conversation question (../shared/eval/conv_dev.questions.jsonl) and their types.
CONV_FIELDS: dict[str, tuple[type, ...]] = {
    "qid": (str,), "doc_id": (str,), "question": (str,), "answers": (list,), "history": (list,), "rewrite": (str, type(None)),
    "turn": (int,), "is_impossible": (bool,), "gold_paragraph_ids": (list,), "answer_verbatim": (bool,),
    "yesno": (str, type(None)), "answer_freeform": (str,), "dataset": (str,),
}
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PASSAGE = "Antony Blinken is the U.S. Secretary of State. Wang Yi is China's Foreign Minister."


def _citation(n: int, quote: str, pid: str) -> Citation:
    start = PASSAGE.index(quote)
    return Citation(n, pid, "seed.txt", 4, PASSAGE, quote, start, start + len(quote), 0.7)


BLINKEN = _citation(1, "Antony Blinken is the U.S. Secretary of State.", "pid-blinken")
WANG = _citation(1, "Wang Yi is China's Foreign Minister.", "pid-wang")
BLINKEN_2 = _citation(2, BLINKEN.quote, "pid-blinken")
CONVERSATION: list[dict[str, Any]] = [
    {"role": "user", "content": "Who is the U.S. Secretary of State?"},
    {"role": "assistant", "content": message_html(Answer(f"{BLINKEN.quote} [1]", False, "Who is the U.S. Secretary of State?", (BLINKEN,)))},
    {"role": "user", "content": "And who did he call?"},
    {"role": "assistant", "content": message_html(Answer(f"{WANG.quote} [1] {BLINKEN.quote} [2]", False, "And who did Blinken call?", (WANG, BLINKEN_2)))},
    {"role": "user", "content": "What is the boiling point of mercury?"},
    {"role": "assistant", "content": message_html(Answer(REFUSAL, True, "What is the boiling point of mercury?"))},
    {"role": "user", "content": " "},
    {"role": "assistant", "content": error_html("question is empty")},
]


def _read(path: Path) -> list[dict[str, Any]]:
    """Read a feedback file as a question set: every line one JSON object."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_follow_up_rating_records_question_history_and_citations() -> None:
    r = feedback_record(CONVERSATION, 3, True, timestamp=NOW, max_turns=40)
    assert r["question"] == "And who did he call?"
    assert r["history"] == [
        {"role": "user", "content": "Who is the U.S. Secretary of State?"},
        {"role": "assistant", "content": f"{BLINKEN.quote} [1]", "citations": [{"passage_id": "pid-blinken"}]},
    ]
    assert r["turn"] == 2 and r["rating"] == "up" and r["dataset"] == "feedback"
    assert r["answer"] == f"{WANG.quote} [1] {BLINKEN.quote} [2]"
    assert r["answers"] == [WANG.quote, BLINKEN.quote], "gold answers are the quoted sentences"
    assert r["doc_id"] == "seed.txt" and r["gold_paragraph_ids"] == ["pid-wang", "pid-blinken"]
    assert r["citations"] == [
        {"n": 1, "passage_id": "pid-wang", "source": "seed.txt", "paragraph": 4, "quote": WANG.quote},
        {"n": 2, "passage_id": "pid-blinken", "source": "seed.txt", "paragraph": 4, "quote": BLINKEN.quote},
    ]
    assert r["standalone_question"] == "And who did Blinken call?"
    assert r["is_impossible"] is False and r["timestamp"] == "2026-01-02T03:04:05+00:00"


def test_thumbs_up_on_a_refusal_is_an_unanswerable_question() -> None:
    r = feedback_record(CONVERSATION, 5, True, timestamp=NOW, max_turns=40)
    assert r["answers"] == [] and r["is_impossible"] is True and r["doc_id"] == "" and r["citations"] == []
    assert r["turn"] == 3 and len(r["history"]) == 4


def test_same_exchange_keeps_its_qid_whatever_the_rating() -> None:
    up = feedback_record(CONVERSATION, 1, True, timestamp=NOW, max_turns=40)
    down = feedback_record(CONVERSATION, 1, False, timestamp=datetime.now(UTC), max_turns=40)
    assert up["qid"] == down["qid"] and down["rating"] == "down"
    assert up["qid"] != feedback_record(CONVERSATION, 3, True, timestamp=NOW, max_turns=40)["qid"]


@pytest.mark.parametrize(
    "index, says",
    [
        pytest.param(0, "is not an answer", id="a-question"),
        pytest.param(7, "is not an answer", id="an-error-message"),
        pytest.param(8, "not in the conversation", id="past-the-end"),
        pytest.param("x", "not a message position", id="not-an-index"),
    ],
)
def test_what_cannot_be_rated_says_why(index: Any, says: str) -> None:
    with pytest.raises(FeedbackError, match=says):
        feedback_record(CONVERSATION, index, True, timestamp=NOW, max_turns=40)


@pytest.mark.parametrize("liked, rating", [(True, "up"), (False, "down"), ("Like", "up"), ("Dislike", "down"), ("", "withdrawn"), (None, "withdrawn")])
def test_rating_of(liked: Any, rating: str) -> None:
    assert rating_of(liked) == rating


def test_unknown_rating_is_refused() -> None:
    with pytest.raises(FeedbackError, match="unknown rating"):
        rating_of("Meh")


def test_written_file_round_trips_the_conversation_question_format(tmp_path: Path) -> None:
    path = tmp_path / "data" / "feedback.jsonl"
    rate = make_rate(FeedbackLog(path), 40, lambda: NOW)
    qids = [rate(CONVERSATION, 1, True), rate(CONVERSATION, 3, False), rate(CONVERSATION, 5, True)]
    lines = _read(path)
    assert [line["qid"] for line in lines] == qids
    assert [line["rating"] for line in lines] == ["up", "down", "up"]
    for line in lines:
        for name, types in CONV_FIELDS.items():
            assert isinstance(line[name], types), f"{name} is {type(line[name]).__name__}"
        for turn in line["history"]:
            assert turn["role"] in ("user", "assistant") and isinstance(turn["content"], str)
    assert lines[1] == feedback_record(CONVERSATION, 3, False, timestamp=NOW, max_turns=40)
    if SHARED_CONV.exists():  # the very fields of the shared conversation set
        with SHARED_CONV.open(encoding="utf-8") as f:
            assert set(json.loads(f.readline())) <= set(lines[0])
    # The thumbs-up lines are a question set: question, history, gold answers, gold document.
    approved = [line for line in lines if line["rating"] == "up"]
    assert [(q["question"], q["answers"], q["doc_id"]) for q in approved] == [
        ("Who is the U.S. Secretary of State?", [BLINKEN.quote], "seed.txt"),
        ("What is the boiling point of mercury?", [], ""),
    ]


def test_concurrent_appends_from_many_writers_stay_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    logs = [FeedbackLog(path), FeedbackLog(path)]  # two writers, as two server processes would be
    big = {"answer": "x" * 20_000}

    def write(k: int) -> None:
        for i in range(25):
            logs[k % 2].append({"writer": k, "i": i, **big})

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = _read(path)
    assert len(lines) == 200
    assert sorted((line["writer"], line["i"]) for line in lines) == [(k, i) for k in range(8) for i in range(25)]


def test_a_torn_last_line_is_not_glued_to_the_next(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text('{"qid": "a"}\n{"qid": "torn', encoding="utf-8")
    FeedbackLog(path).append({"qid": "b"})
    assert path.read_text(encoding="utf-8").splitlines() == ['{"qid": "a"}', '{"qid": "torn', '{"qid": "b"}']
