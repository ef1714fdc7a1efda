"""Rewrite a follow-up question into a standalone one, without a language model. Pure.

The rules never make a question worse: they replace a pronoun only when they know what
it means, and otherwise leave the words alone and say so (``Rewrite.unsure``), so that
the search is widened with the thread's terms instead (``qa.answer.thread``).

- he, she, his, her: after a "who" question, the one person its answer introduced (two
  or more: unsure); otherwise the thread's topic (the entity the discussed document is
  about, from its title); otherwise the first name (the subject) of the previous question.
- it, its, they, their: a short name the previous answer gave ("What city ...?" "Bath"),
  else the thread's topic; else unsure.
- this, that, there, a bare "Who?" or "And when?": unsure.
- A possessive pronoun becomes one possessive ("Cary Grant’s"), never a stacked one.
- Small talk ("thanks!", "ok") and text that asks nothing are left alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from qa.language import (
    DEMONSTRATIVES,
    PERSON_PRONOUNS,
    POSSESSIVE_PRONOUNS,
    THING_PRONOUNS,
    content_words,
    is_question,
    is_small_talk,
    named_alone,
    names,
    own_words,
    title_entity,
    tokenize,
    who_is,
)

# The words a follow-up points back with, which a rewrite replaces (as ``tokenize`` spells them).
_REFERRING = frozenset(tokenize([" ".join(PERSON_PRONOUNS | THING_PRONOUNS | POSSESSIVE_PRONOUNS | DEMONSTRATIVES)])[0])
_PRONOUN = re.compile(r"\b(" + "|".join(sorted(PERSON_PRONOUNS | THING_PRONOUNS)) + r")\b", re.IGNORECASE)
_PERSON = re.compile(r"\b(" + "|".join(sorted(PERSON_PRONOUNS)) + r")\b", re.IGNORECASE)
_MALE = re.compile(r"\b(he|him|his|himself)\b", re.IGNORECASE)
_FEMALE = re.compile(r"\b(she|her|hers|herself)\b", re.IGNORECASE)
_DEMONSTRATIVE = re.compile(r"\b(" + "|".join(sorted(DEMONSTRATIVES)) + r")\b", re.IGNORECASE)
# "the location that is the focus", "did he know that it was over": after a content word and before more words,
# "that" joins a clause; it points back only alone ("after that", "is that true?", "why was that?").
_JOINING_THAT = re.compile(r"\b([A-Za-z]+)\s+that\s+\w", re.IGNORECASE)
_CITATION_MARK = re.compile(r"\s*\[\d+\]")
_WORD = re.compile(r"\w+")
# "the band", "the album", "anyone else": a definite thing or a contrast that only the thread can say what it is.
_LEANS_ON_THREAD = re.compile(
    r"\bthe\s+(band|group|album|song|single|record|film|movie|show|series|episode|book|novel|team|club|company|tour|game|"
    r"fight|match|war|battle|season|family|project|treatment|play|musical|event|award|contract|deal|case|trial|"
    r"area|region|city|town|village|country|state|province|county|place|incident|accident|attack|election|campaign)s?\b"
    r"|\b(else|other|another)\b",
    re.IGNORECASE,
)
# "In what land zone?", "From which previous entities?": a preposition before the question word carries on the last question.
_FRAGMENT = re.compile(
    r"^\s*(in|from|for|to|by|with|at|on|since|until|during|after|before)\s+(what|which|whom|how|when|where)\b", re.IGNORECASE
)
# "And Marie?", "What about Putin?": the last question again, about someone else.
_ASKED_INSTEAD = re.compile(
    r"^\s*(?:and\s+(?:what\s+about\s+|how\s+about\s+)?|what\s+about\s+|how\s+about\s+)([^?]+?)\s*\??\s*$", re.IGNORECASE
)
_ELLIPTIC_START = re.compile(r"^\s*(and|what about|how about|and what about|what of|what else|anything else)\b", re.IGNORECASE)
_HER_OBJECT = re.compile(
    r"\s+(to|about|for|from|with|in|on|at|that|and|or|as|by|when|after|before|if|because)\b|\s*[?.!,]|\s*$", re.IGNORECASE
)
# "this article", "that film": the question points at something of its own, not at the topic.
_ABOUT_ITSELF = re.compile(r"\b(article|document|passage|text|story)\b|\b(this|that|these|those)\s+\w+", re.IGNORECASE)
_ASKS_WHOSE_NAME = re.compile(r"\bwhat(?:['’]s|\s+is|\s+was)\s+(?:his|her)\s+(?:full\s+|first\s+|real\s+)?name\b", re.IGNORECASE)
_WHO_Q = re.compile(r"^\s*(who|whom|whose)\b", re.IGNORECASE)
_THING_Q = re.compile(r"^\s*(what|which)\b", re.IGNORECASE)
_DEFINES = re.compile(r"^\s*what\s+(?:is|was)\s+(?:the\s+)?([^?]+?)\s*\??\s*$", re.IGNORECASE)
# "it" that refers to nothing: "how long did it take", "it is said", "is it true".
_DUMMY_IT = re.compile(
    r"\bit\s+(take|took|takes|seem|seems|seemed|rain|matter|mean|means)\b|\b(it\s+is|is\s+it)\s+(said|true|possible|likely)\b"
    # The weather and the time of day: "Who says it's getting cold?", "Was it dark yet?"
    r"|\bit(?:['’]s|\s+is|\s+was|\s+will\s+be)\s+(?:getting\s+|growing\s+)?"
    r"(cold|colder|hot|warm|dark|late|early|windy|sunny|snowing|raining|freezing)\b",
    re.IGNORECASE,
)
_POSSESSIVE_END = re.compile(r"(?:[’']s?)$")
SHORT_ANSWER_WORDS = 6
SHORT_QUESTION = 2  # content words under which a follow-up cannot stand alone ("Any sisters?", "Where, then?")
_JOINERS = {"of", "the", "and", "de", "for"}


def _points_back(question: str) -> bool:
    """Return True when the question holds a demonstrative ("this", "there", "that" alone), not a joining "that"."""
    joining = {m.start(0) + len(m.group(1)) + 1 for m in _JOINING_THAT.finditer(question) if own_words(m.group(1))}
    return any(m.group(0).lower() != "that" or m.start() not in joining for m in _DEMONSTRATIVE.finditer(question))


@dataclass(frozen=True)
class Turn:
    """One message of a conversation; an assistant turn may carry the passage ids it cited."""

    role: str
    content: str
    citations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rewrite:
    """The standalone question and what the rules could not settle."""

    question: str
    small_talk: bool = False
    unsure: bool = False  # a reference left unresolved: widen the search with the thread's terms
    refers: bool = False  # the question leans on the thread (a pronoun, an ellipsis): it cannot move to another topic
    beside: bool = False  # the thread's topic was put beside the question ("Any sisters (Walter Scott)?"): not its own name


def _answer_names(question: str, answer: str) -> list[str]:
    """Return the names the answer introduces that the question did not already ask about, nearest its words first."""
    asked = content_words(question)
    anchors = [m.start() for m in _WORD.finditer(answer) if m.group(0).lower() in asked]
    candidates: dict[str, int] = {}
    # "Mary Jones and Ann Smith" are two people.
    split = [(off + name.find(part), part) for off, name in names(answer) for part in name.split(" and ")]
    asked_names = [content_words(n) for _, n in names(question)]
    for off, name in split:
        rest = _unasked_part(name, asked)
        words = content_words(rest)
        # "Wang Yi" after "Who did Wang Yi talk to?" was asked about; "Ève Curie" after "Marie Curie's daughters" was not.
        if rest and words and not words <= asked and not any(n and n <= words for n in asked_names):
            candidates.setdefault(rest, off + len(name) - len(rest))
    if anchors:
        return sorted(candidates, key=lambda n: min(abs(candidates[n] - a) for a in anchors))
    return list(candidates)


def _unasked_part(name: str, asked: set[str]) -> str:
    """Return the name without a leading part the question already named ("United Nations Zhang Jun" after "UN")."""
    words = name.split()
    for i in range(len(words) - 1, 0, -1):
        prefix = words[:i]
        initials = "".join(w[0] for w in prefix).lower()
        if initials in asked or all(w.lower() in asked or w.lower() in _JOINERS for w in prefix):
            return " ".join(words[i:])
    return name


def _short_name_answer(answer: str) -> str | None:
    """Return the answer itself when it is just a name ("Bath", "Zappa and the Mothers of Invention")."""
    text = answer.strip().rstrip(".")
    if not text or len(text.split()) > SHORT_ANSWER_WORDS:
        return None
    found = names(text)
    if found and found[0][0] == 0 and len(found[0][1]) >= len(text) * 0.5:
        return text if len(found) > 1 or found[0][1] == text else found[0][1]
    return None


@dataclass(frozen=True)
class Context:
    """What a pronoun can refer to: the previous turn, the thread's topic, and what earlier pronouns meant."""

    prev_question: str = ""
    prev_answer: str = ""
    topic: str = ""
    topic_is_person: bool | None = None  # None: unknown (no passage to tell from)
    said_person: bool = False  # the user has said "he" or "she" in this thread
    person_referent: str = ""  # what the last "he"/"she" meant
    person_gender: str = ""  # "he" or "she": which of the two ``person_referent`` was meant by
    meant_by: tuple[tuple[str, str], ...] = ()  # ("he" | "she", whom it meant), the latest for each
    introduced: tuple[str, ...] = ()  # the people the last answer to a "who" question named, nearest its words first
    last_named: str = ""  # the subject (first name) of the latest question that named one
    subject_question: str = ""  # the latest question that named someone or something of its own (no topic put beside it)
    thing_referent: str = ""  # what the last "it"/"they" meant
    prev_said_person: bool = False  # the previous question itself said "he", "his", "she" ...


