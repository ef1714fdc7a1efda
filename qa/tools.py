"""The three tools agents get (over MCP): search passages, ask for a cited answer, read a passage by id.

Plain functions over the retriever and the chain, returning JSON-ready dicts; the MCP server
(``qa.api.mcp``) only describes and exposes them.
"""

from __future__ import annotations

from typing import Any

from qa.answer.chain import AnswerChain, validate_question
from qa.errors import InputError
from qa.retrieve import HybridRetriever

MAX_TOP_K = 50


def search(chain: AnswerChain, query: str, top_k: int = 5) -> list[dict[str, Any]]:
    """Return the passages that best match the query, best first: id, source, paragraph, heading, text, score."""
    query = validate_question(query, chain.limits)
    if not 1 <= top_k <= MAX_TOP_K:
        raise InputError(f"top_k must be from 1 to {MAX_TOP_K}")
    return [{**h.to_dict(), "heading": h.passage.heading} for h in chain.retriever.retrieve(query, top_k)]


def ask(chain: AnswerChain, question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Return the cited answer object (the one `qa ask --json` prints), without timings."""
    answer = chain.ask(question, history or [])
    return {k: v for k, v in answer.to_dict().items() if k != "timings_ms"}


def get_passage(retriever: HybridRetriever, passage_id: str) -> dict[str, Any]:
    """Return one passage by id (the passage_id of a search hit or citation); InputError for an unknown id."""
    found = retriever.get(passage_id)
    if found is None:
        raise InputError(f"no passage with id '{passage_id}'")
    p = found
    return {"passage_id": p.passage_id, "source": p.source, "paragraph": p.paragraph, "heading": p.heading, "text": p.text}
