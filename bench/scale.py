"""Scale benchmark: a SQuAD-built corpus of N passages (default 100,000), measured in one run.

Usage: .venv/bin/python bench/scale.py [--passages 100000] [--questions 300] [--requests 200] [--workdir bench/out/scale]
       [--ingest-only | --measure-only]  (build the store in one run, measure it in another)

The corpus: the 2,067 paragraphs of SQuAD v1.1 dev (SQuAD v2.0 dev's 1,204 are a subset)
are split into sentences with the pipeline's own splitter; every window of 2 to
``--max-window`` consecutive sentences of an article's sentence stream (it crosses paragraph
breaks) is a passage too. The paragraphs and a seeded random sample of the windows make N
passages, one ``.txt`` file per article, passages separated by blank lines. Windows average
about as many sentences as a SQuAD paragraph (5), so the store holds about 5 sentence rows
per passage, like a real corpus of N paragraphs.

Windows repeat each sentence up to ``--max-window`` times, so encoding every window
sentence would measure the repetition, not the system: ingest here runs the real pipeline
(split, sentences, embed, both Chroma collections) with the embedder wrapped in a
memo by sentence text. The encoder's own rate (sentences/s) is measured beside it on
fresh sentences, and the report gives both the measured time and the time a corpus of N
distinct passages would take (non-encode time measured + encode time at that rate).

Then, in one run: store size on disk; index build time (reading passages and vectors from
the store, building BM25); warm answer latency in process; `qa serve` start-up, RSS and warm
latency over HTTP; and a one-document change (add, then delete) applied while another
thread keeps asking questions: how long until the change is visible, and the slowest
question meanwhile. Prints numbers and writes bench/out/scale.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.api import wait_quiet  # noqa: E402
from qa.config import apply_offline_environment, load_settings, offline_environment  # noqa: E402
from qa.evaluate.run import percentile  # noqa: E402

apply_offline_environment()

EVAL = ROOT.parent / "shared" / "eval"


class MemoEmbedder:
    """Embed each distinct text once (kept on disk between runs); count the texts really encoded and the time it took."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.path = path
        self.memo: dict[str, np.ndarray] = {}
        if path.with_suffix(".json").exists():
            texts = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            self.memo = dict(zip(texts, np.load(path.with_suffix(".npy")), strict=True))
        self.reused = len(self.memo)
        self.encoded = 0
        self.seconds = 0.0

    def save(self) -> None:
        """Write the memo beside the corpus, for the next run."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        np.save(self.path.with_suffix(".npy"), np.stack(list(self.memo.values())))
        self.path.with_suffix(".json").write_text(json.dumps(list(self.memo)), encoding="utf-8")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self.memo))
        if new:
            t = time.perf_counter()
            for text, vec in zip(new, self.inner.embed(new), strict=True):
                self.memo[text] = vec
            self.seconds += time.perf_counter() - t
            self.encoded += len(new)
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)


def build_corpus(folder: Path, n: int, max_window: int, seed: int = 0) -> dict[str, int]:
    """Write N passages (SQuAD paragraphs + sentence windows) as one file per article; return counts."""
    from qa.ingest.split import with_sentences
    from qa.types import Passage

    rows = [json.loads(line) for line in (EVAL / "squad11_dev.corpus.jsonl").read_text().splitlines() if line.strip()]
    articles: dict[str, list[str]] = defaultdict(list)
    sentences: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        text = " ".join(r["text"].split())
        articles[r["doc_id"]].append(text)
        p = with_sentences(Passage("x", r["doc_id"], 0, text))
        sentences[r["doc_id"]].extend(text[s:e] for s, e in p.sentences)
    windows = [
        (doc, i, w) for doc, sents in sentences.items() for w in range(2, max_window + 1) for i in range(0, len(sents) - w + 1)
    ]
    want = n - len(rows)
    if want > len(windows):
        raise SystemExit(f"only {len(rows) + len(windows)} passages available with --max-window {max_window}; raise it")
    chosen = random.Random(seed).sample(windows, max(0, want))
    out: dict[str, list[str]] = {doc: list(paras) for doc, paras in articles.items()}
    for doc, i, w in sorted(chosen):
        out[doc].append(" ".join(sentences[doc][i : i + w]))
    folder.mkdir(parents=True, exist_ok=True)
    for doc, passages in out.items():
        (folder / f"{doc}.txt").write_text("\n\n".join(passages) + "\n", encoding="utf-8")
    return {"paragraphs": len(rows), "windows": len(chosen), "sentences": sum(len(s) for s in sentences.values())}


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stats(ms: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(ms), 1), "p95": percentile(ms, 95), "n": len(ms)}


def measure_http(data: Path, questions: list[str], requests: int) -> dict[str, Any]:
    """Start `qa serve` over the store; return start-up seconds, RSS and warm latency over HTTP."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(offline_environment())
    env["QA_PATHS__DATA_DIR"] = str(data)
    env["PYTHONPATH"] = str(ROOT)
    started = time.perf_counter()
    cmd = [str(BIN / "qa"), "serve", "--port", str(port)]
    # The server's log goes to a file: an unread pipe fills up and stalls the server's writes.
    log_path = data.parent / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"qa serve exited: {log_path.read_text(errors='replace')[-2000:]}")
                try:
                    if client.post("/api/ask", json={"question": questions[0]}).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            ready = time.perf_counter() - started
            for q in questions[:20]:
                client.post("/api/ask", json={"question": q})
            wait_quiet(proc.pid)  # the web chat and MCP load in the background after the first answer
            ms = []
            for i in range(requests):
                t = time.perf_counter()
                r = client.post("/api/ask", json={"question": questions[i % len(questions)]})
                ms.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            rss = _rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"start_to_first_answer_s": round(ready, 1), "rss_mb": round(rss), "warm_ms": _stats(ms)}


