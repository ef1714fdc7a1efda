"""Formats: real PDF, Word and HTML files made here, read into passages with pages and headings; bad files refused clearly."""

from __future__ import annotations

import random

import pytest

from qa.errors import InputError, UnsupportedType
from qa.ingest.formats import parse
from tests.documents_maker import encrypt_pdf, make_docx, make_html, make_pdf, make_scanned_pdf, make_zip_bomb

WORDS = "tide wind harbour keeper lantern rock gull storm fog bell chart compass rope anchor".split()


def para(n: int) -> str:
    r = random.Random(n)
    return " ".join(r.choice(WORDS) for _ in range(40)).capitalize() + f" ends paragraph {n} with the {r.choice(WORDS)}."


PAGES = [[("1. Introduction", [para(1), para(2)])], [("Tides And Winds", [para(3)]), ("", [para(4)])], [("", [para(5)])]]


def test_pdf_paragraphs_pages_and_headings_without_running_header_or_page_numbers() -> None:
    parsed = parse("guide.pdf", make_pdf(PAGES))
    passages = parsed.passages()
    assert parsed.kind == "pdf" and parsed.pages == 3
    assert [p.text for p in passages] == [para(n) for n in range(1, 6)], "lines re-joined into the original paragraphs"
    assert [p.page for p in passages] == [1, 1, 2, 2, 3]
    assert [p.heading for p in passages] == ["1. Introduction", "1. Introduction", "Tides And Winds", "Tides And Winds", "Tides And Winds"]
    text = " ".join(p.text for p in passages)
    assert "ACME Field Guide" not in text and "Page " not in text


def test_pdf_paragraph_running_over_a_page_break_is_one_passage() -> None:
    long = " ".join(para(n)[:-1] for n in range(10, 22)) + "."  # about 150 lines of text: spills onto page 2
    passages = parse("long.pdf", make_pdf([[("", [long])]])).passages()
    assert passages[0].page == 1
    assert any(p.text.endswith(long[-40:]) for p in passages)


def test_docx_paragraphs_headings_and_table_rows() -> None:
    data = make_docx([("Overview", ["First paragraph about tides.", "Second paragraph."]), ("Details", ["Third."])], table=[["Name", "Value"], ["Tide", "High"]])
    passages = parse("report.docx", data).passages()
    assert [(p.heading, p.text) for p in passages] == [
        ("Overview", "First paragraph about tides."),
        ("Overview", "Second paragraph."),
        ("Details", "Third."),
        ("Details", "Name | Value"),
        ("Details", "Tide | High"),
    ]
    assert all(p.page is None for p in passages)


def test_html_main_text_and_headings_only() -> None:
    data = make_html("Harbour News", [("Storm Warning", ["The storm reached the harbour at noon and the keeper rang the bell twelve times.", "Boats stayed in port all day long."]), ("Aftermath", ["Repairs to the pier began on Monday morning."])])
    passages = parse("page.html", data).passages()
    assert [(p.heading, p.text) for p in passages] == [
        ("Storm Warning", "The storm reached the harbour at noon and the keeper rang the bell twelve times."),
        ("Storm Warning", "Boats stayed in port all day long."),
        ("Aftermath", "Repairs to the pier began on Monday morning."),
    ]
    text = " ".join(p.text for p in passages)
    for junk in ("SCRIPT-TEXT", "NAVIGATION-LINK", "FOOTER-TEXT", "color: red"):
        assert junk not in text


def test_heading_is_part_of_the_passage_id() -> None:
    a = parse("a.md", b"# One\n\nSame text.\n").passages()[0]
    b = parse("a.md", b"# Two\n\nSame text.\n").passages()[0]
    assert a.text == b.text and a.passage_id != b.passage_id


@pytest.mark.parametrize(
    "name, make, error, needle",
    [
        pytest.param("secret.pdf", lambda: encrypt_pdf(make_pdf(PAGES)), InputError, "encrypted", id="encrypted-pdf"),
        pytest.param("broken.pdf", lambda: b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n", InputError, "not a readable PDF", id="corrupt-pdf"),
        pytest.param("cut.pdf", lambda: make_pdf(PAGES)[:3000], InputError, "truncated", id="truncated-pdf"),
        pytest.param("scan.pdf", make_scanned_pdf, InputError, "no extractable text", id="scanned-pdf"),
        pytest.param("fake.pdf", lambda: b"hello, I am text", InputError, "not a PDF", id="text-named-pdf"),
        pytest.param("bomb.docx", lambda: make_zip_bomb(), InputError, "zip bomb", id="zip-bomb-docx"),
        pytest.param("junk.docx", lambda: b"PK\x03\x04garbage", InputError, "not a readable .docx", id="corrupt-docx"),
        pytest.param("empty.txt", lambda: b"", InputError, "empty", id="empty-file"),
        pytest.param("blank.md", lambda: b"  \n\n ", InputError, "empty", id="blank-file"),
        pytest.param("bin.txt", lambda: b"abc\x00def", InputError, "binary", id="binary-txt"),
        pytest.param("latin.txt", lambda: "caf\xe9".encode("latin-1"), InputError, "UTF-8", id="not-utf8"),
        pytest.param("photo.png", lambda: b"\x89PNG....", UnsupportedType, "unsupported file type '.png'", id="unknown-type"),
        pytest.param("README", lambda: b"text", UnsupportedType, "unsupported file type", id="no-suffix"),
        pytest.param("nav.html", lambda: b"<html><body><nav><a href='/'>Home</a></nav></body></html>", InputError, "no extractable text", id="html-without-content"),
    ],
)
def test_bad_files_are_refused_with_their_name_and_reason(name: str, make: object, error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle) as info:
        parse(name, make())  # type: ignore[operator]
    assert name in str(info.value)
