"""qa.language.tokenize splits text exactly as bm25s.tokenize does (it inlines that rule for speed)."""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import pytest

from qa.language import STOPWORDS_EN, stopwords, tokenize

pytestmark = pytest.mark.unit

TEXTS = [
    "Who is the U.S. Secretary of State?",
    "Chinese Foreign Minister Wang Yi told Blinken: the security of one country can't come at others' expense.",
    "",
    "a I x",
    "ünïcödé, emoji 🙂 and numbers 3.14159 — mixed “quotes”, O'Neil's e-mail; snake_case and ÉCOLE.",
    "Super Bowl 50 was played on February 7, 2016, at Levi's Stadium in Santa Clara, California.",
]
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _corpus() -> list[str]:
    texts = list(TEXTS)
    for f in sorted(SEEDS.glob("*"))[:3]:
        if f.is_file():
            texts += [p for p in f.read_text(encoding="utf-8", errors="replace").split("\n\n") if p.strip()]
    return texts


def test_tokens_equal_bm25s_tokenize_text_by_text_and_in_batches() -> None:
    texts = _corpus()
    want = bm25s.tokenize(texts, stopwords=list(stopwords()), show_progress=False, return_ids=False)
    assert tokenize(texts, stem=False) == want
    assert [tokenize([t], stem=False)[0] for t in texts] == want


def test_stemming_cuts_words_but_not_numbers() -> None:
    assert tokenize(["Mobilizing mobilized armies in 2016"]) == [["mobili", "mobili", "armies", "2016"]]
    assert json.dumps(tokenize(["the of and"])) == "[[]]"


def test_the_stop_word_copy_equals_bm25s_list() -> None:
    from bm25s.stopwords import STOPWORDS_EN as PACKAGE

    assert tuple(STOPWORDS_EN) == tuple(PACKAGE)
