"""Render answers, citations and passages as safe HTML for the chat. Pure: values in, strings out.

Every piece of document or user text goes through ``html.escape``; the only markup is ours.
Links between a marker and its card are class names (``qa-n-1`` -> ``qa-card-1``): the chat's
sanitizer drops data attributes.
Messages are emitted on one line: the chat renders Markdown, and a single-line HTML block
is passed through untouched (a blank line would end the block and let Markdown in).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from html.parser import HTMLParser

from qa.types import Answer, Citation, Hit

_MARKER = re.compile(r"\[(\d+)\]")
SNIPPET_CHARS = 180


def text_html(text: str) -> str:
    """Return text escaped for HTML, with line breaks kept as <br>."""
    return escape(text).replace("\r\n", "\n").replace("\n", "<br>")


def highlighted_passage(text: str, start: int, end: int) -> str:
    """Return the passage as HTML with ``text[start:end]`` wrapped in <mark class="qa-quote">."""
    return (
        f'<p class="qa-passage">{text_html(text[:start])}'
        f'<mark class="qa-quote">{text_html(text[start:end])}</mark>'
        f"{text_html(text[end:])}</p>"
    )


def _document(c: Citation) -> str:
    """Return the cited document as header spans: its title (when known) beside its file name."""
    title = f'<span class="qa-doc-title">{escape(c.title)}</span> ' if c.title else ""
    return f'{title}<span class="qa-source">{escape(c.source)}</span>'


def _cite_button(c: Citation) -> str:
    where = f"{c.title} ({c.source})" if c.title else c.source
    hint = escape(f"{where} ¶{c.paragraph}: {c.quote}")
    return f'<button type="button" class="qa-cite qa-n-{c.n}" title="{hint}" aria-label="source {c.n}">[{c.n}]</button>'


def answer_html(answer: str, citations: Sequence[Citation]) -> str:
    """Return the answer text escaped, each [n] of a known citation turned into a clickable marker."""
    by_n = {c.n: c for c in citations}

    def marker(m: re.Match[str]) -> str:
        c = by_n.get(int(m.group(1)))
        return _cite_button(c) if c else m.group(0)

    return _MARKER.sub(marker, text_html(answer))


def _support(value: float) -> str:
    return f"{value:.2f}"


def _location(page: int | None, heading: str) -> str:
    """Return the page and section of a passage as header spans (empty when it has neither)."""
    out = f'<span class="qa-page">p. {page}</span> ' if page is not None else ""
    return out + (f'<span class="qa-heading">{escape(heading)}</span> ' if heading else "")


def citation_card(c: Citation) -> str:
    """Return the sources-panel card of a citation: where it is from, its support, the passage with the quote marked."""
    return (
        # The passage id rides as a class (the sanitizer drops data attributes) so a saved chat can send it back.
        f'<article class="qa-card qa-card-{c.n} qa-pid-{escape(c.passage_id)}">'
        f'<header class="qa-card-head"><span class="qa-card-n">[{c.n}]</span> '
        f"{_document(c)} "
        f'<span class="qa-paragraph">¶ {c.paragraph}</span> '
        f"{_location(c.page, c.heading)}"
        f'<span class="qa-support" title="how well the quote supports the answer, 0 to 1">support {_support(c.support)}</span></header>'
        f"{highlighted_passage(c.text, c.start, c.end)}</article>"
    )


def passage_card(key: str, rank: int, hit: Hit) -> str:
    """Return the sources-panel card of a retrieved (not cited) passage, nothing highlighted."""
    p = hit.passage
    return (
        f'<article class="qa-card qa-closest-card qa-card-{key}">'
        f'<header class="qa-card-head"><span class="qa-card-n">#{rank}</span> '
        f'<span class="qa-source">{escape(p.source)}</span> '
        f'<span class="qa-paragraph">¶ {p.paragraph}</span></header>'
        f'<p class="qa-passage">{text_html(p.text)}</p></article>'
    )


def _closest(answer: Answer, limit: int) -> list[tuple[str, int, Hit]]:
    return [(f"p{i}", i, hit) for i, hit in enumerate(answer.passages[:limit], start=1)]


def panel_body(answer: Answer, closest_limit: int = 3) -> str:
    """Return the sources panel content for an answer: its citations, or the closest passages of a refusal."""
    asked = escape(answer.standalone_question)
    if not answer.refused and not answer.citations:
        return '<div class="qa-panel-title">No sources: this reply quotes no document.</div>'
    if not answer.refused:
        cards = "".join(citation_card(c) for c in answer.citations)
        return f'<div class="qa-panel-title">Sources for “{asked}”</div>{cards}'
    closest = _closest(answer, closest_limit)
    # Why it refused, when the answerer says: the passages below are then read knowing what is missing.
    why = f'<p class="qa-panel-reason">{text_html(answer.refusal_reason)}</p>' if answer.refusal_reason else ""
    if not closest:
        return f'<div class="qa-panel-title">No passages matched “{asked}”.</div>{why}'
    cards = "".join(passage_card(key, rank, hit) for key, rank, hit in closest)
    return f'<div class="qa-panel-title">Closest passages to “{asked}” (not sources: none answers it)</div>{why}{cards}'


EMPTY_PANEL = (
    '<div class="qa-panel"><div class="qa-panel-title">Sources</div>'
    '<p class="qa-panel-hint">Click a <b>[n]</b> in an answer to see the passage it quotes, with the sentence highlighted.</p></div>'
)


def panel_html(answer: Answer | None) -> str:
    """Return the whole sources panel (the empty hint before the first answer)."""
    return EMPTY_PANEL if answer is None else f'<div class="qa-panel">{panel_body(answer)}</div>'


def _source_line(c: Citation) -> str:
    return (
        f"<li>{_cite_button(c)} {_document(c)} "
        f'<span class="qa-paragraph">¶ {c.paragraph}</span> <span class="qa-support">support {_support(c.support)}</span></li>'
    )


def _closest_line(key: str, hit: Hit) -> str:
    p = hit.passage
    snippet = p.text if len(p.text) <= SNIPPET_CHARS else p.text[:SNIPPET_CHARS].rstrip() + "…"
    return (
        f'<li><button type="button" class="qa-cite qa-open qa-n-{key}">{escape(p.source)} ¶ {p.paragraph}</button> '
        f'<span class="qa-snippet">{text_html(snippet)}</span></li>'
    )


def refusal_reason_html(answer: Answer) -> str:
    """Return why a refusal refused, with the closest sentence it found marked as not an answer ("" when it gives no reason)."""
    if not answer.refusal_reason:
        return ""
    out = f'<div class="qa-refusal-reason">{text_html(answer.refusal_reason)}</div>'
    quotes = answer.refusal_quotes()
    if quotes:
        closest = max(quotes, key=lambda u: u.support).sentence
        out += (
            '<div class="qa-refusal-closest"><span class="qa-list-title">closest sentence found (not an answer)</span> '
            f"<q>{text_html(closest)}</q></div>"
        )
    return out


def scope_html(scope: Sequence[tuple[str, str]]) -> str:
    """Return the line naming the documents an answer was restricted to ("" when it searched every document).

    Each document's id rides as a class (``qa-doc-<id>``), so a reopened conversation can choose them again.
    """
    if not scope:
        return ""
    docs = ", ".join(f'<span class="qa-scope-doc qa-doc-{escape(i)}">{escape(label)}</span>' for i, label in scope)
    return f'<div class="qa-scope">searched in: {docs}</div>'


def message_html(answer: Answer, closest_limit: int = 3, scope: Sequence[tuple[str, str]] = ()) -> str:
    """Return the chat message of a finished answer: text with clickable [n], search query and scope, sources (or closest passages).

    ``scope`` is the (id, label) of each document the question was restricted to; empty: every document.
    """
    parts = []
    if answer.refused:
        parts.append(f'<div class="qa-answer qa-refusal">{text_html(answer.answer)}</div>')
        # Said right under the refusal: why it refused matters more than what was searched.
        parts.append(refusal_reason_html(answer))
    else:
        parts.append(f'<div class="qa-answer">{answer_html(answer.answer, answer.citations)}</div>')
    # A reply that looked nothing up (small talk) says neither what was searched for nor an empty list of sources.
    if answer.refused or answer.citations or answer.passages:
        parts.append(f'<div class="qa-searched">searched for: {escape(answer.standalone_question)}</div>')
    if scope:
        parts.append(scope_html(scope))
    if not answer.refused and answer.citations:
        lines = "".join(_source_line(c) for c in answer.citations)
        parts.append(f'<div class="qa-sources"><div class="qa-list-title">sources</div><ol>{lines}</ol></div>')
    elif answer.passages:
        lines = "".join(_closest_line(key, hit) for key, _, hit in _closest(answer, closest_limit))
        parts.append(f'<div class="qa-closest"><div class="qa-list-title">closest passages (not sources)</div><ul>{lines}</ul></div>')
    if answer.fallback:
        parts.append(f'<div class="qa-fallback">{escape(answer.fallback)}</div>')
    for u in answer.flagged:
        parts.append(f'<div class="qa-flagged">not supported by the documents: “{text_html(u.sentence)}”</div>')
    generated = answer.removed_generated()
    if generated:
        n = len(generated)
        struck = "".join(f"<li><del>{text_html(u.sentence)}</del> ({escape(u.reason)})</li>" for u in generated)
        parts.append(
            f'<details class="qa-flagged"><summary>{n} generated sentence{"s" if n > 1 else ""} removed: '
            f"not supported by the documents</summary><ul>{struck}</ul></details>"
        )
    # The panel content rides along, hidden, so a click on an older answer can show its own sources.
    parts.append(f'<div class="qa-panel-src">{panel_body(answer, closest_limit)}</div>')
    kind = "qa-msg qa-refused" if answer.refused else "qa-msg"
    return f'<div class="{kind}">{"".join(parts)}</div>'


_PANEL_SRC = '<div class="qa-panel-src">'
_MESSAGE_END = "</div></div>"


def message_panel(message: str) -> str | None:
    """Return the sources panel of a finished answer message we rendered (its hidden copy); None for any other message."""
    at = message.rfind(_PANEL_SRC)
    if at < 0 or not message.startswith('<div class="qa-msg') or not message.endswith(_MESSAGE_END):
        return None
    return f'<div class="qa-panel">{message[at + len(_PANEL_SRC) : -len(_MESSAGE_END)]}</div>'


PENDING_PREFIX = '<div class="qa-msg qa-pending">'


def pending_html(text: str) -> str:
    """Return the chat message while the answer streams in."""
    return f'{PENDING_PREFIX}<div class="qa-answer">{text_html(text)}</div></div>'


def is_pending(message: str) -> bool:
    """Return whether a chat message is an answer still streaming in."""
    return message.startswith(PENDING_PREFIX)


def error_html(message: str) -> str:
    """Return the chat message for a question the library rejected."""
    return f'<div class="qa-msg qa-error"><div class="qa-error-text">{text_html(message)}</div></div>'


class _AnswerText(HTMLParser):
    """Collects the text inside the element with class qa-answer."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.found = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += 1
            if tag == "br":
                self.parts.append("\n")
                self.depth -= 1
        elif "qa-answer" in (dict(attrs).get("class") or "").split() and not self.found:
            self.depth, self.found = 1, True

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def answer_text(message: str) -> str | None:
    """Return the plain answer text (with its [n] markers) of a chat message we rendered; None if it holds none."""
    parser = _AnswerText()
    parser.feed(message)
    parser.close()
    return "".join(parser.parts) if parser.found else None
