from __future__ import annotations

import pytest

from qa.answer.condense import Rewrite
from qa.answer.thread import Quoted, Thread, expand, prefer_thread
from qa.ingest.split import passage_id, sentence_spans
from qa.types import Hit, Passage


def passage(source: str, text: str, heading: str = "") -> Passage:
    return Passage(passage_id(source, 1, text), source, 1, text, heading, sentence_spans(text))


BATH = passage("bath", "Bath is a city in Somerset. Bath Abbey was founded in the 7th century.", "Bath, Somerset")
BONN = passage("bonn", "Bonn is a city on the Rhine. Beethoven was born in Bonn in 1770.", "Bonn")
THREAD = Thread((Quoted(BATH, (0,), (0,)),), last_question="Is there a church there?")


def hits(*scored: tuple[Passage, float]) -> list[Hit]:
    return [Hit(p, score=s) for p, s in scored]


def test_the_thread_names_its_document_and_topic() -> None:
    assert (THREAD.document, THREAD.topic) == ("bath", "Bath, Somerset")
    assert Thread().document == ""


def test_the_threads_document_wins_a_vague_follow_up() -> None:
    ranked = prefer_thread(Rewrite("When was it established?", refers=True), hits((BONN, 1.0), (BATH, 0.5)), THREAD, 1)
    assert ranked[0].passage.source == "bath"


def test_a_clear_move_to_another_document_gets_there() -> None:
    ranked = prefer_thread(Rewrite("When was Beethoven born?"), hits((BONN, 1.0), (BATH, 0.5)), THREAD, 1)
    assert ranked[0].passage.source == "bonn"


@pytest.mark.parametrize(
    "rewrite, expected",
    [
        (Rewrite("What is it called?", unsure=True), "What is it called? church"),
        (Rewrite("When was Bath Abbey founded?"), "When was Bath Abbey founded?"),
    ],
)
def test_unsure_rewrites_are_expanded_with_the_previous_question(rewrite: Rewrite, expected: str) -> None:
    assert expand(rewrite, THREAD) == expected


def test_flow_marks_quoted_sentences_and_continuations() -> None:
    flow = THREAD.flow("What happened next?")
    assert flow.continues and flow.last == (BATH.passage_id, 0)
    assert (BATH.passage_id, 0) in flow.given
    assert not THREAD.flow("Who founded it?").continues
