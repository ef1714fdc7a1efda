"""Engine benchmark: ingest throughput vs raw encode, unchanged re-ingest, warm answer latency.

Usage: .venv/bin/python bench/run.py [--paragraphs N] [--repeat N]
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import apply_offline_environment, load_settings  # noqa: E402
from qa.evaluate.run import percentile  # noqa: E402

apply_offline_environment()

SQUAD = ROOT.parent / "shared" / "eval" / "squad11_dev.corpus.jsonl"
SEED_DEV = ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"


def write_corpus(folder: Path, n: int) -> list[str]:
    """Write the first n SQuAD paragraphs as one .txt file per article; return the paragraph texts."""
    docs: dict[str, list[str]] = defaultdict(list)
    texts = []
    for line in SQUAD.read_text().splitlines()[:n]:
        row = json.loads(line)
        text = row["text"].replace("\n", " ").strip()
        docs[row["doc_id"]].append(text)
        texts.append(text)
    for doc_id, paras in docs.items():
        (folder / f"{doc_id}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paragraphs", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the seed questions for latency")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from qa.embed import default_model_path
    from qa.ingest.pipeline import ingest
    from qa.runtime import build_runtime, open_client, open_embedder, open_store

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "docs").mkdir()
        texts = write_corpus(tmpdir / "docs", args.paragraphs)
        settings = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(tmpdir / "data")})
        threads = settings.embed.torch_threads

        torch.set_num_threads(threads)
        raw = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
        raw.encode(texts[:16], batch_size=settings.embed.batch_size)
        t = time.perf_counter()
        raw.encode(texts, batch_size=settings.embed.batch_size, normalize_embeddings=True)
        raw_s = time.perf_counter() - t

        embedder = open_embedder(settings)
        embedder.embed(texts[:16])
        store = open_store(settings, embedder, open_client(settings), create=True)
        first = ingest([tmpdir / "docs"], store, embedder, max_file_bytes=10**8, progress=False)
        again = ingest([tmpdir / "docs"], store, embedder, max_file_bytes=10**8, progress=False)

        seed_settings = settings.model_copy(
            update={"store": settings.store.model_copy(update={"collection": "bench-seed"})}
        )
        seed_store = open_store(seed_settings, embedder, open_client(seed_settings), create=True)
        ingest([settings.paths.seeds], seed_store, embedder, max_file_bytes=10**8, progress=False)
        runtime = build_runtime(seed_settings, embedder=embedder)
        questions = [json.loads(line)["question"] for line in SEED_DEV.read_text().splitlines() if line.strip()]
        for q in questions:
            runtime.chain.ask(q)  # warm-up
        latencies: list[float] = []
        stages: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.repeat):
            for q in questions:
                t = time.perf_counter()
                answer = runtime.chain.ask(q)
                latencies.append((time.perf_counter() - t) * 1000)
                for k, v in answer.timings_ms.items():
                    stages[k].append(v)

    n = first.passages
    print(f"torch threads: {threads}, batch size {settings.embed.batch_size}, {n} SQuAD paragraphs")
    print(f"raw SentenceTransformer.encode (paragraphs): {n / raw_s:8.1f} paragraphs/s  ({raw_s:.1f} s)")
    print(f"qa ingest, first run (split + sentences + store): {n / first.seconds:8.1f} paragraphs/s  ({first.seconds:.1f} s)"
          f"  = {raw_s / first.seconds:.2f}x raw")
    print(f"qa ingest, unchanged corpus: {again.seconds * 1000:.0f} ms  = {first.seconds / again.seconds:.0f}x faster than first")
    print(f"warm ask latency over {len(latencies)} asks on the seed article: p50 {statistics.median(latencies):.1f} ms, "
          f"p95 {percentile(latencies, 95):.1f} ms")
    print("  stages p50: " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
