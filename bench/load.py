"""Load: N clients asking questions for S seconds against a real `qa serve` on loopback, health polled throughout.

Usage: .venv/bin/python bench/load.py [--clients 20] [--seconds 60]

The server (tests/live_server.py: seeds/ ingested into a temporary store, outbound connections
blocked) requires an API key, so the key check is part of every request. Each client loops until
the deadline: three of four requests are POST /api/ask, one is POST /v1/chat/completions. A
separate poller asks GET /api/health every 0.25 s. Prints errors, throughput, p50/p95 latency
and the slowest health answer, writes bench/out/load.json, and exits 1 when any request failed
or health took 1 s or more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import QUESTIONS  # noqa: E402
from qa.evaluate.run import percentile  # noqa: E402
from tests.live_server import live_server  # noqa: E402

KEY = "bench-load-key"
HEALTH_LIMIT_S = 1.0


@dataclass
class Tally:
    """What the clients saw, appended under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {"api": [], "v1": []})
    errors: list[str] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    health_errors: list[str] = field(default_factory=list)


def _client(url: str, n: int, deadline: float, tally: Tally) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as http:
        i = n
        while time.monotonic() < deadline:  # bounded: every request has a timeout, the loop a deadline
            question = QUESTIONS[i % len(QUESTIONS)]
            kind = "v1" if i % 4 == 3 else "api"
            started = time.perf_counter()
            try:
                if kind == "api":
                    r = http.post("/api/ask", json={"question": question})
                    ok = r.status_code == 200 and "answer" in r.json()
                else:
                    r = http.post("/v1/chat/completions", json={"model": "qa", "messages": [{"role": "user", "content": question}]})
                    ok = r.status_code == 200 and r.json()["choices"][0]["message"]["content"]
                problem = None if ok else f"{kind} {r.status_code}: {r.text[:200]}"
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                problem = f"{kind} {exc.__class__.__name__}: {exc}"
            elapsed = (time.perf_counter() - started) * 1000.0
            with tally.lock:
                if problem:
                    tally.errors.append(problem)
                else:
                    tally.latencies_ms[kind].append(elapsed)
            i += 1


def _health(url: str, deadline: float, tally: Tally) -> None:
    with httpx.Client(base_url=url, timeout=10.0) as http:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                r = http.get("/api/health")
                if r.status_code != 200:
                    tally.health_errors.append(f"{r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                tally.health_errors.append(f"{exc.__class__.__name__}: {exc}")
            tally.health_ms.append((time.perf_counter() - started) * 1000.0)
            time.sleep(0.25)


def run(clients: int, seconds: float) -> dict[str, object]:
    """Start a server, load it, and return the numbers."""
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="qa-bench-load-") as tmp, live_server(Path(tmp), env={"QA_API_KEY": KEY}) as server:
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=_client, args=(server.url, n, deadline, tally), daemon=True) for n in range(clients)]
        threads.append(threading.Thread(target=_health, args=(server.url, deadline, tally), daemon=True))
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 60)
        wall = time.perf_counter() - started
        stuck = sum(t.is_alive() for t in threads)
    every = tally.latencies_ms["api"] + tally.latencies_ms["v1"]
    result: dict[str, object] = {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(every) + len(tally.errors),
        "errors": len(tally.errors),
        "first_errors": tally.errors[:5],
        "stuck_threads": stuck,
        "requests_per_s": round(len(every) / wall, 1),
        "latency_ms": {
            kind: {"n": len(v), "p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1)}
            for kind, v in {"all": every, **tally.latencies_ms}.items()
            if v
        },
        "health": {
            "polls": len(tally.health_ms),
            "errors": len(tally.health_errors),
            "p50_ms": round(percentile(tally.health_ms, 50), 1) if tally.health_ms else None,
            "max_ms": round(max(tally.health_ms), 1) if tally.health_ms else None,
            "over_limit": sum(ms >= HEALTH_LIMIT_S * 1000 for ms in tally.health_ms),
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    result = run(args.clients, args.seconds)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    health = result["health"]
    assert isinstance(health, dict)
    slow_health = (health["max_ms"] or 0) >= HEALTH_LIMIT_S * 1000
    failed = bool(result["errors"]) or bool(health["errors"]) or slow_health or bool(result["stuck_threads"])
    print("FAIL" if failed else "OK", f"(0 errors and health under {HEALTH_LIMIT_S:.0f} s required)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
