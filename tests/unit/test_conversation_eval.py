from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa.errors import InputError
from qa.evaluate.conversation import (
    DialogTurn,
    holds_answer,
    is_dialog_file,
    load_turns,
    run_dialogs,
    run_rewrites,
    titled_documents,
)
from qa.types import Answer, Citation, Hit, Passage


@pytest.mark.parametrize(
    "answer, golds, held",
    [
        ("It is in Somerset, England. [1]", ["Somerset, England,"], True),
        ("The Abbey dates from the 7th century. [1]", ["in the 7th century"], False),
        ("He kept busy by joining the Institute for Economic and Social Research. [1]",
         ["He kept busy joining the Institute for Economic and Social Research"], True),
        ("Bathing [1]", ["Bath"], False),
    ],
)
def test_holds_answer(answer: str, golds: list[str], held: bool) -> None:
    assert holds_answer(answer, golds) is held


def _passage(doc: str) -> Passage:
    text = f"{doc} text."
    return Passage(f"{doc}-p", doc, 1, text, doc, ((0, len(text)),))


def _answer(doc: str, text: str, refused: bool = False) -> Answer:
    p = _passage(doc)
    cites = () if refused else (Citation(1, p.passage_id, doc, 1, p.text, p.text, 0, len(p.text), 0.9),)
    return Answer(text, refused, "q", cites, (Hit(p, 1.0),), {"total": 5.0})


def turn(qid: str, doc: str, q: str, answers: list[str], history: list[dict[str, Any]], n: int) -> DialogTurn:
    return DialogTurn(qid=qid, doc_id=doc, question=q, answers=tuple(answers), history=tuple(history), turn=n)


def test_dialogs_are_scored_with_and_without_history_and_across_a_switch() -> None:
    turns = [
        turn("a-t01", "bath", "What city?", ["Bath"], [], 1),
        turn("a-t02", "bath", "What county is it in?", ["Somerset"],
             [{"role": "user", "content": "What city?"}, {"role": "assistant", "content": "Bath"}], 2),
        turn("a-t03", "bath", "Who lived there in 2030?", [],
             [{"role": "user", "content": "What city?"}, {"role": "assistant", "content": "Bath"}], 3),
        turn("b-t01", "bonn", "Which city is on the Rhine?", ["Bonn"], [], 1),
    ]

    def ask(q: str, history: list[dict[str, Any]]) -> Answer:
        if "2030" in q:
            return _answer("bath", "", refused=True)
        if "county" in q:  # answered right only with its history
            return _answer("bath", "Somerset [1]") if history else _answer("bonn", "Somerset [1]")
        return _answer("bonn" if "Rhine" in q else "bath", ("Bonn" if "Rhine" in q else "Bath") + " [1]")

    report = run_dialogs(ask, turns, progress=False)
    w, wo = report["with_history"], report["without_history"]
    assert (w["answer_right"], w["pronoun_right"], w["unanswerable_refused"]) == (1.0, 1.0, 1.0)
    assert (wo["answer_right"], wo["doc_cited"]) == (pytest.approx(2 / 3, abs=1e-3), pytest.approx(2 / 3, abs=1e-3))
    assert report["topic_switch"]["switches"] == 2 and report["topic_switch"]["reached"] == 1.0


def test_rewrites_are_scored_against_copying() -> None:
    turns = [turn("c-t02", "", "When did they disband?", ["x"], [{"role": "user", "content": "What group?"}], 2)]
    turns = [DialogTurn(**{**t.__dict__, "rewrite": "When did the Mothers of Invention disband?"}) for t in turns]
    report = run_rewrites(lambda t: "When did the Mothers of Invention disband?", turns)
    assert report["rewrite_f1"] == 1.0 and report["copy_f1"] < 1.0 and report["better_than_copy"] == 1
    with pytest.raises(InputError, match="rewrite"):
        run_rewrites(lambda t: "", [turn("c-t01", "", "q", [], [], 1)])


def test_dialog_files_are_recognised_and_bad_history_is_named(tmp_path: Path) -> None:
    good = tmp_path / "d.questions.jsonl"
    good.write_text(json.dumps({"qid": "a-t02", "question": "q", "answers": [], "history": [{"role": "user", "content": "x"}]}) + "\n")
    assert is_dialog_file(good) and load_turns(good)[0].history[0]["content"] == "x"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"qid": "a", "question": "q", "history": [{"role": "bot", "content": "x"}]}) + "\n")
    with pytest.raises(InputError, match=r"history\[0\]"):
        load_turns(bad)


def test_titled_documents_carry_the_title_as_a_heading() -> None:
    docs = titled_documents([{"doc_id": "d", "title": "Bath, Somerset", "paragraph_id": "d#0", "text": "Bath is a city."}])
    assert docs[0].text == "# Bath, Somerset\n\nBath is a city."
