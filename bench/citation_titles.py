"""Measure what naming the cited documents' titles adds to an answer: DocumentService.titled per answer.

Usage: .venv/bin/python bench/citation_titles.py [--documents 200] [--answers 2000]

Builds a registry of N committed documents in a temporary folder (their passages in a real
embedded Chroma store, the hash embedder), then times ``titled`` on answers citing three of them:
the first call per document version reads its title from the store; later ones only the
registry (one indexed query for the cited names). Numbers are printed; nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from qa.config import load_settings
from qa.documents.service import DocumentService, open_library
from qa.runtime import open_client, open_store
from qa.testing import HashEmbedder
from qa.types import Answer, Citation

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Print the per-answer cost of titling citations, cold (first read) and warm (cached titles)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--documents", type=int, default=200)
    ap.add_argument("--answers", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": tmp})
        embedder = HashEmbedder()
        store = open_store(settings, embedder, open_client(settings), create=True)
        library = open_library(settings, store, embedder)
        service = DocumentService(
            library, max_file_bytes=settings.limits.max_file_bytes, apply_change=lambda a, r: None, check_store=lambda: None
        ).start()
        try:
            for i in range(args.documents):
                library.add(f"doc{i:04d}.md", f"# Document {i}\n\nParagraph {i} says something about topic {i}.\n".encode())
            names = [d.name for d in service.documents()]
            answers = []
            for k in range(args.answers):
                cited = [names[(k * 7 + j) % len(names)] for j in range(3)]
                cites = tuple(Citation(j + 1, f"p{j}", n, 1, "Some text.", "Some text.", 0, 10, 0.9) for j, n in enumerate(cited))
                answers.append(Answer("Some text. [1]", False, "q", cites))
            for label in ("first pass (titles read from the store)", "second pass (titles cached)"):
                times = []
                for a in answers:
                    t = time.perf_counter()
                    titled = service.titled(a)
                    times.append((time.perf_counter() - t) * 1000.0)
                    assert all(c.title for c in titled.citations)
                times.sort()
                print(
                    f"{label}: {len(times)} answers x 3 citations over {args.documents} documents: "
                    f"median {statistics.median(times):.3f} ms, p95 {times[int(0.95 * len(times))]:.3f} ms per answer"
                )
        finally:
            service.close()


if __name__ == "__main__":
    main()
