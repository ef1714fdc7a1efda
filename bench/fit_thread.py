"""Fit how the extractive answerer picks a sentence inside a conversation's thread (DIALOG_WEIGHTS in extractive.py).

Usage: .venv/bin/python bench/fit_thread.py [--folds 10] [--l2 0.01] [--search-steps 300] [--in-thread-selection]

It asks every follow-up of a dialog file (default ../shared/eval/conv_dev) through the real
chain's retrieval with its history, as ``qa eval`` does, and keeps what the answerer sees: the
searched question, the hits and the dialog ``Flow``. Every sentence of the hits gets its ordinary
selection score (SENTENCE_FEATURES · SELECTION_WEIGHTS) and the DIALOG_FEATURES (where it lies
from the last answer's sentence, whether it was shown), labelled 1 when it lies in the dialog's
document and holds a gold answer. A conditional logit (softmax over the sentences of one
question) of the label on (selection score, DIALOG_FEATURES) is fitted on the answerable
follow-ups; the dialog weights divided by the selection score's weight are the bonuses, in
selection-score units, that ``flow_bonus`` adds. Because the answer may quote a second sentence
and may be refused, the best sentence is not the whole story: a random coordinate search (as in
fit_support.py) also fits the weights to the answerer's end result, replayed (answerable right +
unanswerable refused); ``--in-thread-selection`` lets it change SELECTION_WEIGHTS inside the
thread too. Everything is cross-validated by dialog: the dialogs are split into folds, each fold
answered with weights fitted on the others, and the held-out numbers are printed beside the
current DIALOG_WEIGHTS: how often the best sentence holds the answer, and the answerer's end
result on the fold (answer right, unanswerable refused).

Measured on conv_dev (README, Conversations): neither beats the current weights held out, so
they stay as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import apply_offline_environment, load_settings  # noqa: E402

apply_offline_environment()

EVAL = ROOT.parent / "shared" / "eval"


@dataclass(frozen=True)
class Asked:
    """One follow-up as the answerer sees it, with its gold answers."""

    dialog: str
    doc_id: str
    answers: tuple[str, ...]
    question: str  # what was searched for
    hits: tuple[Any, ...]
    flow: Any


def collect(questions: Path) -> list[Asked]:
    """Return every follow-up of the dialog file as the answerer sees it (retrieval with history, as qa eval asks)."""
    from qa.evaluate.command import _eval_store
    from qa.evaluate.conversation import load_turns, titled_documents
    from qa.evaluate.datasets import _read_jsonl
    from qa.runtime import build_runtime, open_client, open_embedder

    settings = load_settings(ROOT / "config.yaml", environ={})
    corpus = questions.with_name(questions.name.replace(".questions.jsonl", ".corpus.jsonl"))
    digest = hashlib.sha256(corpus.read_bytes() + b"titled").hexdigest()[:12]
    embedder, client = open_embedder(settings), open_client(settings)
    settings = _eval_store(settings, titled_documents(_read_jsonl(corpus)), digest, embedder, client, False)
    chain = build_runtime(settings, embedder=embedder, client=client).chain
    out = []
    for t in load_turns(questions):
        if t.yesno or not any(h["role"] == "user" for h in t.history):
            continue
        step = chain.prepare.invoke({"question": t.question, "history": list(t.history), "top_k": None})
        if step.small_talk or not step.hits:
            continue
        out.append(Asked(t.dialog, t.doc_id, t.answers, step.standalone, step.hits, step.flow))
    return out


@dataclass
class Rows:
    """Candidate sentences of the in-thread follow-ups: question index, selection score, dialog features, label."""

    q: np.ndarray
    score: np.ndarray
    D: np.ndarray
    y: np.ndarray


def candidate_rows(asked: Sequence[Asked]) -> Rows:
    """Return the candidates of every follow-up that has a thread (the ones DIALOG_WEIGHTS apply to)."""
    from qa.answer.extractive import SELECTION_WEIGHTS, TITLE_BONUS, asked_anew, asked_predicates, dialog_features, sentence_features
    from qa.evaluate.conversation import holds_answer
    from qa.language import names, question_type

    q, score, D, y = [], [], [], []
    for i, a in enumerate(asked):
        if a.flow.last is None:
            continue
        title_asked = question_type(a.question) == "title" and bool(names(a.question))
        predicates = asked_predicates(a.flow, a.question)
        for hit, k, _rank, f in sentence_features(a.question, a.hits):
            p = hit.passage
            s, e = p.sentences[k]
            q.append(i)
            score.append(float(np.dot(f, SELECTION_WEIGHTS)) + (TITLE_BONUS if title_asked and f[3] else 0.0))
            D.append(dialog_features(a.flow, p.passage_id, k, asked_for=asked_anew(a.flow, predicates, p.passage_id, k, f)))
            y.append(1.0 if a.answers and p.source == a.doc_id and holds_answer(p.text[s:e], a.answers) else 0.0)
    return Rows(np.array(q), np.array(score), np.array(D, dtype=float), np.array(y))


def fit(rows: Rows, keep: np.ndarray, l2: float) -> np.ndarray:
    """Return dialog bonuses (selection-score units) from a conditional logit over the kept questions' candidates."""
    from scipy.optimize import minimize

    m = np.isin(rows.q, keep)
    q, X, y = rows.q[m], np.column_stack([rows.score[m], rows.D[m]]), rows.y[m]
    # Only questions with an answer sentence among the candidates say which sentence is right.
    has = np.isin(q, np.unique(q[y > 0]))
    q, X, y = q[has], X[has], y[has]
    _, group = np.unique(q, return_inverse=True)
    n = group.max() + 1

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = X @ w
        zmax = np.full(n, -np.inf)
        np.maximum.at(zmax, group, z)
        ez = np.exp(z - zmax[group])
        total = np.bincount(group, ez, n)
        p = ez / total[group]
        # Several sentences may hold the answer: the likelihood is that of picking any of them.
        pos = np.bincount(group, p * y, n)
        value = -np.mean(np.log(pos + 1e-12)) + l2 * np.sum(w[1:] ** 2)
        # d(-log pos_g)/dz_j = p_j - y_j p_j / pos_g
        r = p - y * p / pos[group]
        grad = X.T @ r / n
        grad[1:] += 2 * l2 * w[1:]
        return float(value), grad

    w0 = np.r_[1.0, np.zeros(X.shape[1] - 1)]
    w = np.asarray(minimize(loss, w0, jac=True, method="L-BFGS-B").x)
    return w[1:] / w[0]


