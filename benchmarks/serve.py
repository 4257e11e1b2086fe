"""Benchmark: ``digitgen serve`` under 8 concurrent clients on 127.0.0.1, endpoint by endpoint.

Usage::

    python benchmarks/serve.py                          # starts `digitgen serve` on a free port with the project's models
    python benchmarks/serve.py --url http://127.0.0.1:8000 --seconds 5
    python benchmarks/serve.py --clients 8 --seconds 10

Each endpoint gets ``--clients`` threads (one keep-alive HTTP connection
each) sending the same kind of request for ``--seconds`` seconds, seeds
varying so no answer is a copy of the previous one. Printed per endpoint:
requests/s, p50/p99 latency in ms, errors (any status but 200 or a transport
error) and whether the issue's target is met. The server's rate limit must
allow the load (the server this script starts has ``--rate 0``). The baseline
row is ``/api/health`` (no work: the HTTP stack alone), measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

#: endpoint name -> (query without the seed, p99 target in ms, requests/s target or None).
ENDPOINTS = {
    "health (baseline)": ("/api/health?", None, None),
    "sequence 5 digits PNG": ("/api/sequence?digits=29341&min=0&max=10&width=200&", 50.0, 200.0),
    "digits kde 16": ("/api/digits?generator=kde&digit=7&n=16&", 150.0, None),
    "digits cvae 16": ("/api/digits?generator=cvae&digit=7&n=16&", 250.0, None),
    "ambiguous 1 series (json)": ("/api/ambiguous?a=4&b=9&format=json&", None, None),
}


def _client(base: str, path: str, stop_at: float, seed0: int, latencies: list[float], errors: list[str]) -> None:
    import httpx

    seed = seed0
    with httpx.Client(base_url=base, timeout=30) as client:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                response = client.get(f"{path}seed={seed}")
                ok = response.status_code == 200
                if not ok:
                    errors.append(f"{response.status_code}: {response.text[:200]}")
            except Exception as error:  # noqa: BLE001 - a benchmark counts every failure
                errors.append(repr(error))
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            seed += 1000


def run_endpoint(base: str, path: str, clients: int, seconds: float) -> dict:
    """Requests/s, p50 and p99 latency (ms) and errors of ``clients`` threads asking ``path`` for ``seconds``."""
    _client(base, path, time.perf_counter() + 1.0, 10**9, [], [])  # warm-up (compiles, caches)
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds
    threads = [threading.Thread(target=_client, args=(base, path, stop_at, i, latencies, errors)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")
    return {"rate": len(latencies) / elapsed, "p50": 1000 * statistics.median(ordered) if ordered else float("nan"),
            "p99": 1000 * p99, "errors": errors, "count": len(latencies)}


def _start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "digitgen", "serve", "--port", str(port), "--rate", "0"],
                               stderr=subprocess.PIPE, text=True, env=env)
    for line in process.stderr:
        if "studio ready" in line:
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return process, f"http://127.0.0.1:{port}"
    raise SystemExit("digitgen serve did not start (its log is above)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running studio (default: start one with the project's models)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    process, base = (None, args.url.rstrip("/")) if args.url else _start_server()
    failed = False
    try:
        print(f"{args.clients} clients, {args.seconds:g} s per endpoint, {base}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})")
        print(f"{'endpoint':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  target")
        for name, (path, p99_target, rate_target) in ENDPOINTS.items():
            result = run_endpoint(base, path, args.clients, args.seconds)
            verdict = []
            if p99_target is not None:
                verdict.append(f"p99 <= {p99_target:g} ms: {'yes' if result['p99'] <= p99_target else 'NO'}")
            if rate_target is not None:
                verdict.append(f">= {rate_target:g} req/s: {'yes' if result['rate'] >= rate_target else 'NO'}")
            print(f"{name:28} {result['rate']:8.1f} {result['p50']:8.1f} {result['p99']:8.1f} {len(result['errors']):7d}  {'; '.join(verdict)}")
            for error in result["errors"][:3]:
                print("    error:", error)
            failed |= bool(result["errors"])
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