def _said_with_the(name: str, text: str) -> bool:
    return re.search(rf"\bthe\s+{re.escape(name)}\b", text, re.IGNORECASE) is not None


def _plural(name: str) -> bool:
    return " and " in name or name.endswith("s")


def _gender(word: str) -> str:
    return "he" if _MALE.fullmatch(word) else "she" if _FEMALE.fullmatch(word) else ""


def _person(c: Context, word: str = "") -> str | None:
    if _ASKS_WHOSE_NAME.search(c.prev_question) and c.prev_answer:
        # "What's her name?" "Heather Neroy": the answer is who "she" is.
        answered = names(c.prev_answer)
        if answered:
            return answered[0][1]
    if c.person_referent and c.person_gender and _gender(word) not in ("", c.person_gender):
        # "Who did she marry?" "Pierre Curie." "When did he die?": "he" is not whom "she" meant.
        earlier = dict(c.meant_by).get(_gender(word))
        if earlier:
            return earlier  # "she" means again whom it meant before "he" came in
        if c.topic and c.topic_is_person is not False and c.topic != c.person_referent:
            return c.topic  # "Who was Pierre Curie?" … "When did she win?" in a document about Marie Curie
        others = [n for n in c.introduced if n not in c.person_referent and c.person_referent not in n]
        return others[0] if others else None
    asked = who_is(c.prev_question)
    if asked is not None and not dict(c.meant_by).get(_gender(word)):
        return asked  # "Who is Wang Yi?": the answer is about him, whatever other names it gives
    # "Who was his father?" keeps "he" on the thread's person; "Who is the ambassador?" introduces a new one
    # ("Who was Sue?" does not: its answer says what Sue was).
    if _WHO_Q.match(c.prev_question) and asked is None and c.prev_answer and not c.prev_said_person:
        # "The Cardinals", "the United Nations": a name said with "the" is a group or a place, not a "he" or "she".
        introduced = [n for n in _answer_names(c.prev_question, c.prev_answer) if not _said_with_the(n, c.prev_answer)]
        if introduced:
            # "Mary Jones and Ann Smith founded it": either could be meant, so do not guess.
            paired = any(f"{introduced[0]} and " in n or f" and {introduced[0]}" in n for _, n in names(c.prev_answer))
            return None if paired else introduced[0]
    if c.person_referent:
        return c.person_referent  # "he" goes on meaning whom it meant in the last question
    if c.topic and c.topic_is_person is not False:
        return c.topic
    # The first name of a question is its subject: "What did Wang Yi tell Blinken?" is about Wang Yi; after
    # "What did Zhang Jun say?" "When?", "What is his position?" is still about Zhang Jun. A topic the rewrite put
    # beside a question is no name of it: "his" after "How old is the city (Bath)?" is not Bath's.
    return c.last_named or None


