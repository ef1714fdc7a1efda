"""Check a generated answer sentence by sentence against the passages it cites. Pure.

A sentence (a *claim*) is scored against the union of the passages its ``[n]`` markers name:

- no marker, a number that is not a passage, or no content word at all: support 0;
- otherwise ``support = 0.5 * coverage of the claim's content terms by the best single
  sentence of the cited passages + 0.5 * coverage by the cited passages``, the same
  lexical terms (``qa.terms``) that retrieval and the extractive answerer use;
- every name and number of the claim must be written in a cited passage: each one that
  is not multiplies the support by ``ENTITY_PENALTY``. Adjacent capitalised words must
  also be adjacent there, so "Russian Foreign Minister Wang Yi" is not supported by
  "Chinese Foreign Minister Wang Yi … Russia's concerns".

A reply with no ``[n]`` marker at all (small models rarely cite) is *aligned* first: each
claim cites the one passage whose check gives it the most support, the passage holding the
sentence that best supports it; a claim that shares no content with any passage stays uncited.
The aligned claims are then checked like cited ones, so what nothing supports is still removed.

Claims under the threshold are removed (or kept and flagged). Each cited passage that
shares content with a surviving claim becomes a checkable citation quoting its
best-supporting sentence; markers are renumbered so each ``[n]`` names one quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from qa.ingest.split import sentence_spans
from qa.terms import coverage, stopwords, terms
from qa.types import REFUSAL, Citation, Hit, Passage, Unsupported

SENTENCE_WEIGHT, PASSAGE_WEIGHT = 0.5, 0.5
# One unsupported name or number drops a fully covered claim under any sensible threshold.
ENTITY_PENALTY = 0.4

_MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d+(?:\s*[,;]\s*(?:passages?\s*)?\d+)*)\s*\]", re.IGNORECASE)
_LEADING_MARKERS = re.compile(r"^(?:\s*" + _MARKER.pattern + r")+", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W\d_][\w’'.-]*|\d[\d,.]*", re.UNICODE)
_POSSESSIVE = re.compile(r"[’']s?$")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_FINISHED = re.compile(r"[.!?…:;”\"'’)\]]\s*$")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50",
    "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
}
_REFUSAL = re.compile(
    r"\b(i|we)\s+(could not|couldn't|cannot|can't|can not|am unable to|do not|don't)\s+(find|answer|know|tell|determine|say)\b"
    r"|\b(passages?|documents?|context|texts?|sources?)\s+(do|does|did)\s*(not|n't)\s+"
    r"(say|mention|contain|provide|include|state|specify|answer|give|tell)\b"
    r"|\bno (information|answer|mention)\b|\bnot (found|mentioned|stated|given|provided) in the\b",
    re.IGNORECASE,
)
# Capitalised only because they open a sentence: not names.
_INITIAL_WORDS = {
    "he", "she", "it", "they", "we", "i", "you", "his", "her", "its", "their", "our", "this", "that", "these",
    "those", "there", "here", "yes", "no", "however", "but", "and", "so", "then", "also", "when", "while", "after",
    "before", "as", "in", "on", "at", "for", "with", "from", "by", "according", "both", "each", "all", "some",
    "many", "most", "one", "a", "an", "the", "what", "who", "which", "where", "why", "how", "if", "although",
}


@dataclass(frozen=True)
class Claim:
    """One generated sentence: its text without markers and the passage numbers it cites."""

    text: str
    cited: tuple[int, ...]
    raw: str
    aligned: bool = False  # cited by alignment, not by the model


@dataclass(frozen=True)
class Check:
    """The verdict on one claim: support, why it fails, and the best quote of each useful cited passage."""

    claim: Claim
    support: float
    reason: str
    quotes: tuple[tuple[int, int], ...] = ()  # (passage number, sentence index), one per useful cited passage


@dataclass(frozen=True)
class Verified:
    """A verified answer: the surviving text with renumbered markers, its citations and the failed sentences."""

    text: str
    citations: tuple[Citation, ...]
    removed: tuple[Unsupported, ...]
    flagged: tuple[Unsupported, ...]
    checks: tuple[Check, ...]

    @property
    def kept_any(self) -> bool:
        """Return True when at least one sentence passed verification."""
        return bool(self.citations) and any(not c.reason for c in self.checks)


def _numbers(inner: str) -> tuple[int, ...]:
    return tuple(int(d) for d in re.findall(r"\d+", inner))


def markers(text: str) -> tuple[int, ...]:
    """Return the passage numbers cited by ``[n]`` markers in the text, in order, without repeats."""
    seen: dict[int, None] = {}
    for m in _MARKER.finditer(text):
        for n in _numbers(m.group(1)):
            seen.setdefault(n, None)
    return tuple(seen)


def strip_markers(text: str) -> str:
    """Return the text without ``[n]`` markers, whitespace tidied."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(_MARKER.sub(" ", text).split()))


