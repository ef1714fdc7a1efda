"""Content terms of a text, for keyword retrieval and lexical support checks. Pure."""

from __future__ import annotations

import re
from functools import lru_cache

import bm25s
from bm25s.stopwords import STOPWORDS_EN

_NUMBER = re.compile(r"\d")
_STEM_CHARS = 6
# Question words and words that refer to the corpus itself carry no content:
# "Who is the secretary in the article?" asks about "secretary", not "who" or "article".
QUESTION_WORDS = (
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "did", "does", "do", "done",
    "is", "are", "was", "were", "be", "been", "has", "have", "had", "can", "could", "would", "should",
    "will", "shall", "may", "might", "must", "according", "article", "document", "documents", "text",
    "passage", "passages", "say", "says", "said", "tell", "told", "mention", "mentioned", "also",
)


@lru_cache(maxsize=1)
def stopwords() -> tuple[str, ...]:
    """Return the stop words ignored by keyword matching."""
    return tuple(sorted(set(STOPWORDS_EN) | set(QUESTION_WORDS)))


def _stem(token: str) -> str:
    # A prefix is a crude but language-agnostic stem: "mobilizing"/"mobilized" -> "mobili".
    return token if _NUMBER.search(token) else token[:_STEM_CHARS]


def tokenize(texts: list[str], *, stem: bool = True) -> list[list[str]]:
    """Return the lower-cased content tokens of each text, optionally prefix-stemmed."""
    out = bm25s.tokenize(texts, stopwords=list(stopwords()), show_progress=False, return_ids=False)
    return [[_stem(t) for t in toks] for toks in out] if stem else out  # type: ignore[union-attr]


_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|the\s+|for\s+|and\s+)?[A-Z][a-z]+)+")


def acronyms(text: str) -> list[str]:
    """Return the lower-cased initials of capitalised word runs and their sub-runs: "United Nations" -> "un"."""
    out: set[str] = set()
    for m in _CAPITALISED_RUN.finditer(text):
        initials = "".join(w[0] for w in m.group(0).split() if w[0].isupper()).lower()
        for i in range(len(initials)):
            for j in range(i + 2, min(len(initials), i + 5) + 1):
                out.add(initials[i:j])
    return sorted(out)


def terms(text: str) -> list[str]:
    """Return the stemmed content tokens of one text, with the acronyms of its capitalised names."""
    return tokenize([text])[0] + acronyms(text)


def coverage(question_terms: set[str], text_terms: set[str]) -> float:
    """Return the share of question terms that occur in the text (1.0 when the question has none)."""
    if not question_terms:
        return 1.0
    return len(question_terms & text_terms) / len(question_terms)