def _thing(word: str, c: Context) -> str | None:
    if c.thing_referent:
        return c.thing_referent  # "its" goes on meaning what it meant in the last question
    plural = word in ("they", "them", "their", "theirs", "themselves")
    defined = None if plural else named_alone(_DEFINES, c.prev_question)
    if defined is not None and not _mentions(defined, c.topic or "-"):
        return defined  # "What is Excelsior?" ... "How many poems does it include?"
    short = _short_name_answer(c.prev_answer)
    if short and (_THING_Q.match(c.prev_question) or _WHO_Q.match(c.prev_question)) and (not plural or _plural(short)):
        return short
    # "it" never means a person the thread calls "he" or "she", nor a plural ("the Wright Brothers").
    person_topic = c.topic_is_person if c.topic_is_person is not None else c.said_person
    if word in ("it", "its") and (person_topic or _plural(c.topic)):
        return None
    return c.topic or None


def _possessive(name: str, plural: bool = False) -> str:
    """Return "Bath’s", "James’s"; for "their", a name ending in "s" takes the apostrophe alone ("the Wright Brothers’")."""
    bare = _POSSESSIVE_END.sub("", name) if not plural else name
    return f"{bare}’" if plural and bare.endswith("s") else f"{bare}’s"


def _replace(question: str, match: re.Match[str], referent: str) -> str:
    rest = question[match.end() :]
    if _is_possessive(question, match):
        referent = _possessive(referent, plural=match.group(0).lower() in ("their", "theirs"))
    return question[: match.start()] + referent + rest


