"""Rewrite a follow-up question into a standalone search query, without a language model. Pure.

Pronouns are resolved to a named entity of the previous turn:
- after a "who" question, a person pronoun (he, she, his, her, him) points at the
  entity the answer introduced (the one nearest to the question's words in the answer);
- otherwise it points at the last entity named in the previous question.
An elliptical follow-up ("and in 2020?", "what about Zhang?") gets the previous
question's subject appended.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

PERSON_PRONOUNS = {"he", "she", "him", "his", "her", "hers", "himself", "herself"}
THING_PRONOUNS = {"it", "its", "they", "them", "their", "theirs"}
POSSESSIVES = {"his", "its", "their", "hers", "theirs"}
_PRONOUN = re.compile(r"\b(" + "|".join(sorted(PERSON_PRONOUNS | THING_PRONOUNS)) + r")\b", re.IGNORECASE)
_CAP_RUN = re.compile(r"(?<![\w-])[A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*)*")
_CITATION_MARK = re.compile(r"\s*\[\d+\]")
_WORD = re.compile(r"\w+")
_NOT_ENTITY = {
    "a", "an", "the", "this", "that", "these", "those", "what", "who", "whom", "whose", "which", "when", "where",
    "why", "how", "is", "are", "was", "were", "do", "does", "did", "can", "could", "should", "would", "will", "and",
    "but", "or", "in", "on", "at", "of", "for", "to", "by", "with", "from", "as", "if", "it", "he", "she", "they",
    "we", "i", "you", "his", "her", "its", "their", "there", "here", "according", "also", "after", "before",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march",
    "april", "may", "june", "july", "august", "september", "october", "november", "december",
}
_ELLIPTIC_START = re.compile(r"^\s*(and|what about|how about|and what about|what of)\b", re.IGNORECASE)
_HER_OBJECT = re.compile(r"\s+(to|about|for|from|with|in|on|at|that|and|or)\b", re.IGNORECASE)
_STOP = _NOT_ENTITY | {"about", "be", "been", "being", "has", "have", "had", "not", "no", "say", "said", "tell", "told"}


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str
    content: str


def _strip_leading_function_words(span: str) -> str:
    words = span.split()
    while words and words[0].lower().strip(".’'") in _NOT_ENTITY:
        words.pop(0)
    while words and words[-1].lower().strip(".’'") in _NOT_ENTITY:
        words.pop()
    return " ".join(words).rstrip(".’'")


def entities(text: str) -> list[tuple[int, str]]:
    """Return (offset, name) of capitalised word runs that look like names, in order."""
    out = []
    for m in _CAP_RUN.finditer(text):
        name = _strip_leading_function_words(m.group(0))
        if name and any(c.isupper() for c in name):
            out.append((m.start() + m.group(0).find(name.split()[0]), name))
    return out


def content_words(text: str) -> set[str]:
    """Return the lower-cased non-stop words of a text."""
    return {w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 1}


def _unasked_part(name: str, asked: set[str]) -> str:
    """Return the name without a leading part the question already named ("United Nations Zhang Jun" after "UN")."""
    words = name.split()
    for i in range(len(words) - 1, 0, -1):
        prefix = words[:i]
        initials = "".join(w[0] for w in prefix).lower()
        if initials in asked or all(w.lower() in asked for w in prefix):
            return " ".join(words[i:])
    return name


def _answer_referent(question: str, answer: str) -> str | None:
    asked = content_words(question)
    anchors = [m.start() for m in _WORD.finditer(answer) if m.group(0).lower() in asked]
    candidates = []
    for off, name in entities(answer):
        rest = _unasked_part(name, asked)
        if not (content_words(rest) & asked):
            candidates.append((off + len(name) - len(rest), rest))
    if not candidates:
        return None
    if not anchors:
        return candidates[0][1]
    return min(candidates, key=lambda c: min(abs(c[0] - a) for a in anchors))[1]


def _referent(prev_question: str, prev_answer: str, person: bool) -> str | None:
    asks_for_person = re.match(r"^\s*(who|whom|whose)\b", prev_question, re.IGNORECASE) is not None
    if person and asks_for_person and prev_answer:
        found = _answer_referent(prev_question, prev_answer)
        if found:
            return found
    named = entities(prev_question)
    if named:
        return named[-1][1]
    return _answer_referent(prev_question, prev_answer) if prev_answer else None


def _replace_pronoun(question: str, match: re.Match[str], referent: str) -> str:
    word = match.group(0).lower()
    rest = question[match.end() :]
    # "her" is possessive when a noun follows it ("her job"), an object otherwise ("talk to her").
    possessive = word in POSSESSIVES or (
        word == "her" and re.match(r"\s+\w", rest) is not None and not _HER_OBJECT.match(rest)
    )
    replacement = f"{referent}’s" if possessive else referent
    return question[: match.start()] + replacement + rest


def condense(question: str, history: Sequence[Turn]) -> str:
    """Return a standalone version of the question given earlier turns (unchanged without history)."""
    question = question.strip()
    prev_question, prev_answer = "", ""
    for turn in history:
        if turn.role == "user":
            text = turn.content.strip()
            prev_question = _resolve(text, prev_question, prev_answer) if prev_question else text
            prev_answer = ""
        elif turn.role == "assistant":
            prev_answer = _CITATION_MARK.sub("", turn.content)
    if not prev_question:
        return question
    return _resolve(question, prev_question, prev_answer)


def _resolve(question: str, prev_question: str, prev_answer: str) -> str:
    match = _PRONOUN.search(question)
    if match:
        referent = _referent(prev_question, prev_answer, match.group(0).lower() in PERSON_PRONOUNS)
        if referent:
            return _replace_pronoun(question, match, referent)
    if _ELLIPTIC_START.match(question) or len(content_words(question)) < 2:
        subject = entities(prev_question)
        tail = subject[-1][1] if subject else " ".join(sorted(content_words(prev_question)))
        if tail and tail.lower() not in question.lower():
            return f"{question.rstrip('?').rstrip()} ({tail})?"
    return question
