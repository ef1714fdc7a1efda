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


def format_passages(hits: Sequence[Hit]) -> str:
    """Return the hits as numbered passages, one block each, headings kept."""
    blocks = []
    for n, hit in enumerate(hits, start=1):
        p = hit.passage
        heading = f"({p.heading}) " if p.heading else ""
        blocks.append(f"[{n}] {heading}{' '.join(p.text.split())}")
    return "\n\n".join(blocks)


def answer_messages(question: str, hits: Sequence[Hit]) -> list[Message]:
    """Return the messages asking for a cited answer to the question from the hits."""
    return [
        ("system", ANSWER_SYSTEM),
        ("human", EXAMPLE_USER),
        ("ai", EXAMPLE_ANSWER),
        ("human", ANSWER_USER.format(question=question.strip(), passages=format_passages(hits))),
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
