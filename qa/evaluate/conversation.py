"""Measure conversations: dialogs asked turn by turn with their history, and follow-up rewrites.

Formats (see ../shared/eval/README.md): a dialog file has one question turn a line with
``history`` (earlier turns as ``{"role", "content"}``), ``answers`` (``[]`` = unanswerable) and
``yesno`` (yes/no turns are skipped: the assistant quotes, it does not say yes or no); its
corpus has one document per ``doc_id`` whose ``title`` is ingested as the document's ``#``
heading. A rewrite file (CANARD) has ``history`` and a human ``rewrite`` and no documents.
"""

from __future__ import annotations

import re
import statistics
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import InputError
from qa.types import REFUSAL, Answer, Document

_MARKER = re.compile(r"\s*\[\d+\]")
_PRONOUN = re.compile(
    r"\b(he|she|him|his|her|hers|it|its|they|them|their|theirs|this|that|these|those|there|here)\b", re.IGNORECASE
)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "“”‘’"})
# A long gold span (QuAC answers can end mid-phrase or cross a sentence) counts as held when
# this share of its tokens is in the answer.
LONG_GOLD_TOKENS = 6
LONG_GOLD_RECALL = 0.8


@dataclass(frozen=True)
class DialogTurn:
    """One question of a dialog with everything said before it."""

    qid: str
    doc_id: str
    question: str
    answers: tuple[str, ...]
    history: tuple[dict[str, Any], ...]
    turn: int
    yesno: str | None = None
    rewrite: str | None = None
    topic: str = ""

    @property
    def dialog(self) -> str:
        """Return the id of the dialog the turn belongs to."""
        return self.qid.rsplit("-", 1)[0]


def normalize(text: str) -> str:
    """Return text lower-cased, without [n] markers, punctuation, articles and extra spaces (SQuAD style)."""
    text = _MARKER.sub(" ", text).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def holds_answer(answer: str, golds: Sequence[str]) -> bool:
    """Return True when the answer contains a gold answer (most of its tokens, for a long span)."""
    norm = normalize(answer)
    words = set(norm.split())
    for gold in golds:
        g = normalize(gold)
        if not g:
            continue
        if f" {g} " in f" {norm} ":
            return True
        tokens = g.split()
        if len(tokens) >= LONG_GOLD_TOKENS and sum(t in words for t in tokens) / len(tokens) >= LONG_GOLD_RECALL:
            return True
    return False


def token_f1(hypothesis: str, reference: str) -> float:
    """Return the token F1 of two texts, normalised as SQuAD does."""
    h, r = normalize(hypothesis).split(), normalize(reference).split()
    if not h or not r:
        return float(h == r)
    common = sum((Counter(h) & Counter(r)).values())
    if not common:
        return 0.0
    p, rec = common / len(h), common / len(r)
    return 2 * p * rec / (p + rec)


def has_pronoun(question: str) -> bool:
    """Return True when the question refers back with a pronoun (he, it, they, this, there ...)."""
    return _PRONOUN.search(question) is not None


def _rows(path: Path) -> list[dict[str, Any]]:
    from qa.evaluate.datasets import _read_jsonl

    return _read_jsonl(path)


def is_dialog_file(path: Path) -> bool:
    """Return True when the question file holds turns whose history has roles (the conversation format)."""
    for row in _rows(path)[:50]:
        hist = row.get("history")
        if isinstance(hist, list) and hist and isinstance(hist[0], dict) and "role" in hist[0]:
            return True
    return False


def load_turns(path: Path) -> list[DialogTurn]:
    """Return the dialog turns of a conversation or rewrite file, in file order."""
    out = []
    for i, row in enumerate(_rows(path), 1):
        where = f"{path}:{i}"
        if "qid" not in row or "question" not in row or not isinstance(row.get("history", []), list):
            raise InputError(f"{where}: a dialog turn needs 'qid', 'question' and a 'history' list")
        for j, t in enumerate(row.get("history", [])):
            if not isinstance(t, dict) or t.get("role") not in ("user", "assistant") or not isinstance(t.get("content"), str):
                raise InputError(f"{where}: history[{j}] needs 'role' (user|assistant) and 'content'")
        out.append(
            DialogTurn(
                qid=str(row["qid"]),
                doc_id=str(row.get("doc_id") or ""),
                question=str(row["question"]),
                answers=tuple(str(a) for a in row.get("answers", [])),
                history=tuple(row.get("history", [])),
                turn=int(row.get("turn") or 1),
                yesno=row.get("yesno") or None,
                rewrite=row.get("rewrite"),
                topic=str(row.get("topic") or ""),
            )
        )
    return out


def titled_documents(corpus_rows: Sequence[dict[str, Any]]) -> list[Document]:
    """Return one document per doc_id, its title as a `#` heading over its paragraphs."""
    by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in corpus_rows:
        by_doc[str(r["doc_id"])].append(r)
    docs = []
    for doc_id, paras in by_doc.items():
        title = str(paras[0].get("title") or doc_id).replace("\n", " ")
        body = "\n\n".join(str(p["text"]).replace("\n", " ").strip() for p in paras)
        docs.append(Document(source=doc_id, text=f"# {title}\n\n{body}"))
    return docs