def top1(rows: Rows, bonus: np.ndarray, questions: np.ndarray) -> tuple[int, int]:
    """Return (questions whose best candidate holds the answer, answerable questions) under these bonuses."""
    z = rows.score + rows.D @ bonus
    right = total = 0
    for i in questions:
        m = rows.q == i
        if not m.any():
            continue
        total += 1
        right += int(rows.y[m][int(np.argmax(z[m]))] > 0)
    return right, total


def replay(asked: Sequence[Asked], weights: Sequence[float] | np.ndarray) -> list[tuple[bool, bool, bool]]:
    """Return (answerable, refused, right) per follow-up, answered by the real answerer with these dialog weights."""
    import qa.answer.extractive as extractive
    from qa.answer.providers import ExtractiveAnswerer
    from qa.evaluate.conversation import holds_answer

    answerer = ExtractiveAnswerer(load_settings(ROOT / "config.yaml", environ={}).answer)
    saved = extractive.DIALOG_WEIGHTS
    extractive.DIALOG_WEIGHTS = tuple(float(w) for w in weights)
    try:
        out = []
        for a in asked:
            d = answerer.answer_in_dialog(a.question, a.hits, a.flow)
            cited = any(c.source == a.doc_id for c in d.citations)
            right = bool(a.answers) and not d.refused and cited and holds_answer(d.text, a.answers)
            out.append((bool(a.answers), d.refused, right))
        return out
    finally:
        extractive.DIALOG_WEIGHTS = saved


