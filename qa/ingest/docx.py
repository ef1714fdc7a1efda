"""Word .docx -> blocks (python-docx, MIT licensed): paragraphs, headings and table rows, in order."""

from __future__ import annotations

import io
import zipfile

from qa.errors import InputError
from qa.ingest.split import Block

# A .docx is a zip: refuse one that expands far beyond any real document (a zip bomb).
MAX_EXPANDED_BYTES = 200_000_000
MAX_RATIO = 200


def check_zip(name: str, data: bytes) -> None:
    """Raise InputError unless the data is a zip archive of reasonable expanded size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise InputError(f"{name}: not a readable .docx (not a zip archive: {exc})") from None
    expanded = sum(i.file_size for i in infos)
    if expanded > MAX_EXPANDED_BYTES or expanded > MAX_RATIO * max(len(data), 1_000_000):
        raise InputError(f"{name}: refused: it would expand to {expanded} bytes from {len(data)} (a zip bomb?)")
    if "word/document.xml" not in {i.filename for i in infos}:
        raise InputError(f"{name}: not a Word document (no word/document.xml inside)")


def _heading_style(style_name: str) -> bool:
    s = style_name.lower()
    return s.startswith("heading") or s in {"title", "subtitle"}


def read_docx(name: str, data: bytes) -> list[Block]:
    """Return the paragraphs, headings and table rows of a .docx, in document order."""
    check_zip(name, data)
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[Block] = []
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                for row in item.rows:
                    cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
                    if cells:
                        blocks.append(Block(text=" | ".join(cells)))
                continue
            text = item.text.strip()
            if text:
                style = item.style.name if item.style is not None and item.style.name else ""
                blocks.append(Block(text=text, heading=_heading_style(style)))
    except InputError:
        raise
    except Exception as exc:  # python-docx and lxml raise many types for damaged files
        raise InputError(f"{name}: not a readable .docx ({type(exc).__name__}: {exc})") from None
    if not any(not b.heading for b in blocks):
        raise InputError(f"{name}: no extractable text in the document")
    return blocks
