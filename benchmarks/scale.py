"""Benchmark: the sequences stage at scale, worker scaling, the Dask executor, and DVC overheads.

Usage::

    python benchmarks/scale.py                                   # everything (10M sequences take ~5 min, ~10 GB of disk)
    python benchmarks/scale.py --sizes 100000,1000000 --scaling-size 200000

Parts:
1. ``digitgen dataset train`` (a subprocess, all cores, NPZ level 1) at each size: seconds,
   sequences/s, peak resident memory of the whole process tree, bytes on disk.
2. Worker scaling at one size: the local executor with 1 and 2 workers (and with the WebDataset
   export added), and the Dask executor on a ``distributed.LocalCluster`` of 2 single-threaded worker
   processes on 127.0.0.1.
3. DVC, in a copy of this (built) project: ``dvc repro`` with nothing changed, then which stages run
   after changing one ``sequences`` key.

Run ``make repro`` first: parts 1-2 read ``data/interim/mnist.npz`` and part 3 copies the built project.
"""

from __future__ import annotations

import argparse
import os
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


def part_dvc() -> None:
    print("\n[3] DVC overheads (a copy of this project)")
    dvc = [sys.executable, "-m", "dvc"]
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    status = subprocess.run([*dvc, "status"], cwd=ROOT, env=env, capture_output=True, text=True)
    if "Data and pipelines are up to date" not in status.stdout:
        print("  skipped: the project is not built and up to date; run `make repro` first")
        return
    with tempfile.TemporaryDirectory(prefix="digitgen-dvc-") as work:
        copy = Path(work) / "project"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__"), symlinks=True)
        subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([*dvc, "repro"], cwd=copy, env=env, capture_output=True, check=True)
            timings.append(time.perf_counter() - start)
        print(f"  dvc repro, nothing changed: best {min(timings):.2f} s of 3 ({', '.join(f'{t:.2f}' for t in timings)})")
        params = yaml.safe_load((copy / "params.yaml").read_text())
        params["sequences"]["seed"] += 1
        (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        start = time.perf_counter()
        log = subprocess.run([*dvc, "repro"], cwd=copy, env=env, capture_output=True, text=True, check=True).stdout
        ran = re.findall(r"Running stage '([^']+)'", log)
        print(f"  after changing sequences.seed: `dvc repro` ran {ran} in {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000", help="comma-separated dataset sizes")
    parser.add_argument("--scaling-size", type=int, default=1_000_000, help="dataset size for the worker comparison")
    args = parser.parse_args()
    if not (ROOT / "data" / "interim" / "mnist.npz").is_file():
        raise SystemExit("data/interim/mnist.npz is missing: run `make repro` first")
    print(f"cores: {len(os.sched_getaffinity(0))}")
    part_sizes([int(s) for s in args.sizes.split(",") if s])
    part_scaling(args.scaling_size)
    part_dvc()


if __name__ == "__main__":
    main()
