"""The support a quoted answer needs: a best sentence with none of the asked words must stand on more support."""

from __future__ import annotations

import pytest

from qa.answer.base import Flow
from qa.answer.providers import DOCUMENT_ENDS, ExtractiveAnswerer, holds_asked_word, names_referent
from qa.config import AnswerSettings
from qa.ingest.split import passage_id, sentence_spans
from qa.types import Hit, Passage

TEXT = "Ricky Martin released the album Musica + Alma + Sexo in 2011. It reached number one in Spain."
RICKY = Passage(passage_id("rm", 1, TEXT), "rm", 1, TEXT, "Ricky Martin", sentence_spans(TEXT))
SEARCHED = "Did Ricky Martin win any awards?"  # "he" resolved to the thread's topic


def hit(similarity: float) -> Hit:
    return Hit(RICKY, score=1.0, sentence_sims=(similarity, similarity - 0.2), term_weights=(("ricky", 2.0), ("martin", 2.0), ("awards", 3.0)))


@pytest.mark.parametrize(
    "sentence, asked, expected",
    [
        pytest.param("He released an album in 2011.", "When was the album released?", True, id="shares-a-word"),
        pytest.param("Ricky Martin released an album in 2011.", "Did he win any awards?", False, id="only-the-resolved-topic"),
        pytest.param("It reached number one in Spain.", "Why?", True, id="a-question-without-words"),
        pytest.param("The albums were released.", "Which album was released?", True, id="stemmed"),
    ],
)
def test_holds_asked_word(sentence: str, asked: str, expected: bool) -> None:
    assert holds_asked_word(sentence, asked) is expected


@pytest.mark.parametrize(
    "similarity, asked, refused",
    [
        pytest.param(0.35, "Did he win any awards?", True, id="no-asked-word-little-support-refused"),
        pytest.param(0.35, "Did Ricky Martin win any awards?", False, id="the-asker-named-him-answered"),
        pytest.param(0.35, "Anything else?", False, id="a-continuation-needs-no-words"),
        pytest.param(0.6, "Did he win any awards?", False, id="no-asked-word-strong-support-answered"),
        pytest.param(0.35, "How big was it?", False, id="an-ellipsis-asks-about-the-threads-place"),
        pytest.param(0.35, "Was it big?", True, id="a-yes-no-question-is-no-ellipsis"),
    ],
)
def test_a_follow_up_without_its_own_words_in_the_answer_needs_more_support(similarity: float, asked: str, refused: bool) -> None:
    flow = Flow(last=(RICKY.passage_id, 0), asked=asked, continues=asked == "Anything else?")
    draft = ExtractiveAnswerer(AnswerSettings()).answer_in_dialog(SEARCHED, [hit(similarity)], flow)
    assert draft.refused is refused


@pytest.mark.parametrize(
    "asked, refused",
    [
        pytest.param("What year did it come out?", False, id="a-new-year-answers-what-year"),
        pytest.param("How many copies of the record were sold?", False, id="a-new-number-answers-how-many"),
        pytest.param("Who produced the video clip?", True, id="a-person-is-no-checkable-type"),
    ],
)
def test_a_sentence_giving_the_kind_of_answer_asked_for_needs_no_asked_word(asked: str, refused: bool) -> None:
    flow = Flow(last=(RICKY.passage_id, 0), asked=asked)
    draft = ExtractiveAnswerer(AnswerSettings()).answer_in_dialog(f"{asked} (Ricky Martin)", [hit(0.35)], flow)
    assert draft.refused is refused


