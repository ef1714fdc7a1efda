from __future__ import annotations

import pytest

from qa.terms import acronyms, coverage, terms


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("the United Nations said", {"un"}, id="two-words"),
        pytest.param("North Atlantic Treaty Organization", {"nato"}, id="four-words"),
        pytest.param("Secretary of State Blinken", {"ss", "ssb", "sb"}, id="skips-of"),
        pytest.param("nothing capitalised here", set(), id="none"),
    ],
)
def test_acronyms(text: str, expected: set[str]) -> None:
    assert expected <= set(acronyms(text))
    if not expected:
        assert acronyms(text) == []


def test_terms_drop_question_and_stop_words_and_stem() -> None:
    assert terms("Who did they mobilize near the borders in the article?") == ["mobili", "near", "border"]


def test_coverage() -> None:
    assert coverage({"a", "b"}, {"a"}) == 0.5
    assert coverage(set(), {"a"}) == 1.0
