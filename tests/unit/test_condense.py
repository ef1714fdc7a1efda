from __future__ import annotations

import pytest

from qa.answer.condense import Turn, condense


def conv(*pairs: tuple[str, str]) -> list[Turn]:
    out: list[Turn] = []
    for q, a in pairs:
        out += [Turn("user", q), Turn("assistant", a)]
    return out


@pytest.mark.parametrize(
    "history, question, expected",
    [
        pytest.param([], "Who is he?", "Who is he?", id="no-history-unchanged"),
        pytest.param(
            conv(("Who did Wang Yi talk to?", "Chinese Foreign Minister Wang Yi told Blinken in a late Wednesday call. [1]")),
            "What is his job title?",
            "What is Blinken’s job title?",
            id="who-question-resolves-to-answer-entity",
        ),
        pytest.param(
            conv(("When was Marie Curie born?", "She was born in 1867. [1]")),
            "Where did she die?",
            "Where did Marie Curie die?",
            id="non-who-question-resolves-to-question-entity",
        ),
        pytest.param(
            conv(("What did NATO offer?", "A written proposal. [1]")),
            "When did they offer it?",
            "When did NATO offer it?",
            id="plural-pronoun",
        ),
        pytest.param(
            conv(("What did Blinken say on Wednesday?", "Things. [1]")),
            "And Stoltenberg?",
            "And Stoltenberg (Blinken)?",
            id="elliptic-follow-up-carries-subject",
        ),
        pytest.param(
            conv(("Who is the Chinese ambassador to the UN?", "Chinese Ambassador to the United Nations Zhang Jun said Tuesday. [1]")),
            "What does he want parties to do?",
            "What does Zhang Jun want parties to do?",
            id="who-question-skips-entities-from-the-question",
        ),
        pytest.param(
            conv(("Who is the U.S. Secretary of State?", "A diplomat told Secretary of State Antony Blinken as trans-Atlantic officials met. [1]")),
            "What did he tell reporters?",
            "What did Antony Blinken tell reporters?",
            id="hyphenated-word-is-not-a-name",
        ),
        pytest.param(
            conv(("What did Zhao Lijian say?", "x [1]")),
            "What did the spokesman say about trust between the two countries?",
            "What did the spokesman say about trust between the two countries?",
            id="self-contained-question-unchanged",
        ),
    ],
)
def test_condense(history: list[Turn], question: str, expected: str) -> None:
    assert condense(question, history) == expected


def test_earlier_follow_ups_are_resolved_in_turn() -> None:
    history = [
        Turn("user", "When was Marie Curie born?"),
        Turn("assistant", "In 1867. [1]"),
        Turn("user", "Where did she study?"),
        Turn("assistant", "In Paris. [1]"),
    ]
    assert condense("What did she discover?", history) == "What did Marie Curie discover?"
