"""bench/fit_thread.py: its fast replay is the answerer's own choice, and its fit finds where answers lie."""

from __future__ import annotations

import numpy as np
import pytest

from bench.fit_thread import Asked, Rows, fast_replay, fast_rows, fit, replay
from qa.answer.base import Flow
from qa.answer.extractive import DIALOG_FEATURES, DIALOG_WEIGHTS
from qa.config import AnswerSettings
from qa.ingest.split import passage_id, sentence_spans
from qa.types import Hit, Passage

TEXT = (
    "Anna sailed from Oslo in May. Anna sailed on to Bergen with her brother. "
    "In Bergen she found work at the harbour. Later she moved to Paris in 1921."
)
STORY = Passage(passage_id("anna", 1, TEXT), "anna", 1, TEXT, "Anna", sentence_spans(TEXT))
OTHER_TEXT = "Bananas are yellow. They grow in warm places."
OTHER = Passage(passage_id("fruit", 1, OTHER_TEXT), "fruit", 1, OTHER_TEXT, "Bananas", sentence_spans(OTHER_TEXT))
HITS = (Hit(STORY, 1.0, sentence_sims=(0.5, 0.45, 0.3, 0.35)), Hit(OTHER, 0.5, sentence_sims=(0.05, 0.1)))


# Sentences hardly like any question: support must come from the words and the dialog, or the answer is refused.
FAINT = (Hit(STORY, 1.0, sentence_sims=(0.1, 0.12, 0.08, 0.1)),)


def asked(question: str, answers: tuple[str, ...], last: int, hits: tuple[Hit, ...] = HITS, **flow: object) -> Asked:
    return Asked("d", "anna", answers, question, hits, Flow(last=(STORY.passage_id, last), asked=question, **flow))  # type: ignore[arg-type]


FOLLOW_UPS = [
    asked("Where did Anna work?", ("at the harbour",), 1),
    asked("When did she move to Paris?", ("1921",), 2),
    asked("What happened next?", ("Bergen",), 0, continues=True),
    asked("What happened next?", ("Paris",), 3, continues=True),  # the document ended: refused, in both replays
    asked("Where did Anna sail from?", ("Oslo",), 0, given=frozenset({(STORY.passage_id, 0)})),
    asked("Did she win any prizes?", (), 3),
    asked("Who was her brother?", (), 1),
    asked("Did she win any prizes?", (), 3, FAINT),
    asked("What did her brother do?", (), 1, FAINT),
    asked("Where did she work?", ("harbour",), 1, FAINT),
    asked("Where did she go later?", ("Paris",), 2, FAINT),
]


@pytest.mark.parametrize("weights", [DIALOG_WEIGHTS, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0), (2.0, -0.5, 1.5, 0.2, -0.4, 0.3)])
def test_fast_replay_is_the_answerers_choice(weights: tuple[float, ...]) -> None:
    settings = AnswerSettings()
    real = replay(FOLLOW_UPS, weights)
    right = sum(r[2] for r in real if r[0])
    refused = sum(r[1] for r in real if not r[0])
    assert fast_replay(fast_rows(FOLLOW_UPS), np.array(weights), settings) == (right, refused)


def test_the_fit_finds_the_bonus_of_where_answers_lie() -> None:
    # Twenty questions of four sentences: the answer is the one right after the last answer's, which the
    # selection score alone ranks second (and first in a few questions, so that the score still counts).
    n, k = 20, 4
    D = np.zeros((n * k, len(DIALOG_FEATURES)))
    nxt = DIALOG_FEATURES.index("next")
    D[1::k, nxt] = 1.0
    D[2::k, DIALOG_FEATURES.index("ahead")] = 1.0
    y = np.zeros(n * k)
    y[1::k] = 1.0
    score = np.tile([0.6, 0.5, 0.3, 0.2], n)
    score[1 : 5 * k : k] = 0.7
    rows = Rows(q=np.repeat(np.arange(n), k), score=score, D=D, y=y)
    bonus = fit(rows, np.arange(n), l2=0.01)
    assert bonus[nxt] > 0.5
    assert bonus[nxt] == max(bonus)
