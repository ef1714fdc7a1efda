from __future__ import annotations

import pytest

from qa.answer.condense import Rewrite, Turn
from qa.answer.thread import Quoted, Thread, asked_in_thread, destination, expand, prefer_document, prefer_thread
from qa.ingest.split import passage_id, sentence_spans
from qa.language import predicate_stem
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


WITTGENSTEIN = passage(
    "wittgenstein", "Three of the five brothers later committed suicide. Rudi killed himself in 1904.",
    "Ludwig Wittgenstein: Family temperament and the brothers' suicides",
)
HARTSON = passage("hartson", "Hartson joined Luton Town in 1992 and scored on his debut.", "John Hartson: Luton Town")
HARTSON_THREAD = Thread((Quoted(HARTSON, (0,), (0,)),), last_question="When did he join Luton Town?")
WEIGHTS = (("brothe", 2.0), ("commit", 1.5), ("suicid", 3.0), ("joined", 1.0), ("luton", 3.0), ("debut", 2.0), ("scored", 1.0))


def weighted(*scored: tuple[Passage, float]) -> list[Hit]:
    return [Hit(p, score=s, term_weights=WEIGHTS) for p, s in scored]


@pytest.mark.parametrize(
    "asked, rewritten, thread, found, expected",
    [
        pytest.param("Why did his brothers commit suicide?", "Why did John Hartson’s brothers commit suicide?", HARTSON_THREAD,
                     weighted((HARTSON, 2.0), (WITTGENSTEIN, 1.0)), "wittgenstein", id="another-title-carries-the-question"),
        pytest.param("Did he score on his debut?", "Did John Hartson score on John Hartson’s debut?", HARTSON_THREAD,
                     weighted((HARTSON, 2.0), (WITTGENSTEIN, 1.0)), None, id="the-threads-document-holds-the-words"),
        pytest.param("Did his brothers play too?", "Did John Hartson’s brothers play too?", HARTSON_THREAD,
                     weighted((HARTSON, 2.0), (BATH, 1.0)), None, id="no-other-title-carries-them"),
        pytest.param("When was Beethoven born?", "When was Beethoven born?", THREAD,
                     hits((BONN, 1.0), (BATH, 0.5)), "", id="a-name-only-another-document-holds"),
        pytest.param("When was it founded?", "When was Bath founded?", THREAD, hits((BONN, 1.0), (BATH, 0.5)), None,
                     id="a-vague-follow-up-stays"),
        pytest.param("Why did the brothers commit suicide?", "Why did the brothers commit suicide?", Thread(),
                     weighted((WITTGENSTEIN, 1.0)), None, id="no-thread-nothing-to-leave"),
    ],
)
def test_destination_says_when_a_question_leaves_the_thread(
    asked: str, rewritten: str, thread: Thread, found: list[Hit], expected: str | None
) -> None:
    assert destination(asked, Rewrite(rewritten, refers=True), thread, found) == expected


def test_the_document_moved_to_comes_first() -> None:
    ranked = prefer_document(weighted((HARTSON, 3.0), (WITTGENSTEIN, 1.0)), "wittgenstein", 1)
    assert ranked[0].passage.source == "wittgenstein"
    assert prefer_document(weighted((HARTSON, 3.0), (WITTGENSTEIN, 1.0)), "", 1)[0].passage.source == "hartson"


@pytest.mark.parametrize(
    "rewrite, expected",
    [
        (Rewrite("What is it called?", unsure=True), "What is it called? church"),
        (Rewrite("When was Bath Abbey founded?"), "When was Bath Abbey founded?"),
    ],
)
def test_unsure_rewrites_are_expanded_with_the_previous_question(rewrite: Rewrite, expected: str) -> None:
    assert expand(rewrite, THREAD) == expected


