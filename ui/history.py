"""Read the chat's own messages back: the citations and search of an answer, and the library turns. Pure.

A conversation reopened from the browser's storage holds only these rendered messages, so
everything a follow-up or a rating needs is recovered from them: the answer text (with its
``[n]``), what was searched for, and each citation's passage id, source, paragraph and quote
(from the hidden sources-panel copy inside every answer message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from ui.format import answer_text, is_pending

_CARD_N = re.compile(r"^qa-card-(\d+)$")
_PID = re.compile(r"^qa-pid-(.+)$")
_DOC = re.compile(r"^qa-doc-(.+)$")
_SEARCHED = "searched for: "
_FIELDS = {"qa-source": "source", "qa-paragraph": "paragraph", "qa-quote": "quote", "qa-searched": "searched"}


@dataclass(frozen=True)
class CitedSource:
    """A citation of an answer as the chat showed it: marker, passage id, source, paragraph and quoted sentence."""

    n: int
    passage_id: str
    source: str
    paragraph: int
    quote: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape written to the feedback log."""
        return {"n": self.n, "passage_id": self.passage_id, "source": self.source, "paragraph": self.paragraph, "quote": self.quote}


class _MessageParts(HTMLParser):
    """Collects the citation cards of the hidden sources copy and the searched-for line of one message."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cards: list[dict[str, str]] = []
        self.searched: str | None = None
        self.in_panel_src = 0  # element depth inside .qa-panel-src; 0 outside
        self.card: dict[str, str] | None = None
        self.field: tuple[str, str] | None = None  # (tag that opened it, field name)
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "br":
            if self.field:
                self.text.append("\n")
            return
        if self.in_panel_src:
            self.in_panel_src += 1
        elif "qa-panel-src" in classes:
            self.in_panel_src = 1
        if self.in_panel_src and tag == "article" and "qa-card" in classes and "qa-closest-card" not in classes:
            n = next((m.group(1) for c in classes if (m := _CARD_N.match(c))), "")
            pid = next((m.group(1) for c in classes if (m := _PID.match(c))), "")
            self.card = {"n": n, "passage_id": pid}
        name = next((_FIELDS[c] for c in classes if c in _FIELDS), None)
        if name and self.field is None and (self.card is not None or (name == "searched" and not self.in_panel_src)):
            self.field, self.text = (tag, name), []

    def handle_endtag(self, tag: str) -> None:
        if self.field and tag == self.field[0]:
            value = "".join(self.text)
            if self.field[1] == "searched":
                self.searched = value.removeprefix(_SEARCHED)
            elif self.card is not None:
                self.card[self.field[1]] = value
            self.field = None
        if self.in_panel_src:
            if tag == "article" and self.card is not None:
                self.cards.append(self.card)
                self.card = None
            self.in_panel_src -= 1

    def handle_data(self, data: str) -> None:
        if self.field:
            self.text.append(data)


class _ScopeParts(HTMLParser):
    """Collects the (id, label) of each document named on the searched-in line of one message."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scope: list[tuple[str, str]] = []
        self.doc: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if "qa-scope-doc" in classes:
            self.doc = next((m.group(1) for c in classes if (m := _DOC.match(c))), None)
            self.text = []

    def handle_endtag(self, tag: str) -> None:
        if self.doc is not None and tag == "span":
            self.scope.append((self.doc, "".join(self.text)))
            self.doc = None

    def handle_data(self, data: str) -> None:
        if self.doc is not None:
            self.text.append(data)


def message_scope(message: str) -> list[tuple[str, str]]:
    """Return the (id, label) of the documents an answer message says it searched in; [] for every document."""
    parser = _ScopeParts()
    parser.feed(message)
    parser.close()
    return parser.scope


def conversation_scope(messages: Sequence[Any]) -> list[tuple[str, str]]:
    """Return the documents the last answer of a conversation searched in; [] for every document (or no answer yet).

    Errors and answers still streaming in are passed over: they say nothing about the choice.
    """
    for m in reversed(messages):
        role, content = role_and_text(m)
        if role == "assistant" and answer_text(content) is not None and not is_pending(content):
            return message_scope(content)
    return []


def _parse(message: str) -> _MessageParts:
    parser = _MessageParts()
    parser.feed(message)
    parser.close()
    return parser


def message_citations(message: str) -> list[CitedSource]:
    """Return the citations of a chat message we rendered, in marker order; [] for refusals, errors and other text."""
    out = []
    for card in _parse(message).cards:
        paragraph = card.get("paragraph", "").replace("¶", "").strip()
        if not (card["n"].isdigit() and card["passage_id"] and paragraph.isdigit()):
            continue  # a card rendered before passage ids were carried: nothing checkable to send back
        out.append(CitedSource(int(card["n"]), card["passage_id"], card.get("source", ""), int(paragraph), card.get("quote", "")))
    return sorted(out, key=lambda c: c.n)


def searched_for(message: str) -> str | None:
    """Return what an answer message says was searched for (the standalone question); None if it says nothing."""
    return _parse(message).searched


def content_text(content: Any) -> str:
    """Return the text of a Gradio message content: a string, a text block, or a list of them."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", "")) if content.get("type", "text") == "text" else ""
    if isinstance(content, Iterable):
        return "".join(content_text(c) for c in content)
    return ""


def role_and_text(message: Any) -> tuple[str | None, str]:
    """Return the role and text of a Gradio message (a dict or a ChatMessage)."""
    if isinstance(message, dict):
        return message.get("role"), content_text(message.get("content"))
    return getattr(message, "role", None), content_text(getattr(message, "content", ""))


def history_turns(messages: Sequence[Any], max_turns: int) -> list[dict[str, Any]]:
    """Return the chat history as library turns, newest max_turns kept.

    User text is kept as typed; an assistant answer becomes its plain text with its ``[n]``
    and ``citations: [{"passage_id": ...}]`` (empty for a refusal); errors and other
    non-answers are left out: they carry nothing to resolve a follow-up against.
    """
    turns: list[dict[str, Any]] = []
    for m in messages:
        role, content = role_and_text(m)
        if role == "user":
            turns.append({"role": "user", "content": content})
        elif role == "assistant":
            text = answer_text(content)
            if text is not None:
                cited = [{"passage_id": c.passage_id} for c in message_citations(content)]
                turns.append({"role": "assistant", "content": text, "citations": cited})
    return turns[-max_turns:] if max_turns > 0 else []


def conversation_saved(
    index: int | None, conversation: Sequence[Any], saved: Sequence[Sequence[Any]] | None
) -> tuple[int, list[Any]] | None:
    """Return the conversation's index and the saved list holding it; None while an answer streams or nothing changed.

    The same rule as Gradio's own save (a new conversation goes first, a reopened one keeps its
    place), so the two agree when Gradio's save comes a few round trips later.
    """
    if not conversation:
        return None
    role, text = role_and_text(conversation[-1])
    if role != "assistant" or is_pending(text):
        return None
    stored = [list(c) for c in saved or []]
    if index is not None and 0 <= index < len(stored):
        if stored[index] == list(conversation):
            return None
        stored[index] = list(conversation)
        return index, stored
    return 0, [list(conversation), *stored]
