from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

import pytest

from qa.types import REFUSAL, Answer, Citation, Hit, Passage, Unsupported
from ui.format import (
    EMPTY_PANEL,
    answer_html,
    answer_text,
    error_html,
    highlighted_passage,
    message_html,
    message_panel,
    panel_html,
    pending_html,
    scope_html,
)

HOSTILE = 'Intro. <script>alert("x")</script> and <img src=x onerror=alert(1)> & "quotes". Tail.'


def _citation(n: int = 1, text: str = "First sentence. Second sentence here.", quote: str = "Second sentence here.") -> Citation:
    start = text.index(quote)
    return Citation(n, f"pid{n}", "doc.txt", 3, text, quote, start, start + len(quote), 0.8123)


def _answer(citations: tuple[Citation, ...], passages: tuple[Hit, ...] = (), refused: bool = False) -> Answer:
    text = REFUSAL if refused else " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Answer(text, refused, "standalone <q>?", citations, passages)


def _hit(text: str, paragraph: int = 2) -> Hit:
    return Hit(Passage(f"p{paragraph}", "other.md", paragraph, text), 1.0)


class _Tags(HTMLParser):
    """Collects every tag and attribute name of a fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)


def _tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


OUR_TAGS = {"div", "span", "button", "article", "header", "p", "mark", "ol", "ul", "li", "br", "b"}


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(lambda: message_html(_answer((_citation(text=HOSTILE, quote="Tail."),))), id="cited-message"),
        pytest.param(lambda: panel_html(_answer((_citation(text=HOSTILE, quote="Tail."),))), id="panel"),
        pytest.param(lambda: message_html(_answer((), (_hit(HOSTILE),), refused=True)), id="refusal-closest"),
        pytest.param(lambda: pending_html(HOSTILE), id="streaming"),
        pytest.param(lambda: error_html(HOSTILE), id="error"),
        pytest.param(lambda: highlighted_passage(HOSTILE, 0, 6), id="passage"),
    ],
)
def test_document_text_is_rendered_as_text(render: Any) -> None:
    html = render()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    found = _tags(html)
    assert found.tags <= OUR_TAGS, "no tag from the document survives"
    assert found.attrs <= {"class", "type", "title", "aria-label"}, "no on* handler or src from the document survives"


def test_quote_is_highlighted_exactly() -> None:
    html = highlighted_passage("Before. The quote. After.", 8, 18)
    assert html == '<p class="qa-passage">Before. <mark class="qa-quote">The quote.</mark> After.</p>'


def test_line_breaks_stay_on_one_html_line() -> None:
    message = message_html(_answer((_citation(text="Line one.\n\nLine two.", quote="Line two."),)))
    assert "\n" not in message and "Line one.<br><br>" in message


def test_markers_of_known_citations_become_buttons_and_others_stay_text() -> None:
    html = answer_html("A [1] and B [2] and C [9].", (_citation(1), _citation(2)))
    assert re.findall(r'class="qa-cite qa-n-(\d+)"', html) == ["1", "2"]
    assert html.endswith("C [9].")


def test_marker_hover_names_source_paragraph_and_quote() -> None:
    html = answer_html("X [1]", (_citation(1),))
    assert 'title="doc.txt ¶3: Second sentence here."' in html


def test_answer_lists_only_cited_sources_with_query_and_hidden_panel() -> None:
    c = _citation(1)
    answer = _answer((c,), passages=(_hit("uncited passage text"),))
    html = message_html(answer)
    assert "searched for: standalone &lt;q&gt;?" in html
    visible = html.split('<div class="qa-panel-src">')[0]
    assert "doc.txt" in visible and "support 0.81" in visible
    assert "uncited passage text" not in html, "retrieved but uncited passages are not listed"
    assert html.count('class="qa-card qa-card-1 qa-pid-pid1"') == 1
    assert '<mark class="qa-quote">Second sentence here.</mark>' in html


def test_refusal_offers_closest_passages_not_sources() -> None:
    hits = tuple(_hit(f"passage {i}", paragraph=i) for i in range(1, 6))
    html = message_html(_answer((), hits, refused=True))
    assert "qa-refused" in html and REFUSAL in html
    assert "closest passages (not sources)" in html and "sources</div>" not in html
    assert html.count("qa-open") == 3, "three closest passages are offered"
    assert "<mark" not in html, "nothing is highlighted as if it supported an answer"
    panel = panel_html(_answer((), hits, refused=True))
    assert "Closest passages" in panel and "not sources" in panel


def test_a_reply_that_looked_nothing_up_shows_no_search_and_no_empty_sources() -> None:
    small_talk = Answer("Glad to help.", False, "thanks!")
    html = message_html(small_talk)
    assert "Glad to help." in html and "searched for" not in html and "sources</div>" not in html
    assert answer_text(html) == "Glad to help."
    assert "No sources" in panel_html(small_talk)
    uncited = message_html(_answer((), passages=(_hit("retrieved"),)))
    assert "searched for: standalone &lt;q&gt;?" in uncited and "sources</div>" not in uncited


def test_panel_before_first_answer_is_a_hint() -> None:
    assert panel_html(None) == EMPTY_PANEL


@pytest.mark.parametrize(
    "message, expected",
    [
        pytest.param(message_html(_answer((_citation(1),))), "Second sentence here. [1]", id="answer-with-marker"),
        pytest.param(message_html(_answer((_citation(1, text="A &lt; b. Fin.", quote="A &lt; b."),))), "A &lt; b. [1]", id="escaped-text"),
        pytest.param(message_html(_answer((_citation(1, text="x\ny.", quote="x\ny."),))), "x\ny. [1]", id="line-break"),
        pytest.param(message_html(_answer((), refused=True)), REFUSAL, id="refusal"),
        pytest.param(pending_html("half an ans"), "half an ans", id="interrupted-stream"),
        pytest.param(error_html("question is empty"), None, id="error-holds-no-answer"),
        pytest.param("plain text from elsewhere", None, id="foreign"),
    ],
)
def test_answer_text_recovers_the_plain_answer(message: str, expected: str | None) -> None:
    assert answer_text(message) == expected


def test_unverified_generated_sentences_are_called_out() -> None:
    c = _citation(1)
    flagged = Unsupported("The moon is <b>cheese</b>.", 0.1, "low support", (1,))
    answer = Answer("X [1]", False, "q", (c,), flagged=(flagged,), removed=(flagged, flagged))
    html = message_html(answer)
    assert "not supported by the documents: “The moon is &lt;b&gt;cheese&lt;/b&gt;.”" in html
    assert "2 generated sentences removed" in html
    assert html.count("<del>") == 2, "each removed sentence is shown, struck through"
    assert "qa-flagged" not in message_html(_answer((c,)))


def test_an_answer_names_the_documents_it_was_restricted_to() -> None:
    scope = [("abc123", 'Rules <b>&</b> "notes"'), ("def456", "Minutes (b.md)")]
    message = message_html(_answer((_citation(),)), scope=scope)
    assert (
        '<div class="qa-scope">searched in: <span class="qa-scope-doc qa-doc-abc123">Rules &lt;b&gt;&amp;&lt;/b&gt; &quot;notes&quot;</span>, '
        '<span class="qa-scope-doc qa-doc-def456">Minutes (b.md)</span></div>'
    ) in message
    assert message.index("qa-searched") < message.index("qa-scope") < message.index("qa-panel-src")
    assert "qa-scope" not in message_html(_answer((_citation(),))), "every document: nothing to name"
    assert scope_html([]) == ""


@pytest.mark.parametrize(
    "answer",
    [pytest.param(_answer((_citation(),)), id="answer"), pytest.param(_answer((), (Hit(Passage("p1", "a.md", 1, "Near."), 1.0),), refused=True), id="refusal")],
)
def test_message_panel_is_the_panel_of_the_answer(answer: Answer) -> None:
    assert message_panel(message_html(answer, scope=[("x", "X")])) == panel_html(answer)


@pytest.mark.parametrize("message", [error_html("no"), pending_html("Fir"), "<p>elsewhere</p>", ""])
def test_message_panel_of_other_messages_is_none(message: str) -> None:
    assert message_panel(message) is None


NOT_MENTIONED = "The documents do not mention “Fort <b>Stevenson</b>”."


def _unknown_name_refusal(generated: tuple[Unsupported, ...] = ()) -> Answer:
    quote = Unsupported("Fort Bragg was designed by <i>nobody</i>.", 0.12, NOT_MENTIONED)
    return Answer(REFUSAL, True, "Who designed Fort Stevenson?", removed=(quote, *generated), refusal_reason=NOT_MENTIONED)


def test_a_refusal_says_why_and_shows_its_closest_sentence_as_not_an_answer() -> None:
    html = message_html(_unknown_name_refusal())
    assert '<div class="qa-refusal-reason">The documents do not mention “Fort &lt;b&gt;Stevenson&lt;/b&gt;”.</div>' in html
    assert "closest sentence found (not an answer)</span> <q>Fort Bragg was designed by &lt;i&gt;nobody&lt;/i&gt;.</q>" in html
    assert "generated sentence" not in html and "<del>" not in html, "a refusal's quote is not a removed generated sentence"
    assert html.index("qa-refusal-reason") < html.index("qa-searched"), "the reason is said right under the refusal"
    assert answer_text(html) == REFUSAL
    panel = panel_html(_unknown_name_refusal())
    assert '<p class="qa-panel-reason">The documents do not mention “Fort &lt;b&gt;Stevenson&lt;/b&gt;”.</p>' in panel
    assert "qa-panel-reason" not in panel_html(_answer((), refused=True)), "no reason given, none shown"


def test_generated_sentences_beside_a_refusal_reason_keep_their_display() -> None:
    generated = Unsupported("Fort Stevenson was designed by Vauban.", 0.05, "support 0.05 < 0.50", (1,))
    html = message_html(_unknown_name_refusal((generated,)))
    assert "qa-refusal-reason" in html
    assert "1 generated sentence removed" in html and html.count("<del>") == 1
    assert "<del>Fort Stevenson was designed by Vauban.</del>" in html


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_answer((), refused=True), id="refusal-without-reason"),
        pytest.param(_answer((_citation(),)), id="answer"),
    ],
)
def test_no_reason_is_shown_where_none_was_given(answer: Answer) -> None:
    html = message_html(answer)
    assert "qa-refusal-reason" not in html and "qa-refusal-closest" not in html


def test_a_reason_without_its_quote_is_shown_alone() -> None:
    # A generator's extractive fallback keeps the reason but not its quote (``removed`` holds the generated sentences).
    answer = Answer(REFUSAL, True, "q", refusal_reason=NOT_MENTIONED, fallback="answered extractively")
    html = message_html(answer)
    assert "qa-refusal-reason" in html and "qa-refusal-closest" not in html


def test_a_citation_names_its_documents_title_beside_the_file_name() -> None:
    titled = replace(_citation(), title='Rules <b>&</b> "notes"')
    message = message_html(_answer((titled,)))
    named = '<span class="qa-doc-title">Rules &lt;b&gt;&amp;&lt;/b&gt; &quot;notes&quot;</span> <span class="qa-source">doc.txt</span>'
    assert message.count(named) == 2, "in the sources list and in the card the panel shows"
    assert 'title="Rules &lt;b&gt;&amp;&lt;/b&gt; &quot;notes&quot; (doc.txt) ¶3: Second sentence here."' in message, "the hover names it too"
    assert named in panel_html(_answer((titled,)))


def test_a_citation_without_a_title_shows_its_file_name_alone() -> None:
    message = message_html(_answer((_citation(),)))
    assert "qa-doc-title" not in message and 'title="doc.txt ¶3: Second sentence here."' in message