@pytest.mark.parametrize(
    "sentence, asked, searched, subject, expected",
    [
        pytest.param("Jack Wumble was the cook.", "What is his first name?", "What is Wumble’s first name?", "The Rover Boys",
                     True, id="names-whom-his-stood-for"),
        pytest.param("Ricky Martin released an album in 2011.", "Did he win any awards?", "Did Ricky Martin win any awards?",
                     "Ricky Martin", False, id="the-documents-own-subject-does-not-count"),
        pytest.param("The cook went ashore.", "What is his first name?", "What is Wumble’s first name?", "The Rover Boys",
                     False, id="the-sentence-does-not-name-him"),
        pytest.param("Jack Wumble was the cook.", "What is Wumble’s first name?", "What is Wumble’s first name?", "The Rover Boys",
                     False, id="a-name-the-asker-wrote-is-no-referent"),
    ],
)
def test_names_referent(sentence: str, asked: str, searched: str, subject: str, expected: bool) -> None:
    assert names_referent(sentence, asked, searched, subject) is expected


@pytest.mark.parametrize("heading, refused", [("The Rover Boys", False), ("Jack Wumble", True)])
def test_a_sentence_naming_whom_the_pronoun_stood_for_needs_no_asked_word(heading: str, refused: bool) -> None:
    text = "The boys went north in the spring. Jack Wumble was the cook of the party."
    passage = Passage(passage_id("rb", 1, text), "rb", 1, text, heading, sentence_spans(text))
    hits = [Hit(passage, score=1.0, sentence_sims=(0.15, 0.35), term_weights=(("wumble", 3.0), ("first", 1.0), ("name", 1.0)))]
    flow = Flow(last=(passage.passage_id, 0), asked="What is his first name?")
    draft = ExtractiveAnswerer(AnswerSettings()).answer_in_dialog("What is Wumble’s first name?", hits, flow)
    assert draft.refused is refused
    if not refused:
        assert "Jack Wumble" in draft.text


def test_the_threads_lower_bar_is_for_its_own_documents_sentences() -> None:
    card_text = "Your card is blocked at once and a new one arrives within five working days."
    card = Passage(passage_id("bank", 3, card_text), "bank", 3, card_text, "Bank › Lost card", sentence_spans(card_text))
    weights = (("long", 1.0), ("take", 1.0))
    here = Hit(RICKY, score=1.0, sentence_sims=(0.05, 0.05), term_weights=weights)
    elsewhere = Hit(card, score=0.9, sentence_sims=(0.35,), term_weights=weights)
    flow = Flow(last=(RICKY.passage_id, 1), asked="How long does it take?")
    answerer = ExtractiveAnswerer(AnswerSettings())
    # Weak, and of another document than the thread's passage: refused, though above the thread's lower bar.
    assert answerer.answer_in_dialog("How long does it take?", [here, elsewhere], flow).refused
    # The same sentence with no thread to lower the bar for: the ordinary bar, the same refusal.
    assert answerer.answer("How long does it take?", [elsewhere]).refused


def test_the_words_of_the_section_heading_count_as_the_sentences_own() -> None:
    text = "Fill the kettle to the maximum mark, boil the water and pour it away. Repeat this twice."
    under = Passage(passage_id("k", 2, text), "k", 2, text, "KX-200 Kettle › Before first use", sentence_spans(text))
    hits = [Hit(under, score=1.0, sentence_sims=(0.2, 0.1), term_weights=(("before", 1.0), ("first", 1.0), ("use", 1.0)))]
    draft = ExtractiveAnswerer(AnswerSettings()).answer_in_dialog("What should I do before first use?", hits, Flow(asked="What should I do before first use?"))
    assert not draft.refused and "Fill the kettle" in draft.text


def test_tell_me_more_after_the_documents_last_sentence_says_the_document_ends() -> None:
    last = len(RICKY.sentences) - 1
    answerer = ExtractiveAnswerer(AnswerSettings())
    ended = answerer.answer_in_dialog("Tell me more", [hit(0.5)], Flow(last=(RICKY.passage_id, last), continues=True))
    assert ended.refused and ended.refusal_reason == DOCUMENT_ENDS
    # A next passage to read on into, or an answer that stopped before the end: not the end.
    assert answerer.answer_in_dialog("Tell me more", [hit(0.5)], Flow(last=(RICKY.passage_id, last), continues=True, after="p2")).refusal_reason is None
    assert not answerer.answer_in_dialog("Tell me more", [hit(0.5)], Flow(last=(RICKY.passage_id, 0), continues=True)).refused
