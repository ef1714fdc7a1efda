"""Cold start, today's code vs this one, alternating: launch of `qa serve` to the first 200 of POST /api/ask.

Usage: .venv/bin/python bench/coldstart.py --baseline-root DIR [--baseline NAME=DIR ...] [--runs 3]

DIR is a checkout of the code to compare with (e.g. `git worktree add --detach /tmp/base <ref>`,
or `mkdir /tmp/base && git archive <ref> | tar -x -C /tmp/base`), named "today"; more
checkouts may be added by name with --baseline.
Each code ingests seeds/ into its own temporary store with its own defaults, then each run
starts its server, asks one question until it gets a 200, and reads the server's wall
seconds, CPU seconds (which do not grow when other jobs share the cores) and RSS. Runs
alternate between the two codes. Prints numbers and writes bench/out/coldstart.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from qa.config import offline_environment  # noqa: E402

QUESTION = "Who is the U.S. Secretary of State in the article?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(root: Path, data: Path) -> dict[str, str]:
    # The one QA_ setting kept: a shared encoder export saves exporting it again per store (30 s of CPU).
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") or k == "QA_EMBED__CACHE_DIR"}
    env.update(offline_environment())
    env["PYTHONPATH"] = str(root)
    env["QA_PATHS__DATA_DIR"] = str(data)
    return env


def _proc_stats(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    return cpu, rss


def cold_start(root: Path, data: Path) -> dict[str, float]:
    """Start `qa serve` from ``root``; return wall and CPU seconds to the first answer, and RSS then."""
    port = _free_port()
    started = time.perf_counter()
    cmd = [str(BIN / "python"), "-m", "qa.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=root, env=_env(root, data), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"qa serve exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            try:
                if httpx.post(f"http://127.0.0.1:{port}/api/ask", json={"question": QUESTION}, timeout=60).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        wall = time.perf_counter() - started
        cpu, rss = _proc_stats(proc.pid)
        return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rss_mb": round(rss)}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def warm_side_by_side(roots: dict[str, Path], data: dict[str, Path], requests: int) -> dict[str, dict[str, float]]:
    """Run both servers at once and alternate warm POST /api/ask between them; return latency percentiles."""
    procs, urls = {}, {}
    lines = (ROOT.parent / "shared" / "eval" / "seed_dev.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    try:
        for name, root in roots.items():
            port = _free_port()
            cmd = [str(BIN / "python"), "-m", "qa.cli", "serve", "--port", str(port)]
            procs[name] = subprocess.Popen(cmd, cwd=root, env=_env(root, data[name]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            urls[name] = f"http://127.0.0.1:{port}"
        clients = {name: httpx.Client(base_url=url, timeout=120) for name, url in urls.items()}
        for client in clients.values():
            while True:
                try:
                    if client.post("/api/ask", json={"question": QUESTION}).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            for q in questions:
                client.post("/api/ask", json={"question": q})
        ms: dict[str, list[float]] = {k: [] for k in clients}
        for i in range(requests):
            for name, client in clients.items():
                t = time.perf_counter()
                client.post("/api/ask", json={"question": questions[i % len(questions)]}).raise_for_status()
                ms[name].append((time.perf_counter() - t) * 1000)
        return {k: {"p50": round(statistics.median(v), 1), "p95": round(statistics.quantiles(v, n=20)[18], 1), "n": len(v)} for k, v in ms.items()}  # noqa: E501
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-root", required=True, type=Path, help='the code the issue calls "today"')
    parser.add_argument("--baseline", action="append", default=[], metavar="NAME=DIR", help="another checkout to compare, by name")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm", type=int, default=200, help="warm requests per server, alternating between the two (0: skip)")
    args = parser.parse_args()
    roots = {"today": args.baseline_root.resolve()}
    for spec in args.baseline:
        name, _, folder = spec.partition("=")
        if not folder:
            parser.error(f"--baseline takes NAME=DIR, not {spec!r}")
        roots[name] = Path(folder).resolve()
    roots["now"] = ROOT
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in roots}
    loads = []
    with tempfile.TemporaryDirectory(prefix="qa-cold-") as tmp:
        data = {k: Path(tmp) / k for k in roots}
        for name, root in roots.items():
            subprocess.run(
                [str(BIN / "python"), "-m", "qa.cli", "ingest", "-q", str(ROOT / "seeds")],
                cwd=root, env=_env(root, data[name]), check=True, capture_output=True,
            )
        for _ in range(args.runs):
            for name, root in roots.items():
                loads.append(os.getloadavg()[0])
                runs[name].append(cold_start(root, data[name]))
                print(name, runs[name][-1], f"load {loads[-1]:.1f}", flush=True)
        warm = warm_side_by_side(roots, data, args.warm) if args.warm else {}
        for name, stats in warm.items():
            print(f"{name}: warm over HTTP p50 {stats['p50']} ms, p95 {stats['p95']} ms (n={stats['n']})", flush=True)
    result: dict[str, Any] = {"load_average": [round(x, 2) for x in loads], "runs": runs, "warm_http_ms": warm}
    for name, rs in runs.items():
        if not rs:
            continue
        result[name] = {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "rss_mb")}
        print(f"{name}: median wall {result[name]['wall_s']} s, CPU {result[name]['cpu_s']} s, RSS {result[name]['rss_mb']} MB")
    print(f"\nDone when (load average {min(loads):.1f} to {max(loads):.1f}; targets are for an idle machine):")
    if "now" in result:
        for name in roots:
            if name != "now" and name in result:
                print(f"  cold start median wall: {name} {result[name]['wall_s']} s, now {result['now']['wall_s']} s (target <= 4 s: "
                      f"{'met' if result['now']['wall_s'] <= 4 else 'NOT met'}); "
                      f"CPU {result[name]['cpu_s']} s vs {result['now']['cpu_s']} s")
    if "now" in warm:
        for name, stats in warm.items():
            if name != "now":
                print(f"  warm HTTP p50: {name} {stats['p50']} ms, now {warm['now']['p50']} ms (target <= 12 ms: "
                      f"{'met' if warm['now']['p50'] <= 12 else 'NOT met'})")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "coldstart.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
