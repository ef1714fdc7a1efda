"""Your documents against a real `qa serve` (bundled model, embedded Chroma): one writer, uploads, deletes, crashes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.documents_maker import make_docx, make_html, make_pdf
from tests.live_server import BIN, ROOT, LiveServer, _wait_ready, free_port, server_env

FACT = "The Zorblax lighthouse on Pelican Rock was painted green in 1887 by keeper Miriam Oduya."
QUESTION = "Who painted the Zorblax lighthouse green?"


def start_server(tmp: Path, data: Path, env_extra: dict[str, str] | None = None, log_name: str = "server.log") -> LiveServer:
    env = {**server_env(tmp, data), **(env_extra or {})}
    port = free_port()
    log = tmp / log_name
    with log.open("ab") as out:
        proc = subprocess.Popen([str(BIN / "qa"), "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", proc, log, tmp / "outbound.log", tmp / "guard-armed.log")
    try:
        _wait_ready(server)
    except BaseException:
        proc.kill()
        raise
    return server


def qa(args: list[str], tmp: Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "qa"), *args], cwd=ROOT, env=server_env(tmp, data), capture_output=True, text=True, timeout=300)


def wait_job(http: httpx.Client, job: dict[str, Any], timeout_s: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = http.get(f"/api/jobs/{job['id']}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job did not finish: {job}")


def upload(http: httpx.Client, name: str, data: bytes) -> dict[str, Any]:
    r = http.post("/api/documents", files=[("files", (name, data, "application/octet-stream"))])
    assert r.status_code == 202, r.text
    return wait_job(http, r.json())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path, Path]]:
    tmp = tmp_path_factory.mktemp("documents-live")
    data = tmp / "data"
    seeded = qa(["ingest", "-q", str(ROOT / "seeds")], tmp, data)
    assert seeded.returncode == 0, seeded.stderr
    server = start_server(tmp, data)
    try:
        yield server, tmp, data
    finally:
        server.stop()


@pytest.fixture(scope="module")
def http(served: tuple[LiveServer, Path, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0].url, timeout=120.0) as c:
        yield c


def test_qa_ingest_beside_a_running_server_stops_with_a_clear_message(served: tuple[LiveServer, Path, Path], http: httpx.Client) -> None:
    server, tmp, data = served
    docs = tmp / "more"
    docs.mkdir(exist_ok=True)
    (docs / "new.txt").write_text(FACT + "\n")
    for args in (["ingest", "-q", str(docs)], ["ingest", "--rebuild", "-q"]):
        result = qa(args, tmp, data)
        assert result.returncode == 2
        [error] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
        assert server.url in error and "/api/documents" in error and "Traceback" not in result.stderr
    assert http.get("/api/health").status_code == 200
    assert http.post("/api/ask", json={"question": "What did Wang Yi tell Blinken?"}).status_code == 200


def test_upload_ask_delete_ask_again_with_passages_following(http: httpx.Client) -> None:
    before = http.get("/api/health").json()["passages"]
    job = upload(http, "lighthouse.txt", (FACT + "\n").encode())
    assert job["state"] == "done" and job["files"][0]["state"] == "added"
    answer = http.post("/api/ask", json={"question": QUESTION}).json()
    assert not answer["refused"] and "Miriam Oduya" in answer["answer"]
    cited = answer["citations"][0]
    assert cited["source"] == "lighthouse.txt"
    assert http.get(f"/api/passages/{cited['passage_id']}").status_code == 200
    assert http.get("/api/health").json()["passages"] == before + 1
    r = http.delete(f"/api/documents/{job['files'][0]['document_id']}")
    assert r.status_code == 200 and r.json()["passages_removed"] == 1
    again = http.post("/api/ask", json={"question": QUESTION}).json()
    assert again["refused"] is True
    assert all(p["source"] != "lighthouse.txt" for p in again["passages"])
    assert http.get(f"/api/passages/{cited['passage_id']}").status_code == 404
    assert http.get("/api/health").json()["passages"] == before


@pytest.mark.parametrize(
    "name, make, question, expect, page",
    [
        pytest.param(
            "harbour.pdf",
            lambda: make_pdf([[("Harbour Rules", ["Gulls are fed only on Sundays. " * 12])], [("Night Rules", [
                "After dark every rowing boat in Port Quillan must carry a lit brass lantern, the harbour master decreed in 1902."
            ])]]),
            "What must every rowing boat in Port Quillan carry after dark?", "brass lantern", 2, id="pdf",
        ),
        pytest.param(
            "minutes.docx",
            lambda: make_docx([("Committee Minutes", ["The Quillan rowing committee voted to buy eleven oars from the Tenby workshop."])]),
            "How many oars did the Quillan rowing committee vote to buy?", "eleven oars", None, id="docx",
        ),
        pytest.param(
            "news.html",
            lambda: make_html("Quillan News", [("Regatta", ["The Quillan regatta was won by the crew of the Saltmarsh Heron in record time."])]),
            "Which crew won the Quillan regatta?", "Saltmarsh Heron", None, id="html",
        ),
    ],
)
def test_each_format_answers_with_its_page_and_heading(http: httpx.Client, name: str, make: Any, question: str, expect: str, page: int | None) -> None:
    job = upload(http, name, make())
    assert job["state"] == "done", job
    answer = http.post("/api/ask", json={"question": question}).json()
    assert expect in answer["answer"], answer["answer"]
    cited = answer["citations"][0]
    assert cited["source"] == name and cited["page"] == page and cited["heading"]
    listed = {d["name"]: d for d in http.get("/api/documents").json()}
    assert listed[name]["type"] == name.rsplit(".", 1)[1]
    if page is not None:
        assert listed[name]["pages"] == 2


def _store_rows(data: Path) -> tuple[list[str], list[str]]:
    """Read the embedded store directly (server stopped): passage ids and the passage ids sentence rows point at."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(data), settings=ChromaSettings(anonymized_telemetry=False))
    passages = client.get_collection("passages").get(include=[])["ids"]
    sentences = client.get_collection("passages-sentences").get(include=["metadatas"])["metadatas"]
    return passages, [str(m["passage_id"]) for m in sentences]