def split_claims(text: str) -> list[Claim]:
    """Return the generated text's sentences as claims; markers opening a sentence close an uncited one before it."""
    claims: list[Claim] = []
    for s, e in sentence_spans(text):
        piece = text[s:e]
        lead = _LEADING_MARKERS.match(piece)
        if lead and claims and (not claims[-1].cited or not strip_markers(piece[lead.end() :])):
            prev = claims[-1]
            cited = prev.cited + tuple(n for n in markers(lead.group(0)) if n not in prev.cited)
            claims[-1] = Claim(prev.text, cited, prev.raw + " " + lead.group(0).strip())
            piece = piece[lead.end() :]
        if strip_markers(piece):
            claims.append(Claim(strip_markers(piece), markers(piece), piece.strip()))
    return claims


def is_refusal(text: str) -> bool:
    """Return True when the text (markers aside) says the passages do not answer, and claims nothing else."""
    clean = strip_markers(text)
    if not clean:
        return False
    if clean.rstrip(".") == REFUSAL.rstrip("."):
        return True
    sentences = [c.text for c in split_claims(clean)] or [clean]
    return all(_REFUSAL.search(s) for s in sentences)


def _norm(word: str) -> str:
    return _POSSESSIVE.sub("", word.strip(".,;:!?-")).lower()


def _words(text: str) -> list[str]:
    return [w for w in (_norm(t) for t in _TOKEN.findall(text)) if w]


def _capitalised_runs(text: str) -> list[list[str]]:
    """Return runs of adjacent capitalised words (names), sentence- and quote-initial function words left out."""
    runs: list[list[str]] = []
    current: list[str] = []
    stop = set(stopwords())
    prev_end = 0
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        gap = text[prev_end : m.start()]
        prev_end = m.end()
        initial = m.start() == 0 or bool(re.search(r"[.!?“\"(]\s*$", text[: m.start()]))
        if current and gap.strip() not in ("", "-"):
            runs.append(current)
            current = []
        if word[0].isupper() and not (initial and (_norm(word) in stop or _norm(word) in _INITIAL_WORDS)):
            current.append(_norm(word))
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [r for r in runs if r]


def _initialisms(source: str) -> set[str]:
    """Return the initials of runs of capitalised source words ("United States" -> "us")."""
    out: set[str] = set()
    for run in _capitalised_runs(source):
        initials = "".join(w[0] for w in run)
        for i in range(len(initials)):
            for j in range(i + 2, min(len(initials), i + 6) + 1):
                out.add(initials[i:j])
    return out


def missing_entities(claim: str, source: str) -> list[str]:
    """Return the names and numbers of the claim that the source text does not write."""
    src_words = _words(source)
    vocab = set(src_words)
    pairs = set(zip(src_words, src_words[1:], strict=False))
    src_numbers = {d.replace(",", "") for d in _DIGITS.findall(source)}
    initialisms = _initialisms(source)
    acronyms = {_norm(t) for t in _TOKEN.findall(claim) if t.replace(".", "").isupper() and 2 <= len(t.replace(".", "")) <= 6}
    missing: list[str] = []
    for run in _capitalised_runs(claim):
        # An acronym may stand for the words it abbreviates ("U.S." for "United States").
        expanded = {w for w in run if w not in vocab and w in acronyms and w.replace(".", "") in initialisms}
        absent = [w for w in run if w not in vocab and w not in expanded]
        if absent:
            missing.extend(absent)
            continue
        for a, b in zip(run, run[1:], strict=False):
            if (a, b) not in pairs and not {a, b} & expanded:
                missing.append(f"{a} {b}")
    for d in _DIGITS.findall(claim):
        value = d.rstrip(".,").replace(",", "")
        if value and value not in src_numbers:
            missing.append(d)
    for w in _words(claim):
        if w in _NUMBER_WORDS and w not in vocab and _NUMBER_WORDS[w] not in src_numbers:
            missing.append(w)
    return list(dict.fromkeys(missing))


def _with_sentences(hit: Hit) -> Hit:
    if hit.passage.sentences:
        return hit
    return replace(hit, passage=replace(hit.passage, sentences=sentence_spans(hit.passage.text)))


def quote(n: int, passage: Passage, index: int, support: float) -> Citation:
    """Return citation [n] quoting sentence ``index`` of the passage, as the extractive answerer quotes."""
    start, end = passage.sentences[index]
    return Citation(n, passage.passage_id, passage.source, passage.paragraph, passage.text, passage.text[start:end], start, end, support)


