"""Citing a model's unmarked sentences by aligning each to the passage that supports it best."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from qa.answer.generate import GenerativeAnswerer
from qa.answer.providers import ExtractiveAnswerer
from qa.answer.verify import Claim, align_claim, verify
from qa.config import AnswerSettings
from qa.ingest.split import split_document
from qa.types import Document, Hit

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_ff359896b2990186.txt"
WANG = "Wang Yi told Blinken that regional security cannot be guaranteed by expanding military blocs."
STOLTENBERG = "Blinken and Jens Stoltenberg rejected the demands on Wednesday."
OLYMPICS = "Zhang Jun said the Beijing Winter Olympics is around the corner."


@pytest.fixture(scope="module")
def hits() -> list[Hit]:
    """Return seed paragraphs as hits: [1] Blinken call, [2] Wang Yi quote, [3] mobilizing and rejection, [4] Blinken told reporters, [5] Olympics, [6] Zhang Jun."""
    passages = split_document(Document("seed.txt", SEED.read_text(encoding="utf-8")))
    return [Hit(p, 1.0, sentence_sims=tuple(0.5 for _ in p.sentences)) for p in passages[:6]]


def _cited_passages(hits: list[Hit], citations: Any) -> list[int]:
    ids = [h.passage.passage_id for h in hits]
    return [ids.index(c.passage_id) + 1 for c in citations]


@pytest.mark.parametrize(
    "reply, kept, passages, removed_reasons",
    [
        pytest.param(WANG, [WANG + " [1]"], [2], [], id="one-sentence-cited-by-its-passage"),
        pytest.param(
            f"{WANG} {STOLTENBERG}", [WANG + " [1]", STOLTENBERG + " [2]"], [2, 3], [], id="two-sentences-two-passages"
        ),
        pytest.param(
            f"{OLYMPICS} {WANG}", [OLYMPICS + " [1]", WANG + " [2]"], [6, 2], [], id="order-of-the-reply-not-of-the-passages"
        ),
        pytest.param(
            f"{WANG} The weather in Paris was lovely that spring.",
            [WANG + " [1]"],
            [2],
            ["no passage supports it"],
            id="sentence-no-passage-shares",
        ),
        pytest.param(
            f"{WANG} Wang Yi spoke with the Russian Foreign Minister Wang Yi.",
            [WANG + " [1]"],
            [2],
            ["“russian” is not in the cited passage (best passage [2], found by alignment)"],
            id="fabricated-name-still-removed",
        ),
        pytest.param(
            f"{WANG} Blinken mobilized 100,000 troops near Ukrainian borders.",
            [WANG + " [1]"],
            [2],
            ["“100,000” is not in the cited passage (best passage [3], found by alignment)"],
            id="fabricated-number-still-removed",
        ),
    ],
)
def test_unmarked_reply_is_aligned(
    hits: list[Hit], reply: str, kept: list[str], passages: list[int], removed_reasons: list[str]
) -> None:
    v = verify(reply, hits, threshold=0.5)
    assert v.text == " ".join(kept)
    assert _cited_passages(hits, v.citations) == passages
    assert [u.reason for u in v.removed] == removed_reasons
    assert all(u.cited == () for u in v.removed), "the model cited nothing; alignment is not reported as its citation"
    for c in v.citations:
        assert c.text[c.start : c.end] == c.quote and c.support >= 0.5


def test_aligned_quote_is_the_supporting_sentence(hits: list[Hit]) -> None:
    v = verify(STOLTENBERG, hits, threshold=0.5)
    assert v.citations[0].quote.startswith("Blinken and NATO Secretary-General Jens Stoltenberg rejected those demands")


def test_without_alignment_unmarked_sentences_are_uncited(hits: list[Hit]) -> None:
    v = verify(f"{WANG} {STOLTENBERG}", hits, threshold=0.5, align=False)
    assert v.text == "" and v.citations == ()
    assert [u.reason for u in v.removed] == ["no citation", "no citation"]


def test_a_reply_with_markers_is_held_to_them(hits: list[Hit]) -> None:
    v = verify(f"{WANG[:-1]} [2]. {STOLTENBERG}", hits, threshold=0.5)
    assert _cited_passages(hits, v.citations) == [2]
    assert [u.reason for u in v.removed] == ["no citation"]


def test_flag_mode_keeps_what_alignment_could_not_support(hits: list[Hit]) -> None:
    v = verify(f"{WANG} The weather in Paris was lovely that spring.", hits, threshold=0.5, mode="flag")
    assert v.text == WANG + " [1] The weather in Paris was lovely that spring."
    assert [u.reason for u in v.flagged] == ["no passage supports it"] and v.removed == ()


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(WANG, (2,), id="best-passage"),
        pytest.param("The weather in Paris was lovely.", (), id="no-shared-content-stays-uncited"),
    ],
)
def test_align_claim(hits: list[Hit], text: str, expected: tuple[int, ...]) -> None:
    aligned = align_claim(Claim(text, (), text), hits)
    assert aligned.cited == expected and aligned.aligned == bool(expected)


def test_aligning_a_claim_ties_go_to_the_better_ranked_passage(hits: list[Hit]) -> None:
    twice = [hits[1], hits[1]]
    assert align_claim(Claim(WANG, (), WANG), twice).cited == (1,)


def test_generative_answerer_cites_an_unmarked_reply(hits: list[Hit]) -> None:
    settings = AnswerSettings()
    model = GenericFakeChatModel(messages=iter([f"{WANG} The weather in Paris was lovely that spring."]))
    draft = GenerativeAnswerer(model, settings, ExtractiveAnswerer(settings), name="fake").answer(
        "What did Wang Yi say about military blocs?", hits
    )
    assert draft.fallback is None
    assert draft.text == WANG + " [1]"
    assert [u.reason for u in draft.removed] == ["no passage supports it"]
    assert _cited_passages(hits, draft.citations) == [2]


def test_alignment_can_be_turned_off_in_the_settings(hits: list[Hit]) -> None:
    settings = AnswerSettings(verify_align=False)
    model = GenericFakeChatModel(messages=iter([WANG]))
    draft = GenerativeAnswerer(model, settings, ExtractiveAnswerer(settings), name="fake").answer(
        "What did Wang Yi say about military blocs?", hits
    )
    assert draft.fallback == "extractive" and [u.reason for u in draft.removed] == ["no citation"]
