"""The English rules every stage shares: stop words, pronouns, names, numbers, initialisms, question types. Pure.

Retrieval (keyword terms), the extractive answerer (answer types, names), the follow-up
rewriter (pronouns, names, small talk) and verification (stop words, number words,
initialisms) read these lists and functions from here, so a word is treated the same way
everywhere.
"""

from __future__ import annotations

import re
from functools import lru_cache

# --- stop words and content terms -------------------------------------------------------

# bm25s' English stop words (bm25s.stopwords.STOPWORDS_EN), copied: importing bm25s pulls in scipy, a second of
# start-up; tests/unit/test_tokenize_equivalence.py checks the copy against the package.
STOPWORDS_EN = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
)
# Question words and words that refer to the corpus itself carry no content:
# "Who is the secretary in the article?" asks about "secretary", not "who" or "article".
QUESTION_WORDS = (
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "did", "does", "do", "done",
    "is", "are", "was", "were", "be", "been", "has", "have", "had", "can", "could", "would", "should",
    "will", "shall", "may", "might", "must", "according", "article", "document", "documents", "text",
    "passage", "passages", "say", "says", "said", "tell", "told", "mention", "mentioned", "also",
)
# Reported speech in any of its verbs: "Who did Wang Yi talk to?" is answered by "Wang Yi told Blinken".
SPEECH_VERBS = frozenset({
    "say", "says", "said", "saying", "tell", "tells", "told", "telling", "talk", "talks", "talked", "talking",
    "speak", "speaks", "spoke", "spoken", "speaking", "stated", "remarked", "replied", "added", "announced",
})
_SPEECH = re.compile(r"\b(" + "|".join(sorted(SPEECH_VERBS)) + r")\b", re.IGNORECASE)


@lru_cache(maxsize=16384)
def speech_terms(text: str) -> frozenset[str]:
    """Return the terms of every speech verb when the text reports speech (so "talk" matches "told"), else nothing.

    Remembered by text: a passage's sentences come back question after question.
    """
    return _speech_verb_terms() if _SPEECH.search(text) else frozenset()


@lru_cache(maxsize=1)
def _speech_verb_terms() -> frozenset[str]:
    return frozenset(tokenize([" ".join(sorted(SPEECH_VERBS))])[0])


_NUMBER = re.compile(r"\d")
_STEM_CHARS = 6


@lru_cache(maxsize=1)
def stopwords() -> tuple[str, ...]:
    """Return the stop words ignored by keyword matching."""
    return tuple(sorted(set(STOPWORDS_EN) | set(QUESTION_WORDS)))


def _stem(token: str) -> str:
    # A prefix is a crude but language-agnostic stem: "mobilizing"/"mobilized" -> "mobili".
    return token if _NUMBER.search(token) else token[:_STEM_CHARS]


# bm25s.tokenize's own rule (scikit-learn's token pattern on lower-cased text, stop words removed),
# inlined: bm25s rebuilds its stop-word set for every text, which cost more than the rest of an answer.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stopword_set() -> frozenset[str]:
    return frozenset(stopwords())


def tokenize(texts: list[str], *, stem: bool = True) -> list[list[str]]:
    """Return the lower-cased content tokens of each text, optionally prefix-stemmed (as bm25s.tokenize splits them)."""
    stop = _stopword_set()
    out = [[t for t in _TOKEN.findall(text.lower()) if t not in stop] for text in texts]
    return [[_stem(t) for t in toks] for toks in out] if stem else out


def terms(text: str) -> list[str]:
    """Return the stemmed content tokens of one text, with the acronyms of its capitalised names."""
    return list(_terms(text))


# The answerer asks for the terms of every sentence of every retrieved passage, per question: the same
# stored sentences again and again. Memoised (a few MB at most), a warm answer skips that work.
@lru_cache(maxsize=16384)
def _terms(text: str) -> tuple[str, ...]:
    return (*tokenize([text])[0], *acronyms(text))


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth")
_LIST_ITEM = re.compile(r"^\s*(\d{1,2})[.)]\s")


def list_item_words(sentence: str) -> str:
    """Return the words a numbered step answers to: "3. Pour in …" -> "third step"; "" for other sentences."""
    m = _LIST_ITEM.match(sentence)
    n = int(m.group(1)) if m else 0
    return f"{ORDINALS[n - 1]} step" if 1 <= n <= len(ORDINALS) else ""


