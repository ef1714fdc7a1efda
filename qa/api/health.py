"""GET /api/health: readiness of the store (asked itself, not the in-memory index) and the answerer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from qa.api.schemas import HealthOut
from qa.errors import StoreError
from qa.runtime import Runtime


def router(runtime: Runtime) -> APIRouter:
    """Return the health route."""
    r = APIRouter()

    @r.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}}, summary="Report readiness")
    def health() -> JSONResponse:
        """Return status, passage count, embedding model and answerer (503 when degraded)."""
        problems = [p for p in (runtime.answerer.health(),) if p]
        try:
            count = runtime.store.check()
        except StoreError as exc:
            count = 0
            problems.append(str(exc))
        else:
            if count == 0:
                problems.append("the store holds no passages: add documents (the chat's Documents panel or POST /api/documents)")
        out = HealthOut(
            status="degraded" if problems else "ok",
            passages=count,
            embedding_model=runtime.embedder.name,
            answerer=runtime.answerer.name,
            problems=problems,
        )
        return JSONResponse(out.model_dump(), status_code=503 if problems else 200)

    return r
