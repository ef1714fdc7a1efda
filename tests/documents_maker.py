"""Real documents made in the test: PDFs (reportlab), Word files (python-docx), HTML pages, and broken ones."""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Sequence

Section = tuple[str, Sequence[str]]  # (heading, paragraphs)


def make_pdf(pages: Sequence[Sequence[Section]], *, header: str = "ACME Field Guide", wrap: int = 90) -> bytes:
    """Return a PDF with a running header, a 'Page N' footer, and per page headings with wrapped paragraphs."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    width, height = A4
    for number, sections in enumerate(pages, start=1):
        c.setFont("Helvetica", 9)
        c.drawString(72, height - 40, header)
        y = height - 80
        for heading, paragraphs in sections:
            if heading:
                c.setFont("Helvetica-Bold", 14)
                c.drawString(72, y, heading)
                y -= 24
            c.setFont("Helvetica", 10)
            for paragraph in paragraphs:
                for line in textwrap.wrap(paragraph, wrap):
                    c.drawString(72, y, line)
                    y -= 14
                y -= 10
        c.setFont("Helvetica", 9)
        c.drawString(width / 2 - 20, 30, f"Page {number}")
        c.showPage()
    c.save()
    return buf.getvalue()


def make_scanned_pdf() -> bytes:
    """Return a PDF whose page holds only drawn shapes: no text layer, as a scan has."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def encrypt_pdf(data: bytes, password: str = "secret") -> bytes:
    """Return the PDF encrypted with a user password."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(data)).pages:
        writer.add_page(page)
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(sections: Sequence[Section], table: Sequence[Sequence[str]] = ()) -> bytes:
    """Return a Word document with a Heading 1 per section, its paragraphs, and an optional table."""
    import docx

    d = docx.Document()
    for heading, paragraphs in sections:
        if heading:
            d.add_heading(heading, level=1)
        for p in paragraphs:
            d.add_paragraph(p)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for i, row in enumerate(table):
            for j, cell in enumerate(row):
                t.cell(i, j).text = cell
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def make_zip_bomb(expanded_bytes: int = 300_000_000) -> bytes:
    """Return a small zip, named like a .docx, that expands to far more than any document."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            chunk = b"\0" * 1_000_000
            for _ in range(expanded_bytes // len(chunk)):
                f.write(chunk)
    return out.getvalue()


def make_html(title: str, sections: Sequence[Section]) -> bytes:
    """Return an article page wrapped in navigation, a script, a cookie banner and a footer."""
    body = "".join(f"<h2>{h}</h2>" + "".join(f"<p>{p}</p>" for p in ps) for h, ps in sections)
    return f"""<!doctype html><html><head><title>{title}</title>
<script>window.tracker = "SCRIPT-TEXT-SHOULD-NOT-APPEAR";</script><style>body {{ color: red; }}</style></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us NAVIGATION-LINK</a></li></ul></nav>
<div class="cookie-banner">We use cookies. Accept all cookies COOKIE-BANNER.</div>
<main><article><h1>{title}</h1>{body}</article></main>
<footer>Copyright 2026 Example Corp. All rights reserved. FOOTER-TEXT</footer></body></html>""".encode()
