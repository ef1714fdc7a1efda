"""Measure the answer API over HTTP: cold start to first answer, warm latency sequential and concurrent.

Usage: .venv/bin/python bench/api.py [--requests 200] [--clients 8] [--cold-runs 3]

Each run ingests seeds/ into a temporary store, starts `qa serve` on a free loopback port
and talks to it with httpx, exactly as a client would. Numbers are printed (and written to
bench/out/api.json); nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from qa.config import offline_environment  # noqa: E402

QUESTIONS = [
    "Who is the U.S. Secretary of State in the article?",
    "What did Wang Yi tell Blinken?",
    "Which demands did Blinken and Stoltenberg reject?",
    "What did Zhang Jun say about the Winter Olympics?",
    "Who is the Chinese Foreign Ministry spokesman?",
    "What is the boiling point of mercury?",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(offline_environment())
    env["QA_PATHS__DATA_DIR"] = str(data_dir)
    return env


@contextmanager
def _server(data_dir: Path) -> Iterator[tuple[str, float, float | None]]:
    """Start `qa serve`; yield its URL, and the wall and CPU seconds from launch to the first 200 of POST /api/ask."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "qa"), "serve", "--port", str(port)], cwd=ROOT, env=_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"qa serve exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            try:
                r = httpx.post(f"{url}/api/ask", json={"question": QUESTIONS[0]}, timeout=30)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        # CPU seconds do not grow when other jobs share the machine, wall seconds do.
        yield url, time.perf_counter() - started, _cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cpu_seconds(pid: int) -> float | None:
    """Return the user+system CPU seconds a process has used (Linux), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": round(q[49], 1), "p95": round(q[94], 1), "mean": round(statistics.fmean(ms), 1), "n": len(ms)}


def _timed_ask(client: httpx.Client, question: str) -> float:
    t = time.perf_counter()
    r = client.post("/api/ask", json={"question": question})
    elapsed = (time.perf_counter() - t) * 1000.0
    if r.status_code != 200:
        raise RuntimeError(f"POST /api/ask -> {r.status_code}: {r.text[:200]}")
    return elapsed


def sequential(url: str, requests: int) -> dict[str, float]:
    """Return latency percentiles of one client asking one question after another."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for q in QUESTIONS:  # warm-up
            _timed_ask(client, q)
        return _percentiles([_timed_ask(client, QUESTIONS[i % len(QUESTIONS)]) for i in range(requests)])


def concurrent(url: str, requests: int, clients: int) -> dict[str, float]:
    """Return latency percentiles and throughput with `clients` clients asking at once."""
    local = threading.local()

    def ask(i: int) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=120)
        return _timed_ask(local.client, QUESTIONS[i % len(QUESTIONS)])

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(ask, range(clients * 2)))  # warm-up: one connection per client
        t = time.perf_counter()
        ms = list(pool.map(ask, range(requests)))
        wall = time.perf_counter() - t
    out = _percentiles(ms)
    out["req_per_s"] = round(requests / wall, 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per warm measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--cold-runs", type=int, default=3, help="server starts to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        data = Path(tmp) / "data"
        docs = Path(tmp) / "docs"
        shutil.copytree(ROOT / "seeds", docs)
        subprocess.run([str(BIN / "qa"), "ingest", "-q", str(docs)], cwd=ROOT, env=_env(data), check=True, capture_output=True)
        cold: list[float] = []
        cpu: list[float] = []
        for _ in range(max(1, args.cold_runs) - 1):
            with _server(data) as (_, seconds, cpu_s):
                cold.append(seconds)
                cpu += [cpu_s] if cpu_s is not None else []
        with _server(data) as (url, seconds, cpu_s):
            cold.append(seconds)
            cpu += [cpu_s] if cpu_s is not None else []
            seq = sequential(url, args.requests)
            conc = concurrent(url, args.requests, args.clients)

    result = {
        "cpus": os.cpu_count(),
        "cold_start_to_first_answer_s": {"runs": [round(s, 2) for s in cold], "median": round(statistics.median(cold), 2)},
        "cold_start_cpu_s": {"runs": [round(s, 2) for s in cpu], "median": round(statistics.median(cpu), 2) if cpu else None},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "warm_sequential_ms": seq,
        f"warm_{args.clients}_clients_ms": conc,
    }
    print(f"cold start to first answer: median {statistics.median(cold):.2f} s  (runs: {[round(s, 2) for s in cold]})")
    if cpu:
        print(f"  of which CPU time of the server: median {statistics.median(cpu):.2f} s  (load average {os.getloadavg()[0]:.1f})")
    print(f"warm, 1 client:   p50 {seq['p50']} ms  p95 {seq['p95']} ms  mean {seq['mean']} ms  (n={seq['n']})")
    print(
        f"warm, {args.clients} clients:  p50 {conc['p50']} ms  p95 {conc['p95']} ms  mean {conc['mean']} ms  "
        f"{conc['req_per_s']} req/s  (n={conc['n']})"
    )
    cold_median = statistics.median(cold)
    print("targets (idle machine; bench/coldstart.py measures them beside earlier code in the same run):")
    print(f"  cold start to first answer <= 4 s (median of {len(cold)}): {cold_median:.2f} s, {'met' if cold_median <= 4 else 'NOT met'}")
    print(f"  warm POST /api/ask p50 <= 12 ms (seed article): {seq['p50']} ms, {'met' if seq['p50'] <= 12 else 'NOT met'}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "api.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
