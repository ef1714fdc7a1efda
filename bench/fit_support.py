"""Fit the extractive answerer's scoring (qa/answer/extractive.py) on the dev split and show the refusal trade-off.

Usage: .venv/bin/python bench/fit_support.py [--per-set N] [--features FILE] [--only FEATURE ...]

For questions of the dev split of SQuAD v1.1 and v2.0 it retrieves the top-k passages
with the real chain and labels each retrieved sentence 1 when it lies in the gold
paragraph and contains a gold answer. Stage 1 searches SELECTION_WEIGHTS (coordinate
search from the current ones) to maximise how often the best-scored sentence holds the
answer; stage 2 fits CALIBRATION, a logistic regression of "the best sentence holds the
answer" on (1, its selection score, the best similarity). It prints both, to paste into
extractive.py, and the trade-off between refusals and answer accuracy per threshold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import apply_offline_environment, load_settings  # noqa: E402

apply_offline_environment()

EVAL = ROOT.parent / "shared" / "eval"


def collect(name: str, per_set: int, settings: Any, embedder: Any, client: Any) -> dict[str, list[Any]]:
    """Return sentence features, labels and question keys for a sample of a dataset's dev split."""
    from qa.answer.extractive import best_similarity, sentence_features
    from qa.evaluate.command import eval_collection
    from qa.evaluate.datasets import load_corpus, load_questions
    from qa.evaluate.run import contains_any
    from qa.ingest.pipeline import ingest_documents
    from qa.runtime import build_runtime, open_store

    corpus = load_corpus(EVAL / f"{name}.corpus.jsonl")
    s = settings.model_copy(update={"store": settings.store.model_copy(update={"collection": eval_collection(corpus.digest, embedder)})})
    ingest_documents(corpus.documents, open_store(s, embedder, client, create=True), embedder)
    chain = build_runtime(s, embedder=embedder, client=client).chain
    questions = load_questions(EVAL / f"{name}.questions.jsonl", split="dev", limit=per_set, splits=corpus.splits)
    out: dict[str, list[Any]] = {"X": [], "y": [], "q": [], "best": [], "kind": [], "set": []}
    for i, q in enumerate(questions):
        state = chain.prepare.invoke({"question": q.question, "history": [], "top_k": settings.retrieve.top_k})
        best = best_similarity(state.hits)
        for hit, k, _rank, f in sentence_features(state.standalone, state.hits):
            p = hit.passage
            start, end = p.sentences[k]
            gold = corpus.paragraph_ids.get((p.source, p.text)) in q.gold_paragraph_ids
            out["X"].append(f)
            out["y"].append(1.0 if gold and contains_any(p.text[start:end], q.answers) else 0.0)
            out["q"].append(f"{name}:{i}")
            out["best"].append(best)
            out["kind"].append(q.kind)
            out["set"].append(name)
        if i % 250 == 0:
            print(f"{name}: {i}/{len(questions)}", file=sys.stderr)
    return out


