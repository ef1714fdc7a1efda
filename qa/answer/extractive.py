"""The offline default answerer: quote the retrieved sentences that best answer the question. Pure.

Every sentence of the retrieved passages is described by interpretable features
(``SENTENCE_FEATURES``) and scored in two stages, both fitted on the dev split of SQuAD
v1.1 + v2.0 by ``bench/fit_support.py``: a linear selection score ranks the sentences,
and a logistic calibration turns a sentence's score into its ``support`` in [0, 1], the
estimated probability that it holds the answer. The answer quotes the best sentence
(and a second one whose support is almost as high), each followed by its [n]; when the
best support is under ``answer.refuse_below``, the answer is a refusal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass
from functools import lru_cache

from qa.answer.base import Flow
from qa.language import (
    HAS_NUMBER,
    HAS_TIME,
    NOT_NAME_WORDS,
    TITLE_QUESTION_WORDS,
    decades,
    describes,
    expected_answer,
    gives_title,
    holds_new_answer,
    list_item_words,
    names,
    predicate_stem,
    predicate_stems,
    predicate_words,
    question_type,
    speech_terms,
    terms,
    who_is,
)
from qa.types import Citation, Hit

SENTENCE_FEATURES = (
    "similarity",  # cosine(question, sentence)
    "sentence_coverage",  # idf-weighted share of question terms in the sentence
    "passage_coverage",  # idf-weighted share of question terms in the passage (and its heading)
    "answer_type",  # 1 when the sentence holds the kind of thing asked for (number, time, name)
    "rank",  # 1 / (1 + retrieval rank of the passage)
    "novelty",  # share of the sentence's terms that are not in the question
    "new_answer",  # 1 when the sentence holds a new instance of what is asked for (a place the question and topic lack)
    "predicate",  # idf-weighted share of the question's own words (its event: "die" ~ "death") in the sentence
)
# Stage 1, which sentence answers best: a linear score over SENTENCE_FEATURES, its weights
# searched to maximise how often the top sentence holds the answer (bench/fit_support.py).
SELECTION_WEIGHTS = (3.105, 3.000, 1.905, 0.717, 0.507, -0.226, 1.042, 0.211)
# Stage 2, how likely that sentence holds the answer: logistic over (1, selection score,
# best similarity among all retrieved sentences), fitted on the dev split.
CALIBRATION = (-4.691, 0.448, 2.352)

# The dialog flow (see ``Flow``), added to the selection score of a sentence before calibration: where the
# sentence lies from the last answer's sentence. Answers in information-seeking dialogs move forward through a
# text, often within the sentence just quoted from (a third of conv_dev's follow-ups); a sentence already shown
# whole is pushed down unless the question asks again.
DIALOG_FEATURES = (
    "same",  # the last answer's own sentence, only part of it said
    "shown",  # a sentence an earlier answer showed whole
    "next",  # the sentence right after the last answer's, in its passage
    "ahead",  # two or three sentences after it
    "further",  # more than three sentences after it
    "before",  # a sentence before it, in its passage
)
# Bonuses in selection-score units, one per DIALOG_FEATURES.
DIALOG_WEIGHTS: tuple[float, ...] = (0.8, -1.5, 0.5, 0.5, 0.5, 0.0)
# After "what happened next?" the one or two sentences right after the last answer come first.
NEXT_BONUS = (3.0, 1.5)
# A question asking for a person's title ("What is Blinken's job title?") is answered by the sentence
# that puts a title before that name, whatever else the passages say about the person; "Who is Wang Yi?"
# by one that says what he is (``describes``: a title before the name, an apposition or "is a" after it).
TITLE_BONUS = 1.0
# The expected answers whose instances the "new_answer" feature looks for.
NEW_ANSWER_KINDS = frozenset({"time", "number", "duration", "place"})
PREDICATE = SENTENCE_FEATURES.index("predicate")
_ANOTHER = re.compile(r"\b(else|other|another|besides)\b", re.IGNORECASE)
MAX_LEAD = 1.0  # selection-score lead over the runner-up past which a sentence stands out no further
_NAME = re.compile(r"(?<![.!?“\"]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_CAPITALISED = re.compile(r"(?<![.!?“\"]\s)(?<!^)\b[A-Z][a-z]+")


def answer_type_found(question: str, sentence: str) -> bool:
    """Return False when the question asks for a number, time or name that the sentence lacks."""
    kind = question_type(question)
    if kind == "number":
        return HAS_NUMBER.search(sentence) is not None
    if kind == "time":
        return HAS_TIME.search(sentence) is not None
    if kind == "place":
        # A place is a name the question did not give (months and weekdays are no places).
        asked = set(terms(question))
        return any(
            set(terms(m.group(0))) - asked for m in _CAPITALISED.finditer(sentence) if m.group(0).lower() not in NOT_NAME_WORDS
        )
    if kind in ("name", "description"):
        # "Who is Wang Yi?" is answered by what he is, which may name others ("Chinese Foreign Minister") or not.
        asked = set(terms(question))
        return any(set(terms(m.group(0))) - asked for m in _CAPITALISED.finditer(sentence))
    if kind == "title":
        people = [n for _, n in names(question)]
        return not people or any(gives_title(sentence, n) for n in people)
    return True


def new_answer_found(question: str, sentence: str, topic: str = "") -> bool:
    """Return False when the question expects a kind of answer and the sentence holds none that the question and topic lack.

    "Where's she from?" (searched as "Where's Heather Neroy from?") is not answered by a sentence whose only
    place is the one the question names, nor by the title the passage is about.
    """
    return _new_answer_kind(question) is None or gives_what_is_asked(question, sentence, topic)


def gives_what_is_asked(question: str, sentence: str, topic: str = "") -> bool:
    """Return True when the question asks for a time, number, duration or place and the sentence holds one the question and topic lack.

    "What year did it come out?" is answered by "…released in 1981", which holds none of its words.
    """
    kind = _new_answer_kind(question)
    return kind is not None and holds_new_answer(kind, sentence, set(terms(question)) | set(terms(topic)))


def _new_answer_kind(question: str) -> str | None:
    kind = expected_answer(question)
    # Measured on the dev data, a person or a reason is no sharper than ``answer_type`` already is: answers to
    # "who" are often descriptions ("an author or journalist"), reasons are worded in too many ways.
    return kind if kind in NEW_ANSWER_KINDS else None


@lru_cache(maxsize=16384)
def _predicate_stems(text: str) -> frozenset[str]:
    return frozenset(predicate_stem(w) for w in re.findall(r"[A-Za-zÀ-ÖØ-öø-ÿ]+", text))


def predicate_weights(question: str, weights: dict[str, float]) -> dict[str, float]:
    """Return the question's own words as predicate stems, each weighted by its term's idf (1.0 when unknown)."""
    out: dict[str, float] = {}
    for word in predicate_words(question):
        term = terms(word)
        out[predicate_stem(word)] = max(out.get(predicate_stem(word), 0.0), weights.get(term[0], 1.0) if term else 1.0)
    return out


def weighted_coverage(weights: dict[str, float], text_terms: Set[str]) -> float:
    """Return the idf-weighted share of question terms present in the text (1.0 without terms)."""
    total = sum(weights.values())
    if total <= 0:
        return 1.0
    return sum(w for t, w in weights.items() if t in text_terms) / total


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage with its features and support."""

    hit: Hit
    index: int
    rank: int
    features: tuple[float, ...]
    score: float
    support: float

    @property
    def span(self) -> tuple[int, int]:
        """Return the (start, end) of the sentence in the passage text."""
        return self.hit.passage.sentences[self.index]


