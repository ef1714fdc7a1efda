"""The real server: `qa serve` as a subprocess with the bundled model and a real Chroma store."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer, live_server
from ui.format import answer_text

SEED = "000_ff359896b2990186.txt"
QUESTIONS = [
    "Who is the U.S. Secretary of State in the article?",
    "What did Wang Yi tell Blinken?",
    "Which demands did Blinken and Stoltenberg reject?",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("serve")) as s:
        yield s


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as c:
        yield c


def _stable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "timings_ms"}


def test_health_names_store_model_and_answerer(http: httpx.Client) -> None:
    body = http.get("/api/health").json()
    assert body["status"] == "ok" and body["passages"] > 0
    assert body["embedding_model"] == "all-MiniLM-L6-v2" and body["answerer"]


def test_ask_answers_a_seed_question_with_checkable_citations(http: httpx.Client) -> None:
    r = http.post("/api/ask", json={"question": QUESTIONS[1]})
    assert r.status_code == 200
    body = r.json()
    assert body["refused"] is False and "Wang Yi" in body["answer"]
    assert body["citations"], "a cited answer"
    for c in body["citations"]:
        assert f"[{c['n']}]" in body["answer"]
        assert c["text"][c["start"] : c["end"]] == c["quote"]
        assert c["source"] == SEED
        passage = http.get(f"/api/passages/{c['passage_id']}").json()
        assert passage == {"passage_id": c["passage_id"], "source": SEED, "paragraph": c["paragraph"], "text": c["text"], "heading": c["heading"], "page": None}


def test_stream_delivers_the_same_answer_as_events(http: httpx.Client) -> None:
    with http.stream("POST", "/api/ask/stream", json={"question": QUESTIONS[1]}) as r:
        assert r.status_code == 200
        events = []
        for block in r.read().decode().strip().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines())
            events.append((fields["event"], json.loads(fields["data"])))
    assert events[-1][0] == "answer" and all(kind == "delta" for kind, _ in events[:-1])
    final = events[-1][1]
    assert "".join(d["text"] for _, d in events[:-1]) == final["answer"]
    assert _stable(final) == _stable(http.post("/api/ask", json={"question": QUESTIONS[1]}).json())


@pytest.mark.parametrize(
    "kwargs, status",
    [
        pytest.param({"json": {"question": "  "}}, 422, id="blank-question"),
        pytest.param({"json": {"question": "q?", "top_k": 99}}, 422, id="top-k-out-of-range"),
        pytest.param({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, id="not-json"),
        pytest.param({"json": {"question": "q" * 300_000}}, 413, id="oversized"),
    ],
)
def test_invalid_requests_are_4xx_json_over_http(http: httpx.Client, kwargs: dict[str, Any], status: int) -> None:
    r = http.post("/api/ask", **kwargs)
    assert r.status_code == status
    assert r.json()["detail"]


def test_unknown_passage_is_404(http: httpx.Client) -> None:
    r = http.get("/api/passages/no-such-passage")
    assert r.status_code == 404 and "no-such-passage" in r.json()["detail"]


def test_docs_and_ui_are_served_beside_the_api(http: httpx.Client) -> None:
    assert http.get("/docs").status_code == 200
    assert "/api/ask" in http.get("/openapi.json").json()["paths"]
    assert "<html" in http.get("/").text.lower()


def test_concurrent_clients_get_the_answers_a_single_client_gets(server: LiveServer, http: httpx.Client) -> None:
    expected = {q: _stable(http.post("/api/ask", json={"question": q}).json()) for q in QUESTIONS}
    local = threading.local()

    def ask(q: str) -> tuple[str, dict[str, Any]]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=server.url, timeout=60.0)
        r = local.client.post("/api/ask", json={"question": q})
        assert r.status_code == 200
        return q, _stable(r.json())

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, QUESTIONS * 8))
    assert all(got == expected[q] for q, got in results)


def test_gradio_client_chat_endpoint_answers_like_the_api(server: LiveServer, http: httpx.Client) -> None:
    from gradio_client import Client

    message, panel = Client(server.url, verbose=False).predict(QUESTIONS[0], api_name="/chat")
    api = http.post("/api/ask", json={"question": QUESTIONS[0]}).json()
    assert answer_text(message) == api["answer"]
    assert "qa-quote" in panel and SEED in panel


def test_server_made_no_outbound_connection(server: LiveServer) -> None:
    assert server.armed.exists(), "the outbound guard was loaded in the server"
    assert server.outbound_attempts() == []


def test_sigterm_stops_the_server_while_a_client_holds_a_stream(server: LiveServer) -> None:
    # A browser keeps Gradio's heartbeat stream open; uvicorn must not wait for it forever.
    with httpx.Client(base_url=server.url, timeout=30.0) as c, c.stream("GET", "/gradio_api/heartbeat/sigterm-test") as r:
        assert r.status_code == 200
        next(r.iter_lines())
        code = server.stop(timeout_s=15.0)
    # uvicorn shuts down, then re-raises the signal it caught, so the exit reads as "terminated".
    assert code in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log_tail()
