"""Benchmark: the sequences stage at scale, worker scaling, the Dask executor, and DVC overheads.

Usage::

    python benchmarks/scale.py                                   # everything (10M sequences take ~5 min, ~10 GB of disk)
    python benchmarks/scale.py --sizes 100000,1000000 --scaling-size 200000
    python benchmarks/scale.py --parts dvc                       # only the DVC loop (about a minute)

Parts:
1. ``digitgen dataset train`` (a subprocess, all cores, NPZ level 1) at each size: seconds,
   sequences/s, peak resident memory of the whole process tree, bytes on disk.
2. Worker scaling at one size: the local executor with 1 and 2 workers (and with the WebDataset
   export added), and the Dask executor on a ``distributed.LocalCluster`` of 2 single-threaded worker
   processes on 127.0.0.1.
3. DVC, in a copy of this (built) project: ``dvc repro`` with nothing changed, then the loop "change
   ``sequences.seed``, ``dvc repro``": its wall time, the stages it ran (exactly sequences,
   evaluate_sequences, report) and where the time goes (each stage alone, evaluate_sequences' own
   breakdown, the cost of importing TensorFlow).

Run ``make repro`` first: parts 1-2 read ``data/interim/mnist.npz`` and part 3 copies the built project.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
LENGTH, WIDTH = 5, 200


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_dataset(size: int, workdir: Path, mnist: Path = ROOT / "data" / "interim" / "mnist.npz", **sequences) -> tuple[float, int, int]:
    """Run ``digitgen dataset train`` for ``size`` 5-digit sequences of width 200.

    ``sequences`` overrides keys of the ``sequences`` params (default ``compress_level`` 1).
    Returns (seconds, peak RSS of the process tree in bytes, bytes on disk).
    """
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["sequences"].update(length={"min": LENGTH, "max": LENGTH}, width=WIDTH, compress_level=1)
    params["sequences"].update(sequences)
    params["sequences"]["splits"]["train"]["count"] = size
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    out = workdir / "train"
    command = [sys.executable, "-m", "digitgen", "dataset", "train", "--params", str(workdir / "params.yaml"),
               "--mnist", str(mnist), "--out", str(out)]
    start = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process))
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{process.stderr.read().decode()}")
    on_disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out)
    return seconds, peak, on_disk


def part_sizes(sizes: list[int]) -> None:
    print("\n[1] sequences stage, NPZ level 1, all cores")
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="digitgen-scale-") as work:
            seconds, peak, disk = run_dataset(size, Path(work), workers=0)
        print(f"  {size:>11,} sequences  {seconds:7.1f} s  {size / seconds:>9,.0f} seq/s  "
              f"peak RSS {peak / 2**20:6.0f} MiB  on disk {disk / 2**30:6.2f} GiB")


def part_scaling(size: int) -> None:
    from distributed import LocalCluster

    print(f"\n[2] worker scaling, {size:,} sequences")
    with tempfile.TemporaryDirectory(prefix="digitgen-scale-") as work:
        one, peak_one, _ = run_dataset(size, Path(work), workers=1)
        two, peak_two, _ = run_dataset(size, Path(work), workers=2)
        print(f"  local, 1 worker   {one:7.1f} s  {size / one:>9,.0f} seq/s  peak RSS {peak_one / 2**20:6.0f} MiB")
        print(f"  local, 2 workers  {two:7.1f} s  {size / two:>9,.0f} seq/s  peak RSS {peak_two / 2**20:6.0f} MiB  "
              f"speed-up {one / two:4.2f}x")
        both, _, _ = run_dataset(size, Path(work), workers=2, formats=["npz", "webdataset"])
        print(f"  local, 2 workers, npz + webdataset tar  {both:7.1f} s  {size / both:>9,.0f} seq/s  ({both / two:4.1f}x the NPZ-only time)")
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
            dask, _, _ = run_dataset(size, Path(work), executor="dask", scheduler=cluster.scheduler_address)
        print(f"  dask, 2 workers   {dask:7.1f} s  {size / dask:>9,.0f} seq/s  (vs local 2 workers: {two / dask:4.2f}x; "
              f"RSS of the cluster not counted)")


#: The stages the "change a sequences key" loop must run, and no other.
LOOP_STAGES = ["sequences", "evaluate_sequences", "report"]
#: Stages whose results the loop measures; never marked up to date without running.
_MEASURED = {"sequences", "classify_digits", "evaluate_banks", "evaluate_sequences", "report"}


def _dvc(args: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    """Run ``dvc ARGS`` in ``cwd``; return (seconds, stdout + stderr)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start, done.stdout + done.stderr