def _dot(features: Sequence[float], weights: Sequence[float]) -> float:
    return sum(f * w for f, w in zip(features, weights, strict=True))


def calibrated_support(score: float, best_similarity: float, calibration: Sequence[float] = CALIBRATION) -> float:
    """Return the probability, in [0, 1], that a sentence with this selection score holds the answer."""
    z = _dot((1.0, score, best_similarity), calibration)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _question_weights(question: str, hits: Sequence[Hit]) -> dict[str, float]:
    weights = next((dict(h.term_weights) for h in hits if h.term_weights), None) or dict.fromkeys(terms(question), 1.0)
    if question_type(question) == "title":
        # "job title" says what kind of answer is wanted; the answer sentence names the title, not the word.
        asked_for = {t for w in TITLE_QUESTION_WORDS for t in terms(w)}
        weights = {t: w for t, w in weights.items() if t not in asked_for} or weights
    return weights


# Stored passages come back question after question: what names a passage gives is read once.
@lru_cache(maxsize=4096)
def _text_names(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Return the terms of the names a text gives, and its one-word names."""
    single = frozenset(n for _, n in names(text) if " " not in n)
    return frozenset(terms(" ".join(_NAME.findall(text)))), single


def _named_terms(question: str, text: str) -> set[str]:
    """Return the terms of the names a text gives, counting a one-word name as the question's longer name it is part of."""
    given, single = _text_names(text)
    named = set(given)
    # "Zhang said" speaks of the "Zhang Jun" the question asks about; "John Adams" is no "John Smith".
    for _, asked in names(question):
        if " " in asked and single & set(asked.split()):
            named |= set(terms(asked))
    return named


def best_similarity(hits: Sequence[Hit]) -> float:
    """Return the best question-sentence cosine among the hits: how relevant is anything at all."""
    return max((s for h in hits for s in h.sentence_sims), default=0.0)


def sentence_features(question: str, hits: Sequence[Hit]) -> list[tuple[Hit, int, int, tuple[float, ...]]]:
    """Return (hit, sentence index, rank, SENTENCE_FEATURES values) for every sentence of the hits."""
    weights = _question_weights(question, hits)
    q_terms = set(weights)
    predicates = predicate_weights(question, weights)
    kind, asked = _new_answer_kind(question), set(terms(question))
    rows: list[tuple[Hit, int, int, tuple[float, ...]]] = []
    for rank, hit in enumerate(hits):
        p = hit.passage
        heading = set(terms(p.heading))
        known = asked | heading  # the question's own words and the title the passage is about
        # The people and places a paragraph names are what its other sentences talk about
        # ("... Zhang said. 'We call on all parties ...'"): count them for every sentence, and so the heading
        # the paragraph is under ("Before first use": "Fill the kettle …, boil the water and pour it away.").
        named = _named_terms(question, p.text) | heading
        steps = set(terms(" ".join(list_item_words(p.text[s:e]) for s, e in p.sentences)))  # "first step" … of a numbered list
        p_cov = weighted_coverage(weights, set(terms(p.text)) | named | steps)
        for k, (s, e) in enumerate(p.sentences):
            sentence = p.text[s:e]
            s_terms = set(terms(sentence))
            said = (speech_terms(sentence) | decades(sentence) | set(terms(list_item_words(sentence)))) & q_terms
            novelty = len(s_terms - q_terms) / len(s_terms) if s_terms else 0.0
            sim = hit.sentence_sims[k] if k < len(hit.sentence_sims) else 0.0
            features = (
                sim,
                weighted_coverage(weights, s_terms | named | said),
                p_cov,
                1.0 if answer_type_found(question, sentence) else 0.0,
                1.0 / (1 + rank),
                novelty,
                1.0 if kind is None or holds_new_answer(kind, sentence, known) else 0.0,
                weighted_coverage(predicates, _predicate_stems(sentence)),
            )
            rows.append((hit, k, rank, features))
    return rows


def dialog_step(flow: Flow, passage_id: str, index: int) -> int | None:
    """Return how many sentences after the last answer's this one comes (negative: before it); None in another passage.

    The passage after the last answer's goes on from it when the last answer ended its passage (``Flow.after``).
    """
    if flow.last is None:
        return None
    if passage_id == flow.last[0]:
        return index - flow.last[1]
    return index + 1 if passage_id == flow.after else None


def dialog_features(flow: Flow, passage_id: str, index: int, *, asked_for: bool = False) -> tuple[float, ...]:
    """Return the DIALOG_FEATURES of a sentence of a passage, given where the dialog stands.

    ``asked_for``: the sentence holds what the question asks (its predicate), so an earlier answer showing it
    beside what that answer was asked does not make it said.
    """
    shown = not flow.again and not asked_for and (passage_id, index) in flow.given
    at = dialog_step(flow, passage_id, index)
    here, step = at is not None, at or 0
    return (
        float(here and step == 0 and (passage_id, index) not in flow.given),
        float(shown),
        float(here and step == 1),
        float(here and 2 <= step <= 3),
        float(here and step > 3),
        float(here and step < 0),
    )


def asked_predicates(flow: Flow, question: str) -> frozenset[str]:
    """Return the predicate stems by which the question may ask for a sentence already shown (none: it may not).

    "What degrees did she earn?" "… degrees … In 1895 she married Pierre Curie." "Who did she marry?": the
    sentence was shown for "earn", not for "marry"; now it is what is asked. Not after "What else …?" or "What
    happened next?", which ask for another.
    """
    asked = flow.asked or question
    return frozenset() if flow.continues or _ANOTHER.search(asked) else predicate_stems(asked)


def asked_anew(flow: Flow, predicates: frozenset[str], passage_id: str, index: int, features: Sequence[float]) -> bool:
    """Return True when a sentence holds the question's whole predicate and no earlier question showed it for that."""
    return bool(predicates) and features[PREDICATE] >= 1.0 and any((passage_id, index, p) not in flow.shown_for for p in predicates)


def flow_bonus(flow: Flow, passage_id: str, index: int, *, asked_for: bool = False) -> float:
    """Return what the dialog adds to a sentence's selection score: down if already shown, up where the dialog is."""
    f = dialog_features(flow, passage_id, index, asked_for=asked_for)
    step = dialog_step(flow, passage_id, index)
    if flow.continues and step is not None and 1 <= step <= len(NEXT_BONUS):
        # "What happened next?" asks for exactly this: the learned forward bonus is replaced, not added to.
        return f[1] * DIALOG_WEIGHTS[1] + NEXT_BONUS[step - 1]
    return _dot(f, DIALOG_WEIGHTS)


def rank_sentences(question: str, hits: Sequence[Hit], flow: Flow | None = None) -> list[Candidate]:
    """Return every sentence of the hits as a candidate, best first (following the dialog's flow when given)."""
    best = best_similarity(hits)
    kind = question_type(question)
    title_asked = kind == "title" and bool(names(question))
    person = who_is(question) if kind == "description" else None
    predicates = asked_predicates(flow, question) if flow is not None else frozenset()
    out = []
    for hit, k, rank, f in sentence_features(question, hits):
        says_what = (title_asked and f[3]) or (person is not None and describes(hit.passage.text[slice(*hit.passage.sentences[k])], person))
        score = _dot(f, SELECTION_WEIGHTS) + (TITLE_BONUS if says_what else 0.0)
        if flow is not None:
            score += flow_bonus(flow, hit.passage.passage_id, k, asked_for=asked_anew(flow, predicates, hit.passage.passage_id, k, f))
        out.append(Candidate(hit, k, rank, f, score, calibrated_support(score, best)))
    out.sort(key=lambda c: (-c.score, c.rank, c.index))
    return out


def decisive_support(ranked: Sequence[Candidate], lead_credit: float) -> float:
    """Return the best candidate's support plus ``lead_credit`` per unit of score it leads the runner-up by (capped at 1)."""
    lead = ranked[0].score - ranked[1].score if len(ranked) > 1 else MAX_LEAD
    return ranked[0].support + lead_credit * min(lead, MAX_LEAD)


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
    question: str,
    hits: Sequence[Hit],
    *,
    refuse_below: float,
    max_sentences: int,
    margin: float,
    flow: Flow | None = None,
    lead_credit: float = 0.0,
    outside_below: float | None = None,
) -> tuple[str, tuple[Citation, ...]]:
    """Return the answer text with [n] markers and its citations; ("", ()) means refuse.

    ``lead_credit`` adds to the best sentence's support, for the refusal only, this much per
    unit of selection score it leads the runner-up by (at most one unit): a sentence that
    stands out from the rest of the passages is an answer, one among many equals is a guess.
    ``outside_below``: the bar for a sentence of another document than the best-retrieved
    passage's (None: ``refuse_below``), where that passage's own sentences are held to less.
    """
    ranked = rank_sentences(question, hits, flow)

    far = refuse_below if outside_below is None else outside_below

    def outside(c: Candidate) -> bool:
        return outside_below is not None and c.hit.passage.source != hits[0].passage.source

    def bar(c: Candidate) -> float:
        return far if outside(c) else refuse_below

    # The lead credit is for standing out among the best-retrieved passage's sentences, not from elsewhere.
    if not ranked or (ranked[0].support if outside(ranked[0]) else decisive_support(ranked, lead_credit)) < bar(ranked[0]):
        return "", ()
    chosen = [ranked[0]]
    for c in ranked[1:]:
        if len(chosen) >= max_sentences or c.support < ranked[0].support - margin:
            break
        if c.support >= bar(c):
            chosen.append(c)
    # Quote in retrieval and document order, so sentences of one passage read naturally.
    chosen.sort(key=lambda c: (c.rank, c.index))
    citations = tuple(cite(n, c) for n, c in enumerate(chosen, start=1))
    text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return text, citations
