"""Asking only chosen documents, against a real `qa serve` (bundled model, embedded Chroma): upload two, search one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.test_documents_live import upload
from tests.live_server import LiveServer, live_server

GREEN = "The Zorblax lighthouse on Pelican Rock was painted green in 1887 by keeper Miriam Oduya."
RED = "The Quennel lighthouse on Heron Point was painted red in 1902 by keeper Tomas Brandt."
QUESTION = "Who painted the Zorblax lighthouse green?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("document-filter")) as s:
        yield s


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120.0) as c:
        yield c


@pytest.fixture(scope="module")
def ids(http: httpx.Client) -> dict[str, str]:
    out = {}
    for name, text in (("green.txt", GREEN), ("red.txt", RED)):
        job = upload(http, name, (text + "\n").encode())
        assert job["state"] == "done", job
        out[name] = job["files"][0]["document_id"]
    listed = {d["name"]: d["id"] for d in http.get("/api/documents").json()}
    assert listed["green.txt"] == out["green.txt"] and listed["red.txt"] == out["red.txt"], "the ids are those GET /api/documents lists"
    return out


def test_without_a_filter_the_other_document_is_reachable(http: httpx.Client, ids: dict[str, str]) -> None:
    body = http.post("/api/ask", json={"question": QUESTION}).json()
    assert body["refused"] is False, body
    assert {c["source"] for c in body["citations"]} == {"green.txt"}
    assert "Miriam Oduya" in body["answer"]


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_with_a_filter_every_citation_and_passage_comes_from_the_chosen_document(
    http: httpx.Client, ids: dict[str, str], path: str
) -> None:
    r = http.post(path, json={"question": QUESTION, "documents": [ids["red.txt"]]})
    assert r.status_code == 200, r.text
    body = r.json() if path == "/api/ask" else _last_answer(r.text)
    assert body["passages"] and {p["source"] for p in body["passages"]} == {"red.txt"}
    assert {c["source"] for c in body["citations"]} <= {"red.txt"}
    assert "Miriam Oduya" not in body["answer"]
    asked = http.post(path, json={"question": "Who painted the Quennel lighthouse red?", "documents": [ids["red.txt"]]})
    body = asked.json() if path == "/api/ask" else _last_answer(asked.text)
    assert body["citations"] and {c["source"] for c in body["citations"]} == {"red.txt"}


def test_an_unknown_document_id_is_422_naming_it(http: httpx.Client, ids: dict[str, str]) -> None:
    r = http.post("/api/ask", json={"question": QUESTION, "documents": [ids["green.txt"], "0000000000000000"]})
    assert r.status_code == 422 and "'0000000000000000'" in r.json()["detail"]


def _last_answer(text: str) -> dict[str, Any]:
    blocks = [b for b in text.strip().split("\n\n") if b.startswith("event: answer")]
    return dict(json.loads(blocks[-1].split("data: ", 1)[1]))
