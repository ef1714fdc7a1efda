"""A question naming what the corpus never writes together is refused when its answer is weak; others are not."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pytest

from qa.answer.base import Flow
from qa.answer.providers import ExtractiveAnswerer
from qa.answer.unknown_names import not_mentioned, unknown_name
from qa.config import AnswerSettings
from qa.ingest.split import passage_id, sentence_spans
from qa.retrieve import KeywordIndex
from qa.terms import tokenize
from qa.types import Hit, Passage

pytestmark = pytest.mark.unit

TEXTS = {
    "canal.md": "The Caledonian Canal links Inverness with Fort William. Thomas Telford designed it, and it opened in 1822.",
    "light.md": "Robert Stevenson built the Bell Rock Lighthouse between 1807 and 1810. The new light shone over the North Sea.",
    "france.md": "France sent settlers to the colony in 1608. The University of Paris is among the oldest in France.",
}


def _passages() -> list[Passage]:
    return [Passage(passage_id(src, 0, text), src, 0, text, "", sentence_spans(text)) for src, text in TEXTS.items()]


class Corpus:
    """The Vocabulary of a real keyword index, as HybridRetriever gives it."""

    def __init__(self, index: KeywordIndex) -> None:
        self.index = index

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        return {t: self.index.document_frequency(t) for t in terms}

    def written_together(self, first: str, second: str) -> bool:
        return self.index.written_together(first, second)


@pytest.fixture
def corpus() -> Corpus:
    return Corpus(KeywordIndex(_passages()))


def _terms(text: str) -> list[str]:
    return tokenize([text])[0]


@pytest.mark.parametrize(
    "pair, together",
    [
        pytest.param("Fort William", True, id="adjacent"),
        pytest.param("University of Paris", True, id="a-stop-word-between-does-not-separate"),
        pytest.param("Robert Telford", False, id="both-known-never-adjacent"),
        pytest.param("William Fort", False, id="order-matters"),
        pytest.param("Fort Napoleon", False, id="one-word-unknown"),
    ],
)
def test_written_together_reads_adjacent_terms(corpus: Corpus, pair: str, together: bool) -> None:
    first, second = _terms(pair)
    assert corpus.written_together(first, second) is together


@pytest.mark.parametrize(
    "words, count",
    [
        pytest.param("France", 1, id="one-term"),
        pytest.param("Robert Stevenson lighthouse", 1, id="all-in-one-passage"),
        pytest.param("Telford Stevenson", 0, id="in-two-passages-not-one"),
        pytest.param("Napoleon France", 0, id="an-unknown-term"),
        pytest.param("", 0, id="no-terms"),
    ],
)
def test_passages_with_all_counts_passages_holding_every_term(corpus: Corpus, words: str, count: int) -> None:
    assert corpus.index.passages_with_all(_terms(words)) == count


def test_a_deleted_passage_no_longer_writes_its_pairs() -> None:
    passages = _passages()
    index = KeywordIndex(passages)
    first, second = _terms("Fort William")
    assert index.written_together(first, second) and index.document_frequency(first) == 1
    index.delete([passages[0].passage_id])
    assert not index.written_together(first, second) and index.document_frequency(first) == 0


@pytest.mark.parametrize(
    "question, name",
    [
        pytest.param("Who governed New France?", "New France", id="known-words-never-together"),
        pytest.param("When did Robert Telford build the bridge?", "Robert Telford", id="two-known-people-mixed"),
        pytest.param("Who designed the Caledonian Canal?", None, id="written-name"),
        pytest.param("How old is the University of Paris?", None, id="written-with-a-stop-word"),
        pytest.param("When did Telford and Stevenson meet?", None, id="two-names-joined-by-and"),
        pytest.param("What did Ghengis Stevenson build?", None, id="an-unknown-word-may-be-a-misspelling"),
        pytest.param("Who was Napoleon?", None, id="one-word-names-are-not-judged"),
        pytest.param("What did he build next?", None, id="a-follow-up-names-nothing"),
    ],
)
def test_unknown_name(corpus: Corpus, question: str, name: str | None) -> None:
    assert unknown_name(question, corpus) == name


FRANCE = _passages()[2]


def _hit(similarity: float) -> Hit:
    return Hit(FRANCE, score=1.0, sentence_sims=(similarity, similarity - 0.3), term_weights=(("new", 1.0), ("france", 2.0), ("settle", 2.0)))


QUESTION = "When did New France get settlers?"


@pytest.mark.parametrize(
    "similarity, refuse_unknown_names, refused",
    [
        pytest.param(0.2, True, True, id="weak-answer-refused"),
        pytest.param(0.2, False, False, id="weak-answer-kept-with-the-rule-off"),
        pytest.param(0.95, True, False, id="strong-answer-kept"),
    ],
)
def test_a_weak_answer_to_a_question_naming_an_unknown_name_is_refused(
    corpus: Corpus, similarity: float, refuse_unknown_names: bool, refused: bool
) -> None:
    settings = AnswerSettings(refuse_unknown_names=refuse_unknown_names)
    plain = ExtractiveAnswerer(settings).answer(QUESTION, [_hit(similarity)])
    assert not plain.refused, "the case needs an answer that the rule alone can refuse"
    draft = ExtractiveAnswerer(settings, corpus).answer(QUESTION, [_hit(similarity)])
    assert draft.refused is refused
    if refused:
        (removed,) = draft.removed
        assert removed.reason == not_mentioned("New France") == "The documents do not mention “New France”." and removed.sentence in FRANCE.text
        assert draft.refusal_reason == removed.reason, "the reason rides in its own field too"
    else:
        assert draft.removed == () and draft.refusal_reason is None


def test_a_follow_up_is_judged_by_its_own_words_not_the_topic_the_rewrite_put_in(corpus: Corpus) -> None:
    # "they" resolved to the thread's topic: the searched question names "New France", the asker did not.
    flow = Flow(last=(FRANCE.passage_id, 0), asked="When did they get settlers?")
    draft = ExtractiveAnswerer(AnswerSettings(), corpus).answer_in_dialog(QUESTION, [_hit(0.2)], flow)
    assert not draft.refused and draft.removed == ()
    asked_it = replace(flow, asked=QUESTION)
    assert ExtractiveAnswerer(AnswerSettings(), corpus).answer_in_dialog(QUESTION, [_hit(0.2)], asked_it).refused
