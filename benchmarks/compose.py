"""Benchmark: batch composer vs a naive per-sequence loop, and the sequences stage end to end.

Usage::

    python benchmarks/compose.py                  # composer + stage at 100k and 1M sequences
    python benchmarks/compose.py --sizes 100000   # a quicker run
    python benchmarks/compose.py --data PATH      # another mnist.npz

Part 1 (one core, in process): 5-digit sequences, width 200, spacing [0, 10],
real MNIST test digits. The baseline is the classic per-sequence loop: for
each digit pick a random image of its class, scale it to float32 [0, 1],
``np.hstack`` it with zero spacers of random width, pad to the width. The
batch composer does the same work (digit draws included) for whole batches.

Part 2: ``digitgen dataset train`` in a subprocess on all cores, NPZ shards
written to a temporary folder; wall time, sequences/s and the peak resident
memory of the whole process tree (sampled every 20 ms).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from digitgen.compose import compose_batch, ink_extents
from digitgen.data.cache import load_real_bank

WIDTH, LENGTH, SPACING = 200, 5, (0, 10)


def naive_loop(bank, digits: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The classic per-sequence composition (the baseline)."""
    by_digit = [np.flatnonzero(bank.labels == d) for d in range(10)]
    images = []
    for sequence in digits:
        parts = []
        for position, digit in enumerate(sequence):
            if position:
                parts.append(np.zeros((28, rng.integers(SPACING[0], SPACING[1] + 1)), dtype=np.float32))
            parts.append(bank.images[rng.choice(by_digit[digit])].astype(np.float32) / 255)
        row = np.hstack(parts)
        left = rng.integers(0, WIDTH - row.shape[1] + 1)
        images.append(np.pad(row, ((0, 0), (left, WIDTH - row.shape[1] - left))))
    return images


def batch_composer(bank, digits: np.ndarray, rng: np.random.Generator, batch: int) -> None:
    """The vectorised composer on the same work (digit draws included), ``batch`` sequences at a time."""
    extents = ink_extents(bank.images)
    for start in range(0, len(digits), batch):
        rows = bank.draw(digits[start : start + batch], rng)
        compose_batch(bank.images, rows, SPACING, WIDTH, rng=rng, extents=extents)


def rate(function, count: int, repeats: int = 3) -> float:
    """Best sequences/s over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return count / best


def part_composer(data: str | None, naive_count: int, batch_count: int) -> None:
    bank = load_real_bank("test", data)
    rng = np.random.default_rng(0)
    digits_naive = rng.integers(0, 10, size=(naive_count, LENGTH))
    digits_batch = rng.integers(0, 10, size=(batch_count, LENGTH))
    naive = rate(lambda: naive_loop(bank, digits_naive, np.random.default_rng(1)), naive_count)
    print(f"naive per-sequence loop (float32 out)        {naive:>12,.0f} sequences/s")
    for batch in (1_000, 10_000):
        fast = rate(lambda: batch_composer(bank, digits_batch, np.random.default_rng(1), batch), batch_count)
        print(f"batch composer (uint8 out), batches of {batch:>6,}  {fast:>12,.0f} sequences/s   {fast / naive:5.1f}x naive")


def part_stage(data: str | None, sizes: list[int], compress_level: int) -> None:
    from scale import (
        run_dataset,  # benchmarks/scale.py: the same stage run, measured the same way
    )

    from digitgen.data.cache import default_mnist_npz

    mnist = default_mnist_npz(data)
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="digitgen-bench-") as work:
            elapsed, peak, on_disk = run_dataset(size, Path(work), mnist, compress_level=compress_level, workers=0)
        print(
            f"sequences stage, {size:>10,} sequences, level {compress_level}: {elapsed:6.1f} s  "
            f"{size / elapsed:>9,.0f} sequences/s  peak RSS {peak / 2**20:6.0f} MiB  on disk {on_disk / 2**20:7.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="mnist.npz (default: the project's, else the user cache)")
    parser.add_argument("--naive", type=int, default=20_000, help="sequences for the naive loop")
    parser.add_argument("--batch", type=int, default=100_000, help="sequences for the batch composer")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated dataset sizes for the stage")
    parser.add_argument("--compress-level", type=int, default=1, help="shard zlib level for the stage runs")
    args = parser.parse_args()
    print(f"cores: {len(os.sched_getaffinity(0))}, numpy {np.__version__}")
    part_composer(args.data, args.naive, args.batch)
    part_stage(args.data, [int(s) for s in args.sizes.split(",") if s], args.compress_level)


if __name__ == "__main__":
    main()
