"""onnxruntime intra-op threads for the encoder: 1 vs 2, with and without spinning, idle, beside a CPU hog and concurrent.

Usage: .venv/bin/python bench/threads.py [--questions 150] [--clients 4] [--paragraphs 200] [--quantize int8|none]

Each configuration is one OnnxEmbedder of the int8 export (--quantize none: fp32): 1 or 2 threads,
spinning on (within a run only), off, or adaptive (a spinning and a plain session, each question to
the one faster lately). Scenarios, each in blocks per configuration alternating over rounds, with a
pause between blocks, so load from other jobs hits all alike:
  - one question at a time (wall and CPU per question);
  - the same beside a CPU hog (a busy-looping process per --hogs, default one: the other core);
  - --clients threads asking at once through one session (per-question wall, questions/s);
  - a batch ingest encode of --paragraphs SQuAD paragraphs' sentences (sentences/s, wall and CPU).
Prints a table and writes bench/out/threads.json. The load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import apply_offline_environment, load_settings  # noqa: E402
from qa.evaluate.run import percentile  # noqa: E402

apply_offline_environment()
EVAL = ROOT.parent / "shared" / "eval"
CONFIGS: list[tuple[int, Any]] = [(1, True), (1, False), (2, True), (2, False), (2, "adaptive")]  # (intra-op threads, spinning)
ROUNDS = 3  # blocks per configuration in the one-at-a-time scenarios
PAUSE_S = 0.5  # between blocks: long enough for a spinning session's workers to go to sleep


def _name(threads: int, spin: Any) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}, spinning {spin if isinstance(spin, str) else 'on' if spin else 'off'}"


def _hog(stop: Any) -> None:
    """Busy-loop until told to stop: one core's worth of competing CPU."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def _stats(ms: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(ms), 2), "p95": round(percentile(ms, 95), 2), "n": len(ms)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--hogs", type=int, default=1)
    parser.add_argument("--paragraphs", type=int, default=200)
    parser.add_argument("--quantize", choices=("int8", "none"), default="int8", help="the export measured (a new store's: int8)")
    args = parser.parse_args()

    from qa.embed.onnx import OnnxEmbedder
    from qa.ingest.split import with_sentences
    from qa.types import Passage

    settings = load_settings(ROOT / "config.yaml", environ={})
    cache = settings.embed.cache_dir or settings.paths.data_dir / "encoders"
    embedders = {
        c: OnnxEmbedder(settings.embed.model_name, settings.embed.model_path, cache, quantize=args.quantize,
                        threads=c[0], batch_threads=c[0], spinning=c[1], batch_size=settings.embed.batch_size)
        for c in CONFIGS
    }
    rows = [json.loads(x) for x in (EVAL / "squad11_dev.questions.jsonl").read_text().splitlines() if x.strip()]
    questions = [r["question"] for r in random.Random(1).sample(rows, args.questions)]
    result: dict[str, Any] = {"load_average_start": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(), "quantize": args.quantize}
    for q in questions[:10]:
        for e in embedders.values():
            e.embed([q])

    def sequential(label: str) -> None:
        wall: dict[Any, list[float]] = defaultdict(list)
        cpu: dict[Any, list[float]] = defaultdict(list)
        # Blocks of questions per configuration, alternating over rounds, with a pause between blocks:
        # question by question, a spinning session's idle workers would still spin through the next
        # configuration's question and be counted as its time (process CPU is the whole process).
        for r in range(ROUNDS):
            for c in CONFIGS if r % 2 == 0 else list(reversed(CONFIGS)):
                time.sleep(PAUSE_S)
                for q in questions[r::ROUNDS]:
                    t, p = time.perf_counter(), time.process_time()
                    embedders[c].embed([q])
                    wall[c].append((time.perf_counter() - t) * 1000)
                    cpu[c].append((time.process_time() - p) * 1000)
        result[label] = {_name(*c): {"wall_ms": _stats(wall[c]), "cpu_ms": _stats(cpu[c])} for c in CONFIGS}
        print(label, json.dumps(result[label]), flush=True)

    sequential("one question at a time")
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_hog, args=(stop,), daemon=True) for _ in range(args.hogs)]
    for h in hogs:
        h.start()
    try:
        sequential(f"one question at a time beside {args.hogs} busy-looping process(es)")
    finally:
        stop.set()
        for h in hogs:
            h.join()

    label = f"{args.clients} clients at once, 2 rounds alternating"
    lat: dict[Any, list[float]] = defaultdict(list)
    spent: dict[Any, list[float]] = defaultdict(list)  # [wall s, CPU s] summed over rounds
    for order in (CONFIGS, list(reversed(CONFIGS))):
        for c in order:  # one configuration at a time: concurrency within it is the point
            e, lock = embedders[c], threading.Lock()

            def client(i: int, e: Any = e, c: Any = c, lock: threading.Lock = lock) -> None:
                for q in questions[i :: args.clients]:
                    t = time.perf_counter()
                    e.embed([q])
                    with lock:
                        lat[c].append((time.perf_counter() - t) * 1000)

            time.sleep(PAUSE_S)
            t0, p0 = time.perf_counter(), time.process_time()
            workers = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            totals = spent.setdefault(c, [0.0, 0.0])
            totals[0] += time.perf_counter() - t0
            totals[1] += time.process_time() - p0
    result[label] = {
        _name(*c): {"wall_ms": _stats(lat[c]), "questions_per_s": round(len(lat[c]) / spent[c][0], 1),
                    "cpu_ms_per_question": round(spent[c][1] * 1000 / len(lat[c]), 2)}
        for c in CONFIGS
    }
    print(label, json.dumps(result[label]), flush=True)

    corpus = [json.loads(x)["text"] for x in (EVAL / "squad11_dev.corpus.jsonl").read_text().splitlines()[: args.paragraphs]]
    sentences = []
    for i, text in enumerate(corpus):
        passage = with_sentences(Passage(passage_id=str(i), source="bench", paragraph=i, text=text))
        sentences += [passage.text[s:e] for s, e in passage.sentences]
    label = f"batch encode of {len(sentences)} sentences ({args.paragraphs} paragraphs), 2 rounds alternating"
    rates: dict[Any, list[tuple[float, float]]] = defaultdict(list)
    for order in (CONFIGS, list(reversed(CONFIGS))):
        for c in order:
            time.sleep(PAUSE_S)
            t, p = time.perf_counter(), time.process_time()
            embedders[c].embed(sentences)
            rates[c].append((len(sentences) / (time.perf_counter() - t), len(sentences) / (time.process_time() - p)))
    result[label] = {
        _name(*c): {"sentences_per_s": round(statistics.fmean(r[0] for r in rates[c]), 1),
                    "sentences_per_cpu_s": round(statistics.fmean(r[1] for r in rates[c]), 1)}
        for c in CONFIGS
    }
    print(label, json.dumps(result[label]), flush=True)
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "threads.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