def check_claim(claim: Claim, hits: Sequence[Hit]) -> Check:
    """Return the support of one claim by the passages it cites (support 0 with a reason when it cannot be checked)."""
    if not claim.cited:
        return Check(claim, 0.0, "no citation")
    bad = [n for n in claim.cited if not 1 <= n <= len(hits)]
    if bad:
        return Check(claim, 0.0, f"cites [{bad[0]}] but there are {len(hits)} passages")
    claim_terms = set(terms(claim.text))
    if not claim_terms:
        return Check(claim, 0.0, "no checkable content")
    passage_terms: set[str] = set()
    best_cov = 0.0
    quotes: list[tuple[int, int]] = []
    for n in claim.cited:
        p = hits[n - 1].passage
        passage_terms |= set(terms(p.heading + " " + p.text))
        spans = p.sentences or sentence_spans(p.text)
        covs = [coverage(claim_terms, set(terms(p.text[s:e]))) for s, e in spans]
        if covs and max(covs) > 0:
            best = max(range(len(covs)), key=lambda k: (covs[k], -k))
            quotes.append((n, best))
            best_cov = max(best_cov, covs[best])
    lexical = SENTENCE_WEIGHT * best_cov + PASSAGE_WEIGHT * coverage(claim_terms, passage_terms)
    source = " \n ".join(hits[n - 1].passage.heading + " \n " + hits[n - 1].passage.text for n in claim.cited)
    missing = missing_entities(claim.text, source)
    support = lexical * ENTITY_PENALTY ** len(missing)
    reason = f"“{missing[0]}” is not in the cited passage" if missing else ""
    if not quotes and not reason:
        reason = "no sentence of the cited passage supports it"
    return Check(claim, max(0.0, min(1.0, support)), reason, tuple(quotes))


def align_claim(claim: Claim, hits: Sequence[Hit]) -> Claim:
    """Return the claim citing the passage that supports it best (unchanged when no passage shares a content word)."""
    best: tuple[float, int] | None = None
    for n in range(1, len(hits) + 1):
        check = check_claim(Claim(claim.text, (n,), claim.raw), hits)
        # Ties go to the better-ranked passage: hits come best first.
        if check.quotes and (best is None or check.support > best[0]):
            best = (check.support, n)
    return claim if best is None else replace(claim, cited=(best[1],), aligned=True)


def verify(
    text: str,
    hits: Sequence[Hit],
    *,
    threshold: float,
    mode: Literal["remove", "flag"] = "remove",
    align: bool = True,
) -> Verified:
    """Return the generated answer with unsupported sentences removed (or flagged) and checkable citations.

    With ``align`` (the default), a reply without any ``[n]`` marker has each sentence cited by
    alignment to the passage that supports it best before it is checked.
    """
    hits = [_with_sentences(h) for h in hits]
    checks = []
    claims = split_claims(text)
    aligning = align and bool(hits) and not any(c.cited for c in claims)
    if aligning:
        claims = [align_claim(c, hits) for c in claims]
    for i, claim in enumerate(claims):
        check = check_claim(claim, hits)
        if aligning and not claim.cited:
            check = replace(check, reason="no passage supports it")
        elif claim.aligned and check.reason:
            check = replace(check, reason=f"{check.reason} (best passage [{claim.cited[0]}], found by alignment)")
        # A reply cut off by the token limit ends mid-sentence: whatever it was going to say is unknown.
        if i == len(claims) - 1 and not _FINISHED.search(claim.raw) and not check.reason:
            check = replace(check, support=0.0, reason="unfinished sentence")
        if not check.reason and check.support < threshold:
            reason = "no passage supports it" if claim.aligned else "the cited passage does not support it"
            check = replace(check, reason=reason)
        checks.append(check)

    numbering: dict[tuple[int, int], int] = {}
    support_of: dict[tuple[int, int], float] = {}
    sentences: list[str] = []
    removed: list[Unsupported] = []
    flagged: list[Unsupported] = []
    for check in checks:
        # Only the model's own markers are reported as cited; an aligned passage is named in the reason.
        cited = () if check.claim.aligned else check.claim.cited
        failed = Unsupported(check.claim.text, check.support, check.reason, cited)
        if check.reason:
            if mode == "remove":
                removed.append(failed)
                continue
            flagged.append(failed)
        ns = []
        for key in check.quotes:
            ns.append(numbering.setdefault(key, len(numbering) + 1))
            support_of[key] = min(support_of.get(key, 1.0), check.support)
        sentences.append(check.claim.text + (" " + "".join(f"[{n}]" for n in ns) if ns else ""))

    citations = tuple(quote(n, hits[p - 1].passage, k, support_of[(p, k)]) for (p, k), n in numbering.items())
    return Verified(" ".join(sentences), citations, tuple(removed), tuple(flagged), tuple(checks))