_YEAR_OF_DECADE = re.compile(r"\b(1[0-9]{2}|20[0-9])[0-9]\b")


def decades(text: str) -> frozenset[str]:
    """Return the decades of the years a text gives, as a question writes them: "In 1975, …" -> {"1970s"}."""
    return frozenset(f"{m.group(1)}0s" for m in _YEAR_OF_DECADE.finditer(text))


def coverage(question_terms: set[str], text_terms: set[str]) -> float:
    """Return the share of question terms that occur in the text (1.0 when the question has none)."""
    if not question_terms:
        return 1.0
    return len(question_terms & text_terms) / len(question_terms)


# --- initialisms ------------------------------------------------------------------------

_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|the\s+|for\s+|and\s+)?[A-Z][a-z]+)+")


def initialisms(words: list[str], *, longest: int) -> set[str]:
    """Return the lower-cased initials of a run of capitalised words and of its sub-runs (2 to ``longest`` letters)."""
    letters = "".join(w[0] for w in words if w).lower()
    return {letters[i:j] for i in range(len(letters)) for j in range(i + 2, min(len(letters), i + longest) + 1)}


def acronyms(text: str) -> list[str]:
    """Return the lower-cased initials of capitalised word runs and their sub-runs: "United Nations" -> "un"."""
    out: set[str] = set()
    for m in _CAPITALISED_RUN.finditer(text):
        out |= initialisms([w for w in m.group(0).split() if w[0].isupper()], longest=5)
    return sorted(out)


# --- numbers and times ------------------------------------------------------------------

NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
}
# Words that say "a quantity" without being a numeral.
QUANTITY_WORDS = ("dozen", "half", "once", "twice", "several", "many", "few", "first", "second", "third", "percent")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIME_WORDS = (
    *MONTHS, *WEEKDAYS, "century", "centuries", "decade", "year", "years", "ago", "today", "yesterday", "tomorrow",
    "morning", "afternoon", "evening", "night", "week", "weeks", "month", "months", "since", "until", "during",
    "before", "after", "spring", "summer", "autumn", "fall", "winter",
)
HAS_NUMBER = re.compile(r"\d|\b(" + "|".join((*NUMBER_WORDS, *QUANTITY_WORDS)) + r")\b", re.IGNORECASE)
HAS_TIME = re.compile(r"\d|\b(" + "|".join(TIME_WORDS) + r")\b", re.IGNORECASE)

# --- question types ---------------------------------------------------------------------

_NUMBER_Q = re.compile(
    r"^\s*(how\s+(many|much|long|old|far|large|big|tall|high|often|fast|deep|wide|heavy)|what\s+(percentage|number|amount))\b",
    re.IGNORECASE,
)
_TIME_Q = re.compile(r"^\s*(when|(in|on|at|by)?\s*(what|which)\s+(year|date|day|month|century|decade|time))\b", re.IGNORECASE)
_NAME_Q = re.compile(r"^\s*(who|whom)\b", re.IGNORECASE)
_PLACE_Q = re.compile(r"^\s*(where|(in|from|to)\s+(what|which)\s+(city|country|state|town|place|region))\b", re.IGNORECASE)
# "What is his job title?", "What position did she hold?": the answer is a title, not the word "title".
_TITLE_Q = re.compile(
    r"^\s*(what|which)\b(?!.*\bplay)(?:.*\b)(job|title|position|occupation|profession)s?\b(?!\s+(of|in)\b)",
    re.IGNORECASE,
)
TITLE_QUESTION_WORDS = frozenset({"job", "title", "position", "occupation", "profession"})
# "Who is Wang Yi?": the answer says what the person is ("Chinese Foreign Minister Wang Yi", "Wang Yi, China's …").
_WHO_IS = re.compile(r"^\s*who(?:['’]s|\s+is|\s+was)\s+([^?]+?)\s*\??\s*$", re.IGNORECASE)
# The words a person's title is made of ("Secretary of State", "Chinese Ambassador to the United Nations").
TITLE_WORDS = frozenset({
    "president", "vice", "minister", "secretary", "ambassador", "senator", "governor", "mayor", "king", "queen",
    "prince", "princess", "emperor", "chancellor", "premier", "chairman", "chairwoman", "chair", "director", "general",
    "spokesman", "spokeswoman", "spokesperson", "judge", "justice", "attorney", "commissioner", "envoy", "representative",
    "congressman", "congresswoman", "speaker", "leader", "chief", "officer", "ceo", "founder", "professor", "dr",
    "doctor", "bishop", "pope", "cardinal", "archbishop", "captain", "colonel", "lieutenant", "admiral", "sergeant",
    "coach", "manager", "editor", "deputy", "head", "counselor", "adviser", "advisor", "diplomat", "lord", "sir", "duke",
})
_OPENERS = (
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "is", "are", "was", "were", "do", "does",
    "did", "can", "could", "should", "would", "will", "has", "have", "had", "tell", "describe", "explain", "list",
    "name", "give", "show", "and", "in", "on", "at", "for", "from", "to", "by", "with", "as", "since", "any",
)
_OPENS_QUESTION = re.compile(r"^\s*(" + "|".join(_OPENERS) + r")\b", re.IGNORECASE)