def measure_change(runtime: Any, questions: list[str]) -> dict[str, Any]:
    """Add then delete one document while another thread asks questions; return visibility times and the slowest question."""
    from qa.ingest.split import split_document, with_sentences
    from qa.types import Document

    doc = Document(
        "zz-new-document.txt",
        "The Quibblestone Observatory opened in 2031 on the summit of Mount Arvenna.\n\n"
        "Its main telescope, the Larkspur Reflector, has a mirror eleven metres wide.",
    )
    probe = "When did the Quibblestone Observatory open?"
    stop = threading.Event()
    during: list[float] = []

    def asker() -> None:
        i = 0
        while not stop.is_set():
            t = time.perf_counter()
            runtime.chain.ask(questions[i % len(questions)])
            during.append((time.perf_counter() - t) * 1000)
            i += 1

    def found() -> bool:
        return any("Quibblestone" in h.passage.text for h in runtime.retriever.retrieve(probe, top_k=3))

    thread = threading.Thread(target=asker, daemon=True)
    thread.start()
    time.sleep(1.0)
    store, retriever, embedder = runtime.store, runtime.retriever, runtime.embedder
    t0 = time.perf_counter()
    passages = [with_sentences(p) for p in split_document(doc, sentences=False)]
    store.add(passages, [embedder.embed([p.text[s:e] for s, e in p.sentences]) for p in passages])
    written = time.perf_counter() - t0
    retriever.apply_change(passages, [])
    while not found():
        time.sleep(0.01)
    visible_add = time.perf_counter() - t0
    t1 = time.perf_counter()
    ids = [p.passage_id for p in passages]
    store.delete(ids)
    retriever.apply_change([], ids)
    while found():
        time.sleep(0.01)
    visible_delete = time.perf_counter() - t1
    time.sleep(1.0)
    stop.set()
    thread.join()
    return {
        "add_visible_s": round(visible_add, 3),
        "add_store_write_s": round(written, 3),
        "delete_visible_s": round(visible_delete, 3),
        "questions_meanwhile": len(during),
        "slowest_question_meanwhile_ms": round(max(during), 1) if during else None,
        "meanwhile_ms": _stats(during) if during else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--max-window", type=int, default=12)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate-sentences", type=int, default=1000, help="fresh sentences encoded to measure the encoder's own rate")
    parser.add_argument("--workdir", default=str(ROOT / "bench" / "out" / "scale"))
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--ingest-only", action="store_true", help="build the corpus and the store, then stop (a later run measures)")
    parser.add_argument("--measure-only", action="store_true",
                        help="measure the store an earlier run built (or an interrupted --ingest-only left: every passage in it is whole)")
    args = parser.parse_args()

    from qa.ingest.pipeline import ingest
    from qa.runtime import open_client, open_embedder, open_store

    work = Path(args.workdir) / str(args.passages)
    docs, data = work / "docs", work / "data"
    settings = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(data)})
    result: dict[str, Any] = {"passages_wanted": args.passages, "backend": settings.embed.backend, "quantize": settings.embed.quantize,
                              "cpus": os.cpu_count(), "load_average_start": round(os.getloadavg()[0], 2)}
    if not args.measure_only:
        t = time.perf_counter()
        result["corpus"] = build_corpus(docs, args.passages, args.max_window)
        result["corpus_build_s"] = round(time.perf_counter() - t, 1)
        print(f"corpus: {result['corpus']} in {result['corpus_build_s']} s", flush=True)

    embedder = open_embedder(settings)
    # The encoder's own rate on distinct sentences (SQuAD v2.0 questions: text not in the corpus).
    lines = (EVAL / "squad20_dev.questions.jsonl").read_text().splitlines()[: args.rate_sentences]
    fresh = [json.loads(line)["question"] for line in lines]
    embedder.embed(fresh[:32])
    t = time.perf_counter()
    embedder.embed(fresh)
    rate = len(fresh) / (time.perf_counter() - t)
    result["encode_sentences_per_s"] = round(rate, 1)

    memo = MemoEmbedder(embedder, Path(args.workdir) / f"memo-{settings.embed.backend}-{settings.embed.quantize}")
    store = open_store(settings, memo, open_client(settings), create=True)
    if args.measure_only:
        result["passages"] = store.count()
        result["sentence_rows"] = store.sentence_count()
        result["store_bytes"] = _du(data)
        print(f"measuring the store as it is: {result['passages']} passages, {result['sentence_rows']} sentence rows", flush=True)
        return measure(args, settings, embedder, store, data, result)
    report = ingest([docs], store, memo, max_file_bytes=10**9, progress=False)
    memo.save()
    non_encode = report.seconds - memo.seconds
    result["ingest"] = {
        "passages": report.passages,
        "added": report.added,
        "seconds": round(report.seconds, 1),
        "distinct_sentences_encoded": memo.encoded,
        "sentence_vectors_reused_from_an_earlier_run": memo.reused,
        "encode_seconds": round(memo.seconds, 1),
        "non_encode_seconds": round(non_encode, 1),
        "passages_per_s_measured": round(report.added / report.seconds, 1) if report.added else None,
    }
    store_rows = store.sentence_count()
    result["sentence_rows"] = store_rows
    if report.added:
        distinct_s = non_encode + store_rows / rate
        result["ingest"]["projected_distinct_corpus_s"] = round(distinct_s, 1)
        result["ingest"]["projected_passages_per_s"] = round(report.added / distinct_s, 1)
        result["ingest"]["projected_vs_raw_encode"] = round((store_rows / rate) / distinct_s, 2)
    print(f"ingest: {result['ingest']}", flush=True)
    result["store_bytes"] = _du(data)
    print(f"store on disk: {result['store_bytes'] / 1e6:.0f} MB, {store_rows} sentence rows", flush=True)
    out = ROOT / "bench" / "out"
    if args.ingest_only:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"scale-{args.passages}-ingest.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return 0

    result["passages"] = store.count()
    return measure(args, settings, embedder, store, data, result)


