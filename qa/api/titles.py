"""Name each cited document by its title, beside its file name, as `GET /api/documents` lists it."""

from __future__ import annotations

from collections.abc import Callable

from qa.runtime import Runtime
from qa.types import Answer

Titler = Callable[[Answer], Answer]


def unchanged(answer: Answer) -> Answer:
    """Return the answer as it is (no document service: `qa ask`, tests without a writer)."""
    return answer


def titler(runtime: Runtime) -> Titler:
    """Return what gives an answer's citations their documents' titles (the service is looked up then: it starts after the app)."""

    def titled(answer: Answer) -> Answer:
        service = runtime.documents
        return answer if service is None else service.titled(answer)

    return titled