def _import_seconds(module: str, env: dict) -> float:
    """Best of 3 wall times of a fresh Python process that imports ``module``."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def _stale_stages(copy: Path, env: dict) -> list[str]:
    _, out = _dvc(["status", "--json"], copy, env)
    return sorted(json.loads(out[out.index("{"):]) if "{" in out else {})


def part_dvc(commit_upstream: bool = False, repeats: int = 2) -> None:
    """DVC in a copy of this (built) project: a no-op ``dvc repro``, then the loop "change sequences.seed, ``dvc repro``".

    Reports the loop's wall time, the stages it ran (they must be exactly :data:`LOOP_STAGES`) and where the
    time went: each of those stages run alone (``dvc repro -s``, so each includes DVC's own start-up), the
    evaluate_sequences stage's own breakdown, and what a Python process pays to import numpy and TensorFlow.
    ``commit_upstream``: stages upstream of the loop whose code changed but whose outputs are trusted are
    recorded as up to date in the copy (``dvc commit``) instead of being re-run; they are listed.
    """
    print("\n[3] DVC overheads (a copy of this project)")
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONPATH=str(ROOT))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory(prefix="digitgen-dvc-") as work:
        copy = Path(work) / "project"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__"), symlinks=True)
        subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
        env["PYTHONPATH"] = str(copy)
        stale = _stale_stages(copy, env)
        if stale:
            trusted = [stage for stage in stale if stage not in _MEASURED]
            if not commit_upstream or len(trusted) != len(stale):
                print(f"  skipped: stages {stale} are not up to date; run `dvc repro` first"
                      + ("" if commit_upstream else " (or pass --commit-upstream for stages upstream of the loop)"))
                return
            _dvc(["commit", "-f", *trusted], copy, env)
            print(f"  recorded as up to date without running (code changed, outputs kept): {trusted}")
        timings = [_dvc(["repro"], copy, env)[0] for _ in range(3)]
        print(f"  dvc repro, nothing changed: best {min(timings):.2f} s of 3 ({', '.join(f'{t:.2f}' for t in timings)})")
        loops, stage_times, breakdown = [], {}, ""
        # a seed never used before: DVC's run-cache (shared with every copy) would otherwise restore old outputs
        seeds = iter(random.Random(time.time_ns()).sample(range(10**6, 10**9), repeats + 1))
        for run in range(repeats):
            params = yaml.safe_load((copy / "params.yaml").read_text())
            params["sequences"]["seed"] = next(seeds)
            (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            seconds, log = _dvc(["repro"], copy, env)
            ran = re.findall(r"Running stage '([^']+)'", log)
            loops.append(seconds)
            print(f"  after changing sequences.seed: `dvc repro` ran {ran} in {seconds:.1f} s"
                  + ("" if ran == LOOP_STAGES else f"  (EXPECTED exactly {LOOP_STAGES})"))
            found = re.findall(r"evaluate_sequences: (inputs, pools.*)", log)
            breakdown = found[-1] if found else breakdown
        print(f"  the loop: best {min(loops):.1f} s of {repeats} ({', '.join(f'{t:.1f}' for t in loops)})")
        params = yaml.safe_load((copy / "params.yaml").read_text())
        params["sequences"]["seed"] = next(seeds)
        (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        for stage in LOOP_STAGES:
            stage_times[stage] = _dvc(["repro", "-s", stage], copy, env)[0]
        print("  each stage alone (`dvc repro -s`, DVC start-up included): "
              + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in stage_times.items()))
        if breakdown:
            print(f"  evaluate_sequences: {breakdown}")
        print(f"  a fresh Python process: import numpy {_import_seconds('numpy', env):.1f} s, "
              f"import tensorflow {_import_seconds('tensorflow', env):.1f} s (evaluate_sequences imports it only for crops "
              "that are not exactly a source digit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000", help="comma-separated dataset sizes")
    parser.add_argument("--scaling-size", type=int, default=1_000_000, help="dataset size for the worker comparison")
    parser.add_argument("--parts", default="sizes,scaling,dvc", help="comma-separated parts to run: sizes, scaling, dvc")
    parser.add_argument("--loops", type=int, default=2, help="times the sequences.seed loop is measured (part dvc)")
    parser.add_argument("--commit-upstream", action="store_true",
                        help="part dvc: record stages upstream of the loop as up to date in the copy instead of refusing")
    args = parser.parse_args()
    if not (ROOT / "data" / "interim" / "mnist.npz").is_file():
        raise SystemExit("data/interim/mnist.npz is missing: run `make repro` first")
    parts = set(args.parts.split(","))
    print(f"cores: {len(os.sched_getaffinity(0))}")
    if "sizes" in parts:
        part_sizes([int(s) for s in args.sizes.split(",") if s])
    if "scaling" in parts:
        part_scaling(args.scaling_size)
    if "dvc" in parts:
        part_dvc(args.commit_upstream, args.loops)


if __name__ == "__main__":
    main()