def _is_possessive(question: str, match: re.Match[str]) -> bool:
    word = match.group(0).lower()
    # "her" is possessive when a noun follows it ("her job"), an object otherwise ("talk to her").
    return word in POSSESSIVE_PRONOUNS or (word == "her" and not _HER_OBJECT.match(question[match.end() :]))


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def _mentions(question: str, referent: str) -> bool:
    q = _fold(question)
    return any(re.search(rf"\b{re.escape(_fold(w))}\b", q) for w in referent.split() if len(w) > 2 and w[0].isupper())


def resolve(question: str, c: Context) -> tuple[Rewrite, str]:
    """Return the question with its first pronoun resolved in context, and what the pronoun was taken to mean."""
    if (instead := _asked_instead(question, c.subject_question)) is not None:
        return Rewrite(instead), named_alone(_ASKED_INSTEAD, question) or ""
    match = _PRONOUN.search(question)
    if match and _MALE.search(question) and _FEMALE.search(question):
        # "Where did she meet him?": two people, and no rule here knows which name is which.
        return _with_topic(question, c) or Rewrite(question, unsure=True, refers=True), ""
    if match and _is_possessive(question, match) and names(question[: match.start()]):
        # "Where are Lady Desmond and her daughter staying?": the question names whom "her" means.
        return Rewrite(question), ""
    if match and not (match.group(0).lower() == "it" and _DUMMY_IT.search(question)):
        word = match.group(0).lower()
        referent = _person(c, word) if word in PERSON_PRONOUNS else _thing(word, c)
        if referent and _mentions(question, referent):
            return Rewrite(question, refers=True), referent
        if referent:
            return Rewrite(_replace(question, match, referent), refers=True), referent
        # An unresolved "it" is still about the thread's topic; an unresolved "she" may be anyone the answer named.
        beside = _with_topic(question, c) if word not in PERSON_PRONOUNS else None
        return beside or Rewrite(question, unsure=True, refers=True), ""
    unsure = bool(
        _points_back(question) or _ELLIPTIC_START.match(question) or len(own_words(question)) < SHORT_QUESTION
        or (_FRAGMENT.match(question) and not names(question))
    )
    if unsure and not _ABOUT_ITSELF.search(question):
        return _with_topic(question, c) or Rewrite(question, unsure=True, refers=True), ""
    if _LEANS_ON_THREAD.search(question) and not _ABOUT_ITSELF.search(question):
        # "When did the band form?" names nothing of its own: the band is the topic's. A question that names
        # something ("another city of the USSR") stands alone.
        return _with_topic(question, c) or Rewrite(question), ""
    return Rewrite(question, unsure=unsure, refers=unsure), ""


def _asked_instead(question: str, previous: str) -> str | None:
    """Return the previous question about another subject: "Where did Pierre die?" "And Marie?" -> "Where did Marie die?".

    Only when the previous question names one subject: after "When did Russia invade Ukraine?", "What about
    Georgia?" could replace either name.
    """
    other = named_alone(_ASKED_INSTEAD, question)
    subjects = names(previous)
    if other is None or len(subjects) != 1 or subjects[0][1] == other:
        return None
    offset, subject = subjects[0]
    return previous[:offset] + other + previous[offset + len(subject) :]


