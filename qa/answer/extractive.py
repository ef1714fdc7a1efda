"""The offline default answerer: quote the retrieved sentences that best answer the question. Pure.

Each sentence of the retrieved passages gets a support score in [0, 1]:
``0.5 * cosine(question, sentence) + 0.3 * term coverage of the sentence + 0.2 * term coverage
of its passage``. The answer quotes the best sentence (and a second one that scores
almost as well), each followed by its [n]; when the best support is under the
calibrated threshold the answer is a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.terms import coverage, terms
from qa.types import Citation, Hit

SIM_WEIGHT, SENTENCE_WEIGHT, PASSAGE_WEIGHT = 0.5, 0.3, 0.2
# A sentence without the kind of thing the question asks for ("how many" -> a number)
# cannot answer it, however many words it shares with the question.
TYPE_PENALTY = 0.7
# Prefer, between near-equal sentences, the one from the better-ranked passage.
RANK_BONUS = 0.02


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage with its support."""

    hit: Hit
    index: int
    support: float
    score: float

    @property
    def span(self) -> tuple[int, int]:
        """Return the (start, end) of the sentence in the passage text."""
        return self.hit.passage.sentences[self.index]


_NUMBER_Q = re.compile(
    r"^\s*(how\s+(many|much|long|old|far|large|big|tall|high|often|fast|deep|wide|heavy)|what\s+(percentage|number|amount))\b",
    re.IGNORECASE,
)
_TIME_Q = re.compile(r"^\s*(when|(in|on|at|by)?\s*(what|which)\s+(year|date|day|month|century|decade|time))\b", re.IGNORECASE)
_NAME_Q = re.compile(r"^\s*(who|whom)\b", re.IGNORECASE)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|dozen|half|once|twice|several|many|few|first|second|third|percent"
)
_HAS_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE)
_HAS_TIME = re.compile(
    r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|century|centuries|decade|year|years|ago|"
    r"today|yesterday|tomorrow|morning|afternoon|evening|night|week|weeks|month|months|since|until|during|"
    r"before|after|spring|summer|autumn|fall|winter)\b",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(r"(?<![.!?“\"]\s)(?<!^)\b[A-Z][a-z]+")


def answer_type_found(question: str, sentence: str) -> bool:
    """Return False when the question asks for a number, time or name that the sentence lacks."""
    if _NUMBER_Q.match(question):
        return _HAS_NUMBER.search(sentence) is not None
    if _TIME_Q.match(question):
        return _HAS_TIME.search(sentence) is not None
    if _NAME_Q.match(question):
        asked = set(terms(question))
        return any(set(terms(m.group(0))) - asked for m in _CAPITALISED.finditer(sentence))
    return True


def support(similarity: float, sentence_cov: float, passage_cov: float) -> float:
    """Return the support score in [0, 1] of a sentence for a question."""
    sim = min(1.0, max(0.0, similarity))
    return max(0.0, min(1.0, SIM_WEIGHT * sim + SENTENCE_WEIGHT * sentence_cov + PASSAGE_WEIGHT * passage_cov))


def rank_sentences(question: str, hits: Sequence[Hit]) -> list[Candidate]:
    """Return every sentence of the hits as a candidate, best first."""
    q_terms = set(terms(question))
    out: list[Candidate] = []
    for rank, hit in enumerate(hits):
        p = hit.passage
        passage_terms = set(terms(p.heading + " " + p.text))
        p_cov = coverage(q_terms, passage_terms)
        for k, (s, e) in enumerate(p.sentences):
            sim = hit.sentence_sims[k] if k < len(hit.sentence_sims) else 0.0
            sentence = p.text[s:e]
            sup = support(sim, coverage(q_terms, set(terms(sentence))), p_cov)
            if not answer_type_found(question, sentence):
                sup *= TYPE_PENALTY
            out.append(Candidate(hit, k, sup, sup + RANK_BONUS * (len(hits) - rank) / max(1, len(hits))))
    out.sort(key=lambda c: -c.score)
    return out


def cite(n: int, candidate: Candidate) -> Citation:
    """Return the checkable citation of a candidate sentence."""
    p = candidate.hit.passage
    start, end = candidate.span
    return Citation(
        n=n,
        passage_id=p.passage_id,
        source=p.source,
        paragraph=p.paragraph,
        text=p.text,
        quote=p.text[start:end],
        start=start,
        end=end,
        support=candidate.support,
    )


def extract(
    question: str, hits: Sequence[Hit], *, refuse_below: float, max_sentences: int, margin: float
) -> tuple[str, tuple[Citation, ...]]:
    """Return the answer text with [n] markers and its citations; ("", ()) means refuse."""
    ranked = rank_sentences(question, hits)
    if not ranked or ranked[0].support < refuse_below:
        return "", ()
    chosen = [ranked[0]]
    for c in ranked[1:]:
        if len(chosen) >= max_sentences or c.score < ranked[0].score - margin:
            break
        if c.support >= refuse_below:
            chosen.append(c)
    # Quote in document order when the sentences share a passage, so the answer reads naturally.
    chosen.sort(key=lambda c: (hits.index(c.hit), c.index))
    citations = tuple(cite(n, c) for n, c in enumerate(chosen, start=1))
    text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return text, citations
