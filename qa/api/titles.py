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
    """Return what gives an answer's citations their documents' titles (read when it runs: the service starts after the app)."""

    def titled(answer: Answer) -> Answer:
        service = runtime.documents
        if service is None or not answer.citations:
            return answer
        # One registry read per answer, for the cited names only; each document version's title is read once.
        return answer.with_titles(service.titles_of({c.source for c in answer.citations}))

    return titled
