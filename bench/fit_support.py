"""Fit the extractive support model (qa/answer/extractive.py WEIGHTS) on the dev split, and show the refusal trade-off.

Usage: .venv/bin/python bench/fit_support.py [--per-set N]
For questions of the dev split of SQuAD v1.1 and v2.0, it retrieves top-k passages with
the real chain, labels each retrieved sentence 1 when it lies in the gold paragraph and
contains a gold answer, and fits a logistic regression on the sentence features. It
prints the weights to paste into WEIGHTS, then, per threshold, the refusal rate on
unanswerable questions and the answer accuracy on answerable ones (with the new weights).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import apply_offline_environment, load_settings  # noqa: E402

apply_offline_environment()

EVAL = ROOT.parent / "shared" / "eval"


def collect(name: str, per_set: int, settings, embedder, client):  # type: ignore[no-untyped-def]
    from qa.answer.extractive import FEATURES, sentence_features
    from qa.evaluate.datasets import load_corpus, load_questions
    from qa.evaluate.run import contains_any
    from qa.ingest.pipeline import ingest_documents
    from qa.runtime import build_runtime, open_store

    corpus = load_corpus(EVAL / f"{name}.corpus.jsonl")
    s = settings.model_copy(update={"store": settings.store.model_copy(update={"collection": f"eval-{corpus.digest}"})})
    ingest_documents(corpus.documents, open_store(s, embedder, client, create=True), embedder)
    chain = build_runtime(s, embedder=embedder, client=client).chain
    questions = load_questions(EVAL / f"{name}.questions.jsonl", split="dev", limit=per_set, splits=corpus.splits)
    X, y, qid = [], [], []
    for i, q in enumerate(questions):
        state = chain.prepare.invoke({"question": q.question, "history": [], "top_k": settings.retrieve.top_k})
        for hit, k, _rank, f in sentence_features(state["standalone"], state["hits"]):
            p = hit.passage
            s0, e0 = p.sentences[k]
            gold = corpus.paragraph_ids.get((p.source, p.text)) in q.gold_paragraph_ids
            X.append(f)
            y.append(1.0 if gold and contains_any(p.text[s0:e0], q.answers) else 0.0)
            qid.append((name, i, q.kind))
        if i % 200 == 0:
            print(f"{name}: {i}/{len(questions)}", file=sys.stderr)
    assert len(FEATURES) == len(X[0])
    return np.array(X), np.array(y), qid


def fit(X: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = X @ w
        p = 1 / (1 + np.exp(-z))
        eps = 1e-12
        ll = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + l2 * np.sum(w[1:] ** 2)
        grad = X.T @ (p - y) / len(y)
        grad[1:] += 2 * l2 * w[1:]
        return float(ll), grad

    return np.asarray(minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x)


def tradeoff(X: np.ndarray, y: np.ndarray, qid: list, w: np.ndarray) -> None:  # type: ignore[type-arg]
    p = 1 / (1 + np.exp(-(X @ w)))
    best: dict = {}  # type: ignore[type-arg]
    for i, key in enumerate(qid):
        if key not in best or p[i] > best[key][0]:
            best[key] = (p[i], y[i])
    answerable = [v for k, v in best.items() if k[2] != "unanswerable"]
    unanswerable = [v for k, v in best.items() if k[2] == "unanswerable"]
    base = np.mean([lab for _, lab in answerable])
    print(f"answer accuracy with no refusal (best sentence holds the answer): {base:.3f} over {len(answerable)}")
    for t in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6):
        acc = np.mean([lab if s >= t else 0.0 for s, lab in answerable])
        ref = np.mean([s < t for s, _ in unanswerable]) if unanswerable else float("nan")
        print(f"  threshold {t:.2f}: answerable accuracy {acc:.3f} (drop {base - acc:+.3f}), refusal on unanswerable {ref:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-set", type=int, default=1500)
    args = parser.parse_args()
    from qa.answer.extractive import FEATURES, WEIGHTS
    from qa.runtime import open_client, open_embedder

    settings = load_settings(ROOT / "config.yaml", environ={})
    embedder, client = open_embedder(settings), open_client(settings)
    parts = [collect(n, args.per_set, settings, embedder, client) for n in ("squad11_dev", "squad20_dev")]
    X = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    qid = [k for p in parts for k in p[2]]
    np.savez(ROOT / ".qa-data" / "support-features.npz", X=X, y=y)
    w = fit(X, y)
    print("WEIGHTS = (" + ", ".join(f"{v:.3f}" for v in w) + ")  # " + ", ".join(FEATURES))
    print("\ncurrent weights:")
    tradeoff(X, y, qid, np.array(WEIGHTS))
    print("\nfitted weights:")
    tradeoff(X, y, qid, w)
    squad20 = [i for i, k in enumerate(qid) if k[0] == "squad20_dev"]
    print("\nfitted weights, SQuAD v2.0 only:")
    tradeoff(X[squad20], y[squad20], [qid[i] for i in squad20], w)


if __name__ == "__main__":
    main()
