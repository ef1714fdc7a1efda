"""Schemathesis against /openapi.json of the real app (bundled model, real Chroma): no 5xx, every error JSON.

A few hundred generated requests with a fixed seed (derandomized), valid and invalid alike,
over every documented operation: /api and the OpenAI-compatible /v1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from qa.api import create_app
from qa.config import Settings
from qa.documents.service import open_service
from qa.ingest.pipeline import ingest
from qa.runtime import Runtime, build_runtime, open_client, open_store

EXAMPLES = 40  # per operation and mode


def _started_once(app: Any) -> Any:
    """Return the app behind an ASGI wrapper that answers lifespan events itself (schemathesis sends them per request)."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

    return asgi


@pytest.fixture(scope="module")
def writer_runtime(tmp_path_factory: pytest.TempPathFactory, seed_settings: Settings, real_embedder: Any) -> Iterator[Runtime]:
    """Return a runtime over its own copy of the seed store, with the document writer a server runs (uploads are generated too)."""
    data = tmp_path_factory.mktemp("schemathesis-store")
    settings = seed_settings.model_copy(update={"paths": seed_settings.paths.model_copy(update={"data_dir": data})})
    client = open_client(settings)
    store = open_store(settings, real_embedder, client, create=True)
    ingest([settings.paths.seeds], store, real_embedder, max_file_bytes=settings.limits.max_file_bytes, progress=False)
    runtime = build_runtime(settings, embedder=real_embedder, client=client)
    runtime.documents = open_service(runtime)
    try:
        yield runtime
    finally:
        runtime.documents.close()


@pytest.fixture(scope="module")
def api_schema(writer_runtime: Runtime) -> Iterator[Any]:
    app = create_app(writer_runtime)
    with TestClient(app):  # the app's own lifespan runs once, as under uvicorn
        yield schemathesis.openapi.from_asgi("/openapi.json", _started_once(app))


def _header(headers: Any, name: str) -> str:
    value = headers.get(name) or headers.get(name.title()) or ""
    return value[0] if isinstance(value, list) else str(value)


@schemathesis.check
def errors_are_json(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx/5xx answer is a JSON object saying what went wrong."""
    if response.status_code < 400:
        return
    content_type = _header(response.headers, "content-type")
    assert content_type.startswith("application/json"), f"{response.status_code} error as {content_type!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and ("detail" in body or "error" in body), body


# A plain test per generation mode that drives each operation's Hypothesis strategy (schemathesis's
# lazy pytest loader does not work with pytest 9), derandomized: the same cases on every run.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_never_fails_on_generated_requests(api_schema: Any, mode: GenerationMode) -> None:
    cases: Counter[str] = Counter()
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            cases[case.operation.label] += 1
            case.call_and_validate(checks=[not_a_server_error, errors_are_json])

        try:
            run()
        except Unsatisfiable:
            # An operation without inputs (health, models) has nothing to make invalid.
            assert mode is GenerationMode.NEGATIVE and not cases[operation.label], operation.label
    print(f"schemathesis {mode.value} cases: {dict(cases)}; total {sum(cases.values())}")
    assert len(cases) >= 3 and sum(cases.values()) >= 100, cases
