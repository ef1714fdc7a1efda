"""Render an evaluation report: a table for people and a recall@k plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_ROWS = (
    ("recall@1", "gold-passage recall@1"),
    ("recall@5", "gold-passage recall@5"),
    ("mrr@10", "gold-passage MRR@10"),
    ("answer_recall@1", "answer in top-1 passage"),
    ("answer_recall@5", "answer in top-5 passages"),
    ("answer_accuracy", "answer accuracy"),
    ("citation_precision", "citation precision"),
    ("refusal_rate", "refusal rate (unanswerable)"),
    ("false_refusal_rate", "false refusals (answerable)"),
    ("followup_accuracy", "follow-up accuracy"),
)


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


_CONVERSATION_ROWS = (
    ("answer_right", "answer right (answerable turns)"),
    ("doc_cited", "conversation's document cited"),
    ("first_right", "first turns right"),
    ("followup_right", "follow-ups right"),
    ("pronoun_right", "follow-ups with a pronoun right"),
    ("no_pronoun_right", "follow-ups without a pronoun right"),
    ("unanswerable_refused", "unanswerable turns refused"),
    ("false_refusals", "answerable turns refused"),
    ("latency_ms_p50", "answer latency p50 (ms)"),
)


def format_conversation(result: dict[str, Any]) -> str:
    """Return a conversation, rewrite or out-of-document report as text."""
    overall = result["overall"]
    lines = [f"{result['questions_file']} ({result['kind']})"]
    if result["kind"] == "conversation":
        w, wo = result["with_history"], result["without_history"]
        lines.append(f"{w['turns']} turns asked ({w['answerable']} answerable, {w['unanswerable']} unanswerable; yes/no turns skipped)")
        header = f"{'metric':38s}{'with history':>14s}{'without':>10s}"
        lines += [header, "-" * len(header)]
        lines += [f"{label:38s}{_fmt(w.get(k)).rjust(14)}{_fmt(wo.get(k)).rjust(10)}" for k, label in _CONVERSATION_ROWS]
        sw = result["topic_switch"]
        lines.append(
            f"topic switch ({sw['switches']} dialog pairs): new document retrieved first {_fmt(sw['reached'])}, "
            f"cited {_fmt(sw['doc_cited'])}, answered right {_fmt(sw['right'])}"
        )
    else:
        lines += [f"{k:38s}{_fmt(v).rjust(10)}" for k, v in overall.items()]
    if result.get("below_floor"):
        lines.append("BELOW FLOOR: " + ", ".join(f"{k}={_fmt(v)}" for k, v in result["below_floor"].items()))
    if result.get("above_ceiling"):
        lines.append("ABOVE CEILING: " + ", ".join(f"{k}={_fmt(v)}" for k, v in result["above_ceiling"].items()))
    return "\n".join(lines)


def format_table(result: dict[str, Any]) -> str:
    """Return the report as an aligned text table, per kind, with the baseline beside it when present."""
    if result.get("kind") in ("conversation", "rewrites", "out_of_document"):
        return format_conversation(result)
    overall, kinds = result["overall"], result["by_kind"]
    base = result.get("baseline")
    cols = ["overall", *kinds]
    header = f"{'metric':32s}" + "".join(f"{c:>14s}" for c in cols)
    if base:
        header += f"{'quickstart':>14s}{'ratio':>8s}"
    lines = [
        f"{result['questions_file']} on {result['corpus']} (split {result['split']}): "
        f"{overall['questions']} questions, {overall['answerable']} answerable, {overall['unanswerable']} unanswerable",
        header,
        "-" * len(header),
    ]
    base_map = {}
    if base:
        base_map = {"answer_recall@1": base["answer_recall@k"][1], "answer_recall@5": base["answer_recall@k"][5],
                    "answer_accuracy": base["answer_accuracy"]}
    for key, label in _ROWS:
        row = f"{label:32s}" + _fmt(overall.get(key)).rjust(14) + "".join(_fmt(kinds[k].get(key)).rjust(14) for k in kinds)
        if base:
            b = base_map.get(key)
            ratio = f"{overall[key] / b:.2f}x" if b and overall.get(key) is not None else "-"
            row += _fmt(b).rjust(14) + ratio.rjust(8)
        lines.append(row)
    lines.append("")
    lines.append("latency ms (p50 / p95): " + ", ".join(
        f"{stage} {v['p50']:.1f} / {v['p95']:.1f}" for stage, v in overall["latency_ms"].items()
    ))
    if base:
        lines.append(
            f"quickstart: {base['chunks']} chunks of ~{base['answer_chars_mean']:.0f} chars, indexed in {base['index_seconds']} s; "
            f"search p50 {base['latency_ms'].get('p50', 0):.1f} ms"
        )
    if result.get("failures_file"):
        lines.append(f"failures: {result['failures_file']}")
    if result.get("plot"):
        lines.append(f"plot: {result['plot']}")
    if result.get("below_floor"):
        lines.append("BELOW FLOOR: " + ", ".join(f"{k}={_fmt(v)}" for k, v in result["below_floor"].items()))
    if result.get("above_ceiling"):
        lines.append("ABOVE CEILING: " + ", ".join(f"{k}={_fmt(v)}" for k, v in result["above_ceiling"].items()))
    return "\n".join(lines)


def plot_recall(result: dict[str, Any], path: Path) -> None:
    """Write a PNG of recall@k for ours and, when measured, the quickstart baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ks = sorted(int(k) for k in result["recall@k"])
    ax.plot(ks, [result["recall@k"][k] for k in ks], marker="o", label="ours: gold passage in top k")
    ax.plot(ks, [result["answer_recall@k"][k] for k in ks], marker="s", label="ours: answer in top k passages")
    if "baseline" in result:
        b = result["baseline"]["answer_recall@k"]
        ax.plot(ks, [b[k] for k in ks], marker="^", linestyle="--", label="LangChain quickstart: answer in top k chunks")
    ax.set_xlabel("k")
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1.0)
    ax.grid(alpha=0.3)
    ax.set_title(Path(result["questions_file"]).name)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
