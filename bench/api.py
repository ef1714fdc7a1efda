"""Measure the answer API over HTTP: cold start to first answer, warm latency sequential and concurrent.

Usage: .venv/bin/python bench/api.py [--requests 200] [--clients 8] [--cold-runs 3] [--baseline-root DIR]

Each run ingests seeds/ into a temporary store, starts `qa serve` on a free loopback port
and talks to it with httpx, exactly as a client would. Numbers are printed (and written to
bench/out/api.json); nothing here asserts a target.

The sequential run also says where the wall time of a request goes: the answer's own
`timings_ms.total`, the rest of the server's time (its `Server-Timing: app;dur=`: parsing,
validation, the hop to a worker thread, serialisation, middleware), and what is left to the
HTTP transport and the client; beside it the wall time of `GET /v1/models` (HTTP with no
answer) and the CPU time the server and the client spent per request. With --baseline-root
DIR (another checkout), a server of that code runs too and the requests alternate between
the two, so both are measured under the same load.
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
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from qa.api.timing import server_ms  # noqa: E402
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


def _env(data_dir: Path, root: Path = ROOT) -> dict[str, str]:
    # The one QA_ setting kept: a shared encoder export saves exporting it again per store (30 s of CPU).
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") or k == "QA_EMBED__CACHE_DIR"}
    env.update(offline_environment())
    env["QA_PATHS__DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(root)  # this checkout's code, not whichever the venv's editable install points at
    return env


@contextmanager
def _server(data_dir: Path, root: Path = ROOT) -> Iterator[tuple[str, float, float | None, int]]:
    """Start `qa serve`; yield its URL, the wall and CPU seconds from launch to the first 200 of POST /api/ask, and its pid."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "python"), "-m", "qa.cli", "serve", "--port", str(port)],
        cwd=root, env=_env(data_dir, root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
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
        yield url, time.perf_counter() - started, _cpu_seconds(proc.pid), proc.pid
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


def wait_quiet(pid: int, timeout_s: float = 120.0) -> None:
    """Wait until a server uses under 5 % of a CPU over half a second (its background loading is done)."""
    deadline = time.monotonic() + timeout_s
    before = _cpu_seconds(pid)
    while before is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        now = _cpu_seconds(pid)
        if now is None or now - before < 0.025:
            return
        before = now


def _percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": round(q[49], 1), "p95": round(q[94], 1), "mean": round(statistics.fmean(ms), 1), "n": len(ms)}


def _timed_ask(client: httpx.Client, question: str) -> float:
    return _ask(client, question)[0]


def _ask(client: httpx.Client, question: str) -> tuple[float, float | None, float]:
    """Return the wall ms of one POST /api/ask, the server's own ms (Server-Timing, None if it sends none) and the answer's."""
    t = time.perf_counter()
    r = client.post("/api/ask", json={"question": question})
    elapsed = (time.perf_counter() - t) * 1000.0
    if r.status_code != 200:
        raise RuntimeError(f"POST /api/ask -> {r.status_code}: {r.text[:200]}")
    return elapsed, server_ms(r.headers.get("server-timing")), float(r.json()["timings_ms"]["total"])


def sequential(urls: dict[str, str], pids: dict[str, int], requests: int) -> dict[str, dict[str, object]]:
    """Return, per server, latency percentiles of one client asking one question after another, and where the time goes.

    With several servers the requests alternate between them, question by question.
    """
    clients = {name: httpx.Client(base_url=url, timeout=60) for name, url in urls.items()}
    try:
        for client in clients.values():
            for q in QUESTIONS:  # warm-up
                _ask(client, q)
        for pid in pids.values():  # the chat and MCP load after the first answer: not while measuring
            wait_quiet(pid)
        rows: dict[str, list[tuple[float, float | None, float]]] = {name: [] for name in clients}
        health: dict[str, list[float]] = {name: [] for name in clients}
        server_cpu = {name: _cpu_seconds(pids[name]) or 0.0 for name in clients}
        client_cpu = dict.fromkeys(clients, 0.0)
        for i in range(requests):
            for name, client in clients.items():
                c = time.process_time()
                rows[name].append(_ask(client, QUESTIONS[i % len(QUESTIONS)]))
                client_cpu[name] += time.process_time() - c
        for name in clients:
            server_cpu[name] = ((_cpu_seconds(pids[name]) or 0.0) - server_cpu[name]) * 1000 / requests
        for _ in range(requests):
            for name, client in clients.items():
                t = time.perf_counter()
                client.get("/v1/models").raise_for_status()
                health[name].append((time.perf_counter() - t) * 1000)
    finally:
        for client in clients.values():
            client.close()
    out: dict[str, dict[str, object]] = {}
    for name, rs in rows.items():
        wall = [w for w, _, _ in rs]
        stats: dict[str, object] = dict(_percentiles(wall))
        stats["answer_ms_p50"] = round(statistics.median(a for _, _, a in rs), 2)
        if all(s is not None for _, s, _ in rs):
            stats["server_ms_p50"] = round(statistics.median(s for _, s, _ in rs if s is not None), 2)
            stats["server_beyond_answer_ms_p50"] = round(statistics.median(s - a for _, s, a in rs if s is not None), 2)
            stats["transport_and_client_ms_p50"] = round(statistics.median(w - s for w, s, _ in rs if s is not None), 2)
        stats["health_ms_p50"] = round(statistics.median(health[name]), 2)
        stats["server_cpu_ms_per_request"] = round(server_cpu[name], 2)
        stats["client_cpu_ms_per_request"] = round(client_cpu[name] * 1000 / requests, 2)
        out[name] = stats
    return out


def _print_breakdown(name: str, seq: dict[str, object]) -> None:
    print(f"warm, 1 client ({name}): p50 {seq['p50']} ms  p95 {seq['p95']} ms  mean {seq['mean']} ms  (n={seq['n']})")
    print(f"  where a request's wall time goes (p50 of each): the answer (timings_ms.total) {seq['answer_ms_p50']} ms", end="")
    if "server_ms_p50" in seq:
        print(
            f"; the server in all (Server-Timing) {seq['server_ms_p50']} ms, of it beyond the answer "
            f"{seq['server_beyond_answer_ms_p50']} ms; HTTP transport and client {seq['transport_and_client_ms_p50']} ms"
        )
    else:
        print("; (this server sends no Server-Timing)")
    print(
        f"  GET /v1/models (HTTP, no answer) p50 {seq['health_ms_p50']} ms; CPU per request: server "
        f"{seq['server_cpu_ms_per_request']} ms, client {seq['client_cpu_ms_per_request']} ms"
    )


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
    parser.add_argument("--baseline-root", type=Path, help="another checkout: its server answers too, alternating with this one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        data = Path(tmp) / "data"
        docs = Path(tmp) / "docs"
        shutil.copytree(ROOT / "seeds", docs)
        subprocess.run(
            [str(BIN / "python"), "-m", "qa.cli", "ingest", "-q", str(docs)], cwd=ROOT, env=_env(data), check=True, capture_output=True
        )
        cold: list[float] = []
        cpu: list[float] = []
        for _ in range(max(1, args.cold_runs) - 1):
            with _server(data) as (_, seconds, cpu_s, _pid):
                cold.append(seconds)
                cpu += [cpu_s] if cpu_s is not None else []
        with ExitStack() as stack:
            url, seconds, cpu_s, pid = stack.enter_context(_server(data))
            cold.append(seconds)
            cpu += [cpu_s] if cpu_s is not None else []
            urls, pids = {"now": url}, {"now": pid}
            if args.baseline_root:
                base_data = Path(tmp) / "baseline-data"
                root = args.baseline_root.resolve()
                subprocess.run(
                    [str(BIN / "python"), "-m", "qa.cli", "ingest", "-q", str(docs)],
                    cwd=root, env=_env(base_data, root), check=True, capture_output=True,
                )
                urls["baseline"], _, _, pids["baseline"] = stack.enter_context(_server(base_data, root))
            seqs = sequential(urls, pids, args.requests)
            seq = seqs["now"]
            conc = concurrent(url, args.requests, args.clients)

    result = {
        "cpus": os.cpu_count(),
        "cold_start_to_first_answer_s": {"runs": [round(s, 2) for s in cold], "median": round(statistics.median(cold), 2)},
        "cold_start_cpu_s": {"runs": [round(s, 2) for s in cpu], "median": round(statistics.median(cpu), 2) if cpu else None},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "warm_sequential_ms": seq,
        "warm_sequential_baseline_ms": seqs.get("baseline"),
        f"warm_{args.clients}_clients_ms": conc,
    }
    print(f"cold start to first answer: median {statistics.median(cold):.2f} s  (runs: {[round(s, 2) for s in cold]})")
    if cpu:
        print(f"  of which CPU time of the server: median {statistics.median(cpu):.2f} s  (load average {os.getloadavg()[0]:.1f})")
    for name, stats in seqs.items():
        _print_breakdown(name if name == "now" else f"baseline {args.baseline_root}", stats)
    print(
        f"warm, {args.clients} clients:  p50 {conc['p50']} ms  p95 {conc['p95']} ms  mean {conc['mean']} ms  "
        f"{conc['req_per_s']} req/s  (n={conc['n']})"
    )
    cold_median = statistics.median(cold)
    print("targets (idle machine; bench/coldstart.py measures them beside earlier code in the same run):")
    print(f"  cold start to first answer <= 4 s (median of {len(cold)}): {cold_median:.2f} s, {'met' if cold_median <= 4 else 'NOT met'}")
    p50 = float(str(seq["p50"]))
    print(f"  warm POST /api/ask p50 <= 12 ms (seed article): {p50} ms, {'met' if p50 <= 12 else 'NOT met'}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "api.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