def test_kill_9_during_an_upload_of_300_passages_leaves_a_consistent_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert qa(["ingest", "-q", str(ROOT / "seeds")], tmp_path, data).returncode == 0
    seed_passages, seed_sentence_refs = _store_rows(data)
    server = start_server(tmp_path, data)
    text = "\n\n".join(f"Paragraph {i} of the Quillan ledger records cargo number {i * 7} landed at pier {i % 9}." for i in range(300))
    with httpx.Client(base_url=server.url, timeout=60.0) as http:
        job = http.post("/api/documents", files=[("files", ("ledger.md", text.encode(), "text/markdown"))]).json()
        deadline = time.monotonic() + 120
        while http.get(f"/api/jobs/{job['id']}").json()["progress"]["passages_embedded"] == 0:
            assert time.monotonic() < deadline, "upload never started"
            time.sleep(0.05)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    restarted = start_server(tmp_path, data, log_name="server2.log")
    try:
        with httpx.Client(base_url=restarted.url, timeout=60.0) as http:
            reported = http.get(f"/api/jobs/{job['id']}").json()
            assert reported["state"] == "failed" and "interrupted" in reported["error"]
            assert [d["name"] for d in http.get("/api/documents").json()] == ["000_ff359896b2990186.txt"]
            assert http.get("/api/health").json()["passages"] == len(seed_passages)
            redo = wait_job(http, http.post("/api/documents", files=[("files", ("ledger.md", text.encode(), "text/markdown"))]).json())
            assert redo["state"] == "done" and redo["files"][0]["passages"] == 300
            assert http.get("/api/health").json()["passages"] == len(seed_passages) + 300
    finally:
        restarted.stop()
    passages, refs = _store_rows(data)
    assert len(passages) == len(set(passages)) == len(seed_passages) + 300, "no duplicates"
    assert set(refs) == set(passages), "no orphan sentence rows, no passage without sentences"
    assert len(refs) == len(seed_sentence_refs) + 300


def test_ingest_runs_when_no_server_holds_the_store_and_the_server_starts_when_none_does(tmp_path: Path) -> None:
    data = tmp_path / "data"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Piers\n\n" + FACT + "\n")
    first = qa(["ingest", "-q", str(docs)], tmp_path, data)
    assert first.returncode == 0 and "1 embedded" in first.stdout, first.stderr
    rebuilt = qa(["ingest", "--rebuild", "-q", str(docs)], tmp_path, data)
    assert rebuilt.returncode == 0, rebuilt.stderr
    listed = json.loads(qa(["ask", "--json", QUESTION], tmp_path, data).stdout)
    assert listed["citations"][0]["heading"] == "Piers"


@pytest.fixture
def chroma_port(tmp_path: Path) -> Iterator[int]:
    exe = shutil.which("chroma", path=str(BIN)) or shutil.which("chroma")
    assert exe
    port = free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "chroma did not start"
            time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_two_servers_over_one_chroma_server_see_each_others_documents(tmp_path: Path, chroma_port: int) -> None:
    env = {"QA_STORE__MODE": "server", "QA_STORE__PORT": str(chroma_port)}
    a_tmp, b_tmp = tmp_path / "a", tmp_path / "b"
    a_tmp.mkdir()
    b_tmp.mkdir()
    seeded = subprocess.run([str(BIN / "qa"), "ingest", "-q"], cwd=ROOT, env={**server_env(a_tmp, tmp_path / "data-a"), **env},
                            capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr
    a = start_server(a_tmp, tmp_path / "data-a", env)
    b = start_server(b_tmp, tmp_path / "data-b", env)
    try:
        with httpx.Client(base_url=a.url, timeout=120.0) as ha, httpx.Client(base_url=b.url, timeout=120.0) as hb:
            assert upload(ha, "lighthouse.txt", (FACT + "\n").encode())["state"] == "done"
            # B notices A's write by the store's corpus version (polled) or passage count, and rebuilds its index
            # in the background while answering from the old one: the document reaches it within seconds.
            deadline = time.monotonic() + 15
            while True:
                answer = hb.post("/api/ask", json={"question": QUESTION}).json()
                if "Miriam Oduya" in answer["answer"] or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert "Miriam Oduya" in answer["answer"] and answer["citations"][0]["source"] == "lighthouse.txt"
            assert hb.get("/api/health").json()["passages"] == ha.get("/api/health").json()["passages"]
            deadline = time.monotonic() + 10
            while "another process changed the store" not in b.log_tail(20000):
                assert time.monotonic() < deadline, b.log_tail()
                time.sleep(0.2)
            # `qa ingest --rebuild` from a third process drops and rebuilds the collections under both servers:
            # they reopen them and keep answering (no "collection does not exist" 500s).
            rebuilt = subprocess.run([str(BIN / "qa"), "ingest", "--rebuild", "-q"], cwd=ROOT,
                                     env={**server_env(a_tmp, tmp_path / "data-a"), **env}, capture_output=True, text=True, timeout=300)
            assert rebuilt.returncode == 0, rebuilt.stderr
            for h in (ha, hb):
                r = h.post("/api/ask", json={"question": QUESTION})
                assert r.status_code == 200 and "Miriam Oduya" in r.json()["answer"], r.text
                assert h.get("/api/health").status_code == 200
    finally:
        a.stop()
        b.stop()
