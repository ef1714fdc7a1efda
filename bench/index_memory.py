"""Index memory and warm latency: today's retriever (a baseline checkout) against this one, over the same store.

Usage: .venv/bin/python bench/index_memory.py --baseline-root DIR [--data-dir D] [--collection C] [--questions 200] [--rounds 2]

DIR is a checkout of the baseline (`git worktree add --detach DIR <commit>`). Each round starts one
fresh process per code, alternating, over the same collection: the process opens the encoder
and the store, records its RSS, builds the retriever (the whole in-memory index), records the
RSS again, asks warm questions (SQuAD v1.1 dev, retrieval and answer) and reports the index
build's RSS growth, its time, and answer latency p50/p95. Prints a table and writes
bench/out/index_memory.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"

CHILD = r"""
import json, os, sys, time
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
from qa.config import load_settings
from qa.runtime import build_runtime, open_embedder
args = json.loads(sys.argv[1])
settings = load_settings(Path(args["root"]) / "config.yaml", environ=args["env"])
embedder = open_embedder(settings)
embedder.embed(["warm the encoder"])
import chromadb  # imported before the first RSS reading: the library is not the index
before = rss()
t = time.perf_counter()
runtime = build_runtime(settings, embedder=embedder)
build_s = time.perf_counter() - t
after = rss()
qs = args["questions"]
for q in qs[:20]:
    runtime.chain.ask(q)
ms = []
for q in qs:
    t = time.perf_counter()
    runtime.chain.ask(q)
    ms.append((time.perf_counter() - t) * 1000)
print(json.dumps({"rss_before_mb": before, "rss_after_mb": after, "rss_end_mb": rss(), "build_s": build_s, "ms": ms,
                  "passages": runtime.retriever.passage_count}))
"""


def _p95(ms: list[float]) -> float:
    return sorted(ms)[max(0, round(0.95 * len(ms)) - 1)]


def run_child(root: Path, env: dict[str, str], questions: list[str]) -> dict[str, Any]:
    """Run one measuring process with the code at root; return what it printed."""
    penv = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    penv.update(env)
    penv["PYTHONPATH"] = str(root)
    arg = json.dumps({"root": str(root), "env": env, "questions": questions})
    out = subprocess.run([sys.executable, "-c", CHILD, arg], cwd=root, env=penv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{root}: {out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-root", required=True)
    parser.add_argument("--data-dir", default=str(ROOT / ".qa-data"))
    parser.add_argument("--collection", default="passages")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--label", default="", help="a name for this corpus in the output file")
    parser.add_argument("--set", action="append", default=[], help="extra QA_ settings for both codes, KEY=VALUE")
    args = parser.parse_args()

    rows = [json.loads(line) for line in (EVAL / "squad11_dev.questions.jsonl").read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in random.Random(0).sample(rows, args.questions)]
    env = {"QA_PATHS__DATA_DIR": args.data_dir, "QA_STORE__COLLECTION": args.collection}
    env.update(dict(kv.split("=", 1) for kv in args.set))
    if "QA_EMBED__CACHE_DIR" in os.environ:
        env["QA_EMBED__CACHE_DIR"] = os.environ["QA_EMBED__CACHE_DIR"]
    codes = {"today": Path(args.baseline_root).resolve(), "now": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, root in codes.items():
            runs[name].append(run_child(root, env, questions))
            load.append(os.getloadavg()[0])
            print(f"{name}: {({k: v for k, v in runs[name][-1].items() if k != 'ms'})}", flush=True)
    result: dict[str, Any] = {"collection": args.collection, "label": args.label, "settings": env,
                              "load_average": [round(x, 2) for x in load], "questions": len(questions), "codes": {}}
    print(f"\n{'code':6} {'index RSS MB':>13} {'RSS MB':>8} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7}")
    for name, rs in runs.items():
        ms = [m for r in rs for m in r["ms"]]
        summary = {
            "passages": rs[0]["passages"],
            "index_rss_mb": round(statistics.median(r["rss_after_mb"] - r["rss_before_mb"] for r in rs)),
            "rss_end_mb": round(statistics.median(r["rss_end_mb"] for r in rs)),
            "build_s": round(statistics.median(r["build_s"] for r in rs), 1),
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(_p95(ms), 1),
        }
        result["codes"][name] = summary
        print(f"{name:6} {summary['index_rss_mb']:>13} {summary['rss_end_mb']:>8} {summary['build_s']:>8} "
              f"{summary['p50_ms']:>7} {summary['p95_ms']:>7}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    name = f"index_memory-{args.label or args.collection}.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: bench/out/{name}")
    return 0


if __name__ == "__main__":
    start = time.time()
    code = main()
    print(f"{time.time() - start:.0f} s")
    sys.exit(code)
