"""What LangChain itself costs per question: four no-op steps as RunnableLambda vs the chain's own _Step.

Usage: .venv/bin/python bench/chain_overhead.py [--invokes 2000] [--rounds 3]

The answer chain is four named steps (validate, condense, retrieve, answer). Both sequences
here do nothing in their steps, so the time is LangChain's: callbacks, config, and (for
RunnableLambda) the signature inspection at every call that `_Step` avoids. Rounds alternate
between the two. Prints microseconds per invoke; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.runnables import Runnable, RunnableLambda  # noqa: E402

from qa.answer.chain import _Step  # noqa: E402

NAMES = ("validate", "condense", "retrieve", "answer")


class _NoOp:
    def step(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


def _per_invoke_us(chain: Runnable[Any, Any], invokes: int) -> float:
    for _ in range(invokes // 10):
        chain.invoke({})
    started = time.perf_counter()
    for _ in range(invokes):
        chain.invoke({})
    return (time.perf_counter() - started) / invokes * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invokes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    noop = _NoOp()
    chains: dict[str, Runnable[Any, Any]] = {}
    lambdas = [RunnableLambda(noop.step, name=n) for n in NAMES]
    steps = [_Step(noop.step, n) for n in NAMES]
    chains["RunnableLambda steps"] = lambdas[0] | lambdas[1] | lambdas[2] | lambdas[3]
    chains["_Step steps"] = steps[0] | steps[1] | steps[2] | steps[3]
    times: dict[str, list[float]] = {k: [] for k in chains}
    for _ in range(args.rounds):
        for name, chain in chains.items():
            times[name].append(_per_invoke_us(chain, args.invokes))
    for name, us in times.items():
        print(f"{name}: median {statistics.median(us):.0f} µs per invoke (rounds: {', '.join(f'{u:.0f}' for u in us)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
