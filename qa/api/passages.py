"""GET /api/passages/{id}: the passage a citation points at."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from qa.api.schemas import ErrorOut, PassageOut
from qa.retrieve import HybridRetriever


def router(retriever: HybridRetriever) -> APIRouter:
    """Return the route that serves one passage by id."""
    r = APIRouter()

    @r.get("/passages/{passage_id}", response_model=PassageOut, responses={404: {"model": ErrorOut}}, summary="Get a passage")
    def passage(passage_id: str) -> PassageOut:
        """Return one indexed passage by id (the `passage_id` of a citation)."""
        found = retriever.get(passage_id)
        if found is None:
            raise HTTPException(404, f"no passage with id '{passage_id}'")
        p = found
        return PassageOut(passage_id=p.passage_id, source=p.source, paragraph=p.paragraph, text=p.text, heading=p.heading, page=p.page)

    return r
