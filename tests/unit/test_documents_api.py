"""The document API over a real Chroma store with the hash embedder: upload, follow, list, read, delete, reindex, refuse."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings, load_settings
from qa.documents.service import DocumentService, open_library
from qa.runtime import Runtime
from qa.store import PassageStore
from tests.conftest import ROOT
from tests.documents_maker import make_pdf
from tests.fake_runtime import fake_runtime

NOTE = b"# Lanterns\n\nThe Zorblax lantern burns whale oil and was lit every evening at six.\n"


@pytest.fixture
def runtime(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> Iterator[Runtime]:
    small = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(settings.paths.data_dir), "QA_LIMITS__MAX_FILE_BYTES": "50000"})
    rt = fake_runtime(small, ephemeral_client, tmp_path / "docs")
    library = open_library(small, rt.store, rt.embedder)
    rt.documents = DocumentService(
        library, max_file_bytes=small.limits.max_file_bytes, apply_change=rt.retriever.apply_change, check_store=rt.retriever.check_store
    ).start()
    yield rt
    rt.documents.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def wait_job(client: TestClient, job: dict[str, Any], timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job['id']}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job did not finish: {job}")


def test_upload_ask_list_get_delete_ask_again(client: TestClient) -> None:
    r = client.post("/api/documents", files=[("files", ("lantern.md", NOTE, "text/markdown"))])
    assert r.status_code == 202 and r.json()["state"] in ("queued", "running", "done")
    job = wait_job(client, r.json())
    assert job["state"] == "done" and job["files"][0]["state"] == "added"
    assert job["progress"]["passages_embedded"] == job["progress"]["passages_total"] == 1
    doc_id = job["files"][0]["document_id"]
    answer = client.post("/api/ask", json={"question": "What oil does the Zorblax lantern burn?"}).json()
    assert answer["citations"][0]["source"] == "lantern.md" and answer["citations"][0]["heading"] == "Lanterns"
    assert answer["citations"][0]["title"] == "Lanterns", "a citation names its document's title beside the file name"
    listed = {d["name"]: d for d in client.get("/api/documents").json()}
    assert listed["lantern.md"]["passages"] == 1 and listed["lantern.md"]["type"] == "md" and len(listed["lantern.md"]["sha256"]) == 64
    assert listed["lantern.md"]["title"] == "Lanterns", "a document is listed with its `# ` title"
    one = client.get(f"/api/documents/{doc_id}").json()
    assert one["title"] == "Lanterns"
    assert [p["text"] for p in one["passages_list"]] == ["The Zorblax lantern burns whale oil and was lit every evening at six."]
    r = client.delete(f"/api/documents/{doc_id}")
    assert r.status_code == 200 and r.json()["passages_removed"] == 1
    after = client.post("/api/ask", json={"question": "What oil does the Zorblax lantern burn?"}).json()
    assert all(c["source"] != "lantern.md" for c in after["citations"])
    assert all(p["source"] != "lantern.md" for p in after["passages"])
    assert client.get(f"/api/documents/{doc_id}").status_code == 404
    assert client.delete(f"/api/documents/{doc_id}").status_code == 404


def test_json_text_pdf_many_files_dedupe_and_replace(client: TestClient) -> None:
    pdf = make_pdf([[("Harbour Rules", ["Every boat must carry a lantern after dark, said the harbour master on Tuesday."])]])
    r = client.post("/api/documents", files=[("files", ("rules.pdf", pdf, "application/pdf")), ("files", ("lantern.md", NOTE, "text/markdown"))])
    job = wait_job(client, r.json())
    assert [f["state"] for f in job["files"]] == ["added", "added"]
    answer = client.post("/api/ask", json={"question": "What must every boat carry after dark?"}).json()
    assert answer["citations"][0]["source"] == "rules.pdf" and answer["citations"][0]["page"] == 1
    same = wait_job(client, client.post("/api/documents", files=[("files", ("lantern.md", NOTE, "text/markdown"))]).json())
    assert same["files"][0]["state"] == "unchanged"
    text = wait_job(client, client.post("/api/documents", json={"name": "lantern.md", "text": "The lantern now burns kerosene."}).json())
    assert text["files"][0]["state"] == "replaced"
    listed = client.get("/api/documents").json()
    names = [d["name"] for d in listed]
    assert names.count("lantern.md") == 1
    titles = {d["name"]: d["title"] for d in listed}
    # The PDF is titled by the heading it opens under (its running header); the replaced note, no longer headed, by its new words.
    assert titles == {"rules.pdf": "ACME Field Guide", "lantern.md": "The lantern now burns kerosene."}


def _file(name: str, data: bytes) -> dict[str, Any]:
    return {"files": [("files", (name, data, "application/octet-stream"))]}


@pytest.mark.parametrize(
    "request_kwargs, status, needle",
    [
        pytest.param(_file("../etc/passwd.txt", b"x"), 422, "may not contain '/'", id="dot-dot-name"),
        pytest.param({"json": {"name": "a\x00b.txt", "text": "x"}}, 422, "NUL", id="nul-in-name"),
        pytest.param(_file("n" * 300 + ".txt", b"x"), 422, "the limit is 255", id="300-char-name"),
        pytest.param(_file(".hidden.txt", b"x"), 422, "start with '.'", id="hidden-name"),
        pytest.param(_file("empty.txt", b""), 422, "empty", id="empty-file"),
        pytest.param({"json": {"name": "blank.md", "text": "   "}}, 422, "empty", id="blank-text"),
        pytest.param(_file("photo.png", b"\x89PNG"), 415, "unsupported file type", id="unknown-type"),
        pytest.param({"json": {"name": "notes", "text": "x"}}, 415, "unsupported file type", id="text-without-suffix"),
        pytest.param(_file("big.txt", b"x" * 60_000), 413, "limits.max_file_bytes", id="over-max-file-bytes"),
        pytest.param(_file("big.txt", b"x" * 200_000), 413, "limits.max_file_bytes", id="over-body-limit"),
        pytest.param({"files": {"note": (None, "hi")}}, 422, "no files", id="no-files"),
        pytest.param({"content": b"name=x", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415, "multipart", id="form-urlencoded"),
        pytest.param({"json": {"name": "a.txt"}}, 422, "text", id="json-without-text"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    client: TestClient, runtime: Runtime, request_kwargs: dict[str, Any], status: int, needle: str
) -> None:
    before = runtime.store.ids()
    r = client.post("/api/documents", **request_kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]
    assert runtime.store.ids() == before and client.get("/api/documents").json() == []


def test_a_file_that_cannot_be_read_fails_its_job_with_the_reason(client: TestClient, runtime: Runtime) -> None:
    job = wait_job(client, client.post("/api/documents", files=[("files", ("broken.pdf", b"%PDF-1.4 junk", "application/pdf"))]).json())
    assert job["state"] == "failed" and "truncated" in job["files"][0]["error"]


def test_reindex_re_embeds_from_the_kept_originals(client: TestClient, runtime: Runtime) -> None:
    wait_job(client, client.post("/api/documents", files=[("files", ("lantern.md", NOTE, "text/markdown"))]).json())
    job = wait_job(client, client.post("/api/reindex").json())
    assert job["state"] == "done"
    assert {p.source for p in runtime.store.all_passages()} == {"lantern.md"}, "only documents with kept originals come back"
    answer = client.post("/api/ask", json={"question": "What oil does the Zorblax lantern burn?"}).json()
    assert answer["citations"][0]["source"] == "lantern.md"


def test_store_gone_is_a_json_503_and_health_checks_the_store(client: TestClient, runtime: Runtime, ephemeral_client: Any) -> None:
    assert client.get("/api/health").status_code == 200
    PassageStore.drop(ephemeral_client, runtime.store.name)
    r = client.post("/api/ask", json={"question": "Who is Blinken?"})
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/json")
    assert "qa ingest" in r.json()["detail"]
    h = client.get("/api/health")
    assert h.status_code == 503 and h.json()["status"] == "degraded" and h.json()["problems"]


def test_without_a_writer_document_routes_say_so(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> None:
    rt = fake_runtime(settings, ephemeral_client, tmp_path / "docs")
    with TestClient(create_app(rt)) as c:
        r = c.get("/api/documents")
    assert r.status_code == 503 and "qa serve" in r.json()["detail"]


def test_every_answer_api_names_the_cited_documents_title(client: TestClient) -> None:
    pdf = make_pdf([[("Harbour Rules", ["Every boat must carry a lantern after dark, said the harbour master on Tuesday."])]])
    wait_job(client, client.post("/api/documents", files=[("files", ("rules.pdf", pdf, "application/pdf"))]).json())
    question = {"question": "What must every boat carry after dark?"}
    (cited,) = {c["source"]: c["title"] for c in client.post("/api/ask", json=question).json()["citations"]}.items()
    assert cited == ("rules.pdf", "ACME Field Guide")
    with client.stream("POST", "/api/ask/stream", json=question) as r:
        final = [json.loads(line[len("data: ") :]) for line in r.iter_lines() if line.startswith("data: ")][-1]
    assert final["citations"][0]["title"] == "ACME Field Guide", "the final SSE event's citations are titled too"
    chat = {"model": "qa", "messages": [{"role": "user", "content": question["question"]}]}
    reply = client.post("/v1/chat/completions", json=chat).json()["choices"][0]["message"]
    assert reply["context"]["citations"][0]["title"] == "ACME Field Guide"
    with client.stream("POST", "/v1/chat/completions", json=chat | {"stream": True}) as r:
        chunks = [json.loads(line[len("data: ") :]) for line in r.iter_lines() if line.startswith("data: {")]
    context = next(c["choices"][0]["delta"]["context"] for c in chunks if "context" in c["choices"][0]["delta"])
    assert context["citations"][0]["title"] == "ACME Field Guide"
