"""A document's title for people to recognise it by: its `#` title, the heading it opens under, or its opening words.

Pure, except ``TitleCache``, which remembers the titles read for each document version.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from qa.errors import QAError
from qa.types import Passage

if TYPE_CHECKING:
    from qa.documents.registry import DocumentRecord

log = logging.getLogger(__name__)

# Long enough to tell documents apart, short enough for a selector's chip.
TITLE_CHARS = 64
_MD_TITLE = re.compile(r"^\s{0,3}#\s+(?P<title>.+?)\s*#*\s*$")


def markdown_title(text: str) -> str | None:
    """Return the text of the first level-1 `# ` heading line, or None."""
    for line in text.splitlines():
        m = _MD_TITLE.match(line)
        if m and m.group("title").strip():
            return " ".join(m.group("title").split())
    return None


def opening_words(text: str, max_chars: int = TITLE_CHARS) -> str:
    """Return the first words of a text, cut at a word boundary with an ellipsis when longer than max_chars."""
    words = " ".join(text.split())
    if len(words) <= max_chars:
        return words
    cut = words[: max_chars + 1].rsplit(" ", 1)[0] if " " in words[:max_chars] else words[:max_chars]
    return cut.rstrip(" ,;:–—-") + "…"


def document_title(passages: Sequence[Passage], text: str | None = None) -> str | None:
    """Return a document's title: the `# ` title of its text, else the heading its first passage is under, else its opening words.

    ``text`` is the original of a Markdown or text document (None for other types: their headings
    are only known through the passages). None when the document has no passage.
    """
    if text is not None and (title := markdown_title(text)):
        return title
    first = min(passages, key=lambda p: p.paragraph, default=None)
    if first is None:
        return None
    if first.heading.strip():
        return opening_words(first.heading)
    return opening_words(first.text) or None


class TitleCache:
    """Each document version's title, read once through ``read(doc_id)``; a title that cannot be read is None (logged)."""

    def __init__(self, read: Callable[[str], str | None]) -> None:
        self._read = read
        self._titles: dict[tuple[str, str], str | None] = {}

    def __call__(self, rec: DocumentRecord) -> str | None:
        """Return the document's title, or None when it has none or it cannot be read."""
        key = (rec.id, rec.sha256 or "")
        if key in self._titles:
            return self._titles[key]
        try:
            title = self._read(rec.id)
        except QAError as exc:
            log.warning("no title for %s: %s", rec.name, exc)
            return None
        # A version being written may still have the old one's passages beside it: not cached until committed.
        if rec.pending is None and rec.sha256 is not None:
            self._titles[key] = title
        return title