def test_expansion_words_come_from_questions_not_small_talk_nor_pointing_words() -> None:
    history = [
        Turn("user", "What did he say about Bath Abbey?"), Turn("assistant", "It was founded in the 7th century. [1]"),
        Turn("user", "Thanks!"), Turn("assistant", "You're welcome."),
    ]
    thread = Thread(last_question=" ".join(asked_in_thread(history)))
    assert expand(Rewrite("And when?", unsure=True), thread) == "And when? about Bath Abbey"


def test_an_elliptical_question_may_ask_a_detail_of_the_sentence_just_shown() -> None:
    abbey = Thread((Quoted(BATH, (1,), (1,)),), last_question="What was founded there?")  # "…founded in the 7th century."
    assert (BATH.passage_id, 1) not in abbey.flow("When?").given  # its time is in the sentence shown
    assert (BATH.passage_id, 1) in abbey.flow("Who founded it?").given  # a person it does not name
    assert (BATH.passage_id, 1) in abbey.flow("Where?").given  # the sentence gives no place
    assert (BATH.passage_id, 1) not in abbey.flow("How?").given  # the manner is told where the event is


def test_flow_records_what_each_shown_sentence_was_asked_for() -> None:
    abbey = Thread((Quoted(BATH, (1,), (1,), asked="What was founded there?"),))
    assert abbey.flow("Who founded it?").shown_for == {(BATH.passage_id, 1, predicate_stem("founded"))}


def test_flow_marks_quoted_sentences_and_continuations() -> None:
    flow = THREAD.flow("What happened next?")
    assert flow.continues and flow.last == (BATH.passage_id, 0)
    assert (BATH.passage_id, 0) in flow.given
    assert not THREAD.flow("Who founded it?").continues


def test_a_vague_follow_up_that_stays_is_answered_from_the_threads_document_alone() -> None:
    vague = prefer_thread(Rewrite("When was it established?", refers=True), hits((BONN, 1.0), (BATH, 0.5)), THREAD, 2)
    assert [h.passage.source for h in vague] == ["bath"]
    alone = prefer_thread(Rewrite("When was Bath Abbey founded?"), hits((BONN, 1.0), (BATH, 0.5)), THREAD, 2)
    assert [h.passage.source for h in alone] == ["bath", "bonn"]


def test_flow_carries_the_question_as_asked() -> None:
    assert THREAD.flow("When was it built?").asked == "When was it built?"


def test_an_ellipsis_prefers_the_passage_the_last_answer_quoted() -> None:
    spa = Passage(passage_id("bath", 2, "The spa opened in 2006."), "bath", 2, "The spa opened in 2006.", "Bath, Somerset", ((0, 23),))
    found = hits((spa, 1.0), (BATH, 0.2))
    assert prefer_thread(Rewrite("How old is it?", refers=True), found, THREAD, 2, asked="How old is it?")[0].passage == BATH
    # A question naming an event of its own may lie in another passage of the document: the plain prior only.
    assert prefer_thread(Rewrite("When did it open?", refers=True), found, THREAD, 2, asked="When did it open?")[0].passage == spa


def test_an_ellipsis_naming_another_event_is_no_detail_of_the_sentence_shown() -> None:
    pierre = passage("curie", "Pierre died in a street accident in Paris in 1906.", "Marie Curie")
    shown = Thread((Quoted(pierre, (0,), (0,)),))
    assert (pierre.passage_id, 0) not in shown.flow("When?").given
    assert (pierre.passage_id, 0) in shown.flow("When did she die?").given


def test_one_word_matching_another_title_does_not_move_a_question_that_points_back() -> None:
    port = passage("port", "The new port in Eastbay opens in 2026.", "")
    faq = passage("faq", "You can open an account online.", "How do I open an account?")
    thread = Thread((Quoted(port, (0,), (0,)),))
    found = [Hit(faq, 1.0, term_weights=(("open", 2.0),)), Hit(port, 0.5, term_weights=(("open", 2.0),))]
    assert destination("When does it open?", Rewrite("When does it open?", refers=True), thread, found) is None
    # Said without pointing back, the same word is the other document's.
    assert destination("When do accounts open?", Rewrite("When do accounts open?"), thread, found) == "faq"
