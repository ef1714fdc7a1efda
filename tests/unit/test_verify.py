from __future__ import annotations

from pathlib import Path

import pytest

from qa.answer.verify import is_refusal, markers, missing_entities, split_claims, strip_markers, verify
from qa.ingest.split import split_document
from qa.types import Document, Hit

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_ff359896b2990186.txt"


@pytest.fixture(scope="module")
def hits() -> list[Hit]:
    """Return the first five seed paragraphs as hits: [1] Blinken call, [2] Wang Yi quote, [3] mobilizing, [4] Blinken told reporters, [5] Olympics."""
    passages = split_document(Document("seed.txt", SEED.read_text(encoding="utf-8")))
    return [Hit(p, 1.0) for p in passages[:5]]


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("Blinken said so [1].", (1,), id="one"),
        pytest.param("Blinken said so [1][3].", (1, 3), id="adjacent"),
        pytest.param("Blinken said so [2, 4] and [2].", (2, 4), id="list-and-repeat"),
        pytest.param("Blinken said so [Passage 3].", (3,), id="word-passage"),
        pytest.param("Blinken said so (1).", (), id="parentheses-are-not-markers"),
    ],
)
def test_markers(text: str, expected: tuple[int, ...]) -> None:
    assert markers(text) == expected


def test_strip_markers_tidies_punctuation() -> None:
    assert strip_markers("Blinken said so [1] .  Really [2]") == "Blinken said so. Really"


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("Blinken spoke [1]. Wang answered [2].", [("Blinken spoke.", (1,)), ("Wang answered.", (2,))], id="marker-before-stop"),
        pytest.param("Blinken spoke. [1] Wang answered. [2]", [("Blinken spoke.", (1,)), ("Wang answered.", (2,))], id="marker-after-stop"),
        pytest.param("Blinken spoke. Wang answered [2].", [("Blinken spoke.", ()), ("Wang answered.", (2,))], id="uncited-first"),
        pytest.param("[1] Blinken spoke.", [("Blinken spoke.", (1,))], id="leading-marker-first-sentence"),
        pytest.param("", [], id="empty"),
    ],
)
def test_split_claims(text: str, expected: list[tuple[str, tuple[int, ...]]]) -> None:
    assert [(c.text, c.cited) for c in split_claims(text)] == expected


@pytest.mark.parametrize(
    "claim, source, expected",
    [
        pytest.param("Antony Blinken spoke.", "Secretary of State Antony Blinken spoke.", [], id="name-present"),
        pytest.param("Joe Biden spoke.", "Secretary of State Antony Blinken spoke.", ["joe", "biden"], id="fabricated-name"),
        pytest.param(
            "Russian Foreign Minister Wang Yi spoke.",
            "Chinese Foreign Minister Wang Yi said Russia’s concerns matter.",
            ["russian"],
            id="wrong-nationality",
        ),
        pytest.param(
            "Secretary-General Antony Blinken spoke.",
            "Secretary-General Jens Stoltenberg and Antony Blinken spoke.",
            ["secretary-general antony"],
            id="words-present-but-not-adjacent",
        ),
        pytest.param("The U.S. Secretary of State spoke.", "The United States Secretary of State spoke.", [], id="acronym-of-source-words"),
        pytest.param("The UK spoke.", "The United States spoke.", ["uk"], id="acronym-not-in-source"),
        pytest.param("Denver won 24–10 in 2016.", "Denver defeated Carolina 24–10 on February 7, 2016.", [], id="numbers-present"),
        pytest.param("Russia has 100,000 troops.", "Russia has amassed forces.", ["100,000"], id="fabricated-number"),
        pytest.param("It took three days.", "It took 3 days.", [], id="number-word-as-digit"),
        pytest.param("It took five days.", "It took 3 days.", ["five"], id="wrong-number-word"),
        pytest.param("He said it matters.", "Nothing here.", [], id="sentence-initial-pronoun-is-no-name"),
    ],
)
def test_missing_entities(claim: str, source: str, expected: list[str]) -> None:
    assert missing_entities(claim, source) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("I could not find this in the documents.", True, id="exact"),
        pytest.param("The passages do not say who won.", True, id="passages-do-not-say"),
        pytest.param("I cannot answer this from the passages [1].", True, id="cited-refusal"),
        pytest.param("Russia does not provide troops [3].", False, id="negative-claim-is-not-refusal"),
        pytest.param("The document was not signed by Russia [1].", False, id="negative-claim-about-a-document"),
        pytest.param("The passages don't mention the winner.", True, id="contraction"),
        pytest.param("Blinken spoke [1]. I could not find more.", False, id="answer-plus-caveat"),
        pytest.param("", False, id="empty"),
    ],
)
def test_is_refusal(text: str, expected: bool) -> None:
    assert is_refusal(text) is expected