def summary(results: Sequence[tuple[bool, bool, bool]]) -> str:
    """Return 'answer right x/n, unanswerable refused x/n' for replayed follow-ups."""
    ans = [r for r in results if r[0]]
    un = [r for r in results if not r[0]]
    return (f"answer right {sum(r[2] for r in ans)}/{len(ans)} ({sum(r[2] for r in ans) / max(1, len(ans)):.3f}), "
            f"unanswerable refused {sum(r[1] for r in un)}/{len(un)} ({sum(r[1] for r in un) / max(1, len(un)):.3f})")


@dataclass(frozen=True)
class Fast:
    """One follow-up's candidates as arrays, to replay the answerer's choice quickly under other dialog weights."""

    base: np.ndarray  # selection score without the dialog
    F: np.ndarray  # SENTENCE_FEATURES
    D: np.ndarray  # DIALOG_FEATURES
    nxt: np.ndarray  # NEXT_BONUS where "what happened next?" replaces the forward bonus, else nan
    y: np.ndarray  # holds a gold answer, in the dialog's document
    worded: np.ndarray  # holds a word of the question as asked
    order: np.ndarray  # (rank, index): ties broken as rank_sentences does
    best: float
    in_thread: bool  # the best-retrieved passage is the one the last answer quoted
    home: np.ndarray  # the candidate is of the best-retrieved passage's document (the thread's lower bar is for those)
    threaded: bool  # the dialog has a last answer to follow (where DIALOG_WEIGHTS apply)
    continues: bool
    answerable: bool
    ended: bool = False  # "tell me more" after the document's last sentence: refused (``document_ended``)


def fast_rows(asked: Sequence[Asked]) -> list[Fast]:
    """Return every follow-up's candidates as arrays (the same features the answerer computes)."""
    from qa.answer.extractive import (
        NEXT_BONUS,
        SELECTION_WEIGHTS,
        TITLE_BONUS,
        asked_anew,
        asked_predicates,
        best_similarity,
        dialog_features,
        sentence_features,
    )
    from qa.answer.providers import document_ended, holds_asked_word
    from qa.evaluate.conversation import holds_answer
    from qa.language import heading_section, names, question_type

    out = []
    for a in asked:
        title_asked = question_type(a.question) == "title" and bool(names(a.question))
        predicates = asked_predicates(a.flow, a.question)
        base, F, D, nxt, y, worded, order, home = [], [], [], [], [], [], [], []
        for hit, k, rank, f in sentence_features(a.question, a.hits):
            p = hit.passage
            s, e = p.sentences[k]
            base.append(float(np.dot(f, SELECTION_WEIGHTS)) + (TITLE_BONUS if title_asked and f[3] else 0.0))
            F.append(f)
            D.append(dialog_features(a.flow, p.passage_id, k, asked_for=asked_anew(a.flow, predicates, p.passage_id, k, f)))
            step = k - a.flow.last[1] if a.flow.last is not None and p.passage_id == a.flow.last[0] else 0
            nxt.append(NEXT_BONUS[step - 1] if a.flow.continues and 1 <= step <= len(NEXT_BONUS) else np.nan)
            y.append(bool(a.answers) and p.source == a.doc_id and holds_answer(p.text[s:e], a.answers))
            worded.append(holds_asked_word(f"{p.text[s:e]} {heading_section(p.heading)}", a.flow.asked or a.question))
            order.append(rank * 1000 + k)
            home.append(p.source == a.hits[0].passage.source)
        in_thread = a.flow.last is not None and a.hits[0].passage.passage_id == a.flow.last[0]
        out.append(Fast(
            np.array(base), np.array(F), np.array(D, dtype=float), np.array(nxt), np.array(y), np.array(worded), np.array(order),
            best_similarity(a.hits), in_thread, np.array(home), a.flow.last is not None, a.flow.continues, bool(a.answers),
            document_ended(a.flow, a.hits),
        ))
    return out


