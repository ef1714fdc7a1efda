"""PDF text layer -> blocks with page numbers (pypdf, BSD licensed). Pure: bytes in, blocks out.

pypdf gives each text line with its position and font size. Lines are re-joined into
paragraphs (a paragraph ends where the gap to the next line is wider than the usual line
spacing), hyphenated words are mended, lines in a larger font (or short title-like lines)
become headings, and running headers, footers and page numbers (lines that repeat at the top
or bottom of most pages, or that are only a number) are dropped.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from dataclasses import dataclass
from statistics import median
from typing import Any

from qa.errors import InputError
from qa.ingest.split import Block, heading_of

log = logging.getLogger(__name__)

_PAGE_NUMBER = re.compile(r"^\W*(page\s+)?\d{1,4}(\s*(of|/)\s*\d{1,4})?\W*$", re.IGNORECASE)
_NUMBERED_HEADING = re.compile(r"^(\d+(\.\d+)*\.?|[IVX]+\.)\s+[A-Z][^.!?]*$")
_ENDS_SENTENCE = re.compile(r"[.!?:;\"”’)]\s*$")
_EDGE = 1  # lines at the top and the bottom of a page (page numbers aside) that may be running headers or footers


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Return the normalised lines that repeat at the top or bottom of most pages."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        edges = {_edge_key(ln) for ln in lines[:_EDGE] + lines[-_EDGE:]}
        counts.update(edges)
    need = max(2, (len(pages) + 1) // 2)
    return {k for k, c in counts.items() if c >= need and k}


def _is_heading(line: str, typical: float) -> bool:
    s = line.strip()
    if not s or len(s) > 90 or _ENDS_SENTENCE.search(s):
        return False
    if heading_of(s) is not None or _NUMBERED_HEADING.match(s):
        return True
    words = [w for w in s.split() if w[:1].isalpha()]
    # Title Case short lines well under a full line ("Results and discussion" is not; "Results And Discussion" is).
    return 1 <= len(words) <= 8 and len(s) < 0.6 * typical and all(w[0].isupper() or len(w) <= 3 for w in words)


def _join(a: str, b: str) -> str:
    if a.endswith("-") and len(a) > 1 and a[-2].isalpha() and b[:1].islower():
        return a[:-1] + b
    return f"{a} {b}"


@dataclass(frozen=True)
class _Line:
    text: str
    y: float  # baseline height on the page (PDF space: larger is higher)
    size: float  # font size


def _page_lines(page: Any) -> list[_Line]:
    """Return a page's text lines, top to bottom as the PDF draws them, with position and font size."""
    frags: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = abs(tm[3] * cm[3]) or 1.0
            for part in text.split("\n"):
                if part.strip():
                    frags.append((part, y, float(size) * scale))

    page.extract_text(visitor_text=visit)
    lines: list[_Line] = []
    for text, y, size in frags:
        if lines and abs(lines[-1].y - y) < 1.0:
            last = lines[-1]
            lines[-1] = _Line(f"{last.text} {text}", last.y, max(last.size, size))
        else:
            lines.append(_Line(text, y, size))
    return [_Line(" ".join(ln.text.split()), ln.y, ln.size) for ln in lines if ln.text.strip()]


def read_pdf(name: str, data: bytes) -> tuple[list[Block], int]:
    """Return the paragraphs and headings of a PDF's text layer, and its page count."""
    from pypdf import PdfReader

    if not data.lstrip()[:5] == b"%PDF-":
        raise InputError(f"{name}: not a PDF file (it does not start with %PDF-)")
    if b"%%EOF" not in data[-2048:]:
        raise InputError(f"{name}: the PDF is truncated (no end-of-file marker); upload the complete file")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:
                opened = False
            if not opened:
                raise InputError(f"{name}: the PDF is encrypted with a password; remove the password and upload it again")
        raw = [_page_lines(page) for page in reader.pages]
    except InputError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files; all mean the same to a user
        raise InputError(f"{name}: not a readable PDF ({type(exc).__name__}: {exc}); it may be corrupt") from None
    pages = [[ln for ln in lines if not _PAGE_NUMBER.match(ln.text)] for lines in raw]
    if not any(pages):
        raise InputError(f"{name}: no extractable text (a scanned PDF without a text layer? run OCR on it first)")
    running = _running_lines([[ln.text for ln in lines] for lines in pages])
    all_lines = [ln for lines in pages for ln in lines]
    typical = float(median(len(ln.text) for ln in all_lines))
    body_size = float(median(ln.size for ln in all_lines))
    gaps = [a.y - b.y for lines in pages for a, b in zip(lines, lines[1:], strict=False) if 0 < a.y - b.y < 4 * body_size]
    line_gap = float(median(gaps)) if gaps else 1.2 * body_size
    blocks: list[Block] = []
    current: list[str] = []
    current_page: int | None = None

    def flush() -> None:
        nonlocal current
        if current:
            text = current[0]
            for ln in current[1:]:
                text = _join(text, ln)
            blocks.append(Block(text=text, page=current_page))
            current = []

    for number, lines in enumerate(pages, start=1):
        previous: _Line | None = None
        # A paragraph runs on to the next page only when its last line does not end a sentence.
        if current and _ENDS_SENTENCE.search(current[-1]):
            flush()
        for i, line in enumerate(lines):
            if (i < _EDGE or i >= len(lines) - _EDGE) and _edge_key(line.text) in running:
                continue
            # A wider gap than the usual line spacing (or a jump back up: a new column) starts a paragraph.
            if previous is not None and not (0 < previous.y - line.y <= 1.35 * line_gap):
                flush()
            bigger = line.size >= 1.15 * body_size and len(line.text) <= 120
            if bigger or (_is_heading(line.text, typical) and (not current or _ENDS_SENTENCE.search(current[-1]))):
                flush()
                continued = previous is not None and blocks and blocks[-1].heading and bigger and abs(previous.size - line.size) < 0.5
                if continued:  # a heading set on two lines in the same large font
                    blocks[-1] = Block(text=f"{blocks[-1].text} {line.text}", heading=True, page=number)
                else:
                    blocks.append(Block(text=line.text, heading=True, page=number))
                previous = line
                continue
            previous = line
            if not current:
                current_page = number
            current.append(line.text)
    flush()
    if not any(not b.heading for b in blocks):
        raise InputError(f"{name}: no extractable text (a scanned PDF without a text layer? run OCR on it first)")
    log.info("%s: %d pages, %d blocks", name, len(pages), len(blocks))
    return blocks, len(pages)