def _rate(values: Sequence[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


@dataclass(frozen=True)
class TurnResult:
    """What one asked turn got."""

    qid: str
    group: str  # first | pronoun | other (follow-up without a pronoun) | unanswerable
    refused: bool
    right: bool
    doc_cited: bool
    top_doc: bool
    standalone: str
    answer: str
    total_ms: float


Ask = Callable[[str, list[dict[str, Any]]], Answer]


def _group(t: DialogTurn) -> str:
    if not t.answers:
        return "unanswerable"
    if not any(h["role"] == "user" for h in t.history):
        return "first"
    return "pronoun" if has_pronoun(t.question) else "other"


def ask_turn(ask: Ask, t: DialogTurn, history: list[dict[str, Any]]) -> TurnResult:
    """Ask one turn and score it against its gold answers and document."""
    a = ask(t.question, history)
    cited = any(c.source == t.doc_id for c in a.citations)
    return TurnResult(
        qid=t.qid,
        group=_group(t),
        refused=a.refused,
        right=bool(t.answers) and not a.refused and cited and holds_answer(a.answer, t.answers),
        doc_cited=cited,
        top_doc=bool(a.passages) and a.passages[0].passage.source == t.doc_id,
        standalone=a.standalone_question,
        answer=a.answer,
        total_ms=a.timings_ms.get("total", 0.0),
    )


def score(results: Sequence[TurnResult]) -> dict[str, Any]:
    """Return the conversation metrics of a set of turn results."""
    answerable = [r for r in results if r.group != "unanswerable"]
    by = {g: [r for r in results if r.group == g] for g in ("first", "pronoun", "other")}
    follow = by["pronoun"] + by["other"]
    return {
        "turns": len(results),
        "answerable": len(answerable),
        "unanswerable": len(results) - len(answerable),
        "answer_right": _rate([r.right for r in answerable]),
        "doc_cited": _rate([r.doc_cited for r in answerable]),
        "first_right": _rate([r.right for r in by["first"]]),
        "followup_right": _rate([r.right for r in follow]),
        "pronoun_right": _rate([r.right for r in by["pronoun"]]),
        "no_pronoun_right": _rate([r.right for r in by["other"]]),
        "unanswerable_refused": _rate([r.refused for r in results if r.group == "unanswerable"]),
        "false_refusals": _rate([r.refused for r in answerable]),
        "latency_ms_p50": round(statistics.median([r.total_ms for r in results]), 2) if results else None,
    }


def run_dialogs(ask: Ask, turns: Sequence[DialogTurn], *, progress: bool = True) -> dict[str, Any]:
    """Ask every non-yes/no turn with its history and without, plus topic switches; return the report."""
    from tqdm import tqdm

    asked = [t for t in turns if not t.yesno]
    with_history, without = [], []
    for t in tqdm(asked, desc="dialogs", unit="turn", disable=not progress):
        with_history.append(ask_turn(ask, t, list(t.history)))
        without.append(ask_turn(ask, t, []))
    switches = topic_switches(ask, turns)
    return {
        "with_history": score(with_history),
        "without_history": score(without),
        "topic_switch": switches,
        "results": with_history,
    }


def _dialogs(turns: Sequence[DialogTurn]) -> list[list[DialogTurn]]:
    grouped: dict[str, list[DialogTurn]] = defaultdict(list)
    for t in turns:
        grouped[t.dialog].append(t)
    return [sorted(g, key=lambda t: t.turn) for g in grouped.values()]


def topic_switches(ask: Ask, turns: Sequence[DialogTurn]) -> dict[str, Any]:
    """Chain each dialog to the next one about another document; score the first turn after the switch."""
    dialogs = [d for d in _dialogs(turns) if d and d[0].answers]
    results = []
    for i, a in enumerate(dialogs):
        b = next((d for d in dialogs[i + 1 :] + dialogs[:i] if d[0].doc_id != a[0].doc_id), None)
        if b is None:
            continue
        last = a[-1]
        said = last.answers[0] if last.answers else REFUSAL
        history = [*last.history, {"role": "user", "content": last.question}, {"role": "assistant", "content": said}]
        results.append(ask_turn(ask, b[0], history))
    return {
        "switches": len(results),
        "reached": _rate([r.top_doc for r in results]),
        "doc_cited": _rate([r.doc_cited for r in results]),
        "right": _rate([r.right for r in results]),
    }


def run_rewrites(rewrite: Callable[[DialogTurn], str], turns: Sequence[DialogTurn]) -> dict[str, Any]:
    """Return the token F1 of the rewriter against human rewrites of follow-ups, with copying as the baseline."""
    rows = [t for t in turns if t.rewrite and any(h["role"] == "user" for h in t.history)]
    if not rows:
        raise InputError("no follow-up turns with a 'rewrite' to measure")
    ours = [token_f1(rewrite(t), t.rewrite or "") for t in rows]
    copy = [token_f1(t.question, t.rewrite or "") for t in rows]
    return {
        "followups": len(rows),
        "rewrite_f1": round(statistics.fmean(ours), 4),
        "copy_f1": round(statistics.fmean(copy), 4),
        "worse_than_copy": sum(o < c for o, c in zip(ours, copy, strict=True)),
        "better_than_copy": sum(o > c for o, c in zip(ours, copy, strict=True)),
    }
