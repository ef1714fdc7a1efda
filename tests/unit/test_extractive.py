from __future__ import annotations

from dataclasses import replace

import pytest

from qa.answer.extractive import SELECTION_WEIGHTS, SENTENCE_FEATURES, answer_type_found, extract, rank_sentences, weighted_coverage
from qa.ingest.split import passage_id, sentence_spans
from qa.types import Citation, Hit, Passage


def hit(text: str, sims: list[float], source: str = "a.txt", paragraph: int = 1) -> Hit:
    p = Passage(passage_id(source, paragraph, text), source, paragraph, text, "", sentence_spans(text))
    assert len(p.sentences) == len(sims)
    return Hit(p, score=1.0, sentence_sims=tuple(sims))


HITS = [
    hit("The treaty was signed in Paris. Ministers met in 1951 to sign it.", [0.3, 0.6]),
    hit("Bananas are yellow. They grow in warm places.", [0.05, 0.02], paragraph=2),
]


def test_answer_quotes_the_best_sentence_with_a_checkable_citation() -> None:
    text, citations = extract("When did ministers meet to sign the treaty?", HITS, refuse_below=0.3, max_sentences=1, margin=0.0)
    assert citations and citations[0].quote == "Ministers met in 1951 to sign it."
    c = citations[0]
    assert c.text[c.start : c.end] == c.quote
    assert text == f"{c.quote} [1]"
    assert 0.0 <= c.support <= 1.0


def test_nothing_supported_means_refusal() -> None:
    text, citations = extract("What is the capital of Australia?", HITS, refuse_below=0.4, max_sentences=2, margin=0.1)
    assert (text, citations) == ("", ())


def test_second_sentence_only_when_close_to_the_best() -> None:
    _, one = extract("treaty signed ministers met", HITS, refuse_below=0.1, max_sentences=2, margin=0.0)
    _, two = extract("treaty signed ministers met", HITS, refuse_below=0.1, max_sentences=2, margin=1.0)
    assert len(one) == 1 and len(two) == 2
    assert [c.n for c in two] == [1, 2]


def test_no_hits_refuses() -> None:
    assert extract("anything?", [], refuse_below=0.0, max_sentences=1, margin=0.0) == ("", ())


@pytest.mark.parametrize(
    "question, sentence, found",
    [
        pytest.param("How many members voted?", "Members voted for the proposal.", False, id="how-many-no-number"),
        pytest.param("How many members voted?", "Thirty members voted.", True, id="how-many-number-word"),
        pytest.param("When was it signed?", "It was signed in 1951.", True, id="when-year"),
        pytest.param("When was it signed?", "It was signed by the ministers.", False, id="when-no-time"),
        pytest.param("Who signed it?", "It was signed by Robert Schuman.", True, id="who-name"),
        pytest.param("Who signed it?", "it was signed by the ministers.", False, id="who-no-name"),
        pytest.param("What was signed?", "Nothing at all.", True, id="what-any"),
        pytest.param("Where did Tom Petty die?", "Petty died in Santa Monica, California.", True, id="where-place"),
        pytest.param("Where did Tom Petty die?", "Petty was found at his home on October 2.", False, id="where-a-month-is-no-place"),
        pytest.param("What is Blinken’s job title?", "He told Secretary of State Antony Blinken.", True, id="title-before-the-name"),
        pytest.param("What is Zhang Jun's position?", "Chinese Ambassador to the United Nations Zhang Jun said.", True, id="title-with-to"),
        pytest.param("What is Blinken’s job title?", "Blinken and NATO Secretary-General Jens Stoltenberg met.", False, id="title-of-another"),
        pytest.param("What is Blinken’s job title?", "Blinken told reporters on Wednesday.", False, id="no-title"),
    ],
)
def test_answer_type(question: str, sentence: str, found: bool) -> None:
    assert answer_type_found(question, sentence) is found


def test_support_is_a_probability_for_every_sentence() -> None:
    assert len(SELECTION_WEIGHTS) == len(SENTENCE_FEATURES)
    for c in rank_sentences("Where was the treaty signed?", HITS):
        assert 0.0 <= c.support <= 1.0
        assert len(c.features) == len(SENTENCE_FEATURES)


@pytest.mark.parametrize(
    "weights, present, expected",
    [
        pytest.param({"rare": 3.0, "common": 1.0}, {"rare"}, 0.75, id="rare-term-counts-more"),
        pytest.param({"rare": 3.0, "common": 1.0}, {"common"}, 0.25, id="common-term-counts-less"),
        pytest.param({}, set(), 1.0, id="no-terms"),
    ],
)
def test_weighted_coverage(weights: dict[str, float], present: set[str], expected: float) -> None:
    assert weighted_coverage(weights, present) == expected


