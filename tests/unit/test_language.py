from __future__ import annotations

import pytest

from qa.language import (
    asks_of_the_last,
    asks_overview,
    decades,
    describes,
    expected_answer,
    gives_title,
    heading_section,
    holds_new_answer,
    is_elliptical,
    list_item_words,
    names,
    predicate_stem,
    predicate_words,
    question_type,
    speech_terms,
    terms,
    title_entity,
    who_is,
)


@pytest.mark.parametrize(
    "question, kind",
    [
        pytest.param("What is his job title?", "title", id="job-title"),
        pytest.param("What position did Blinken hold?", "title", id="position"),
        pytest.param("What was her occupation?", "title", id="occupation"),
        pytest.param("What is the title of the book?", None, id="title-of-a-work"),
        pytest.param("Who is the ambassador?", "name", id="who"),
        pytest.param("Who is Wang Yi?", "description", id="who-is-a-name"),
        pytest.param("Who did Wang Yi call?", "name", id="who-with-a-name-asks-for-another"),
        pytest.param("How many people came?", "number", id="how-many"),
    ],
)
def test_question_type(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


@pytest.mark.parametrize(
    "sentence, name, titled",
    [
        pytest.param("A diplomat told Secretary of State Antony Blinken.", "Blinken", True, id="secretary-of-state"),
        pytest.param("Chinese Ambassador to the United Nations Zhang Jun said.", "Zhang Jun", True, id="ambassador-to"),
        pytest.param("NATO Secretary-General Jens Stoltenberg spoke.", "Jens Stoltenberg", True, id="hyphenated-title"),
        pytest.param("Blinken and NATO Secretary-General Jens Stoltenberg met.", "Blinken", False, id="title-of-the-next-name"),
        pytest.param("Antony Blinken told reporters.", "Blinken", False, id="first-name-only"),
    ],
)
def test_gives_title(sentence: str, name: str, titled: bool) -> None:
    assert gives_title(sentence, name) is titled


@pytest.mark.parametrize(
    "sentence, described",
    [
        pytest.param("Chinese Foreign Minister Wang Yi told Blinken.", True, id="title-before"),
        pytest.param("Wang Yi, China’s top diplomat, called.", True, id="apposition"),
        pytest.param("Wang Yi is a career diplomat.", True, id="copula"),
        pytest.param("Wang Yi told Blinken that talks were possible.", False, id="only-what-he-did"),
        pytest.param("Wang’s team hinted at support for Moscow.", False, id="his-team"),
    ],
)
def test_describes_says_what_the_person_is(sentence: str, described: bool) -> None:
    assert describes(sentence, "Wang Yi") is described


@pytest.mark.parametrize(
    "question, overview",
    [
        pytest.param("What is this article about?", True, id="article-about"),
        pytest.param("what's the document about", True, id="lower-case-contraction"),
        pytest.param("Summarize the report.", True, id="summarize"),
        pytest.param("Give me an overview of this document", True, id="overview"),
        pytest.param("What is the main point of the article?", True, id="main-point"),
        pytest.param("Who is the article about?", False, id="who-asks-for-a-name"),
        pytest.param("What is the location that is the focus of the article?", False, id="a-detail"),
        pytest.param("What is the article about Blinken about?", False, id="not-the-whole"),
    ],
)
def test_asks_overview(question: str, overview: bool) -> None:
    assert asks_overview(question) is overview


def test_who_is_takes_one_name_only() -> None:
    assert who_is("Who is Wang Yi?") == "Wang Yi"
    assert who_is("Who's Jens Stoltenberg") == "Jens Stoltenberg"
    assert who_is("Who is the ambassador?") is None
    assert who_is("Who is Wang Yi talking to?") is None


def test_speech_verbs_are_one_concept() -> None:
    assert set(terms("talk")) <= speech_terms("Wang Yi told Blinken in a call.")
    assert speech_terms("Wang Yi met Blinken.") == set()


def test_names_take_accented_capitals() -> None:
    assert [n for _, n in names("Her daughters were Irène Joliot-Curie and Ève Curie.")] == ["Irène Joliot-Curie and Ève Curie"]


@pytest.mark.parametrize(
    "question, kind",
    [
        pytest.param("Where did he die?", "place", id="where"),
        pytest.param("Where's she from?", "place", id="where-contracted"),
        pytest.param("In which country is the lake?", "place", id="which-country"),
        pytest.param("When did he enact this?", "time", id="when"),
        pytest.param("What was the date of the incident?", "time", id="what-was-the-date"),
        pytest.param("As of what year?", "time", id="as-of-what-year"),
        pytest.param("How many main tasks are they asked to do?", "number", id="how-many"),
        pytest.param("After how many times?", "number", id="how-many-inside"),
        pytest.param("How long did it take them?", "duration", id="how-long"),
        pytest.param("Who was a part of it?", "person", id="who"),
        pytest.param("Says who?", "person", id="says-who"),
        pytest.param("Why did he lose?", "reason", id="why"),
        pytest.param("What did she do next?", None, id="untyped"),
        pytest.param("What did they say? when where", None, id="only-before-the-question-mark"),
    ],
)
def test_expected_answer(question: str, kind: str | None) -> None:
    assert expected_answer(question) == kind


@pytest.mark.parametrize(
    "kind, sentence, known, found",
    [
        pytest.param("place", "She is a mom from Southern California.", "Heather Neroy", True, id="place-after-from"),
        pytest.param("place", "For Heather Neroy, it used to be tedious.", "Heather Neroy", False, id="only-the-asked-name"),
        pytest.param("place", "Bath became popular as a spa in Bath.", "Bath", False, id="only-the-topic"),
        pytest.param("place", "He died at his home on Monday.", "", True, id="place-noun"),
        pytest.param("place", "He met them on Monday.", "", False, id="a-weekday-is-no-place"),
        pytest.param("place", "He died in Santa Monica, California.", "", True, id="city-comma-state"),
        pytest.param("place", "York became the capital of the province of Ontario.", "York", True, id="province-of"),
        pytest.param("time", "In November, he called elections.", "", True, id="month"),
        pytest.param("time", "It ended a decade of leadership.", "", False, id="decade-is-no-date"),
        pytest.param("time", "It happened in 2002.", "2002", False, id="year-already-asked"),
        pytest.param("time", "In 2002 it happened again in November.", "2002", True, id="another-time"),
        pytest.param("time", "Two years later, he resigned.", "", True, id="relative-time"),
        pytest.param("time", "It was built in the 18th century.", "", True, id="century"),
        pytest.param("time", "Most people may agree.", "", False, id="may-the-verb"),
        pytest.param("number", "Police have three main tasks.", "", True, id="number-word"),
        pytest.param("number", "The population was 88,859.", "", True, id="digits"),
        pytest.param("number", "Many forces suffer from corruption.", "", False, id="many-is-no-number"),
        pytest.param("duration", "It was fully an hour after they left.", "", True, id="an-hour"),
        pytest.param("duration", "They crossed the chasm.", "", False, id="no-duration"),
        pytest.param("duration", "The kettle has a two-year warranty.", "", True, id="hyphenated-before-a-noun"),
        pytest.param("duration", "It was a one-sided game.", "", False, id="hyphenated-no-time-unit"),
        pytest.param("person", "Jane Austen lived in Bath.", "Bath", True, id="person-name"),
        pytest.param("person", "Despite a career, he worked.", "", False, id="sentence-opening-word"),
    ],
)
def test_holds_new_answer(kind: str, sentence: str, known: str, found: bool) -> None:
    assert holds_new_answer(kind, sentence, set(terms(known))) is found


@pytest.mark.parametrize(
    "a, b",
    [
        pytest.param("die", "death", id="die-death"),
        pytest.param("died", "dead", id="died-dead"),
        pytest.param("born", "birth", id="born-birth"),
        pytest.param("enacted", "enact", id="regular-past"),
        pytest.param("created", "creation", id="verb-noun"),
        pytest.param("tasks", "task", id="plural"),
        pytest.param("lived", "living", id="ed-ing"),
    ],
)
def test_predicate_stem_joins_a_family(a: str, b: str) -> None:
    assert predicate_stem(a) == predicate_stem(b)


def test_predicate_stem_keeps_different_words_apart() -> None:
    assert predicate_stem("die") != predicate_stem("dinner")
    assert predicate_stem("enact") != predicate_stem("enable")


def test_predicate_words_leave_out_names_pronouns_and_appended_context() -> None:
    assert predicate_words("Where did Tom Petty die?") == ["die"]
    assert predicate_words("When did he enact this? Rajapaksa election") == ["enact"]
    assert predicate_words("How many main tasks are they asked to do?") == ["main", "tasks", "asked"]


@pytest.mark.parametrize("question", ["Anything else?", "During what year?", "Since when?", "Besides that, who came?", "Says who?"])
def test_function_words_opening_a_question_are_no_names(question: str) -> None:
    assert names(question) == []


@pytest.mark.parametrize(
    "question, expected",
    [
        ("How big was it?", True),
        ("Since when?", True),
        ("What was it called?", True),
        ("During what year?", True),
        ("How many?", True),
        ("How many years?", True),
        ("Was it loved?", False),  # yes/no: it checks a claim
        ("Did they play with anyone else?", False),
        ("What land zone is Bonn in?", False),  # words of its own
        ("Who founded the abbey?", False),
    ],
)
def test_is_elliptical(question: str, expected: bool) -> None:
    assert is_elliptical(question) is expected


def test_decades_are_read_off_the_years_a_text_gives() -> None:
    assert decades("In 1975, and again in 2003; not 12345 or 99.") == {"1970s", "2000s"}
    assert decades("No year here.") == frozenset()


@pytest.mark.parametrize(
    "question, of_the_last",
    [("How many times?", True), ("How often?", True), ("When?", True), ("How big was it?", True),
     ("When did she die?", False), ("How much does it cost?", False), ("Where was Marie Curie born?", False)],
)
def test_an_ellipsis_naming_no_event_asks_of_the_last_answer(question: str, of_the_last: bool) -> None:
    assert asks_of_the_last(question) is of_the_last


def test_a_heading_path_is_about_its_documents_entity() -> None:
    assert title_entity("KX-200 Electric Kettle: User Guide › Descaling") == "KX-200 Electric Kettle"
    assert title_entity("Marie Curie › Early life") == "Marie Curie"
    assert heading_section("Marie Curie › Early life") == " › Early life"
    assert heading_section("UKRAINIAN VIEWS INCORPORATED") == "UKRAINIAN VIEWS INCORPORATED"  # names no entity


def test_a_numbered_step_answers_to_its_ordinal() -> None:
    assert list_item_words("3. Pour in the buttermilk.") == "third step"
    assert list_item_words("12) Serve.") == "twelfth step"
    assert list_item_words("In 1903 they flew.") == list_item_words("13. Rest.") == ""