def question_type(question: str) -> str | None:
    """Return "number", "time", "name", "place", "title" or "description" when the question asks for that kind of thing, else None."""
    if _TITLE_Q.match(question):
        return "title"
    if who_is(question) is not None:
        return "description"
    if _NUMBER_Q.match(question):
        return "number"
    if _TIME_Q.match(question):
        return "time"
    if _NAME_Q.match(question):
        return "name"
    if _PLACE_Q.match(question):
        return "place"
    return None


def named_alone(pattern: re.Pattern[str], question: str) -> str | None:
    """Return the name that the pattern's group holds, when the group is that one name and nothing else."""
    asked = pattern.match(question)
    if asked is None:
        return None
    found = names(asked.group(1))
    return found[0][1] if len(found) == 1 and found[0][1] == asked.group(1).strip() else None


def who_is(question: str) -> str | None:
    """Return the name a "Who is …?" question asks about ("Who is Wang Yi?" -> "Wang Yi"), else None."""
    return named_alone(_WHO_IS, question)


def is_question(text: str) -> bool:
    """Return True when the text asks something (a question mark, a question word, or a request to tell)."""
    return "?" in text or _OPENS_QUESTION.match(text) is not None


# "What is this article about?", "Summarize the document", "Give me an overview": the answer is how the document opens.
_OVERVIEW = re.compile(
    r"^\s*(?:(?:so\s+|and\s+)?what(?:['’]s|\s+is|\s+was)\s+(?:this|the|that)\s+(?:article|document|text|story|report|paper|file|page)\s+"
    r"(?:mainly\s+|all\s+)?about"
    r"|(?:please\s+)?(?:summari[sz]e|give\s+(?:me\s+)?(?:an?\s+)?(?:overview|summary|gist)\s+of)\s+(?:this|the|that)\s+"
    r"(?:article|document|text|story|report|paper|file|page)"
    r"|what(?:['’]s|\s+is)\s+the\s+(?:main\s+(?:point|idea|topic)|gist)\s+of\s+(?:this|the)\s+(?:article|document|text|story|report|paper))"
    r"\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def asks_overview(question: str) -> bool:
    """Return True when the question asks what the document as a whole is about ("What is this article about?")."""
    return _OVERVIEW.match(question) is not None


# --- small talk -------------------------------------------------------------------------

_SMALL_TALK = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|cool|great|nice|good|perfect|awesome|alright|all right|sure|fine|wow|yes|yeah|yep|no|nope|"
    r"hi|hello|hey|good (?:morning|afternoon|evening)|bye|goodbye|see you|cheers|got it|i see|understood|"
    r"thanks?|thank you|thanks a lot|thank you very much|many thanks|much appreciated|that helps|that's (?:great|helpful|all))"
    r"(?:\s+(?:so much|very much|a lot|again|then|there|you|!)){0,2}[\s!.,:)]*)+$",
    re.IGNORECASE,
)
_GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", re.IGNORECASE)
_FAREWELL = re.compile(r"^\s*(bye|goodbye|see you|cheers)\b", re.IGNORECASE)
_THANKS = re.compile(r"\b(thanks?|thank you|appreciated|that helps|helpful)\b", re.IGNORECASE)


def is_small_talk(text: str) -> bool:
    """Return True for a greeting, thanks or acknowledgement that asks nothing ("thanks!", "ok", "hi")."""
    return bool(text.strip()) and "?" not in text and _SMALL_TALK.match(text) is not None


def small_talk_reply(text: str) -> str:
    """Return a short polite reply to small talk."""
    if _THANKS.search(text):
        return "You're welcome. Ask me anything else about the documents."
    if _GREETING.match(text):
        return "Hello. Ask me a question about the documents."
    if _FAREWELL.match(text):
        return "Goodbye."
    return "Ask me anything else about the documents."


