"""Split a document into passages (paragraphs) with sentence spans. Pure: no I/O.

Paragraphs: a file with blank lines between blocks is split on the blank lines
(Markdown, wrapped plain text); a file without any blank line has one paragraph
per line (the seed article's format).

Non-content lines never become passages:
- boilerplate and link bait (``CLICK HERE TO READ MORE FROM ...``, ``Advertisement``,
  ``Subscribe ...``) is dropped;
- a heading (a Markdown ``#`` line, or a short line without lower-case letters and
  without closing punctuation, like ``UKRAINIAN VIEWS 'INCORPORATED' INTO US ...``)
  is kept as the ``heading`` metadata of the passages that follow it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import pysbd

from qa.types import Document, Passage

_BOILERPLATE = re.compile(
    r"""^\W*(
        (click|tap)\s+here\b.*
      | read\s+more(\s+(from|at|on)\b.*)?
      | advertisement
      | sponsored(\s+content)?
      | subscribe(\s+(now|today|to)\b.*)?
      | sign\s+up\s+for\b.*newsletter.*
      | (share|tweet|email|print)(\s+this)?(\s+(article|story|page))?
      | continue\s+reading.*
      | related:?\s*
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
# A section's passages are under every heading above it: the document's `#` title, then the `##` section.
# They carry the whole path, so that the title's words are theirs too ("How do I descale the KX-200?" is
# answered from "## Descaling", not from the one paragraph under the title that names the KX-200).
HEADING_SEPARATOR = " › "
CAPITALS_LEVEL = 7  # a heading line in capitals has no level of its own: the innermost
_MAX_HEADING_CHARS = 120
_MAX_HEADING_WORDS = 16


def is_boilerplate(line: str) -> bool:
    """Return True for link bait and page furniture that is not content."""
    return bool(_BOILERPLATE.match(line.strip()))


def heading_of(line: str) -> str | None:
    """Return the heading text if the line is a heading, else None."""
    found = _heading_level(line)
    return found[1] if found is not None else None


def _heading_level(line: str) -> tuple[int, str] | None:
    """Return (level, text) of a heading line: 1 to 6 for Markdown's ``#`` to ``######``, 7 for a line in capitals."""
    stripped = line.strip()
    md = _MD_HEADING.match(stripped)
    if md:
        return len(stripped) - len(stripped.lstrip("#")), md.group("title")
    letters = [c for c in stripped if c.isalpha()]
    if (
        len(letters) >= 2
        and not any(c.islower() for c in letters)
        and len(stripped) <= _MAX_HEADING_CHARS
        and len(stripped.split()) <= _MAX_HEADING_WORDS
        and not stripped.endswith((".", "?", "!", ",", ";", ":", "”", '"'))
    ):
        return CAPITALS_LEVEL, stripped
    return None


def heading_path(outline: Sequence[tuple[int, str]]) -> str:
    """Return the headings a passage is under, outermost first: "KX-200 Kettle › Descaling"."""
    return HEADING_SEPARATOR.join(text for _, text in outline)


def _under(outline: list[tuple[int, str]], level: int, text: str) -> list[tuple[int, str]]:
    """Return the outline after a heading: it closes the headings at its level and below."""
    return [*(h for h in outline if h[0] < level), (level, text)]


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Return (start, end) spans of the sentences of ``text``, trimmed of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    for span in _segmenter().segment(text):
        start, end = span.start, span.end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    if not spans and text.strip():
        start = len(text) - len(text.lstrip())
        spans.append((start, len(text.rstrip())))
    return tuple(spans)


def passage_id(source: str, paragraph: int, text: str, heading: str = "", page: int | None = None) -> str:
    """Return a stable id from source, position, heading, page and a hash of the text.

    The heading and page are part of it because they are stored with the passage: a passage
    whose heading changed is a new row, never an old row with stale metadata.
    """
    key = f"{source}\x00{paragraph}\x00{text}"
    if heading or page is not None:
        key += f"\x00{heading}\x00{page if page is not None else ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _blocks(text: str) -> list[str]:
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    if re.search(r"\n[ \t]*\n", normalized):
        return [b.strip("\n") for b in re.split(r"\n[ \t]*\n", normalized)]
    return normalized.split("\n")


def with_sentences(passage: Passage) -> Passage:
    """Return the passage with its sentence spans filled in (the slow part of splitting)."""
    return replace(passage, sentences=sentence_spans(passage.text))


def split_document(doc: Document, *, sentences: bool = True) -> list[Passage]:
    """Return the content paragraphs of a document as passages, numbered from 1.

    With ``sentences=False`` the sentence spans are left empty, so that ids can be
    compared with the store before paying for sentence splitting.
    """
    passages: list[Passage] = []
    outline: list[tuple[int, str]] = []
    heading = ""
    for block in _blocks(doc.text):
        lines = block.split("\n")
        # Leading heading / boilerplate lines of a block are not content.
        while lines:
            first = lines[0]
            if not first.strip() or is_boilerplate(first):
                lines.pop(0)
            elif (h := _heading_level(first)) is not None:
                outline = _under(outline, *h)
                heading = heading_path(outline)
                lines.pop(0)
            else:
                break
        lines = [ln for ln in lines if not is_boilerplate(ln)]
        body = "\n".join(lines).strip()
        if not body:
            continue
        number = len(passages) + 1
        passages.append(
            Passage(
                passage_id=passage_id(doc.source, number, body, heading),
                source=doc.source,
                paragraph=number,
                text=body,
                heading=heading,
                sentences=sentence_spans(body) if sentences else (),
            )
        )
    return passages


@dataclass(frozen=True)
class Block:
    """A unit of a laid-out document: a heading, or a paragraph of text, with the page it starts on."""

    text: str
    heading: bool = False
    page: int | None = None


def split_blocks(source: str, blocks: Sequence[Block], *, sentences: bool = True) -> list[Passage]:
    """Return the content paragraphs of parsed blocks as passages numbered from 1, each under its latest heading."""
    passages: list[Passage] = []
    heading = ""
    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        if block.heading:
            heading = " ".join(text.split())
            continue
        body = "\n".join(ln for ln in text.split("\n") if not is_boilerplate(ln)).strip()
        if not body:
            continue
        number = len(passages) + 1
        passages.append(
            Passage(
                passage_id=passage_id(source, number, body, heading, block.page),
                source=source,
                paragraph=number,
                text=body,
                heading=heading,
                sentences=sentence_spans(body) if sentences else (),
                page=block.page,
            )
        )
    return passages
