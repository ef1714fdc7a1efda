"""Names a question gives that the corpus never writes: "Richard Dean Adams" where only other Adamses appear. Pure.

A question about a document that is not in the store often names its subject in words the
store holds one by one ("New France": "new" and "France" are common) but never together. A
name of two or more words whose every word is in some passage, while no two of its adjacent
words stand together in any passage, is not known to the corpus. A word no passage holds is
no evidence: it is as often a misspelling of a known name ("Ghengis Khan", "John Sheeshanks")
or another spelling of it ("Schrodinger") as a new name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise
from typing import Protocol

from qa.language import names, tokenize

NOT_MENTIONED = "The documents do not mention"
# "Tesla and Edison", "Yale & Harvard": two names, each of which may be known on its own.
_JOINED = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE)


class Vocabulary(Protocol):
    """What the corpus writes: per-term document frequencies and adjacent term pairs (``HybridRetriever`` has both)."""

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Return how many passages hold each (tokenized) term."""
        ...

    def written_together(self, first: str, second: str) -> bool:
        """Return True when some passage holds the (tokenized) term ``second`` right after ``first``."""
        ...


def unknown_name(question: str, vocabulary: Vocabulary) -> str | None:
    """Return the first name of the question whose words the corpus holds but never together, else None."""
    for _, name in names(question):
        for part in _JOINED.split(name):
            tokens = list(dict.fromkeys(tokenize([part])[0]))
            if len(tokens) < 2:
                continue
            if min(vocabulary.document_frequencies(tokens).values()) == 0:
                continue
            if not any(vocabulary.written_together(a, b) for a, b in pairwise(tokens)):
                return part
    return None


def not_mentioned(name: str) -> str:
    """Return the reason shown beside the refusal: "The documents do not mention “New France”."."""
    return f"{NOT_MENTIONED} “{name}”."
