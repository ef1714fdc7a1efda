from __future__ import annotations

import pytest

from qa.language import gives_title, names, question_type, speech_terms, terms


@pytest.mark.parametrize(
    "question, kind",
    [
        pytest.param("What is his job title?", "title", id="job-title"),
        pytest.param("What position did Blinken hold?", "title", id="position"),
        pytest.param("What was her occupation?", "title", id="occupation"),
        pytest.param("What is the title of the book?", None, id="title-of-a-work"),
        pytest.param("Who is the ambassador?", "name", id="who"),
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


def test_speech_verbs_are_one_concept() -> None:
    assert set(terms("talk")) <= speech_terms("Wang Yi told Blinken in a call.")
    assert speech_terms("Wang Yi met Blinken.") == set()


def test_names_take_accented_capitals() -> None:
    assert [n for _, n in names("Her daughters were Irène Joliot-Curie and Ève Curie.")] == ["Irène Joliot-Curie and Ève Curie"]