def _with_topic(question: str, c: Context) -> Rewrite | None:
    """Return the question with the thread's topic added, when it names nothing of its own ("Any sisters? (Salvador Dalí)")."""
    if not c.topic or names(question) or _mentions(question, c.topic):
        return None
    # A follow-up the rules cannot settle is about the thread's topic: say so, without claiming what the pronoun means.
    return Rewrite(f"{question.rstrip(' ?')} ({c.topic})?", unsure=True, refers=True, beside=True)


def rewrite(question: str, history: Sequence[Turn], topic: str = "", topic_is_person: bool | None = None) -> Rewrite:
    """Return the standalone rewrite of a question given earlier turns and the title of the thread's document."""
    question = question.strip()
    if is_small_talk(question):
        return Rewrite(question, small_talk=True)
    c = Context(
        topic=title_entity(topic) if topic else "",
        topic_is_person=topic_is_person,
        said_person=any(_PERSON.search(t.content) for t in history if t.role == "user") or _PERSON.search(question) is not None,
    )
    chatting = False  # the last user turn was small talk: the reply to it is no answer either
    for turn in history:
        if turn.role == "user":
            text = turn.content.strip()
            chatting = is_small_talk(text)
            if chatting:
                continue
            person, thing, gender, beside = "", "", c.person_gender, False
            if c.prev_question:
                m = _PRONOUN.search(text)
                resolved, meant = resolve(text, c)
                text, beside = resolved.question, resolved.beside
                if m and meant:
                    word = m.group(0).lower()
                    if word in PERSON_PRONOUNS:
                        person, thing, gender = meant, c.thing_referent, _gender(word)
                    else:
                        person, thing = c.person_referent, meant
                elif meant and c.person_referent and _mentions(c.subject_question, c.person_referent):
                    # "When did he die?" (Wilbur) "What about Orville?": the next "he" is Orville.
                    person, thing = meant, c.thing_referent
            named = [] if beside else names(text)
            c = replace(
                c, prev_question=text, prev_answer="", person_referent=person or c.person_referent, thing_referent=thing,
                last_named=named[0][1] if named else c.last_named,
                subject_question=text if named else c.subject_question,
                person_gender=gender, prev_said_person=_PERSON.search(turn.content) is not None,
                meant_by=tuple({**dict(c.meant_by), gender: person}.items()) if person and gender else c.meant_by,
            )
        elif turn.role == "assistant" and not chatting:
            said = _CITATION_MARK.sub("", turn.content)
            c = replace(c, prev_answer=said)
            if (asked := who_is(c.prev_question)) is not None:
                c = replace(c, introduced=(asked,))  # "Who was Sue?": Sue, not a name the answer gave beside her
            elif _WHO_Q.match(c.prev_question):  # "Who did she marry?": whom the answer introduces
                c = replace(c, introduced=tuple(n for n in _answer_names(c.prev_question, said) if not _said_with_the(n, said)))
    if not c.prev_question or not is_question(question):
        return Rewrite(question)
    return resolve(question, c)[0]


def condense(question: str, history: Sequence[Turn], topic: str = "") -> str:
    """Return a standalone version of the question given earlier turns (unchanged without history)."""
    return rewrite(question, history, topic).question


def turns_of(history: Sequence[Mapping[str, Any]]) -> list[Turn]:
    """Return JSON-shaped turns ({"role", "content", "citations"?}) as Turn values."""
    out = []
    for t in history:
        cites = tuple(str(c.get("passage_id")) for c in t.get("citations") or () if isinstance(c, Mapping) and c.get("passage_id"))
        out.append(Turn(str(t["role"]), str(t["content"]), cites))
    return out


def rewrite_turn(question: str, history: Sequence[Mapping[str, Any]], *, topic: str = "") -> str:
    """Return the rewrite of a question given JSON-shaped history (evaluation entry point)."""
    return condense(question, turns_of(history), topic)


def faithful(question: str, rewritten: str, history: Sequence[Turn]) -> bool:
    """Return True when a rewrite keeps every content word of the question and adds only words of the conversation.

    A language model's rewrite is checked with this before it is searched: a small model invents
    ("What is the capital of England?") or answers instead of asking, and either is worse than the question.
    """
    asked = set(tokenize([question])[0]) - _REFERRING
    got = set(tokenize([rewritten])[0])
    said = {t for toks in tokenize([question, *(t.content for t in history)]) for t in toks}
    return bool(got) and asked <= got and got <= said
