"""Conversation-aware retrieval: the thread's document and passages weigh in, a clear move to another still gets there.

The thread is what the earlier answers quoted: the passages named by their citations, or,
for a client that sends text only, the passages whose text holds the answer's words
(found with the retriever's own search and remembered). From it come

- the thread's document and its title (the topic that pronouns resolve to, ``condense``);
- an expansion of a vague follow-up with the previous question's words (historical query
  expansion: add context terms rather than guess a rewrite);
- a prior for the thread's document and passages over the question's own ranking, dropped
  when the question moves on: it names something the thread's document does not hold but
  another does, or asks about what another document's title is about (then the question is
  searched as asked, without the thread's words);
- the dialog flow: sentences already quoted, and where the last answer ended.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.answer.base import Flow
from qa.answer.condense import Rewrite, Turn
from qa.language import (
    DEMONSTRATIVES,
    PERSON_PRONOUNS,
    SPEAKERS,
    THING_PRONOUNS,
    asks_of_the_last,
    content_words,
    expected_answer,
    holds_new_answer,
    is_small_talk,
    names,
    predicate_stems,
    stopwords,
    terms,
    tokenize,
)
from qa.retrieve import HybridRetriever
from qa.types import REFUSAL, Hit, Passage

_MARKER = re.compile(r"\s*\[\d+\]\s*")
_CONTINUES = re.compile(
    r"\b(what happened (next|then|after(wards| that)?)|what (came|comes|happened) (next|after)|and then|then what|"
    r"after that|afterwards|what else|anything else|tell me more|go on|continue|what next|any other|anything more)\b",
    re.IGNORECASE,
)
_NOT_A_QUOTE = re.compile(r"^(yes|no|yeah|nope|unknown|none|i don.t know|not sure|maybe)\b", re.IGNORECASE)
_AGAIN = re.compile(r"\b(again|repeat|remind me|what did you say|once more)\b", re.IGNORECASE)
# Weights of the thread over the question's own fused score (z-scores, about -3 to 6), fitted on conv_dev.
DOCUMENT_PRIOR = 1.0  # a question that stands alone
VAGUE_DOCUMENT_PRIOR = 4.0  # a question with a pronoun or an ellipsis: it can only mean the thread
PASSAGE_PRIOR = 0.5
# Over that, for the passage the last answer quoted when the question asks of it ("How many times?"). conv_dev,
# one passage a document, cannot set it: set on documents in sections (README "Conversations").
LAST_PASSAGE_PRIOR = 2.0
SHORT_PIECE_WORDS = 4
GIVEN_SHARE = 0.8  # share of a sentence's words an answer must show for the sentence to count as said
EXPANSION_WORDS = 8
EXPANSION_TURNS = 2
RECENT_TURNS = 6  # assistant turns whose quoted passages are looked up
_BARE_HOW = re.compile(r"^\s*(?:and\s+)?how\s*$", re.IGNORECASE)
DETAIL_KINDS = frozenset({"time", "number", "duration", "place"})  # what "When?", "How often?", "Where?" ask of the last answer
# Words that point at someone or something ("he", "this", "else") or at the speakers ("me", "you") say nothing of the
# thread by themselves. Other function words stay: "after", "before", "again" still tell the search something.
_NO_EXPANSION = PERSON_PRONOUNS | THING_PRONOUNS | DEMONSTRATIVES | SPEAKERS | {"else", "other", "another"}
# Share of a question's term weight (idf) that another document's title must carry, and the thread's document
# lack, for the question to have moved there ("Why did his brothers commit suicide?" beside a title
# "…: brothers' suicides"); fitted on conv_dev's topic switches against its follow-ups.
MOVE_SHARE = 0.3
MOVE_PRIOR = 4.0  # the document whose title the question moved to, over the question's own ranking


@dataclass(frozen=True)
class Quoted:
    """The sentences of one passage an earlier answer quoted, and which of them it showed whole."""

    passage: Passage
    sentences: tuple[int, ...]
    shown: tuple[int, ...] = ()
    asked: str = ""  # the question the answer was given to


@dataclass(frozen=True)
class Thread:
    """What the conversation has been about, most recent last."""

    quoted: tuple[Quoted, ...] = ()
    last_question: str = ""  # the recent user questions, newest first, joined: what a vague follow-up is widened with
    following: str = ""  # the passage after the last quoted one in its document, when the last answer ended its passage

    @property
    def document(self) -> str:
        """Return the source of the passage quoted last ("" for a new conversation)."""
        return self.quoted[-1].passage.source if self.quoted else ""

    @property
    def topic(self) -> str:
        """Return the title or heading of the passage quoted last."""
        return self.quoted[-1].passage.heading if self.quoted else ""

    @property
    def topic_is_person(self) -> bool | None:
        """Return whether the passage quoted last speaks of someone (he, she) rather than something (it); None if unknown."""
        if not self.quoted:
            return None
        words = re.findall(r"\w+", self.quoted[-1].passage.text.lower())
        person = sum(w in PERSON_PRONOUNS for w in words)
        thing = sum(w in ("it", "its") for w in words)
        return person > thing

    @property
    def passage_ids(self) -> frozenset[str]:
        """Return the ids of every quoted passage."""
        return frozenset(q.passage.passage_id for q in self.quoted)

    def flow(self, question: str) -> Flow:
        """Return where the dialog stands for this question."""
        given = frozenset((q.passage.passage_id, i) for q in self.quoted for i in q.shown)
        shown_for = frozenset(
            (q.passage.passage_id, i, stem) for q in self.quoted for stem in predicate_stems(q.asked) for i in q.shown
        )
        last = (self.quoted[-1].passage.passage_id, max(self.quoted[-1].sentences)) if self.quoted else None
        if last is not None and last in given and _asks_a_detail_of(question, self.quoted[-1].passage, last[1]):
            given = given - {last}  # "How often?" after "Descale it once a month: …": the answer was in it
        return Flow(
            given=given, shown_for=shown_for, last=last, after=self.following or None, continues=_CONTINUES.search(question) is not None,
            again=_AGAIN.search(question) is not None, asked=question,
        )


def _asks_a_detail_of(question: str, passage: Passage, index: int) -> bool:
    """Return True when an elliptical question asks for a time, number, duration or place that the sentence holds.

    Not one naming an event of its own: "When did she die?" after "Pierre died in 1906." asks of another death.
    """
    asked = question.split("?", 1)[0]
    kind = expected_answer(question)
    if not asks_of_the_last(asked):
        return False
    if _BARE_HOW.match(asked):
        return True  # "How?" after "Pierre died in a street accident …": the manner is told where the event is
    if kind not in DETAIL_KINDS:
        return False
    start, end = passage.sentences[index]
    return holds_new_answer(kind, passage.text[start:end], set(terms(question)))


def asked_in_thread(history: Sequence[Turn]) -> list[str]:
    """Return the user's questions, newest first, without small talk ("Thanks!" says nothing of the thread)."""
    return [t.content for t in reversed(history) if t.role == "user" and not is_small_talk(t.content)]


