from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.ingest.split import heading_of, is_boilerplate, passage_id, sentence_spans, split_document
from qa.types import Document


@pytest.mark.parametrize(
    "line, expected",
    [
        pytest.param("CLICK HERE TO READ MORE FROM THE WASHINGTON EXAMINER", True, id="link-bait"),
        pytest.param("Advertisement", True, id="ad-marker"),
        pytest.param("Subscribe now for full access", True, id="subscribe"),
        pytest.param("Blinken told reporters he would click here and there.", False, id="content-mentioning-click"),
        pytest.param("Read more about it in the annex, she said, and left.", False, id="read-more-in-sentence"),
    ],
)
def test_boilerplate(line: str, expected: bool) -> None:
    assert is_boilerplate(line) is expected


@pytest.mark.parametrize(
    "line, expected",
    [
        pytest.param("UKRAINIAN VIEWS ‘INCORPORATED’ INTO US WRITTEN RESPONSE TO RUSSIA", "UKRAINIAN VIEWS ‘INCORPORATED’ INTO US WRITTEN RESPONSE TO RUSSIA", id="all-caps"),
        pytest.param("## Background and context", "Background and context", id="markdown"),
        pytest.param("NATO said on Wednesday that it would respond.", None, id="sentence"),
        pytest.param("THE END.", None, id="caps-with-full-stop-is-text"),
        pytest.param("I", None, id="single-letter"),
    ],
)
def test_heading(line: str, expected: str | None) -> None:
    assert heading_of(line) == expected


def test_one_paragraph_per_line_with_heading_and_boilerplate() -> None:
    text = "First paragraph here.\nSecond one.\nA HEADING LINE\nThird after heading.\nCLICK HERE TO READ MORE FROM X\nFourth."
    passages = split_document(Document("a.txt", text))
    assert [p.text for p in passages] == ["First paragraph here.", "Second one.", "Third after heading.", "Fourth."]
    assert [p.paragraph for p in passages] == [1, 2, 3, 4]
    assert [p.heading for p in passages] == ["", "", "A HEADING LINE", "A HEADING LINE"]


def test_blank_line_paragraphs_keep_wrapped_lines_together() -> None:
    text = "# Title\n\nLine one of a paragraph\ncontinues here.\n\nSecond paragraph.\n"
    passages = split_document(Document("doc.md", text))
    assert [p.text for p in passages] == ["Line one of a paragraph\ncontinues here.", "Second paragraph."]
    assert passages[0].heading == "Title"


def test_ids_are_stable_and_depend_on_source_position_and_text() -> None:
    a = passage_id("a.txt", 1, "text")
    assert a == passage_id("a.txt", 1, "text")
    assert len({a, passage_id("b.txt", 1, "text"), passage_id("a.txt", 2, "text"), passage_id("a.txt", 1, "other")}) == 4


def test_sentence_spans_are_exact_and_trimmed() -> None:
    text = "Mr. Smith went to Washington. He met Dr. Jones!  Then he left?"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Mr. Smith went to Washington.", "He met Dr. Jones!", "Then he left?"]


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80), min_size=1, max_size=8))
def test_passages_are_substrings_with_valid_sentence_spans(lines: list[str]) -> None:
    text = "\n".join(lines)
    for p in split_document(Document("x.txt", text)):
        assert p.text.strip() == p.text and p.text
        assert p.text in text.replace("\r\n", "\n").replace("\r", "\n")
        assert p.sentences, "every passage has at least one sentence"
        for s, e in p.sentences:
            assert 0 <= s < e <= len(p.text)
            assert p.text[s:e].strip() == p.text[s:e]


def test_a_sections_passages_are_under_every_heading_above_it() -> None:
    text = (
        "# Kettle Guide\n\nIntro.\n\n## Safety\n\nKeep dry.\n\n### Children\n\nNot under 8.\n\n## Warranty\n\nTwo years.\n\n"
        "FINE PRINT\n\nNo refunds.\n\n# Appendix\n\nTables."
    )
    passages = split_document(Document("k.md", text))
    assert [p.heading for p in passages] == [
        "Kettle Guide", "Kettle Guide › Safety", "Kettle Guide › Safety › Children", "Kettle Guide › Warranty",
        "Kettle Guide › Warranty › FINE PRINT", "Appendix",
    ]


def test_headings_in_capitals_replace_each_other() -> None:
    passages = split_document(Document("a.txt", "FIRST PART\nOne.\nSECOND PART\nTwo."))
    assert [p.heading for p in passages] == ["FIRST PART", "SECOND PART"]
