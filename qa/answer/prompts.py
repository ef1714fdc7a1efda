"""What the language model reads: prompt constants and pure builders (golden files in tests/unit/golden/).

Messages are ``(role, content)`` pairs, which every LangChain chat model accepts as input,
so this module needs no LangChain import. Passage numbers in the prompt are the ``[n]``
the model cites: passage ``n`` is ``hits[n - 1]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer.condense import Turn
from qa.types import REFUSAL, Hit

Message = tuple[str, str]

ANSWER_SYSTEM = f"""Answer the question using only the passages. After each sentence, write the number of the \
passage it comes from in square brackets, for example [1]. Copy names and numbers exactly as the passages write them. \
If the passages do not contain the answer, say: {REFUSAL}"""

ANSWER_USER = """Passages:
{passages}

Question: {question}"""

# One worked example: small models copy its shape (one sentence, ending with its [n]) far more
# reliably than they follow a list of rules. Verification still checks every sentence.
EXAMPLE_USER = ANSWER_USER.format(
    passages="[1] The Eiffel Tower stands in Paris. It was finished in 1889 for the World's Fair.\n\n"
    "[2] Berlin is the capital of Germany.",
    question="When was the Eiffel Tower finished?",
)
EXAMPLE_ANSWER = "The Eiffel Tower was finished in 1889 [1]."

CONDENSE_SYSTEM = """You rewrite the last question of a conversation so that it can be understood on its own.
Replace pronouns and vague references with the names they refer to in the conversation.
Keep the question's meaning; do not answer it. Reply with the rewritten question only, on one line."""

CONDENSE_USER = """Conversation:
{history}

Last question: {question}

Rewritten question:"""

# Bounds on what a prompt carries, so a long conversation cannot crowd out the passages.
CONDENSE_TURNS = 6
CONDENSE_TURN_CHARS = 600
_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


# A model with a small context (llama.cpp's n_ctx) must still get the best passages whole: the passages
# get what the rules, the example, the question and the reply leave. English runs about 4 characters
# a token; counting 3 keeps a margin for names and numbers, which split into more tokens.
CHARS_PER_TOKEN = 3
TEMPLATE_TOKENS = 64  # the chat template's role markers around the four messages
MIN_CLIPPED_CHARS = 200  # a passage cut shorter than this is left out (the best one never is)
_SENTENCE_END = re.compile(r"[.!?][\"”’)]?\s")


def _clip_at_sentence(block: str, limit: int) -> str:
    """Return the block cut to at most ``limit`` characters, at a sentence end where one is near."""
    cut = block[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(cut)]
    if ends and ends[-1] > limit // 2:
        return cut[: ends[-1]].rstrip()
    return cut[: max(cut.rfind(" "), 0) or limit].rstrip() + " …"


def format_passages(hits: Sequence[Hit], budget: int | None = None) -> str:
    """Return the hits as numbered passages, one block each, headings kept, in at most ``budget`` characters.

    Passages go in rank order; the first that does not fit is cut at a sentence end, and the rest are left
    out, so the numbers the model cites stay those of ``hits``.
    """
    blocks: list[str] = []
    left = budget
    for n, hit in enumerate(hits, start=1):
        p = hit.passage
        heading = f"({p.heading}) " if p.heading else ""
        block = f"[{n}] {heading}{' '.join(p.text.split())}"
        if left is not None and len(block) > left:
            if not blocks or left >= MIN_CLIPPED_CHARS:
                blocks.append(_clip_at_sentence(block, max(left, MIN_CLIPPED_CHARS)))
            break
        blocks.append(block)
        if left is not None:
            left -= len(block) + 2
    return "\n\n".join(blocks)


def answer_messages(question: str, hits: Sequence[Hit], *, context_tokens: int | None = None, reply_tokens: int = 0) -> list[Message]:
    """Return the messages asking for a cited answer to the question from the hits.

    With ``context_tokens`` (the model's context length), the passages are cut to what fits beside the
    rest of the prompt and a reply of ``reply_tokens``.
    """
    question = question.strip()
    budget = None
    if context_tokens is not None:
        fixed = sum(len(text) for _, text in _answer_messages(question, ""))
        budget = max((context_tokens - reply_tokens - TEMPLATE_TOKENS) * CHARS_PER_TOKEN - fixed, 0)
    return _answer_messages(question, format_passages(hits, budget))


def _answer_messages(question: str, passages: str) -> list[Message]:
    return [
        ("system", ANSWER_SYSTEM),
        ("human", EXAMPLE_USER),
        ("ai", EXAMPLE_ANSWER),
        ("human", ANSWER_USER.format(question=question, passages=passages)),
    ]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_history(history: Sequence[Turn]) -> str:
    """Return the last turns as 'User:'/'Assistant:' lines, citation markers dropped."""
    lines = []
    for turn in list(history)[-CONDENSE_TURNS:]:
        who = "User" if turn.role == "user" else "Assistant"
        lines.append(f"{who}: {_clip(_MARKER.sub('', turn.content), CONDENSE_TURN_CHARS)}")
    return "\n".join(lines)


def condense_messages(question: str, history: Sequence[Turn]) -> list[Message]:
    """Return the messages asking for a standalone version of a follow-up question."""
    return [
        ("system", CONDENSE_SYSTEM),
        ("human", CONDENSE_USER.format(history=format_history(history), question=question.strip())),
    ]


def render(messages: Sequence[Message]) -> str:
    """Return messages as plain text (for golden files and logs)."""
    return "\n\n".join(f"### {role}\n{content}" for role, content in messages) + "\n"