@pytest.mark.parametrize(
    "reply, kept, reason",
    [
        pytest.param(
            "Chinese Foreign Minister Wang Yi told Blinken that regional security cannot be guaranteed by expanding military blocs [2].",
            True,
            "",
            id="supported",
        ),
        pytest.param("Blinken told reporters there are very positive things in this document [4].", True, "", id="paraphrase"),
        pytest.param("Blinken told reporters there are very positive things in this document.", True, "", id="unmarked-reply-aligned"),
        pytest.param("Blinken told reporters there are very positive things [9].", False, "cites [9]", id="citation-out-of-range"),
        pytest.param("Wang Yi spoke with the Russian Foreign Minister Wang Yi [2].", False, "“russian”", id="smollm2-garble"),
        pytest.param("Russian forces of 100,000 were mobilized near Ukrainian borders [3].", False, "“100,000”", id="fabricated-number"),
        pytest.param("Blinken told reporters there are very positive things in this document [5].", False, "", id="wrong-passage"),
        pytest.param("The Winter Olympics are in Beijing [1].", False, "", id="true-but-not-in-cited-passage"),
        pytest.param("Wang’s statement [3] echoed Russian justifications for", False, "unfinished", id="cut-off-by-token-limit"),
    ],
)
def test_verify_one_sentence(hits: list[Hit], reply: str, kept: bool, reason: str) -> None:
    v = verify(reply, hits, threshold=0.5)
    assert bool(v.citations) is kept
    assert len(v.removed) == (0 if kept else 1)
    if not kept:
        assert v.removed[0].support < 0.5
        assert reason in v.removed[0].reason
        assert v.text == ""


def test_verify_keeps_supported_sentences_and_renumbers_citations(hits: list[Hit]) -> None:
    reply = (
        "Wang Yi said regional security cannot be guaranteed by expanding military blocs [2]. "
        "Blinken said there are very positive things in this document that should be pursued [4]. "
        "He also met Joe Biden [4]."
    )
    v = verify(reply, hits, threshold=0.5)
    assert v.text == (
        "Wang Yi said regional security cannot be guaranteed by expanding military blocs. [1] "
        "Blinken said there are very positive things in this document that should be pursued. [2]"
    )
    assert [c.passage_id for c in v.citations] == [hits[1].passage.passage_id, hits[3].passage.passage_id]
    assert [u.sentence for u in v.removed] == ["He also met Joe Biden."]
    for c in v.citations:
        assert c.text[c.start : c.end] == c.quote
        assert c.support >= 0.5
    assert "expanding military blocs" in v.citations[0].quote
    assert "very positive things" in v.citations[1].quote


def test_verify_quotes_the_best_supporting_sentence_of_each_cited_passage(hits: list[Hit]) -> None:
    v = verify("Russian President Vladimir Putin might accept talks on other subjects [3][1].", hits, threshold=0.5)
    # Passage 1 shares no content with the claim beyond a word or two; the citation that stays points at passage 3's sentence.
    by_passage = {c.passage_id: c for c in v.citations}
    assert hits[2].passage.passage_id in by_passage
    assert "Vladimir Putin might accept" in by_passage[hits[2].passage.passage_id].quote


def test_flag_mode_keeps_failed_sentences_marked(hits: list[Hit]) -> None:
    reply = "Blinken told reporters there are very positive things in this document [4]. He met Joe Biden [4]. Uncited claim here."
    v = verify(reply, hits, threshold=0.5, mode="flag")
    assert [u.sentence for u in v.flagged] == ["He met Joe Biden.", "Uncited claim here."]
    assert v.removed == ()
    assert "He met Joe Biden." in v.text and "Uncited claim here." in v.text
    assert all(c.text[c.start : c.end] == c.quote for c in v.citations)


def test_same_quote_cited_twice_shares_one_number(hits: list[Hit]) -> None:
    reply = "There are very positive things that should be pursued [4]. The decision is for President Putin to make [4]."
    v = verify(reply, hits, threshold=0.5)
    assert len(v.citations) == 1
    assert v.text.count("[1]") == 2