def test_ranking_prefers_sentences_sharing_question_terms() -> None:
    ranked = rank_sentences("Where was the treaty signed?", HITS)
    assert ranked[0].hit.passage.text.startswith("The treaty") and ranked[0].index == 0


def test_citation_rejects_a_quote_that_is_not_in_the_text() -> None:
    with pytest.raises(ValueError, match="quote does not match"):
        Citation(1, "id", "a.txt", 1, "abc def", "xyz", 0, 3, 0.5)


STORY = hit(
    "Anna sailed from Oslo in May. Anna sailed on to Bergen with her brother. "
    "In Bergen she found work at the harbour. Later she moved to Paris.",
    [0.5, 0.48, 0.3, 0.2],
)


def test_a_sentence_already_quoted_is_not_quoted_again() -> None:
    from qa.answer.base import Flow

    first = rank_sentences("Where did Anna sail?", [STORY])[0]
    shown = (STORY.passage.passage_id, first.index)
    # Shown for the same question ("sail"), as the thread records it.
    flow = Flow(given=frozenset({shown}), shown_for=frozenset({(*shown, "sail")}))
    again = rank_sentences("Where did Anna sail?", [STORY], flow)[0]
    assert again.index != first.index
    asked_again = rank_sentences("Where did Anna sail?", [STORY], replace(flow, again=True))[0]
    assert asked_again.index == first.index


def test_a_sentence_shown_beside_another_answer_is_quoted_when_asked_for() -> None:
    from qa.answer.base import Flow

    first = rank_sentences("Where did Anna sail?", [STORY])[0]
    shown = (STORY.passage.passage_id, first.index)
    # Shown beside the answer to "Where did Anna go?": the question asked then was not "sail".
    beside = Flow(given=frozenset({shown}), shown_for=frozenset({(*shown, "go")}), asked="Where did she sail?")
    assert rank_sentences("Where did Anna sail?", [STORY], beside)[0].index == first.index
    # "Where else did she sail?" asks for another.
    other = replace(beside, asked="Where else did she sail?")
    assert rank_sentences("Where else did Anna sail?", [STORY], other)[0].index != first.index


def test_what_happened_next_goes_on_from_the_last_answer() -> None:
    from qa.answer.base import Flow

    pid = STORY.passage.passage_id
    flow = Flow(given=frozenset({(pid, 0), (pid, 1)}), last=(pid, 1), continues=True)
    _, citations = extract("What happened next?", [STORY], refuse_below=0.25, max_sentences=1, margin=0.0, flow=flow)
    assert citations and citations[0].quote == "In Bergen she found work at the harbour."


def test_a_sentence_that_stands_out_earns_support_for_the_refusal_decision() -> None:
    from qa.answer.extractive import MAX_LEAD, decisive_support

    ranked = rank_sentences("When did ministers meet to sign the treaty?", HITS)
    lead = ranked[0].score - ranked[1].score
    assert lead > 0
    assert decisive_support(ranked, 0.0) == ranked[0].support
    assert decisive_support(ranked, 0.5) == pytest.approx(ranked[0].support + 0.5 * min(lead, MAX_LEAD))
    bar = ranked[0].support + 0.01
    assert extract("When did ministers meet to sign the treaty?", HITS, refuse_below=bar, max_sentences=1, margin=0.0) == ("", ())
    text, _ = extract(
        "When did ministers meet to sign the treaty?", HITS, refuse_below=bar, max_sentences=1, margin=0.0, lead_credit=0.5
    )
    assert "1951" in text


def test_a_best_sentence_among_equals_gets_no_credit() -> None:
    from qa.answer.extractive import decisive_support

    twins = [hit("The ship left at dawn. The ship left at dawn.", [0.5, 0.5])]
    ranked = rank_sentences("When did the ship leave?", twins)
    assert decisive_support(ranked, 0.5) == pytest.approx(ranked[0].support)


def test_the_last_answers_sentence_is_preferred_while_only_part_of_it_was_said() -> None:
    from qa.answer.base import Flow
    from qa.answer.extractive import DIALOG_FEATURES, DIALOG_WEIGHTS, flow_bonus

    pid = STORY.passage.passage_id
    partly = Flow(last=(pid, 1))
    wholly = Flow(given=frozenset({(pid, 1)}), last=(pid, 1))
    assert flow_bonus(partly, pid, 1) == DIALOG_WEIGHTS[DIALOG_FEATURES.index("same")] > 0
    assert flow_bonus(wholly, pid, 1) < 0
    assert flow_bonus(partly, "another passage", 1) == 0.0
    assert flow_bonus(partly, pid, 0) == 0.0


