"""Read evaluation question sets: SQuAD-style (with a corpus) and the seed format (over seeds/)."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import InputError
from qa.types import Document


@dataclass(frozen=True)
class Question:
    """One evaluation question, normalised across formats."""

    qid: str
    kind: str  # answerable | unanswerable | followup
    question: str
    answers: tuple[str, ...]
    gold_paragraph_ids: tuple[str, ...] = ()
    gold_passage_contains: tuple[str, ...] = ()
    history: tuple[str, ...] = ()  # earlier user questions, asked in turn before this one
    doc_id: str = ""


@dataclass
class Corpus:
    """Paragraphs of an evaluation corpus, grouped into documents."""

    documents: list[Document]
    paragraph_ids: dict[tuple[str, str], str]  # (source, text) -> paragraph_id
    digest: str
    splits: dict[str, str] = field(default_factory=dict)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{n}: each line must be a JSON object")
        out.append(row)
    return out


def _question(row: dict[str, Any], where: str) -> Question:
    if "qid" not in row or "question" not in row:
        raise InputError(f"{where}: a question needs 'qid' and 'question'")
    if "answers_any" in row:  # seed format
        return Question(
            qid=str(row["qid"]),
            kind=str(row.get("kind") or ("answerable" if row["answers_any"] else "unanswerable")),
            question=str(row["question"]),
            answers=tuple(row["answers_any"]),
            gold_passage_contains=tuple(row.get("gold_passage_contains_any", [])),
            history=tuple(str(h["question"]) for h in row.get("history", [])),
        )
    if "answers" not in row:
        raise InputError(f"{where}: a question needs 'answers' (SQuAD format) or 'answers_any' (seed format)")
    answers = tuple(row["answers"])
    return Question(
        qid=str(row["qid"]),
        kind="answerable" if answers else "unanswerable",
        question=str(row["question"]),
        answers=answers,
        gold_paragraph_ids=tuple(row.get("gold_paragraph_ids", [])),
        doc_id=str(row.get("doc_id", "")),
    )


def default_corpus(questions_path: Path) -> Path | None:
    """Return `<name>.corpus.jsonl` beside `<name>.questions.jsonl` when it exists."""
    if not questions_path.name.endswith(".questions.jsonl"):
        return None
    corpus = questions_path.with_name(questions_path.name.replace(".questions.jsonl", ".corpus.jsonl"))
    return corpus if corpus.exists() else None


def load_questions(path: Path, *, split: str, limit: int | None, splits: dict[str, str]) -> list[Question]:
    """Return the questions of a file, filtered by article split and sampled (seed 0) down to ``limit``."""
    questions = [_question(r, f"{path}:{i + 1}") for i, r in enumerate(_read_jsonl(path))]
    if split != "all" and splits:
        questions = [q for q in questions if splits.get(q.doc_id) == split]
    if limit is not None and limit < len(questions):
        questions = random.Random(0).sample(questions, limit)
    return questions


def load_corpus(path: Path) -> Corpus:
    """Return the corpus as one document per doc_id, paragraphs separated by blank lines."""
    rows = _read_jsonl(path)
    by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, r in enumerate(rows):
        if not {"doc_id", "paragraph_id", "text"} <= r.keys():
            raise InputError(f"{path}:{i + 1}: a corpus line needs 'doc_id', 'paragraph_id' and 'text'")
        by_doc[str(r["doc_id"])].append(r)
    documents, ids = [], {}
    for doc_id, paras in by_doc.items():
        # A newline inside a paragraph would not split it, but a blank line would: keep paragraphs whole.
        texts = [str(p["text"]).replace("\n", " ").strip() for p in paras]
        documents.append(Document(source=doc_id, text="\n\n".join(texts)))
        for p, t in zip(paras, texts, strict=True):
            ids[(doc_id, t)] = str(p["paragraph_id"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    split_path = path.with_name(path.name.replace(".corpus.jsonl", ".split.jsonl"))
    splits: dict[str, str] = {}
    if split_path != path and split_path.exists():
        splits = {str(r["doc_id"]): str(r["split"]) for r in _read_jsonl(split_path)}
    return Corpus(documents, ids, digest, splits)
