"""Conversation benchmark: warm answer latency in process with 20 turns of history, beside no history.

Usage: .venv/bin/python bench/conversation.py [--turns 20] [--repeat 5]
Ingests seeds/ into a temporary store, builds a 20-turn conversation from the seed questions
(assistant turns as the web chat sends them, with citations; and as text only), then times
follow-ups asked after it. Prints numbers; asserts nothing.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import apply_offline_environment, load_settings  # noqa: E402
from qa.evaluate.run import percentile  # noqa: E402

apply_offline_environment()

SEED_DEV = ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"
FOLLOW_UPS = ("What did he say about it?", "And what happened next?", "Who else was there?", "What did they want?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20, help="history turns (user + assistant) before each follow-up")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from qa.ingest.pipeline import ingest
    from qa.runtime import build_runtime, open_client, open_embedder, open_store

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(Path(tmp) / "data")})
        embedder = open_embedder(settings)
        store = open_store(settings, embedder, open_client(settings), create=True)
        ingest([settings.paths.seeds], store, embedder, max_file_bytes=10**8, progress=False)
        chain = build_runtime(settings, embedder=embedder).chain
        questions = [json.loads(line)["question"] for line in SEED_DEV.read_text().splitlines() if line.strip()]
        cited: list[dict[str, Any]] = []
        while len(cited) < args.turns:
            q = questions[(len(cited) // 2) % len(questions)]
            a = chain.ask(q, cited)
            cited += [{"role": "user", "content": q},
                      {"role": "assistant", "content": a.answer, "citations": [{"passage_id": c.passage_id} for c in a.citations]}]
        text_only = [{"role": t["role"], "content": t["content"]} for t in cited]
        runs: dict[str, list[float]] = defaultdict(list)
        stages: dict[str, list[float]] = defaultdict(list)
        for f in FOLLOW_UPS:  # warm-up: the first text-only lookup of each answer is remembered afterwards
            chain.ask(f, text_only)
        for _ in range(args.repeat):
            for f in FOLLOW_UPS:
                for name, history in (("no history", []), ("20 turns, with citations", cited), ("20 turns, text only", text_only)):
                    t = time.perf_counter()
                    answer = chain.ask(f, history)
                    runs[name].append((time.perf_counter() - t) * 1000)
                    if history is cited:
                        for k, v in answer.timings_ms.items():
                            stages[k].append(v)
    for name, values in runs.items():
        p50, p95 = statistics.median(values), percentile(values, 95)
        print(f"warm answer latency, {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(values)} asks)")
    print("  stages p50 (with citations): " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
