"""Today's path vs this one, side by side in one run: question embedding, ingest, warm answer latency.

Usage: .venv/bin/python bench/speed.py [--paragraphs 300] [--squad-questions 200] [--baseline-ref 4b9bee2]

"Today" is the torch encoder with the retriever of ``--baseline-ref`` (its qa/retrieve.py,
read with `git show`, over the same store API); "now" is the configured ONNX encoder with
the in-memory retriever. Both answer with the same extractive answerer. Measurements are
interleaved (question by question, ingest runs alternating) so load from other jobs hits
both alike; the load average is printed. Prints numbers and writes bench/out/speed.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings, apply_offline_environment, load_settings  # noqa: E402
from qa.evaluate.run import percentile  # noqa: E402

apply_offline_environment()

EVAL = ROOT.parent / "shared" / "eval"


def _stats(ms: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(ms), 2), "p95": percentile(ms, 95), "n": len(ms)}


def _load_baseline_retriever(ref: str) -> Any:
    source = subprocess.run(["git", "show", f"{ref}:qa/retrieve.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "retrieve_today.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("retrieve_today", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["retrieve_today"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    base: Any = module.HybridRetriever

    class Today(base):  # type: ignore[misc,valid-type]
        """Today's retriever under today's chain, which passes a document filter (None for these questions)."""

        def retrieve(self, question: str, top_k: int | None = None, qvec: Any = None, *, documents: Any = None) -> Any:
            if documents:
                raise ValueError("today's retriever has no document filter")
            return super().retrieve(question, top_k, qvec)

    return Today


def _with(settings: Settings, data: Path, **embed: Any) -> Settings:
    return settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"data_dir": data}), "embed": settings.embed.model_copy(update=embed)}
    )


def _squad_docs(folder: Path, paragraphs: int | None, split: str | None) -> list[str]:
    """Write SQuAD v1.1 dev paragraphs (the first N, or those of one split) as one file per article; return their texts."""
    splits = {json.loads(line)["doc_id"]: json.loads(line)["split"] for line in (EVAL / "squad11_dev.split.jsonl").read_text().splitlines()}
    docs: dict[str, list[str]] = defaultdict(list)
    texts = []
    for line in (EVAL / "squad11_dev.corpus.jsonl").read_text().splitlines():
        row = json.loads(line)
        if split is not None and splits.get(row["doc_id"]) != split:
            continue
        text = row["text"].replace("\n", " ").strip()
        docs[row["doc_id"]].append(text)
        texts.append(text)
        if paragraphs is not None and len(texts) >= paragraphs:
            break
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, paras in docs.items():
        (folder / f"{doc_id}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=300)
    parser.add_argument("--squad-questions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the seed questions")
    parser.add_argument("--baseline-ref", default="4b9bee2", help="commit whose qa/retrieve.py is today's retriever")
    parser.add_argument("--squad-store", type=Path, help="reuse a data folder holding the SQuAD corpus (fp32 vectors), e.g. qa eval's")
    parser.add_argument("--squad-collection", help="its collection name (qa eval's: eval-<digest>)")
    parser.add_argument("--parts", default="embed,ingest,answers", help="which measurements to run (comma-separated)")
    args = parser.parse_args()

    from qa.answer.chain import AnswerChain
    from qa.answer.providers import make_answerer
    from qa.embed import SentenceTransformerEmbedder, default_model_path
    from qa.evaluate.command import quantized_collection
    from qa.ingest.pipeline import ingest
    from qa.retrieve import HybridRetriever
    from qa.runtime import open_client, open_embedder, open_store, resolve_quantize
    from qa.store_probe import open_commit_counter

    TodayRetriever = _load_baseline_retriever(args.baseline_ref)
    base = load_settings(ROOT / "config.yaml", environ={})
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_average_start": round(os.getloadavg()[0], 2), "baseline_ref": args.baseline_ref}
    with tempfile.TemporaryDirectory(prefix="qa-speed-") as tmp:
        work = Path(tmp)
        cache = ROOT / ".qa-data"  # the ONNX export is cached here once, as `qa` itself does
        variants = {
            "torch": _with(base, work / "torch", backend="torch", quantize="none"),
            "onnx": _with(base, work / "onnx", backend="onnx", quantize="none"),
            # The default fp32 export on one thread for questions and batches alike (the setting before bench/threads.py).
            "onnx-1-thread": _with(base, work / "onnx1", backend="onnx", quantize="none", onnx_threads=1, onnx_batch_threads=1),
            "onnx-int8": _with(base, work / "int8", backend="onnx", quantize="int8"),
        }
        embedders = {}
        for name, s in variants.items():
            s_cache = s.model_copy(update={"paths": s.paths.model_copy(update={"data_dir": cache})})
            embedders[name] = open_embedder(s_cache)

        parts = set(args.parts.split(","))
        # A. Question embedding, interleaved question by question.
        qrows = [json.loads(line) for line in (EVAL / "squad11_dev.questions.jsonl").read_text().splitlines() if line.strip()]
        questions = [r["question"] for r in random.Random(1).sample(qrows, 200)]
        embed_ms: dict[str, list[float]] = defaultdict(list)
        embed_cpu: dict[str, list[float]] = defaultdict(list)
        for q in questions[:10]:
            for e in embedders.values():
                e.embed([q])
        for q in questions if "embed" in parts else []:
            for name, e in embedders.items():
                t, c = time.perf_counter(), time.process_time()
                e.embed([q])
                embed_ms[name].append((time.perf_counter() - t) * 1000)
                embed_cpu[name].append((time.process_time() - c) * 1000)
        result["question_embed_ms"] = {k: _stats(v) for k, v in embed_ms.items()}
        result["question_embed_cpu_ms"] = {k: _stats(v) for k, v in embed_cpu.items()}
        print("question embedding:", result["question_embed_ms"], "CPU:", result["question_embed_cpu_ms"], flush=True)

        # B. Ingest of the same paragraphs, runs alternating; raw torch encode beside them.
        texts = _squad_docs(work / "docs", args.paragraphs, None)
        raw = SentenceTransformerEmbedder("raw", default_model_path(), base.embed.torch_threads, base.embed.batch_size)
        rates: dict[str, list[float]] = defaultdict(list)
        cpu_rates: dict[str, list[float]] = defaultdict(list)
        for order in (list(variants), list(reversed(variants))) if "ingest" in parts else ():
            t, c = time.perf_counter(), time.process_time()
            raw.embed(texts)
            rates["raw torch encode"].append(len(texts) / (time.perf_counter() - t))
            cpu_rates["raw torch encode"].append(len(texts) / (time.process_time() - c))
            for name in order:
                v = variants[name]
                s = v.model_copy(update={"store": v.store.model_copy(update={"collection": f"ingest-{len(rates[name])}"})})
                store = open_store(s, embedders[name], open_client(s), create=True)
                c = time.process_time()
                report = ingest([work / "docs"], store, embedders[name], max_file_bytes=10**8, progress=False)
                cpu_rates[name].append(report.passages / (time.process_time() - c))
                rates[name].append(report.passages / report.seconds)
        result["ingest_paragraphs_per_s"] = {k: round(statistics.fmean(v), 1) for k, v in rates.items()}
        result["ingest_runs"] = {k: [round(x, 1) for x in v] for k, v in rates.items()}
        result["ingest_paragraphs_per_cpu_s"] = {k: round(statistics.fmean(v), 1) for k, v in cpu_rates.items()}
        print("ingest paragraphs/s:", result["ingest_runs"], "per CPU second:", result["ingest_paragraphs_per_cpu_s"], flush=True)

        # C. Warm answers: today (torch + old retriever) vs now (onnx + this retriever), question by question.
        answerer = make_answerer(base.answer)
        seed_q = [json.loads(line)["question"] for line in (EVAL / "seed_dev.jsonl").read_text().splitlines() if line.strip()]
        split_rows = [json.loads(x) for x in (EVAL / "squad11_dev.split.jsonl").read_text().splitlines() if x.strip()]
        dev_docs = {r["doc_id"] for r in split_rows if r["split"] == "dev"}
        squad_dev = [r for r in qrows if r["doc_id"] in dev_docs]
        squad_q = [r["question"] for r in random.Random(0).sample(squad_dev, args.squad_questions)]
        if args.squad_store is None:
            _squad_docs(work / "squad-dev", None, "dev")
        corpora = [("seed article", base.paths.seeds, seed_q, args.repeat), ("SQuAD dev paragraphs", work / "squad-dev", squad_q, 1)]
        # What a new store gets from the configuration (embed.quantize auto: int8).
        now_variant = "onnx" if resolve_quantize(base, fresh=True) == "none" else "onnx-int8"
        for corpus_name, folder, qs, repeat in corpora if "answers" in parts else []:
            chains = {}
            for name, cls in (("today", TodayRetriever), ("now", HybridRetriever)):
                variant, emb = variants["torch" if name == "today" else now_variant], embedders["torch" if name == "today" else now_variant]
                s = variant.model_copy(update={"store": variant.store.model_copy(update={"collection": "c-" + corpus_name[:4].strip()})})
                if corpus_name.startswith("SQuAD") and args.squad_store is not None:
                    # fp32 vectors are the same from torch and ONNX, so they read one store; `qa eval` names the
                    # int8 one by its quantisation.
                    collection = quantized_collection(args.squad_collection, emb)
                    s = s.model_copy(update={"paths": s.paths.model_copy(update={"data_dir": args.squad_store}),
                                             "store": s.store.model_copy(update={"collection": collection})})
                    client = open_client(s)
                    store = open_store(s, emb, client)
                else:
                    client = open_client(s)
                    store = open_store(s, emb, client, create=True)
                    ingest([folder], store, emb, max_file_bytes=10**8, progress=False)
                if name == "today":
                    chains[name] = AnswerChain(cls(store, emb, s.retrieve), answerer, s.limits)
                    continue
                # As build_runtime does: the store's sqlite counter spares the corpus-version read per question.
                probe = open_commit_counter(client)
                chains[name] = AnswerChain(cls(store, emb, s.retrieve, probe=probe), answerer, s.limits)
                # The same retriever reading the version on every question (before the probe), over the same store.
                chains["now, version read per question"] = AnswerChain(cls(store, emb, s.retrieve), answerer, s.limits)
            corpus_name = f"{corpus_name} ({chains['now'].retriever.passage_count} passages)"
            lat: dict[str, list[float]] = defaultdict(list)
            cpu: dict[str, list[float]] = defaultdict(list)
            stages: dict[str, dict[str, list[float]]] = {k: defaultdict(list) for k in chains}
            for q in qs[:10]:
                for chain in chains.values():
                    chain.ask(q)
            for _ in range(repeat):
                for q in qs:
                    for name, chain in chains.items():
                        t, c0 = time.perf_counter(), time.process_time()
                        a = chain.ask(q)
                        lat[name].append((time.perf_counter() - t) * 1000)
                        cpu[name].append((time.process_time() - c0) * 1000)
                        for stage, ms in a.timings_ms.items():
                            stages[name][stage].append(ms)
            result[f"warm_answer_ms ({corpus_name})"] = {
                k: {**_stats(v), "cpu": _stats(cpu[k]), "stages_p50": {s: round(statistics.median(x), 2) for s, x in stages[k].items()}}
                for k, v in lat.items()
            }
            print(f"warm answer, {corpus_name}:", result[f"warm_answer_ms ({corpus_name})"], flush=True)
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    result["summary"] = _summary(result, now_variant)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"\nload average {result['load_average_start']} -> {result['load_average_end']} on {result['cpus']} CPUs")
    for row in result["summary"]:
        print("  ".join(f"{v}" for v in row.values()))
    return 0


def _summary(result: dict[str, Any], now: str) -> list[dict[str, str]]:
    """Return the issue's "Done when" rows: measure, today, now, ratio, target, whether it is met (wall; CPU beside)."""
    rows: list[dict[str, str]] = []

    def row(measure: str, today: float, current: float, target: str, met: bool, cpu: tuple[float, float] | None = None) -> None:
        ratio = today / current if current else float("nan")
        extra = f" (CPU {cpu[0]:.2f} vs {cpu[1]:.2f})" if cpu else ""
        rows.append({"measure": measure, "today": f"{today:.2f}", "now": f"{current:.2f}", "ratio": f"{ratio:.2f}x",
                     "target": target, "met": "met" if met else "NOT met", "cpu": extra.strip()})

    emb, cpu = result["question_embed_ms"], result["question_embed_cpu_ms"]
    if emb:
        row("question embedding p50 ms", emb["torch"]["p50"], emb[now]["p50"], "<= 4 ms", emb[now]["p50"] <= 4,
        (cpu["torch"]["p50"], cpu[now]["p50"]))
    for key, value in result.items():
        if key.startswith("warm_answer_ms"):
            t, n = value["today"], value["now"]
            limit = 8.0 if "seed" in key else 15.0
            row(f"warm answer p50 ms, {key[16:-1]}", t["p50"], n["p50"], f"<= {limit:g} ms", n["p50"] <= limit,
                (t["cpu"]["p50"], n["cpu"]["p50"]))
            r = value.get("now, version read per question")
            if r:  # the corpus-version read per question (before) against the store probe (now), same run
                rows.append({"measure": f"retrieve stage p50 ms, {key[16:-1]}: version read per question vs probe",
                             "today": f"{r['stages_p50']['retrieve']:.2f}", "now": f"{n['stages_p50']['retrieve']:.2f}",
                             "ratio": f"{r['stages_p50']['retrieve'] / max(n['stages_p50']['retrieve'], 1e-9):.2f}x",
                             "target": "", "met": "", "cpu": f"(answer CPU p50 {r['cpu']['p50']:.2f} vs {n['cpu']['p50']:.2f})"})
    rates, cpu_rates = result["ingest_paragraphs_per_s"], result["ingest_paragraphs_per_cpu_s"]
    for name in ("onnx", "onnx-1-thread", "onnx-int8") if rates else ():
        # "today" is the torch path's ingest rate; a ratio above 1 is faster.
        today, current = rates["torch"], rates[name]
        rows.append({"measure": f"ingest paragraphs/s, {name}", "today": f"{today:.1f}", "now": f"{current:.1f}",
                     "ratio": f"{current / today:.2f}x", "target": ">= 2x", "met": "met" if current >= 2 * today else "NOT met",
                     "cpu": f"(per CPU second {cpu_rates['torch']:.1f} vs {cpu_rates[name]:.1f})"})
    return rows


if __name__ == "__main__":
    sys.exit(main())
