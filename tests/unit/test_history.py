"""Reading the chat's rendered messages back: citations, the search, and library turns with citations."""

from __future__ import annotations

from typing import Any

import pytest

from qa.types import REFUSAL, Answer, Citation, Hit, Passage
from ui.format import error_html, message_html, pending_html
from ui.history import CitedSource, conversation_saved, conversation_scope, history_turns, message_citations, message_scope, searched_for

TEXT = "First sentence. Second <b>sentence</b> &amp; here.\nThird one."


def _citation(n: int, quote: str, pid: str = "abc123def456", text: str = TEXT) -> Citation:
    start = text.index(quote)
    return Citation(n, pid, f"docs/{n}.md", 2 + n, text, quote, start, start + len(quote), 0.8)


def _answer(*citations: Citation) -> Answer:
    return Answer(" ".join(f"{c.quote} [{c.n}]" for c in citations), False, "Who is <X>?", citations)


def _refusal() -> Answer:
    return Answer(REFUSAL, True, "Who is Y?", (), (Hit(Passage("p9", "other.md", 9, "Near miss."), 1.0),))


@pytest.mark.parametrize(
    "message, expected",
    [
        pytest.param(
            message_html(_answer(_citation(1, "Second <b>sentence</b> &amp; here."))),
            [CitedSource(1, "abc123def456", "docs/1.md", 3, "Second <b>sentence</b> &amp; here.")],
            id="markup-in-the-quote-comes-back-as-text",
        ),
        pytest.param(
            message_html(_answer(_citation(1, "First sentence."), _citation(2, "Second <b>sentence</b> &amp; here.\nThird one.", pid="ffff"))),
            [
                CitedSource(1, "abc123def456", "docs/1.md", 3, "First sentence."),
                CitedSource(2, "ffff", "docs/2.md", 4, "Second <b>sentence</b> &amp; here.\nThird one."),
            ],
            id="two-citations-line-break-kept",
        ),
        pytest.param(message_html(_refusal()), [], id="refusal-closest-passages-are-not-citations"),
        pytest.param(error_html("question is empty"), [], id="error"),
        pytest.param(pending_html("half an answer [1]"), [], id="interrupted-stream"),
        pytest.param("<p>text from elsewhere</p>", [], id="foreign"),
    ],
)
def test_message_citations(message: str, expected: list[CitedSource]) -> None:
    assert message_citations(message) == expected


def test_searched_for_is_the_standalone_question() -> None:
    assert searched_for(message_html(_answer(_citation(1, "First sentence.")))) == "Who is <X>?"
    assert searched_for(message_html(_refusal())) == "Who is Y?"
    assert searched_for(error_html("no")) is None


def test_history_turns_from_gradio_messages() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Who is <b>X</b>?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": message_html(_answer(_citation(1, "First sentence.")))}]},
        {"role": "user", "content": "   "},
        {"role": "assistant", "content": error_html("question is empty")},
        {"role": "user", "content": "And Y?"},
        {"role": "assistant", "content": message_html(_refusal())},
        {"role": "user", "content": "And Z?"},
        {"role": "assistant", "content": [{"type": "file", "file": {"path": "x.png"}}]},
    ]
    assert history_turns(messages, 40) == [
        {"role": "user", "content": "Who is <b>X</b>?"},
        {"role": "assistant", "content": "First sentence. [1]", "citations": [{"passage_id": "abc123def456"}]},
        {"role": "user", "content": "   "},
        {"role": "user", "content": "And Y?"},
        {"role": "assistant", "content": REFUSAL, "citations": []},
        {"role": "user", "content": "And Z?"},
    ]
    assert history_turns(messages, 2) == history_turns(messages, 40)[-2:]
    assert history_turns(messages, 0) == []


def _turn(question: str, reply: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]


ONE = _turn("Who?", message_html(_answer(_citation(1, "First sentence."))))
TWO = ONE + _turn("And then?", message_html(_refusal()))
OTHER = _turn("Where?", error_html("no"))


@pytest.mark.parametrize(
    "index, conversation, saved, expected",
    [
        pytest.param(None, ONE, [OTHER], (0, [ONE, OTHER]), id="a-new-conversation-goes-first"),
        pytest.param(None, ONE, None, (0, [ONE]), id="the-first-conversation-ever"),
        pytest.param(1, TWO, [OTHER, ONE], (1, [OTHER, TWO]), id="a-reopened-conversation-keeps-its-place"),
        pytest.param(0, OTHER, [OTHER, ONE], None, id="nothing-new-nothing-sent"),
        pytest.param(5, ONE, [OTHER], (0, [ONE, OTHER]), id="an-index-that-is-gone-saves-it-as-new"),
        pytest.param(None, ONE[:1] + [{"role": "assistant", "content": pending_html("Fir")}], [], None, id="not-while-streaming"),
        pytest.param(0, ONE[:1], [ONE], None, id="not-before-the-answer"),
        pytest.param(None, [], [OTHER], None, id="not-an-empty-chat"),
    ],
)
def test_conversation_saved(index: int | None, conversation: list[Any], saved: list[Any] | None, expected: Any) -> None:
    before = [list(c) for c in saved or []]
    assert conversation_saved(index, conversation, saved) == expected
    assert (saved or []) == before, "the saved list handed in is not changed in place"


SCOPE = [("4dccee58711e6802", "Allotment <rules> & “notes”"), ("55292c22c214f1d4", "Minutes (b-minutes.md)")]


@pytest.mark.parametrize(
    "message, expected",
    [
        pytest.param(message_html(_answer(_citation(1, "First sentence.")), scope=SCOPE), SCOPE, id="labels-with-markup-come-back-as-text"),
        pytest.param(message_html(_refusal(), scope=SCOPE[1:]), SCOPE[1:], id="a-refusal-keeps-its-scope"),
        pytest.param(message_html(_answer(_citation(1, "First sentence."))), [], id="every-document"),
        pytest.param(error_html("no"), [], id="error"),
    ],
)
def test_message_scope(message: str, expected: list[tuple[str, str]]) -> None:
    assert message_scope(message) == expected


def test_conversation_scope_is_the_last_answers() -> None:
    narrow = message_html(_answer(_citation(1, "First sentence.")), scope=SCOPE[:1])
    wide = message_html(_answer(_citation(1, "First sentence.")))
    assert conversation_scope(_turn("a", wide) + _turn("b", narrow)) == SCOPE[:1]
    assert conversation_scope(_turn("a", narrow) + _turn("b", wide)) == [], "the choice was widened to every document"
    after_error = _turn("a", narrow) + _turn("", error_html("question is empty")) + [{"role": "user", "content": "c"}]
    assert conversation_scope(after_error) == SCOPE[:1], "an error or an unanswered question says nothing about the choice"
    gradio_shape = [{"role": "assistant", "content": [{"type": "text", "text": narrow}]}]
    assert conversation_scope(gradio_shape) == SCOPE[:1]
    streaming = [{"role": "assistant", "content": narrow}, {"role": "assistant", "content": pending_html("Fir")}]
    assert conversation_scope(streaming) == SCOPE[:1]
    assert conversation_scope([]) == []
