"""The answerer seam: what turns a question and retrieved hits into cited text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from qa.answer.condense import Turn
from qa.types import Citation, Hit, Unsupported


@dataclass(frozen=True)
class Draft:
    """An answerer's result: text with [n] markers and its citations; no citations means refuse."""

    text: str
    citations: tuple[Citation, ...]
    fallback: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    removed: tuple[Unsupported, ...] = ()
    flagged: tuple[Unsupported, ...] = ()
    refusal_reason: str | None = None  # why it refused, in words for a user; None: no reason to give

    @property
    def refused(self) -> bool:
        """Return True when nothing supports an answer."""
        return not self.citations


@dataclass(frozen=True)
class Flow:
    """Where the conversation stands in the passages: what was already quoted and where the last answer ended."""

    given: frozenset[tuple[str, int]] = frozenset()  # (passage_id, sentence index) already quoted
    # (passage_id, sentence index, predicate stem) for each predicate of the question a quoted sentence was shown for
    shown_for: frozenset[tuple[str, int, str]] = frozenset()
    last: tuple[str, int] | None = None  # (passage_id, sentence index) where the last answer ended
    after: str | None = None  # the passage that comes next in the document, when the last answer ended its passage
    continues: bool = False  # "what happened next?", "anything else?": go on from ``last``
    again: bool = False  # the question asks for something already said: quoting it again is fine
    asked: str = ""  # the question as the user wrote it (the searched one may carry the thread's words)


class Answerer(Protocol):
    """Writes a cited answer from retrieved passages."""

    name: str

    def answer(self, question: str, hits: Sequence[Hit]) -> Draft:
        """Return the cited answer (or a refusal) for the question."""
        ...

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Draft]:
        """Yield answer text as it is produced, then the final Draft."""
        ...

    def health(self) -> str | None:
        """Return None when usable, else a message saying what is wrong."""
        ...


@runtime_checkable
class FollowsDialog(Protocol):
    """An answerer that uses where the conversation stands (the extractive one)."""

    def answer_in_dialog(self, question: str, hits: Sequence[Hit], flow: Flow) -> Draft:
        """Return the cited answer, not repeating what was said and going on from the last answer's place."""
        ...


@runtime_checkable
class Condenser(Protocol):
    """An answerer that rewrites follow-up questions itself (e.g. with its language model)."""

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """Return a standalone version of the question given earlier turns."""
        ...