def fast_replay(rows: Sequence[Fast], weights: np.ndarray, settings: Any, selection: np.ndarray | None = None) -> tuple[int, int]:
    """Return (answerable right, unanswerable refused) replaying the answerer's choice and refusal rules.

    An answer counts as right when one of its sentences holds the gold answer (the real check reads
    the answer's text as a whole; ``main`` prints both for the current weights).
    """
    from qa.answer.extractive import CALIBRATION, MAX_LEAD, SELECTION_WEIGHTS
    from qa.answer.providers import THREAD_LEAD_CREDIT, THREAD_REFUSE_SHARE, UNWORDED_REFUSE_SHARE

    right = refused_un = 0
    for r in rows:
        bonus = r.D @ weights
        bonus = np.where(np.isnan(r.nxt), bonus, r.D[:, 1] * weights[1] + np.nan_to_num(r.nxt))
        # In-thread selection weights, when given, replace SELECTION_WEIGHTS for follow-ups with a thread.
        base = r.base if selection is None or not r.threaded else r.base + r.F @ (selection - np.array(SELECTION_WEIGHTS))
        score = base + bonus
        z = CALIBRATION[0] + CALIBRATION[1] * score + CALIBRATION[2] * r.best
        support = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
        o = np.lexsort((r.order, -score))
        low = settings.refuse_below * (THREAD_REFUSE_SHARE if r.in_thread else 1.0)
        bar = np.where(r.home, low, settings.refuse_below)
        lead = score[o[0]] - score[o[1]] if len(o) > 1 else MAX_LEAD
        credit = THREAD_LEAD_CREDIT if r.in_thread and r.home[o[0]] else 0.0
        decisive = support[o[0]] + credit * min(lead, MAX_LEAD)
        refused = decisive < bar[o[0]]
        chosen = [o[0]]
        if len(o) > 1 and settings.max_sentences > 1:
            c = o[1]
            if support[c] >= support[o[0]] - settings.second_sentence_margin and support[c] >= bar[c]:
                chosen.append(c)
        if not refused and not r.continues and not r.worded[o[0]] and support[o[0]] < settings.refuse_below * UNWORDED_REFUSE_SHARE:
            refused = True
        refused = refused or r.ended
        if r.answerable:
            right += int(not refused and bool(r.y[chosen].any()))
        else:
            refused_un += int(refused)
    return right, refused_un


