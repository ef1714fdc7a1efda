"""Measure documents through the API: upload-to-first-answer of a 100-page PDF, ingest throughput, questions during an upload.

Usage: .venv/bin/python bench/upload.py [--pages 100] [--idle-requests 60]

Builds a PDF of SQuAD v1.1 dev paragraphs (three per page, reportlab), ingests seeds/ into a
temporary store, starts `qa serve` and, over HTTP as a client would:
1. asks the seed questions sequentially (idle latency);
2. uploads the PDF and times it to the first answer that cites it (job done, then a SQuAD question
   about one of its paragraphs); passages per second through the API;
3. deletes it, uploads it again while one client keeps asking seed questions (latency during an upload);
and, right before and after the quiet upload (the server idle), encodes the same paragraphs with
SentenceTransformer.encode in this process (same model, threads and batch size): the raw-encode baseline. Numbers are printed and
written to bench/out/upload.json; nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import QUESTIONS, _env, _percentiles, _server  # noqa: E402
from qa.config import load_settings  # noqa: E402

CORPUS = ROOT.parent / "shared" / "eval" / "squad11_dev.corpus.jsonl"
QUESTION_FILE = ROOT.parent / "shared" / "eval" / "squad11_dev.questions.jsonl"
PER_PAGE = 3


def _paragraphs(n: int) -> list[dict[str, Any]]:
    out = []
    with CORPUS.open(encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) == n:
                break
    return out


def make_pdf(paragraphs: list[dict[str, Any]], path: Path) -> None:
    """Write a PDF with one title heading per article and three paragraphs per page."""
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for start in range(0, len(paragraphs), PER_PAGE):
        y = height - 60
        title = ""
        for p in paragraphs[start : start + PER_PAGE]:
            if p["title"] != title:
                title = p["title"]
                c.setFont("Helvetica-Bold", 13)
                c.drawString(60, y, title)
                y -= 20
            c.setFont("Helvetica", 8)
            for line in textwrap.wrap(p["text"], 125):
                c.drawString(60, y, line)
                y -= 10
            y -= 8
        c.setFont("Helvetica", 8)
        c.drawString(width / 2 - 15, 25, f"Page {start // PER_PAGE + 1}")
        c.showPage()
    c.save()


def _question_for(paragraph_ids: set[str]) -> str:
    with QUESTION_FILE.open(encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if set(q.get("gold_paragraph_ids", [])) & paragraph_ids and not q.get("is_impossible"):
                return str(q["question"])
    raise RuntimeError("no question about the uploaded paragraphs")


def _upload(client: httpx.Client, pdf: Path) -> tuple[dict[str, Any], float]:
    t = time.perf_counter()
    r = client.post("/api/documents", files=[("files", (pdf.name, pdf.read_bytes(), "application/pdf"))])
    r.raise_for_status()
    job = r.json()
    while job["state"] not in ("done", "failed"):
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    if job["state"] != "done":
        raise RuntimeError(f"upload failed: {job}")
    return job, time.perf_counter() - t


@functools.lru_cache(maxsize=1)
def _embedder() -> Any:
    from qa.runtime import open_embedder

    return open_embedder(load_settings(ROOT / "config.yaml", environ={}))


def _raw_encode(texts: list[str]) -> float:
    """Return paragraphs per second of the configured encoder alone (embed.backend, batch size) over the texts."""
    embedder = _embedder()
    embedder.embed(texts[:32])
    t = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--idle-requests", type=int, default=60)
    args = parser.parse_args()
    paragraphs = _paragraphs(args.pages * PER_PAGE)
    result: dict[str, Any] = {"pages": args.pages, "paragraphs": len(paragraphs)}
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "squad.pdf"
        make_pdf(paragraphs, pdf)
        result["pdf_bytes"] = pdf.stat().st_size
        data = Path(tmp) / "data"
        import subprocess

        subprocess.run([str(Path(sys.executable).parent / "qa"), "ingest", "-q"], cwd=ROOT, env=_env(data), check=True, capture_output=True)
        question = _question_for({p["paragraph_id"] for p in paragraphs})
        with _server(data) as (url, _, _), httpx.Client(base_url=url, timeout=600) as client:
            for q in QUESTIONS:
                client.post("/api/ask", json={"question": q})
            idle = []
            for i in range(args.idle_requests):
                t = time.perf_counter()
                client.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]}).raise_for_status()
                idle.append((time.perf_counter() - t) * 1000)
            result["idle_ask_ms"] = _percentiles(idle)

            # Raw encode in this process while the server idles, before and after the quiet upload (the load moves).
            texts = [p.text for p in _passages_of(pdf)]
            raw_before = _raw_encode(texts)
            started = time.perf_counter()
            job, upload_s = _upload(client, pdf)
            answer = client.post("/api/ask", json={"question": question}).json()
            result["upload_to_first_answer_s"] = round(time.perf_counter() - started, 2)
            result["first_answer_cites_the_pdf"] = any(c["source"] == pdf.name for c in answer["citations"])
            result["first_answer_page"] = answer["citations"][0].get("page") if answer["citations"] else None
            passages = int(job["progress"]["passages_total"])
            result["upload_passages"] = passages
            result["api_ingest_passages_per_s"] = round(passages / upload_s, 2)
            raw_after = _raw_encode(texts)
            result["raw_encode_passages_per_s"] = [round(raw_before, 2), round(raw_after, 2)]
            result["api_vs_raw"] = round(result["api_ingest_passages_per_s"] / ((raw_before + raw_after) / 2), 3)

            doc_id = job["files"][0]["document_id"]
            client.delete(f"/api/documents/{doc_id}").raise_for_status()
            during: list[float] = []
            stop = threading.Event()

            def ask_loop() -> None:
                with httpx.Client(base_url=url, timeout=600) as asker:
                    i = 0
                    while not stop.is_set():
                        t = time.perf_counter()
                        asker.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]}).raise_for_status()
                        during.append((time.perf_counter() - t) * 1000)
                        i += 1

            asker = threading.Thread(target=ask_loop)
            asker.start()
            _, busy_upload_s = _upload(client, pdf)
            stop.set()
            asker.join()
            result["during_upload_ask_ms"] = _percentiles(during)
            result["upload_with_questions_s"] = round(busy_upload_s, 2)
        result["p95_during_vs_idle"] = round(result["during_upload_ask_ms"]["p95"] / result["idle_ask_ms"]["p95"], 2)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "upload.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def _passages_of(pdf: Path) -> list[Any]:
    from qa.ingest.formats import parse

    return parse(pdf.name, pdf.read_bytes()).passages(sentences=False)


if __name__ == "__main__":
    main()