def measure(args: argparse.Namespace, settings: Any, embedder: Any, store: Any, data: Path, result: dict[str, Any]) -> int:
    """Measure index build, memory, warm latency, a live change and `qa serve` over the store; write the json."""
    from qa.retrieve import DenseIndex, KeywordIndex
    from qa.runtime import build_runtime

    rss0 = _rss_mb(os.getpid())
    t = time.perf_counter()
    passages = store.all_passages()
    read_passages = time.perf_counter() - t
    rss1 = _rss_mb(os.getpid())
    t = time.perf_counter()
    keyword = KeywordIndex(passages)
    bm25_s = time.perf_counter() - t
    del passages
    rss2 = _rss_mb(os.getpid())
    compact = sum(len(p.sentences) for p in keyword.passages if p is not None) > settings.retrieve.exact_max_sentences
    t = time.perf_counter()
    dense = DenseIndex.from_store(store, keyword.passages, keyword.by_id, embedder.dim, compact=compact)
    read_vectors = time.perf_counter() - t
    rss3 = _rss_mb(os.getpid())
    result["memory_mb"] = {
        "before_reading": round(rss0),
        "passages_read": round(rss1 - rss0),
        "keyword_index": round(rss2 - rss1),
        "keyword_postings": keyword.postings,
        "vectors_read_and_held": round(rss3 - rss2),
        "vectors_held_by_us": round(dense.nbytes / 2**20),
        "sentence_vectors": "int8" if compact else "float32",
    }
    del keyword, dense
    print(f"memory: {result['memory_mb']}", flush=True)
    t = time.perf_counter()
    runtime = build_runtime(settings, embedder=embedder)
    result["index_build"] = {
        "read_passages_s": round(read_passages, 1),
        "read_vectors_s": round(read_vectors, 1),
        "keyword_index_s": round(bm25_s, 1),
        "runtime_total_s": round(time.perf_counter() - t, 1),
    }
    print(f"index build: {result['index_build']}", flush=True)

    qrows = [json.loads(line) for line in (EVAL / "squad11_dev.questions.jsonl").read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in random.Random(0).sample(qrows, args.questions)]
    for q in questions[:20]:
        runtime.chain.ask(q)
    ms, cpu, stages = [], [], defaultdict(list)
    for q in questions:
        t, c = time.perf_counter(), time.process_time()
        answer = runtime.chain.ask(q)
        ms.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        for k, v in answer.timings_ms.items():
            stages[k].append(v)
    result["in_process_ms"] = _stats(ms)
    result["in_process_cpu_ms"] = _stats(cpu)  # CPU time per answer: what an idle core would take
    result["in_process_stage_p50_ms"] = {k: round(statistics.median(v), 1) for k, v in stages.items()}
    result["in_process_rss_mb"] = round(_rss_mb(os.getpid()))
    print(f"warm answer in process: {result['in_process_ms']} stages {result['in_process_stage_p50_ms']}", flush=True)

    result["change"] = measure_change(runtime, questions)
    print(f"one-document change: {result['change']}", flush=True)
    del runtime
    if not args.skip_http:
        try:
            result["http"] = measure_http(data, questions, args.requests)
        except RuntimeError as exc:  # keep what was measured; say why this step has no numbers
            result["http"] = {"error": str(exc)[-500:]}
        print(f"over HTTP: {result['http']}", flush=True)
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"scale-{result['passages']}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