class Groups:
    """Sentences grouped by question, for per-question argmax."""

    def __init__(self, data: dict[str, np.ndarray]) -> None:
        order = np.argsort(data["q"], kind="stable")
        self.d = {k: v[order] for k, v in data.items()}
        q = self.d["q"]
        self.starts = np.r_[0, np.flatnonzero(q[1:] != q[:-1]) + 1]
        self.ends = np.r_[self.starts[1:], len(q)]
        self.answerable = self.d["kind"][self.starts] != "unanswerable"
        self.v2 = self.d["set"][self.starts] == "squad20_dev"

    def best(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the index and score of the best sentence per question."""
        z = self.d["X"] @ w
        idx = np.array([s + int(np.argmax(z[s:e])) for s, e in zip(self.starts, self.ends, strict=True)])
        return idx, z[idx]

    def accuracy(self, w: np.ndarray) -> float:
        idx, _ = self.best(w)
        return float(self.d["y"][idx][self.answerable].mean())


def search(groups: Groups, w0: np.ndarray, steps: int, seed: int = 0, only: np.ndarray | None = None) -> np.ndarray:
    """Return selection weights found by random coordinate search from w0 (moving only the ``only`` coordinates when given)."""
    rng = np.random.default_rng(seed)
    w, best = w0.copy(), groups.accuracy(w0)
    free = np.arange(len(w)) if only is None else only
    for _ in range(steps):
        cand = w.copy()
        cand[rng.choice(free)] += rng.normal(0, 0.7)
        acc = groups.accuracy(cand)
        if acc > best:
            w, best = cand, acc
    return w


def logistic(F: np.ndarray, y: np.ndarray, l2: float = 1e-4) -> np.ndarray:
    """Return logistic-regression weights for features F (first column the bias)."""
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1 / (1 + np.exp(-(F @ w)))
        eps = 1e-12
        value = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + l2 * np.sum(w[1:] ** 2)
        grad = F.T @ (p - y) / len(y)
        grad[1:] += 2 * l2 * w[1:]
        return float(value), grad

    return np.asarray(minimize(loss, np.zeros(F.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 2000}).x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-set", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--features", type=Path, default=ROOT / ".qa-data" / "support-features.npz")
    parser.add_argument("--only", nargs="+", metavar="FEATURE", help="search only these features' weights (the others stay)")
    args = parser.parse_args()
    from qa.answer.extractive import SELECTION_WEIGHTS, SENTENCE_FEATURES

    if args.features.exists() and args.features.stat().st_mtime > (ROOT / "qa" / "answer" / "extractive.py").stat().st_mtime:
        data = dict(np.load(args.features))
    else:
        from qa.runtime import open_client, open_embedder

        settings = load_settings(ROOT / "config.yaml", environ={})
        embedder, client = open_embedder(settings), open_client(settings)
        parts = [collect(n, args.per_set, settings, embedder, client) for n in ("squad11_dev", "squad20_dev")]
        data = {k: np.array([v for p in parts for v in p[k]]) for k in parts[0]}
        args.features.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.features, **data)
    groups = Groups(data)
    w0 = np.array(SELECTION_WEIGHTS)
    unknown = set(args.only or ()) - set(SENTENCE_FEATURES)
    if unknown:
        parser.error(f"--only: unknown features {sorted(unknown)}; known: {', '.join(SENTENCE_FEATURES)}")
    only = np.array([SENTENCE_FEATURES.index(f) for f in args.only]) if args.only else None
    w = search(groups, w0, args.steps, only=only)
    idx, score = groups.best(w)
    F = np.column_stack([np.ones(len(idx)), score, groups.d["best"][idx]])
    label = groups.d["y"][idx]
    c = logistic(F, label)
    print(f"questions: {len(idx)} ({int(groups.answerable.sum())} answerable), sentences: {len(groups.d['y'])}")
    print(f"selection accuracy: current {groups.accuracy(w0):.4f} -> searched {groups.accuracy(w):.4f}")
    print("SELECTION_WEIGHTS = (" + ", ".join(f"{v:.3f}" for v in w) + ")  # " + ", ".join(SENTENCE_FEATURES))
    print("CALIBRATION = (" + ", ".join(f"{v:.3f}" for v in c) + ")  # bias, selection score, best similarity")
    support = 1 / (1 + np.exp(-(F @ c)))
    for name, mask in (("SQuAD v1.1+v2.0", np.ones(len(idx), dtype=bool)), ("SQuAD v2.0", groups.v2)):
        a, u = groups.answerable & mask, ~groups.answerable & mask
        base = label[a].mean()
        print(f"\n{name}: best sentence holds the answer for {base:.3f} of answerable questions without refusal")
        for t in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            acc = np.mean(np.where(support[a] >= t, label[a], 0))
            refused = np.mean(support[u] < t) if u.any() else float("nan")
            print(f"  refuse_below {t:.2f}: accuracy {acc:.3f} (drop {base - acc:.3f}), false refusals {np.mean(support[a] < t):.3f}, "
                  f"refusals on unanswerable {refused:.3f}")


if __name__ == "__main__":
    main()
