"""`qa ingest | ask | serve | eval`: a thin shell over the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.config import Settings, apply_offline_environment, load_settings
from qa.errors import QAError

log = logging.getLogger("qa")


def _cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qa.documents.lock import WriterLock
    from qa.documents.service import open_library
    from qa.runtime import open_client, open_embedder, open_store
    from qa.store import PassageStore

    paths = [Path(p) for p in args.paths] or [settings.paths.seeds]
    # Embedded mode: never write beside a running server (its Chroma caches would go stale); it says how to go through it.
    lock = WriterLock(settings.paths.data_dir, "`qa ingest`").acquire() if settings.store.mode == "embedded" else None
    try:
        client = open_client(settings)
        # A rebuild re-embeds everything, so embed.quantize ``auto`` picks as for a new store.
        embedder = open_embedder(settings, client, fresh=args.rebuild)
        if args.rebuild:
            PassageStore.drop(client, settings.store.collection)
        store = open_store(settings, embedder, client, create=True)
        library = open_library(settings, store, embedder)
        library.recover()
        with tqdm(unit="passage", desc="ingest", disable=args.quiet) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            if args.rebuild:
                print(f"re-embedded {library.reindex(progress)} passages of the kept documents", file=sys.stderr)
            report = library.sync_folder(paths, max_file_bytes=settings.limits.max_file_bytes, progress=progress)
    finally:
        if lock is not None:
            lock.release()
    for name, why in report.skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)
    print(report.summary())
    return 0


def _load_history(path: str | None) -> list[Any]:
    if not path:
        return []
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise QAError(f"cannot read history file {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise QAError(f"history file {path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(data, list):
        raise QAError(f"history file {path} must hold a JSON list of {{\"role\", \"content\"}} objects")
    return data


def format_answer(result: dict[str, Any]) -> str:
    """Return an answer object as text for a terminal."""
    lines = [result["answer"], ""]
    if result["standalone_question"]:
        lines.append(f"searched for: {result['standalone_question']}")
    if result["citations"]:
        lines.append("sources:")
        for c in result["citations"]:
            lines.append(f"  [{c['n']}] {c['source']} ¶{c['paragraph']} (support {c['support']:.2f}): “{c['quote']}”")
    elif result["passages"]:
        lines.append("closest passages:")
        for p in result["passages"][:3]:
            lines.append(f"  {p['source']} ¶{p['paragraph']}: {p['text'][:160]}…")
    return "\n".join(lines)


def _cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    from qa.answer.chain import validate_history, validate_question
    from qa.runtime import build_runtime

    # Fail fast on bad input, before loading the model.
    validate_question(args.question, settings.limits)
    history = _load_history(args.history)
    validate_history(history, settings.limits)
    runtime = build_runtime(settings)
    answer = runtime.chain.ask(args.question, history, args.top_k)
    result = answer.to_dict()
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else format_answer(result))
    return 0


def _cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from qa.evaluate.command import EvalOptions, evaluate, parse_floors
    from qa.evaluate.report import format_table

    questions = Path(args.questions)
    failures = Path(args.failures) if args.failures else settings.paths.data_dir / "eval" / f"{questions.stem}.failures.jsonl"
    opts = EvalOptions(
        questions=questions,
        corpus=Path(args.corpus) if args.corpus else None,
        split=args.split,
        limit=args.limit,
        baseline=args.baseline,
        plot=Path(args.plot) if args.plot else None,
        failures=failures,
        floors=parse_floors(args.min),
        ceilings=parse_floors(args.max),
        progress=not args.json,
        out_of_document=args.out_of_document,
    )
    result = evaluate(settings, opts)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 1 if result["below_floor"] or result["above_ceiling"] else 0


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from qa.server import serve

    serve(settings, host=args.host, port=args.port)
    return 0


def _cmd_mcp(settings: Settings, args: argparse.Namespace) -> int:
    from qa.api.mcp import server
    from qa.runtime import build_runtime, check_answerer

    runtime = build_runtime(settings)
    check_answerer(runtime.answerer)
    server(runtime).run("stdio")  # stdout carries the protocol; logs go to stderr
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `qa` command."""
    parser = argparse.ArgumentParser(prog="qa", description="Answer questions from your documents, with checkable citations.")
    parser.add_argument("--config", help="config file (default: ./config.yaml or $QA_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="embed documents into the store (default: seeds/)")
    p.add_argument("paths", nargs="*", help="files or folders; the store will hold exactly these documents")
    p.add_argument("--rebuild", action="store_true", help="drop the store first (after changing the model)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer object as JSON")
    p.add_argument("--history", help="JSON file: a list of {role: user|assistant, content} earlier turns")
    p.add_argument("--top-k", type=int, default=None, help="passages to retrieve")
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser("eval", help="measure retrieval, answers, citations and refusals on a question set")
    p.add_argument("questions", help="JSONL questions (SQuAD-style with a corpus, or the seed format over the store)")
    p.add_argument("--corpus", help="CORPUS.jsonl to ingest into its own cached collection (default: <name>.corpus.jsonl beside)")
    p.add_argument("--split", choices=("dev", "holdout", "all"), default="dev", help="articles to ask about (default dev)")
    p.add_argument("--limit", type=int, help="a fixed random sample (seed 0) of this many questions")
    p.add_argument("--baseline", action="store_true", help="also run the LangChain quickstart on the same corpus and model")
    p.add_argument("--plot", help="write a recall@k PNG here")
    p.add_argument("--failures", help="per-question JSONL of failures (default: <data_dir>/eval/<name>.failures.jsonl)")
    p.add_argument("--min", action="append", default=[], metavar="METRIC=VALUE", help="fail (exit 1) below this floor")
    p.add_argument("--max", action="append", default=[], metavar="METRIC=VALUE", help="fail (exit 1) above this ceiling")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--out-of-document", action="store_true",
        help="SQuAD-style file: index half the split's articles, ask the other half's questions (refuse) mixed with the indexed half's",
    )
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("serve", help="serve the web chat at / and the answer API at /api")
    p.add_argument("--host", default=None, help="bind address (default: server.host, 127.0.0.1; others are reachable from other machines)")
    p.add_argument("--port", type=int, default=None, help="port (default: server.port, 7860)")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("mcp", help="serve the search, ask and get_passage tools over MCP on stdin/stdout")
    p.set_defaults(func=_cmd_mcp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (2 for problems the user can fix)."""
    apply_offline_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "chromadb", "sentence_transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings(Path(args.config) if args.config else None)
        return int(args.func(settings, args))
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
