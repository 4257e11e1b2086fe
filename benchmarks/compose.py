"""Benchmark: batch composer vs a naive per-sequence loop, and the sequences stage end to end.

Usage::

    python benchmarks/compose.py                  # composer + stage at 100k and 1M sequences
    python benchmarks/compose.py --sizes 100000   # a quicker run
    python benchmarks/compose.py --data PATH      # another mnist.npz
    python benchmarks/compose.py --sizes 100000 --options-only   # only part 3 and the stage with every option

Part 1 (one core, in process): 5-digit sequences, width 200, spacing [0, 10],
real MNIST test digits. The baseline is the classic per-sequence loop: for
each digit pick a random image of its class, scale it to float32 [0, 1],
``np.hstack`` it with zero spacers of random width, pad to the width. The
batch composer does the same work (digit draws included) for whole batches.

Part 2: ``digitgen dataset train`` in a subprocess on all cores, NPZ shards
written to a temporary folder; wall time, sequences/s and the peak resident
memory of the whole process tree (sampled every 20 ms); then the same with
every per-digit variation and degradation on (:data:`EVERY_OPTION`).

Part 3 (one core, in process): the cost of each layout option
(:func:`digitgen.layout.lay_out` on batches of 10,000 sequences, digit draws
included), beside the plain composer measured in the same run.
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
from digitgen.layout import Layout, lay_out
from digitgen.params.core import build_section
from digitgen.params.degrade import DegradeParams
from digitgen.params.digit import DigitParams

WIDTH, LENGTH, SPACING = 200, 5, (0, 10)
#: Width that fits 5 digits with every per-digit variation of EVERY_OPTION on (its overhang).
WIDE = 260
#: Every per-digit variation and every degradation on, for the stage run.
EVERY_OPTION = {
    "width": WIDE,
    "digit": {"scale": [0.8, 1.2], "rotation": 10, "shear": 10, "offset_y": 2, "thickness": 0.7},
    "degrade": {name: {"p": 0.5} for name in ("background", "blur", "contrast", "gamma", "noise", "invert")},
}
#: Part 3's options, each alone: name -> (width, Layout keyword arguments as params keys).
OPTIONS = {
    "plain (lay_out, no option)": (WIDTH, {}),
    "scale [0.8, 1.2]": (WIDE, {"digit": {"scale": [0.8, 1.2]}}),
    "rotation 10": (WIDE, {"digit": {"rotation": 10}}),
    "shear 10": (WIDE, {"digit": {"shear": 10}}),
    "offset_y 2": (WIDE, {"digit": {"offset_y": 2}}),
    "thickness 0.7": (WIDE, {"digit": {"thickness": 0.7}}),
    "height 32": (229, {"height": 32}),
    "height 64": (458, {"height": 64}),
    **{f"{name} p=1": (WIDTH, {"degrade": {name: {"p": 1.0}}}) for name in ("background", "blur", "contrast", "gamma", "noise", "invert")},
    "every variation + degradation p=0.5": (WIDE, {k: v for k, v in EVERY_OPTION.items() if k != "width"}),
}


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


def part_options(data: str | None, count: int, batch: int = 10_000) -> None:
    bank = load_real_bank("test", data)
    extents = ink_extents(bank.images)
    digits = np.random.default_rng(0).integers(0, 10, size=(count, LENGTH))

    def run(layout: Layout) -> None:
        rng = np.random.default_rng(1)
        for start in range(0, count, batch):
            rows = bank.draw(digits[start : start + batch], rng)
            lay_out(bank.images, rows, layout, rng=rng, extents=extents)

    plain = rate(lambda: batch_composer(bank, digits, np.random.default_rng(1), batch), count)
    print(f"\nlayout options, one core, batches of {batch:,} (plain composer {plain:,.0f} sequences/s)")
    for name, (width, keys) in OPTIONS.items():
        layout = Layout(
            SPACING, width, digit=build_section(DigitParams, keys.get("digit"), "digit"), height=keys.get("height", 28),
            degrade=build_section(DegradeParams, keys.get("degrade"), "degrade"),
        )
        fast = rate(lambda: run(layout), count, repeats=2)
        print(f"  {name:<38} width {width:>4}  {fast:>10,.0f} sequences/s  {plain / fast:6.1f}x the plain composer's time")


def part_stage(data: str | None, sizes: list[int], compress_level: int, options: bool = True, plain: bool = True) -> None:
    from scale import (
        run_dataset,  # benchmarks/scale.py: the same stage run, measured the same way
    )

    from digitgen.data.cache import default_mnist_npz

    mnist = default_mnist_npz(data)
    runs = ([("plain", {})] if plain else []) + ([("every option", EVERY_OPTION)] if options else [])
    for size in sizes:
        for name, keys in runs:
            with tempfile.TemporaryDirectory(prefix="digitgen-bench-") as work:
                elapsed, peak, on_disk = run_dataset(size, Path(work), mnist, compress_level=compress_level, workers=0, **keys)
            print(
                f"sequences stage ({name:<12}), {size:>10,} sequences, level {compress_level}: {elapsed:6.1f} s  "
                f"{size / elapsed:>9,.0f} sequences/s  peak RSS {peak / 2**20:6.0f} MiB  on disk {on_disk / 2**20:7.0f} MiB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="mnist.npz (default: the project's, else the user cache)")
    parser.add_argument("--naive", type=int, default=20_000, help="sequences for the naive loop")
    parser.add_argument("--batch", type=int, default=100_000, help="sequences for the batch composer")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated dataset sizes for the stage")
    parser.add_argument("--compress-level", type=int, default=1, help="shard zlib level for the stage runs")
    parser.add_argument("--options", type=int, default=50_000, help="sequences per layout option in part 3")
    parser.add_argument("--options-only", action="store_true", help="skip part 1 and the plain stage runs")
    args = parser.parse_args()
    print(f"cores: {len(os.sched_getaffinity(0))}, numpy {np.__version__}")
    if not args.options_only:
        part_composer(args.data, args.naive, args.batch)
    part_options(args.data, args.options)
    part_stage(args.data, [int(s) for s in args.sizes.split(",") if s], args.compress_level, plain=not args.options_only)


if __name__ == "__main__":
    main()