# --- pronouns and names -----------------------------------------------------------------

PERSON_PRONOUNS = frozenset({"he", "she", "him", "his", "her", "hers", "himself", "herself"})
THING_PRONOUNS = frozenset({"it", "its", "they", "them", "their", "theirs", "itself", "themselves"})
DEMONSTRATIVES = frozenset({"this", "that", "these", "those", "there", "here"})
POSSESSIVE_PRONOUNS = frozenset({"his", "its", "their", "hers", "theirs"})
# Function words that open a question but say nothing of its topic: "During what year?", "Anything else?",
# "Since when?". Never a name when capitalised, and no content of the question's own.
FUNCTION_WORDS = frozenset({
    "about", "above", "across", "after", "against", "among", "around", "before", "behind", "below", "beside", "besides", "between",
    "beyond", "despite", "during", "into", "like", "near", "over", "since", "through", "throughout", "toward",
    "towards", "under", "until", "till", "upon", "within", "without", "anything", "anyone", "anybody", "anywhere",
    "something", "someone", "somebody", "somewhere", "everything", "everyone", "everybody", "else", "just", "only",
    "even", "still", "again", "now", "because", "while", "although", "though", "whether", "another", "such", "very",
    "really", "exactly", "much", "more", "less", "many", "few", "some", "any", "other", "others", "all", "both", "each",
    "most",
})
# The asker and the assistant: "Can you tell me more?" names nothing the documents are about.
SPEAKERS = frozenset({"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "you", "your", "yours", "yourself"})
# Not names even when capitalised (sentence-initial function words, days, months).
NOT_NAME_WORDS = FUNCTION_WORDS | frozenset(QUESTION_WORDS) | SPEECH_VERBS | frozenset({
    "a", "an", "the", "this", "that", "these", "those", "what", "who", "whom", "whose", "which", "when", "where",
    "why", "how", "is", "are", "was", "were", "do", "does", "did", "can", "could", "should", "would", "will", "and",
    "but", "or", "in", "on", "at", "of", "for", "to", "by", "with", "from", "as", "if", "it", "he", "she", "they",
    "we", "i", "you", "his", "her", "its", "their", "there", "here", "according", "also", "after", "before", "yes",
    "no", "then", "so", "however", "both", "each", "all", "some", "many", "most", "one", "any", "other", "others",
    "tell", "describe", "explain", "list", "name", "give", "show", "please", "ok", "okay", "thanks", "thank",
    "true", "false", "none", "nothing", "unknown", "not", "has", "have", "had", "may", "might", "must", "shall",
    *MONTHS, *WEEKDAYS,
})
# Upper case includes the accented Latin capitals ("Ève Curie", "Émile Zola").
_UPPER = "A-ZÀ-ÖØ-Þ"
_CAP_RUN = re.compile(rf"(?<![\w-])[{_UPPER}][\w’'.-]*(?:\s+(?:(?:of|de|the|and|van|von|da|del|la|le)\s+)?[{_UPPER}][\w’'.-]*)*")
_POSSESSIVE_END = re.compile(r"(?:[’']s?|s[’'])$")


def _bare(word: str) -> str:
    """Return a word lower-cased without quotes and a possessive or contracted ending ("What's" -> "what")."""
    return re.sub(r"[’'](s|re|ll|ve|d)$", "", word.lower().strip(".’'")).strip(".’'")


def _trim_name(span: str) -> str:
    words = span.split()
    while words and _bare(words[0]) in NOT_NAME_WORDS:
        words.pop(0)
    while words and _bare(words[-1]) in NOT_NAME_WORDS | {"of", "de", "and", "the", "van", "von", "da", "del", "la", "le"}:
        words.pop()
    if words:
        words[-1] = _POSSESSIVE_END.sub("", words[-1]) if len(words[-1]) > 3 else words[-1]
    return " ".join(words).rstrip(".’'")


def names(text: str) -> list[tuple[int, str]]:
    """Return (offset, name) of the capitalised word runs that look like names, in order, without possessive endings."""
    return list(_names(text))


# A conversation's earlier questions and answers are read again at every turn: their names are found once.
@lru_cache(maxsize=8192)
def _names(text: str) -> tuple[tuple[int, str], ...]:
    out = []
    for m in _CAP_RUN.finditer(text):
        name = _trim_name(m.group(0))
        if name and any(c.isupper() for c in name):
            out.append((m.start() + m.group(0).find(name.split()[0]), name))
    return tuple(out)


_TITLE_SPLIT = re.compile(r"\s*(?::|\(|,|—| - |›)\s*")  # "›": a section's heading path ("Marie Curie › Early life")
_NAME_WORD = re.compile(r"^(?:[A-Z][\w’'.-]*|of|de|the|and|van|von|da|del|la|le|du|y|al|bin|el)$")


def title_entity(title: str) -> str:
    """Return the entity a title is about ("Frank Zappa: Disbandment" -> "Frank Zappa"), or "" when it names none."""
    # A nickname in quotes is part of the name: 'Billy "Crash" Craddock'.
    head = _TITLE_SPLIT.split(re.sub(r"[\"“”]", "", title.strip().lstrip("#").strip()), maxsplit=1)[0].strip(" \\'\"")
    words = head.split()
    if not words or len(words) > 6 or not words[0][:1].isupper():
        return ""
    # A heading in capitals ("UKRAINIAN VIEWS ...") or with ordinary lower-case words names a section, not an entity.
    if len(words) > 2 and head.isupper():
        return ""
    if not all(_NAME_WORD.match(w) for w in words):
        return ""
    return head


def heading_section(heading: str) -> str:
    """Return what a heading says beside the entity it is about: "KX-200 Kettle › Before first use" -> " › Before first use"."""
    entity = title_entity(heading)
    return heading.replace(entity, "", 1) if entity else heading


_TITLE_JOINERS = frozenset({"of", "to", "the", "for", "and", "de"})


def gives_title(sentence: str, name: str) -> bool:
    """Return True when the sentence puts a title right before the name ("Secretary of State Antony Blinken")."""
    last = name.split()[-1] if name.split() else ""
    if len(last) < 2:
        return False
    for m in re.finditer(rf"(?<!\w){re.escape(last)}(?!\w)", sentence):
        before = [w.strip(",;:“”\"()") for w in sentence[: m.start()].split()]
        # The capitalised words (and the "of", "to" inside them) just before the name are its title and first names.
        run: list[str] = []
        for w in reversed(before):
            if not w or not (w[0].isupper() or w.lower() in _TITLE_JOINERS):
                break
            run.append(w)
        if any(part.lower().strip(".") in TITLE_WORDS for w in run for part in w.split("-")):
            return True
    return False


# After the name: an apposition ("Wang Yi, China's foreign minister,") or a copula ("Wang Yi is a diplomat").
_DESCRIBED_AFTER = r"(?:['’]s)?(?:\s*,\s*(?:a|an|the|who|[A-Z]?[a-z]+['’]s)\b|\s+(?:is|was|became|served as)\s+(?:a|an|the)\b)"


def describes(sentence: str, name: str) -> bool:
    """Return True when the sentence says what the named person is: a title before the name, an apposition or a copula after it."""
    last = name.split()[-1] if name.split() else ""
    return gives_title(sentence, name) or (
        len(last) >= 2 and re.search(rf"(?<!\w){re.escape(last)}(?!\w){_DESCRIBED_AFTER}", sentence) is not None
    )


def content_words(text: str) -> set[str]:
    """Return the lower-cased words of a text that are not stop words (unstemmed)."""
    stop = set(stopwords())
    return {w.lower() for w in re.findall(r"\w+", text) if w.lower() not in stop and len(w) > 1}


_YES_NO = re.compile(r"^\s*(is|are|was|were|do|does|did|can|could|should|would|will|has|have|had)\b", re.IGNORECASE)
# Words that point at something or someone else, or join: they say nothing of what a question is about by themselves.
POINTING = FUNCTION_WORDS | SPEAKERS | PERSON_PRONOUNS | THING_PRONOUNS | DEMONSTRATIVES


def own_words(question: str) -> set[str]:
    """Return the words a question brings of its own: its content words less function words and pronouns."""
    return content_words(question) - POINTING


def is_elliptical(question: str) -> bool:
    """Return True for a wh-question with at most one word of its own: "How big was it?", "Since when?", "How many?".

    Such a follow-up asks about the place the conversation is at; its words cannot be looked for in the answer.
    A yes/no question ("Was it loved?") checks a claim instead, and is not one.
    """
    return not _YES_NO.match(question) and len(own_words(question)) <= 1


# --- expected answers and predicates ----------------------------------------------------

# The kind of thing a question asks for, finer than ``question_type``: "How long did it take?" wants a duration,
# "Why did he lose?" a reason, "What was the date of the incident?" a time.
_EXPECT = (
    ("number", re.compile(
        r"\bhow\s+(many|much|old|far|large|big|tall|high|often|fast|deep|wide|heavy)\b|"
        r"^\s*(what|which)\s+(is|was|are|were)?\s*(the\s+)?(percentage|number|amount|population|size|score|age)\b",
        re.IGNORECASE,
    )),
    ("duration", re.compile(r"\bhow\s+long\b", re.IGNORECASE)),
    ("time", re.compile(
        r"^\s*(\w+\s+){0,2}when\b|\bsince\s+when\b|\bwhat\s+time\b|"
        r"\b(what|which)\s+((is|was|were|are)\s+the\s+)?(year|date|day|month|century|decade|era|period|season)s?\b",
        re.IGNORECASE,
    )),
    ("place", re.compile(
        r"^\s*(\w+\s+){0,2}where\b|"
        r"\b(what|which)\s+(city|country|state|town|village|place|region|county|province|continent|island|street|area|location)\b",
        re.IGNORECASE,
    )),
    ("person", re.compile(r"^\s*(\w+\s+){0,2}(who|whom)\b|\bwho\s*\??$", re.IGNORECASE)),
    ("reason", re.compile(r"^\s*(\w+\s+){0,2}why\b|\bwhat\s+(was|is|were)\s+the\s+(reason|cause)\b", re.IGNORECASE)),
)


def expected_answer(question: str) -> str | None:
    """Return what the question asks for: "number", "duration", "time", "place", "person", "reason" or None."""
    # The question is what comes before its question mark; terms a rewrite appended after it are context.
    asked = question.split("?", 1)[0]
    for kind, pattern in _EXPECT:
        if pattern.search(asked):
            return kind
    return None


_YEAR = r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b"
_TIME_INSTANCE = re.compile(
    _YEAR + r"|\b(?:" + "|".join(m.capitalize() for m in MONTHS if m != "may") + r"|" + "|".join(d.capitalize() for d in WEEKDAYS) + r")\b"
    r"|\bMay\s+\d|\b\d{1,2}\s+May\b|\bin\s+May\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)[\s-]+centur(?:y|ies)\b|\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|"
    r"twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first)\s+centur(?:y|ies)\b"
    r"|\b(?:AD|BC|BCE|CE)\s+\d+|\b\d+\s+(?:AD|BC|BCE|CE)\b|['’]\d0s\b"
    r"|\b(?:today|yesterday|tomorrow|tonight|ago|noon|midnight)\b|\b\d{1,2}(?::\d\d)?\s*(?:a\.m\.|p\.m\.|am|pm)\b"
    r"|\b(?:last|next|this|that|the\s+following|the\s+previous)\s+(?:week|month|year|spring|summer|autumn|fall|winter|season)\b"
    r"|(?i:\b(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|few|\d+)\s+(?:years?|months?|weeks?|days?|decades?)\s+"
    r"(?:later|earlier|after|before|ago)\b)",
)
_CARDINALS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty",
    "sixty", "seventy", "eighty", "ninety", "hundred", "hundreds", "thousand", "thousands", "million", "millions",
    "billion", "billions", "dozen", "dozens", "half", "twice", "once", "thrice", "single", "double", "triple", "pair",
    "couple",
)
_NUMBER_INSTANCE = re.compile(r"\d[\d,.]*|\b(?:" + "|".join(_CARDINALS) + r")\b", re.IGNORECASE)
_TIME_UNITS = r"(?:seconds?|minutes?|hours?|days?|nights?|weeks?|months?|years?|decades?|centur(?:y|ies)|lifetime|while)"
_DURATION_INSTANCE = re.compile(
    # "three years", "a few more days", and hyphenated before a noun: "a two-year warranty", "a 10-minute walk".
    r"\b(?:a|an|one|few|several|many|\d[\d,.]*|" + "|".join(_CARDINALS) + r")(?:\s+(?:\w+\s+)?|-)" + _TIME_UNITS + r"\b|"
    r"\b(?:until|till|since|for)\s+(?:" + _YEAR + r"|[A-Z]\w+)",
    re.IGNORECASE,
)
# Nouns for a place, found after a locative preposition ("at his home", "in a small village").
PLACE_NOUNS = frozenset({
    "city", "town", "village", "country", "state", "province", "county", "region", "district", "island", "river", "lake",
    "sea", "ocean", "mountain", "mountains", "valley", "coast", "shore", "beach", "street", "road", "avenue", "square",
    "park", "home", "house", "apartment", "hospital", "clinic", "school", "university", "college", "church", "cathedral",
    "abbey", "temple", "mosque", "palace", "castle", "court", "camp", "cave", "station", "airport", "port", "harbor",
    "harbour", "hotel", "prison", "jail", "office", "building", "capital", "border", "farm", "forest", "desert", "area",
    "north", "south", "east", "west", "northern", "southern", "eastern", "western", "suburb", "suburbs", "neighborhood",
    "abroad", "overseas", "downtown", "studio", "theater", "theatre", "stadium", "club", "restaurant", "bar", "cemetery",
})
_LOCATIVE = re.compile(
    # Not "on": "on Monday", "on the Internet" are rarely where something is.
    r"\b(?:in|at|from|near|into|to|across|outside|inside|throughout|around|toward|towards|between)\s+"
    r"(?:(?:the|a|an|his|her|their|its|our|my|northern|southern|eastern|western|central|downtown|rural|small|big|"
    r"large|local|nearby|old|new)\s+)*"
    rf"([{_UPPER}][\w’'.-]*(?:\s+(?:(?:of|de|the|and|upon|on)\s+)?[{_UPPER}][\w’'.-]*)*|[a-z]+)",
)
# "Santa Monica, California" (city, state); "the province of Ontario".
_NAMED_PLACE = re.compile(
    rf"[{_UPPER}][\w’'.-]*,\s+[{_UPPER}][\w’'.-]*|"
    rf"\b(?:city|town|village|country|state|province|county|region|district|island|kingdom|republic)\s+of\s+((?:the\s+)?[{_UPPER}][\w’'.-]*)"
)
_REASON_INSTANCE = re.compile(
    r"\b(?:because|since|due\s+to|owing\s+to|thanks\s+to|as\s+a\s+result|result\s+of|resulted|reasons?|so\s+that|"
    r"in\s+order\s+to|caused|causes|cause|led\s+to|leading\s+to|why|therefore|hence|after|motivated|wanted|hoped|"
    r"so\s+as\s+to|in\s+an\s+effort\s+to|in\s+protest)\b",
    re.IGNORECASE,
)


def _new(found: tuple[str, ...], known: set[str]) -> bool:
    """Return True when some found span has a content term the known terms lack (or, termless, is not known itself)."""
    for span in found:
        span_terms = set(_terms(span))
        if span_terms - known if span_terms else span.lower() not in known:
            return True
    return False


def answer_instances(kind: str | None, sentence: str) -> list[str]:
    """Return the spans of the sentence that could answer a question of this kind (a year for "time", ...)."""
    return list(_instances(kind, sentence))


# Asked of the same stored sentences again and again, as ``_terms`` is.
@lru_cache(maxsize=16384)
def _instances(kind: str | None, sentence: str) -> tuple[str, ...]:
    return tuple(_find_instances(kind, sentence))


def _find_instances(kind: str | None, sentence: str) -> list[str]:
    if kind == "time":
        return [m.group(0) for m in _TIME_INSTANCE.finditer(sentence)]
    if kind == "number":
        return [m.group(0) for m in _NUMBER_INSTANCE.finditer(sentence)]
    if kind == "duration":
        return [m.group(0) for m in _DURATION_INSTANCE.finditer(sentence)]
    if kind == "place":
        out = [m.group(1) or m.group(0) for m in _NAMED_PLACE.finditer(sentence)]
        for m in _LOCATIVE.finditer(sentence):
            word = m.group(1).rstrip(".’'")
            if word[0].isupper() and word.lower() not in NOT_NAME_WORDS or word in PLACE_NOUNS:
                out.append(word)
        return out
    if kind == "person":
        # A name that opens the sentence is only taken with a second word ("Despite ..." is no person, "Jane Austen" is).
        return [n for at, n in names(sentence) if (at > 0 or " " in n) and n.lower() not in NOT_NAME_WORDS]
    if kind == "reason":
        return [m.group(0) for m in _REASON_INSTANCE.finditer(sentence)]
    return []


def holds_new_answer(kind: str | None, sentence: str, known: set[str]) -> bool:
    """Return True when the sentence holds an instance of the kind whose terms are not all known (asked or the topic)."""
    return _new(_instances(kind, sentence), known)


# Irregular word families the prefix stem cannot join: "where did he die?" is about a "death", "born" a "birth".
_FAMILIES = (
    ("die", "died", "dies", "dying", "dead", "death", "deaths"),
    ("born", "birth", "births", "birthplace"),
    ("marry", "married", "marries", "marrying", "marriage", "wed", "wedded", "wedding"),
    ("win", "won", "wins", "winning", "winner", "victory"),
    ("lose", "lost", "loses", "losing", "loss", "defeat", "defeated"),
    ("begin", "began", "begun", "begins", "beginning", "start", "started", "starts", "starting"),
    ("leave", "left", "leaves", "leaving", "departure", "departed"),
    ("buy", "bought", "buys", "buying", "purchase", "purchased"),
    ("write", "wrote", "written", "writes", "writing", "writer"),
    ("sing", "sang", "sung", "sings", "singing", "singer", "song", "songs"),
    ("grow", "grew", "grown", "grows", "growing", "growth"),
    ("build", "built", "builds", "building"),
    ("find", "found", "finds", "finding"),
    ("pay", "paid", "pays", "paying", "payment"),
    ("sell", "sold", "sells", "selling", "sale", "sales"),
    ("teach", "taught", "teaches", "teaching", "teacher"),
    ("meet", "met", "meets", "meeting"),
    ("fight", "fought", "fights", "fighting"),
    ("hold", "held", "holds", "holding"),
    ("go", "went", "gone", "goes", "going"),
    ("come", "came", "comes", "coming"),
    ("live", "lived", "lives", "living", "life", "resided", "resident"),
    ("kill", "killed", "kills", "killing", "murder", "murdered"),
    ("move", "moved", "moves", "moving", "relocated"),
    ("work", "worked", "works", "working", "job", "career"),
)
_FAMILY = {w: f[0] for f in _FAMILIES for w in f}
_SUFFIXES = ("ing", "ed", "es", "s", "e")
_PREDICATE_STEM = 5


def predicate_stem(word: str) -> str:
    """Return the crude stem that joins a word's family: "enacted" -> "enact", "died" -> "die", "birth" -> "born"."""
    w = word.lower().strip("’'")
    if w in _FAMILY:
        return _FAMILY[w]
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    return w[:_PREDICATE_STEM]


# Words of an elliptical question that measure the thing the thread is at rather than name an event of their own.
MEASURE_WORDS = frozenset({
    "times", "often", "big", "long", "much", "many", "old", "far", "large", "tall", "high", "fast", "deep", "wide",
    "heavy", "soon", "later", "early", "earlier",
})


def asks_of_the_last(question: str) -> bool:
    """Return True for an ellipsis that names no event of its own: "How many times?", "When?", "How big was it?".

    It asks about the place the thread is at. "When did she die?" names an event ("die") that may lie elsewhere.
    """
    return is_elliptical(question) and all(w in MEASURE_WORDS for w in predicate_words(question))


def predicate_stems(question: str) -> frozenset[str]:
    """Return the stems of the question's own predicate words: "Who did she marry?" -> {"marry"}."""
    return frozenset(predicate_stem(w) for w in predicate_words(question))


_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ’'-]+")
# Words that say what kind of answer is wanted or point back, not what happened (beside NOT_NAME_WORDS, which
# ``predicate_words`` leaves out too: function words such as "many", "else", "after").
_NOT_PREDICATE = frozenset({
    *PERSON_PRONOUNS, *THING_PRONOUNS, *DEMONSTRATIVES, "year", "years", "date", "day", "month", "time", "long", "old",
    "happen", "happened", "happens", "mean", "means", "called", "kind", "type", "way", "thing", "things", "get", "got",
    "make", "made", "go", "take", "took", "first", "last", "next",
})


def predicate_words(question: str) -> list[str]:
    """Return the question's own lower-case content words (what happened, to what): its names and pointers left out."""
    asked = question.split("?", 1)[0]
    stop = _stopword_set()
    out = []
    for m in _WORD.finditer(asked):
        word = m.group(0).strip("’'-")
        low = re.sub(r"[’']s$", "", word.lower())
        if len(low) < 3 or word[:1].isupper() or low in stop or low in _NOT_PREDICATE or low in NOT_NAME_WORDS:
            continue
        out.append(low)
    return out
