"""HTML -> blocks (trafilatura, Apache-2.0): the main text and its headings; scripts, navigation and boilerplate dropped."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

from qa.errors import InputError
from qa.ingest.split import Block

log = logging.getLogger(__name__)

_PARAGRAPHS = {"p", "item", "quote", "code"}


def _text(el: ET.Element) -> str:
    return " ".join("".join(el.itertext()).split())


def read_html(name: str, data: bytes) -> list[Block]:
    """Return the headings and paragraphs of a page's main content."""
    import trafilatura

    try:
        # Precision first: on a short page trafilatura's recall fallback pulls navigation into the text.
        xml = None
        for precision in (True, False):
            xml = trafilatura.extract(
                data,
                output_format="xml",
                include_comments=False,
                include_tables=True,
                include_links=False,
                include_images=False,
                with_metadata=False,
                favor_precision=precision,
            )
            if xml and "<p>" in xml:
                break
    except Exception as exc:  # trafilatura and lxml raise many types for broken markup
        raise InputError(f"{name}: not readable HTML ({type(exc).__name__}: {exc})") from None
    if not xml:
        raise InputError(f"{name}: no extractable text (the page has no main content)")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise InputError(f"{name}: not readable HTML ({exc})") from None
    main = root.find("main")
    blocks: list[Block] = []
    for el in (main if main is not None else root).iter():
        if el.tag == "head":
            blocks.append(Block(text=_text(el), heading=True))
        elif el.tag in _PARAGRAPHS:
            text = _text(el)
            if text:
                blocks.append(Block(text=text))
        elif el.tag == "row":
            cells = [_text(c) for c in el if _text(c)]
            if cells:
                blocks.append(Block(text=" | ".join(cells)))
    if not any(not b.heading for b in blocks):
        raise InputError(f"{name}: no extractable text (the page has no main content)")
    return blocks