def _pieces(answer: str) -> list[str]:
    """Return the quoted stretches of an answer text (between its [n] markers) that could name a place in a passage."""
    out = []
    for p in _MARKER.split(answer):
        p = p.strip().strip(".,;:!?\"'“”")
        # "yes", "no", "I don't know" say nothing about where the answer came from.
        if len(p) >= 3 and not _NOT_A_QUOTE.match(p):
            out.append(p)
    return out


def _sentences_holding(passage: Passage, piece: str) -> tuple[int, ...]:
    m = re.search(rf"(?<!\w){re.escape(piece.lower())}(?!\w)", passage.text.lower())
    if m is None:
        return ()
    start, end = m.span()
    return tuple(i for i, (s, e) in enumerate(passage.sentences) if s < end and e > start) or (0,)


def _given_in_full(passage: Passage, index: int, said: str) -> bool:
    """Return True when the answer showed the sentence whole (a short span of it leaves the rest unsaid)."""
    s, e = passage.sentences[index] if index < len(passage.sentences) else (0, 0)
    words = re.findall(r"\w+", passage.text[s:e].lower())
    shown = set(re.findall(r"\w+", said.lower()))
    return bool(words) and sum(w in shown for w in words) / len(words) >= GIVEN_SHARE


class ThreadTracker:
    """Finds the thread of a conversation through the retriever's public methods; remembers text lookups."""

    def __init__(self, retriever: HybridRetriever, *, cache_size: int = 2048) -> None:
        self.retriever = retriever
        self._cache: OrderedDict[str, tuple[tuple[str, tuple[Quoted, ...]], ...]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def thread(self, history: Sequence[Turn], *, documents: tuple[str, ...] | None = None) -> Thread:
        """Return the thread of the earlier turns (found among ``documents``, by id, when given)."""
        quoted: list[Quoted] = []
        assistant = [i for i, t in enumerate(history) if t.role == "assistant"][-RECENT_TURNS:]
        for i in assistant:
            asked = history[i - 1].content if i and history[i - 1].role == "user" else ""
            # A thread stays on its document: where an answer's words occur in several, the current one wins.
            current = quoted[-1].passage.source if quoted else ""
            quoted.extend(self._quoted(history[i], asked, current, documents))
        following = ""
        if quoted and max(quoted[-1].sentences) >= len(quoted[-1].passage.sentences) - 1:
            # The last answer ended its passage: what comes next is the document's next passage.
            after = self.retriever.following(quoted[-1].passage.passage_id)
            following = after.passage_id if after is not None else ""
        return Thread(tuple(quoted), " ".join(asked_in_thread(history)[:EXPANSION_TURNS]), following)

    def _quoted(self, turn: Turn, asked: str, current: str, documents: tuple[str, ...] | None) -> tuple[Quoted, ...]:
        text = turn.content.strip()
        if not text or text.startswith(REFUSAL):
            return ()
        pieces = _pieces(text)
        if turn.citations:
            found = []
            for pid in dict.fromkeys(turn.citations):
                p = self.retriever.get(pid)
                if p is not None:
                    idx = tuple(sorted({i for piece in pieces for i in _sentences_holding(p, piece)}))
                    found.append(self._shown(Quoted(p, idx or (0,)), text, asked))
            if found:
                return tuple(found)
        out = []
        for piece, options in self._holding(pieces, asked, documents):
            here = next((q for q in options if q.passage.source == current), None)
            # A word or two found elsewhere ("four", "Bath") is no reason to leave the thread's document.
            if here is None and current and len(piece.split()) < SHORT_PIECE_WORDS:
                continue
            out.append(self._shown(here or options[0], text, asked))
        return tuple(out)

    @staticmethod
    def _shown(q: Quoted, said: str, asked: str) -> Quoted:
        return replace(q, shown=tuple(i for i in q.sentences if _given_in_full(q.passage, i, said)), asked=asked)

    def _holding(
        self, pieces: list[str], asked: str, documents: tuple[str, ...] | None = None
    ) -> tuple[tuple[str, tuple[Quoted, ...]], ...]:
        """Return, per piece of an answer, the retrieved passages holding it (best first); remembered by text."""
        if not pieces:
            return ()
        key = asked + "\n" + "\n".join(pieces) + ("" if documents is None else "\n\0" + "\0".join(documents))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        hits = self.retriever.retrieve(" ".join(pieces) + " " + asked, top_k=5, documents=documents)
        result = []
        for piece in pieces:
            options = tuple(Quoted(h.passage, idx) for h in hits if (idx := _sentences_holding(h.passage, piece)))
            if options:
                result.append((piece, options))
        found = tuple(result)
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return found


def expand(rewrite: Rewrite, thread: Thread) -> str:
    """Return the search query: the rewrite, widened with the previous question's words when it is unsure."""
    if not rewrite.unsure or not thread.last_question:
        return rewrite.question
    have = content_words(rewrite.question)
    stop = set(stopwords()) | _NO_EXPANSION
    words = dict.fromkeys(re.findall(r"[\w’'-]+", thread.last_question))
    extra = [w for w in words if w.lower() not in have and w.lower() not in stop and len(w) > 1]
    if not extra:
        return rewrite.question
    return f"{rewrite.question} {' '.join(extra[:EXPANSION_WORDS])}"


def _own_names(question: str, thread: Thread) -> list[str]:
    """Return the names the question itself asks about (not the thread's topic it was rewritten with)."""
    return [n for _, n in names(question) if n.lower() not in thread.topic.lower()]


def _names_elsewhere(question: str, thread: Thread, hits: Sequence[Hit]) -> bool:
    """Return True when the question names something that the thread's document lacks and another retrieved document has."""
    asked = _own_names(question, thread)
    if not asked:
        return False
    inside = " ".join(h.passage.heading + " " + h.passage.text for h in hits if h.passage.source == thread.document).lower()
    outside = " ".join(h.passage.heading + " " + h.passage.text for h in hits if h.passage.source != thread.document).lower()
    missing = [n for n in asked if n.lower() not in inside]
    return bool(missing) and any(n.lower() in outside for n in missing)


def _terms(text: str) -> set[str]:
    return set(tokenize([text])[0])


def _titled_elsewhere(question: str, thread: Thread, hits: Sequence[Hit]) -> str:
    """Return the other retrieved document whose title carries most of the question's terms that the thread's document lacks.

    "" when no title carries MOVE_SHARE of the question's term weight (idf) that way.
    """
    idf = dict(hits[0].term_weights) if hits and hits[0].term_weights else {}
    asked = {t: idf.get(t, max(idf.values(), default=1.0)) for t in _terms(question)}
    total = sum(asked.values())
    if total <= 0:
        return ""
    held = [q.passage for q in thread.quoted if q.passage.source == thread.document]
    held += [h.passage for h in hits if h.passage.source == thread.document]
    inside = _terms(" ".join(p.heading + " " + p.text for p in held))
    lacking = {t: w for t, w in asked.items() if t not in inside}
    best, where = MOVE_SHARE * total, ""
    for h in hits:
        if lacking and h.passage.source != thread.document and h.passage.heading:
            carried = sum(w for t, w in lacking.items() if t in _terms(h.passage.heading))
            if carried >= best and not (carried == best and where):
                best, where = carried, h.passage.source
    return where


def destination(asked: str, rewrite: Rewrite, thread: Thread, hits: Sequence[Hit]) -> str | None:
    """Return where the question goes: None, it stays in the thread; else the document it moved to ("" unknown).

    ``asked`` is the question as the user wrote it: a rewrite may have put the thread's topic into it.
    """
    if not thread.document:
        return None
    # One word of its own is too little to leave on when the question points back: "When does it open?" after
    # "…the new port, which opens in 2026" is not about another document's "How do I open an account?".
    titled = _titled_elsewhere(asked, thread, hits) if not rewrite.refers or len(_terms(asked)) > 1 else ""
    if titled:
        return titled
    return "" if _names_elsewhere(rewrite.question, thread, hits) else None


def prefer_document(hits: Sequence[Hit], document: str, top_k: int) -> list[Hit]:
    """Return the top-k hits after adding the prior of a document the question moved to ("" none)."""
    rescored = [replace(h, score=h.score + MOVE_PRIOR) if document and h.passage.source == document else h for h in hits]
    rescored.sort(key=lambda h: -h.score)
    return rescored[:top_k]


def prefer_thread(rewrite: Rewrite, hits: Sequence[Hit], thread: Thread, top_k: int, *, asked: str = "") -> list[Hit]:
    """Return the top-k hits after adding the thread's document and passage prior (call only when the question stays).

    ``asked``: the question as the user wrote it. One that asks of the last answer ("How many times?") is about
    the passage that answer quoted, though other passages of the document hold more of the thread's words.
    """
    if not thread.document:
        return list(hits[:top_k])
    ids = thread.passage_ids
    last = thread.quoted[-1].passage.passage_id if asked and asks_of_the_last(asked) else None
    # A question that leans on the thread can only mean its document; one that stands alone gets a nudge.
    prior = VAGUE_DOCUMENT_PRIOR if rewrite.refers else DOCUMENT_PRIOR
    rescored = [
        replace(h, score=h.score + (prior if h.passage.source == thread.document else 0.0)
                + (PASSAGE_PRIOR if h.passage.passage_id in ids else 0.0) + (LAST_PASSAGE_PRIOR if h.passage.passage_id == last else 0.0))
        for h in hits
    ]
    rescored.sort(key=lambda h: -h.score)
    if rewrite.refers:
        # A question that leans on the thread and stays there is answered from the thread's document alone.
        return [h for h in rescored if h.passage.source == thread.document][:top_k] or rescored[:top_k]
    return rescored[:top_k]