def search(
    rows: Sequence[Fast], w0: np.ndarray, settings: Any, steps: int, *, selection: np.ndarray | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (dialog weights, in-thread selection weights or None) found by random coordinate search from the given ones.

    The objective is the replayed answerable follow-ups right plus the unanswerable ones refused.
    """
    rng = np.random.default_rng(seed)
    w = np.r_[w0, selection] if selection is not None else w0.copy()
    n = len(w0)

    def value(v: np.ndarray) -> int:
        return sum(fast_replay(rows, v[:n], settings, v[n:] if selection is not None else None))

    best = value(w)
    for _ in range(steps):
        cand = w.copy()
        cand[rng.integers(len(w))] += rng.normal(0, 0.5)
        v = value(cand)
        # Ties keep the current weights: a change must win something.
        if v > best:
            w, best = cand, v
    return w[:n], (w[n:] if selection is not None else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=EVAL / "conv_dev.questions.jsonl")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--search-steps", type=int, default=300)
    parser.add_argument("--steps", type=Path, default=ROOT / ".qa-data" / "thread-steps.pkl")
    parser.add_argument("--in-thread-selection", action="store_true", help="also search SELECTION_WEIGHTS for follow-ups in a thread")
    args = parser.parse_args()
    from qa.answer.extractive import DIALOG_FEATURES, DIALOG_WEIGHTS, SELECTION_WEIGHTS

    settings = load_settings(ROOT / "config.yaml", environ={}).answer
    if args.steps.exists():
        asked = pickle.loads(args.steps.read_bytes())
    else:
        asked = collect(args.questions)
        args.steps.parent.mkdir(parents=True, exist_ok=True)
        args.steps.write_bytes(pickle.dumps(asked))
    rows = candidate_rows(asked)
    fast = fast_rows(asked)
    dialogs = sorted({a.dialog for a in asked})
    rng = np.random.default_rng(0)
    fold_of = dict(zip(rng.permutation(dialogs), np.arange(len(dialogs)) % args.folds, strict=True))
    current = np.array(DIALOG_WEIGHTS)
    in_thread = np.unique(rows.q)
    answerable = np.array([i for i in in_thread if asked[i].answers])
    print(f"follow-ups: {len(asked)} ({sum(bool(a.answers) for a in asked)} answerable), with a thread: {len(in_thread)} "
          f"({len(answerable)} answerable), candidates: {len(rows.y)}; {args.folds} folds by dialog over {len(dialogs)} dialogs")
    print(f"current DIALOG_WEIGHTS, fast replay (right, unanswerable refused): {fast_replay(fast, current, settings)}; "
          f"real replay: {summary(replay(asked, current))}")
    selection = np.array(SELECTION_WEIGHTS) if args.in_thread_selection else None
    held = {"current": [0, 0], "logit": [0, 0], "search": [0, 0]}
    real: dict[str, list[tuple[bool, bool, bool]]] = {k: [] for k in held}
    searched_held = np.zeros(2, dtype=int)
    for f in range(args.folds):
        test = np.array([i for i in answerable if fold_of[asked[i].dialog] == f])
        train = np.array([i for i in answerable if fold_of[asked[i].dialog] != f])
        fold_asked = [a for a in asked if fold_of[a.dialog] == f]
        train_fast = [r for r, a in zip(fast, asked, strict=True) if fold_of[a.dialog] != f]
        searched, searched_selection = search(train_fast, current, settings, args.search_steps, selection=selection, seed=f)
        test_fast = [r for r, a in zip(fast, asked, strict=True) if fold_of[a.dialog] == f]
        searched_held += fast_replay(test_fast, searched, settings, searched_selection)
        weights = {"current": current, "logit": fit(rows, train, args.l2), "search": searched}
        for name, w in weights.items():
            r, n = top1(rows, w, test)
            held[name][0] += r
            held[name][1] += n
            real[name] += replay(fold_asked, w)
        found = np.r_[searched, searched_selection] if searched_selection is not None else searched
        print(f"fold {f}: search {np.round(found, 2).tolist()}", file=sys.stderr)
    for name in held:
        r, n = held[name]
        print(f"held out, {name:8s}: best sentence holds the answer {r}/{n} ({r / n:.3f}); replayed follow-ups: {summary(real[name])}")
    if selection is not None:
        print(f"held out, search with in-thread selection weights (fast replay: right, unanswerable refused): {searched_held.tolist()}")
    full_logit = fit(rows, answerable, args.l2)
    full, _ = search(fast, current, settings, args.search_steps)
    print(f"fitted on all dialogs (training fit): logit {summary(replay(asked, full_logit))}; search {summary(replay(asked, full))}")
    print("logit:  DIALOG_WEIGHTS = (" + ", ".join(f"{v:.2f}" for v in full_logit) + ")")
    print("search: DIALOG_WEIGHTS = (" + ", ".join(f"{v:.2f}" for v in full) + ")  # " + ", ".join(DIALOG_FEATURES))


if __name__ == "__main__":
    main()
