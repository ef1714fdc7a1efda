"""Content terms of a text: kept as an import path; the rules live in ``qa.language``."""

from __future__ import annotations

from qa.language import QUESTION_WORDS, acronyms, coverage, stopwords, terms, tokenize

__all__ = ["QUESTION_WORDS", "acronyms", "coverage", "stopwords", "terms", "tokenize"]
