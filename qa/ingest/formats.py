"""Bytes of one file -> a parsed document of a known type: PDF, Word, HTML, Markdown or text.

Pure apart from the parsers: the caller reads the file (or the upload) and hands the bytes in.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.errors import InputError, UnsupportedType
from qa.ingest.split import Block, split_blocks, split_document
from qa.types import Document, Passage

TYPES = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
}
SUPPORTED_SUFFIXES = tuple(TYPES)


@dataclass(frozen=True)
class Parsed:
    """A document read from its bytes: its type, page count (PDF) and content."""

    name: str
    kind: str
    pages: int | None = None
    blocks: tuple[Block, ...] = ()
    text: str = ""

    def passages(self, *, sentences: bool = True) -> list[Passage]:
        """Return the document's passages (without sentence spans when ``sentences`` is False)."""
        if self.kind in ("md", "txt"):
            return split_document(Document(source=self.name, text=self.text), sentences=sentences)
        return split_blocks(self.name, self.blocks, sentences=sentences)


def kind_of(name: str) -> str:
    """Return the document type for a file name, or raise UnsupportedType naming what is supported."""
    dot = name.rfind(".")
    suffix = name[dot:].lower() if dot >= 0 else ""
    kind = TYPES.get(suffix)
    if kind is None:
        raise UnsupportedType(f"{name}: unsupported file type {suffix or '(none)'!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    return kind


def decode_text(name: str, data: bytes) -> str:
    """Return UTF-8 text, or raise InputError for binary or non-UTF-8 data."""
    if b"\x00" in data:
        raise InputError(f"{name}: looks like a binary file (contains NUL bytes); remove it or convert it to text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not valid UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def parse(name: str, data: bytes) -> Parsed:
    """Return the parsed document, or raise InputError saying why this file cannot be read."""
    kind = kind_of(name)
    if not data.strip():
        raise InputError(f"{name}: the file is empty")
    if kind == "pdf":
        from qa.ingest.pdf import read_pdf

        blocks, pages = read_pdf(name, data)
        return Parsed(name, kind, pages=pages, blocks=tuple(blocks))
    if kind == "docx":
        from qa.ingest.docx import read_docx

        return Parsed(name, kind, blocks=tuple(read_docx(name, data)))
    if kind == "html":
        from qa.ingest.html import read_html

        return Parsed(name, kind, blocks=tuple(read_html(name, data)))
    return Parsed(name, kind, text=decode_text(name, data))
