"""Print what separates out-of-document questions from in-document ones at the corpus level, and what the rule costs.

Usage: .venv/bin/python bench/unknown_names.py [--ood 600] [--single 2000]

Two settings of the SQuAD v1.1 dev split, as `qa eval` builds them: the `--out-of-document` one
(every other article indexed; questions of both halves) and single questions over every article.
Each question is answered with the unknown-name rule off; then, per group (outside questions
answered, inside questions answered right, single questions answered right), it prints how often
each corpus-level feature fires, and what the rule (``unknown_name`` and support under
``UNKNOWN_NAME_SHARE`` × ``answer.refuse_below``) would refuse. Nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer.providers import UNKNOWN_NAME_SHARE, ExtractiveAnswerer  # noqa: E402
from qa.answer.unknown_names import unknown_name  # noqa: E402
from qa.config import Settings, apply_offline_environment, load_settings  # noqa: E402
from qa.evaluate.command import EvalOptions, _eval_store, out_of_document_set  # noqa: E402
from qa.evaluate.datasets import Question, default_corpus, load_corpus, load_questions  # noqa: E402
from qa.evaluate.run import contains_any  # noqa: E402
from qa.language import names, tokenize  # noqa: E402
from qa.runtime import build_runtime, open_client, open_embedder  # noqa: E402
from qa.types import Document  # noqa: E402

QUESTIONS = ROOT.parent / "shared" / "eval" / "squad11_dev.questions.jsonl"


@dataclass(frozen=True)
class Row:
    """One question answered with the rule off, and its corpus-level features."""

    group: str  # outside | inside | single
    answered: bool
    right: bool
    support: float
    term_unknown: bool  # a question term is in no passage
    name_unwritten: bool  # a name of the question is written nowhere as such
    rarest_together: bool  # the two rarest known terms share a passage
    same_document: int  # how many of the top five hits come from the top hit's document
    name_not_cited: bool  # a name of the question has none of its words in the cited passages
    rule: bool  # unknown_name and weak support: what the rule refuses


def _written(name: str, text: str) -> bool:
    words = name.lower().split()
    return re.search(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", text) is not None


def measure(
    settings: Settings, documents: list[Document], digest: str, questions: list[Question], group: Callable[[Question], str]
) -> list[Row]:
    """Answer every question with the rule off over its own eval store; return the rows."""
    embedder = open_embedder(settings)
    client = open_client(settings)
    settings = _eval_store(settings, documents, digest, embedder, client, False)
    runtime = build_runtime(settings, embedder=embedder, client=client, answerer=ExtractiveAnswerer(settings.answer))
    retriever, kw = runtime.retriever, runtime.retriever._index.keyword
    text = "\n".join(d.source + "\n" + d.text for d in documents).lower()
    bar = settings.answer.refuse_below * UNKNOWN_NAME_SHARE
    rows = []
    for q in questions:
        answer = runtime.chain.ask(q.question)
        support = max((c.support for c in answer.citations), default=0.0)
        toks = list(dict.fromkeys(tokenize([q.question])[0]))
        df = retriever.document_frequencies(toks)
        known = sorted((t for t in toks if df[t] > 0), key=lambda t: df[t])
        asked = [n for _, n in names(q.question)]
        cited = set(tokenize([" ".join(c.text for c in answer.citations)])[0])
        sources = [h.passage.source for h in answer.passages[:5]]
        rows.append(
            Row(
                group=group(q),
                answered=not answer.refused,
                right=not answer.refused and contains_any(answer.answer, q.answers),
                support=support,
                term_unknown=any(df[t] == 0 for t in toks),
                name_unwritten=any(not _written(n, text) for n in asked),
                rarest_together=len(known) >= 2 and kw.passages_with_all(known[:2]) > 0,
                same_document=Counter(sources)[sources[0]] if sources else 0,
                name_not_cited=any((t := set(tokenize([n])[0])) and not t & cited for n in asked),
                rule=not answer.refused and support < bar and unknown_name(q.question, retriever) is not None,
            )
        )
    return rows


def report(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Return, per group of answered questions, how many there are and how often each feature fires."""
    groups = {
        "outside, answered": [r for r in rows if r.group == "outside" and r.answered],
        "inside, answered right": [r for r in rows if r.group == "inside" and r.right],
        "inside, answered wrong": [r for r in rows if r.group == "inside" and r.answered and not r.right],
        "single, answered right": [r for r in rows if r.group == "single" and r.right],
    }
    out = {}
    for name, rs in groups.items():
        if not rs:
            continue
        out[name] = {
            "questions": len(rs),
            "a term in no passage": sum(r.term_unknown for r in rs),
            "a name written nowhere as such": sum(r.name_unwritten for r in rs),
            "the two rarest terms in one passage": sum(r.rarest_together for r in rs),
            "top-5 hits from the top hit's document (median)": statistics.median(r.same_document for r in rs),
            "a name with no word in the cited passages": sum(r.name_not_cited for r in rs),
            "support (median)": round(statistics.median(r.support for r in rs), 3),
            "refused by the unknown-name rule": sum(r.rule for r in rs),
        }
    return out


def main() -> None:
    """Measure both settings and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ood", type=int, default=600, help="out-of-document questions (half of each side)")
    parser.add_argument("--single", type=int, default=2000, help="single questions over every article")
    args = parser.parse_args()
    apply_offline_environment()
    settings = load_settings(ROOT / "config.yaml")
    ood = out_of_document_set(EvalOptions(questions=QUESTIONS, limit=args.ood, progress=False))
    rows = measure(settings, ood.documents, ood.digest, ood.questions, lambda q: "inside" if q.doc_id in ood.indexed else "outside")
    corpus = load_corpus(default_corpus(QUESTIONS) or QUESTIONS)
    single = load_questions(QUESTIONS, split="dev", limit=args.single, splits=corpus.splits)
    rows += measure(settings, corpus.documents, corpus.digest, single, lambda q: "single")
    table = report(rows)
    features = list(next(iter(table.values())))
    print(f"{'':52s}" + "".join(f"{g:>24s}" for g in table))
    for f in features:
        print(f"{f:52s}" + "".join(f"{table[g][f]:>24}" for g in table))
    out = ROOT / "bench" / "out" / "unknown_names.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(table, indent=2))
    print(f"written: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