def test_what_happened_next_goes_on_into_the_next_passage_when_the_last_answer_ended_its_own() -> None:
    from qa.answer.base import Flow
    from qa.answer.extractive import dialog_step

    first = hit("The ship left at dawn. It sailed north.", [0.3, 0.2])
    second = hit("A storm came at noon. The crew took in the sails.", [0.1, 0.1], paragraph=2)
    third = hit("Years later the ship was sold.", [0.4], paragraph=3)
    ended = Flow(last=(first.passage.passage_id, 1), after=second.passage.passage_id, continues=True)
    assert [dialog_step(ended, second.passage.passage_id, i) for i in (0, 1)] == [1, 2]
    assert dialog_step(ended, third.passage.passage_id, 0) is None
    _, citations = extract("What happened next?", [first, third, second], refuse_below=0.05, max_sentences=1, margin=0.0, flow=ended)
    assert citations and citations[0].quote == "A storm came at noon."
    # Without knowing what follows, the next passage is only one more passage.
    assert dialog_step(Flow(last=(first.passage.passage_id, 1)), second.passage.passage_id, 0) is None


def test_a_title_question_is_answered_by_the_sentence_giving_the_title() -> None:
    hits = [
        hit("Blinken told reporters on Wednesday that talks were possible. Blinken spoke for an hour.", [0.5, 0.4]),
        hit("A senior diplomat told Secretary of State Antony Blinken that China objects.", [0.2], paragraph=2),
    ]
    _, citations = extract("What is Blinken's job title?", hits, refuse_below=0.1, max_sentences=1, margin=0.0)
    assert citations and "Secretary of State" in citations[0].quote


def test_a_sentence_covers_the_words_of_the_heading_it_is_under() -> None:
    text = "Fill the kettle to the top mark and pour the water away."
    under = Passage(passage_id("k.md", 2, text), "k.md", 2, text, "Before first use", sentence_spans(text))
    other = hit("Use the kettle for water only, never for milk.", [0.3], source="k.md", paragraph=3)
    ranked = rank_sentences("What should I do before first use?", [other, Hit(under, score=1.0, sentence_sims=(0.2,))])
    assert ranked[0].hit.passage.heading == "Before first use"
    assert ranked[0].features[SENTENCE_FEATURES.index("sentence_coverage")] == pytest.approx(1.0)


def test_who_is_a_person_is_answered_by_the_sentence_saying_what_the_person_is() -> None:
    hits = [
        hit("Wang Yi's team hinted at support for Moscow in the hours after Wang Yi spoke.", [0.5]),
        hit("Chinese Foreign Minister Wang Yi told Blinken in a late call that security matters.", [0.4], paragraph=2),
    ]
    _, citations = extract("Who is Wang Yi?", hits, refuse_below=0.1, max_sentences=1, margin=0.0)
    assert citations and "Foreign Minister" in citations[0].quote


def test_a_speech_verb_of_the_question_matches_another_in_the_sentence() -> None:
    hits = [
        hit("Wang Yi's team hinted at support for Moscow in the hours after.", [0.45]),
        hit("Wang Yi told Blinken in a late call that security matters.", [0.3], paragraph=2),
    ]
    _, citations = extract("Who did Wang Yi talk to?", hits, refuse_below=0.1, max_sentences=1, margin=0.0)
    assert citations and "Blinken" in citations[0].quote


def test_a_surname_alone_counts_as_the_full_name_the_question_gives() -> None:
    alone = hit("Zhang said on Wednesday that all parties should come to the negotiation table.", [0.4])
    other = hit("John said on Wednesday that all parties should come to the negotiation table.", [0.4])
    [zhang] = rank_sentences("What did Zhang Jun ask the parties to do?", [alone])
    [john] = rank_sentences("What did Zhang Jun ask the parties to do?", [other])
    assert zhang.features[1] > john.features[1] and zhang.features[2] > john.features[2]
    [part] = rank_sentences("What did Zhang Jun ask the parties to do?", [hit("Zhang Wei said the parties should talk.", [0.4])])
    assert part.features[1] < zhang.features[1], "another Zhang (a two-word name) is not Zhang Jun"


@pytest.mark.parametrize(
    "index, given, expected",
    [
        pytest.param(1, frozenset(), "same", id="the-last-answers-sentence"),
        pytest.param(1, frozenset({1}), "shown", id="shown-whole-is-not-same"),
        pytest.param(2, frozenset(), "next", id="right-after"),
        pytest.param(3, frozenset(), "ahead", id="two-after"),
        pytest.param(0, frozenset(), "before", id="before"),
    ],
)
def test_dialog_features_say_where_a_sentence_lies_from_the_last_answer(index: int, given: frozenset[int], expected: str) -> None:
    from qa.answer.base import Flow
    from qa.answer.extractive import DIALOG_FEATURES, dialog_features

    pid = STORY.passage.passage_id
    flow = Flow(given=frozenset((pid, i) for i in given), last=(pid, 1))
    features = dict(zip(DIALOG_FEATURES, dialog_features(flow, pid, index), strict=True))
    assert {name for name, v in features.items() if v} == {expected}
    assert not any(dialog_features(flow, "another passage", index))


@pytest.mark.parametrize(
    "question, sentence, topic, found",
    [
        pytest.param("Where's Heather Neroy from?", "A mom from Southern California, Neroy files the e-mail.", "", True, id="new-place"),
        pytest.param("Where's Heather Neroy from?", "For Heather Neroy, it used to be a tedious process.", "", False, id="only-the-asked-name"),
        pytest.param("Where is it located?", "Toronto is a city in Toronto.", "Toronto", False, id="only-the-topic"),
        pytest.param("When in 2002 did this happen?", "He was charged in 2002.", "", False, id="only-the-asked-year"),
        pytest.param("When in 2002 did this happen?", "He was charged in November.", "", True, id="another-time"),
        pytest.param("Who came there?", "It was Anna.", "", True, id="a-person-is-left-to-answer-type"),
        pytest.param("What did she do?", "Nothing at all.", "", True, id="untyped"),
    ],
)
def test_new_answer_found(question: str, sentence: str, topic: str, found: bool) -> None:
    from qa.answer.extractive import new_answer_found

    assert new_answer_found(question, sentence, topic) is found


def test_a_place_question_is_answered_by_a_sentence_with_a_place_the_question_lacks() -> None:
    neroy = hit(
        "For Heather Neroy, saving a recipe she found on the Internet used to be a tedious process. "
        "After that Neroy, a stay-at-home mom in Southern California, would file the e-mail.",
        [0.5, 0.4],
    )
    assert rank_sentences("Where's Heather Neroy from?", [neroy])[0].index == 1


def test_the_questions_event_matches_its_word_family_in_the_sentence() -> None:
    petty = hit(
        "Petty's funeral took place on a Monday in a small chapel. "
        "He was taken to the hospital, and his death was announced that night.",
        [0.45, 0.42],
    )
    [first, second] = sorted(rank_sentences("How did Tom Petty die?", [petty]), key=lambda c: c.index)
    predicate = SENTENCE_FEATURES.index("predicate")
    assert (first.features[predicate], second.features[predicate]) == (0.0, 1.0)
    assert rank_sentences("How did Tom Petty die?", [petty])[0].index == 1


@pytest.mark.parametrize(
    "question, sentence, topic, gives",
    [
        pytest.param("Where is it located?", "The city lies in Ontario.", "Toronto", True, id="a-new-place"),
        pytest.param("Where is it located?", "Toronto is a city in Toronto.", "Toronto", False, id="only-the-title-is-no-answer"),
        pytest.param("Where is it located?", "Toronto is a city in Toronto.", "", True, id="without-the-title-it-would-be"),
        pytest.param("What did she do?", "Nothing at all.", "", False, id="an-untyped-question-is-never-given"),
    ],
)
def test_gives_what_is_asked_counts_the_title_as_known(question: str, sentence: str, topic: str, gives: bool) -> None:
    from qa.answer.extractive import gives_what_is_asked

    assert gives_what_is_asked(question, sentence, topic) is gives


def test_a_year_covers_the_decade_a_question_asks_about() -> None:
    hits = [hit("The band toured Europe often. In 1975 the band signed with Gema Records.", [0.4, 0.4])]
    ranked = rank_sentences("What happened in the 1970s?", hits)
    assert "1975" in ranked[0].hit.passage.text[slice(*ranked[0].span)]
    assert ranked[0].features[SENTENCE_FEATURES.index("sentence_coverage")] > ranked[1].features[SENTENCE_FEATURES.index("sentence_coverage")]


def test_the_third_step_is_the_numbered_item_three() -> None:
    steps = "1. Preheat the oven. 2. Mix the flour and salt. 3. Pour in the buttermilk and stir. 4. Bake for 30 minutes."
    method = Hit(Passage(passage_id("b.md", 2, steps), "b.md", 2, steps, "Soda Bread › Method", sentence_spans(steps)), 1.0,
                 sentence_sims=(0.2, 0.2, 0.2, 0.2))
    _, citations = extract("What is the third step?", [method], refuse_below=0.1, max_sentences=1, margin=0.0)
    assert citations and citations[0].quote.startswith("3. Pour in")
